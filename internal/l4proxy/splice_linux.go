package l4proxy

import (
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parker's calls on sockets (FIONREAD, splice with SPLICE_F_NONBLOCK,
// epoll_ctl) never block, so they are made as raw system calls: the Go
// runtime does not mark the thread as in a system call, and its monitor
// does not hand the processor to another thread while the kernel runs the
// loopback delivery a splice triggers. With one processor (as in the
// benchmark) each such handoff is a thread wake-up and a context switch.

// pipeSize is the buffer asked for each splice pipe: a bulk burst moves up
// to this much per pair of splice calls.
const pipeSize = 1 << 20

// splicePipe is a pipe that carries bytes from a socket to a socket. Pipes
// are pooled between bursts; a connection holds one only while a burst
// moves, so idle connections hold none.
type splicePipe struct {
	r, w int
}

var pipePool = sync.Pool{New: func() any {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil
	}
	// Best effort: without it the pipe holds 64 KiB (16 pages).
	unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	sp := &splicePipe{r: fds[0], w: fds[1]}
	// A pipe the pool drops is closed when collected.
	runtime.AddCleanup(sp, func(fds [2]int) { unix.Close(fds[0]); unix.Close(fds[1]) }, fds)
	return sp
}}

func getPipe() *splicePipe {
	sp, _ := pipePool.Get().(*splicePipe)
	return sp
}

func rawSplice(in, out, n int, flags uintptr) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), flags)
	return int(r), e
}

func rawInq(fd int) (int, syscall.Errno) {
	var v int32
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCINQ, uintptr(unsafe.Pointer(&v)))
	return int(v), e
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) syscall.Errno {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return e
}

// spliceBurst moves avail bytes queued on h's source to its destination
// through a pooled pipe and returns the bytes delivered; a short count
// without error means the source had fewer bytes than FIONREAD said (a
// reset). When the destination's send buffer is full it waits in the
// runtime's poller, unless inline: then it leaves the pipe with the bytes
// still in it in h.pending and reports blocked, for a goroutine to finish
// with flushPending.
func spliceBurst(h *half, avail int, inline bool) (total int64, blocked bool, err error) {
	sp := getPipe()
	if sp == nil {
		return 0, false, syscall.EMFILE
	}
	for avail > 0 {
		var n int
		var e syscall.Errno
		cerr := h.rc.Control(func(fd uintptr) {
			for {
				n, e = rawSplice(int(fd), sp.w, min(avail, pipeSize), unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
				if e != unix.EINTR {
					return
				}
			}
		})
		switch {
		case cerr != nil:
			pipePool.Put(sp)
			return total, false, cerr
		case e == unix.EAGAIN || (e == 0 && n == 0):
			pipePool.Put(sp)
			return total, false, nil
		case e != 0:
			pipePool.Put(sp)
			return total, false, e
		}
		avail -= n
		// More of the burst follows: let TCP fill whole segments.
		more := avail > 0
		m, err := spliceOut(h, sp, n, more, !inline)
		total += int64(m)
		if err == unix.EAGAIN {
			h.pending, h.pendingN = sp, n-m
			return total, true, nil
		}
		if err != nil {
			// The pipe still holds bytes: it does not go back to the
			// pool, and its cleanup closes it.
			return total, false, err
		}
	}
	pipePool.Put(sp)
	return total, false, nil
}

// spliceOut moves n bytes from sp to h's destination. Without wait it
// stops at a full send buffer with EAGAIN.
func spliceOut(h *half, sp *splicePipe, n int, more, wait bool) (int, error) {
	flags := uintptr(unix.SPLICE_F_NONBLOCK | unix.SPLICE_F_MOVE)
	if more {
		flags |= unix.SPLICE_F_MORE
	}
	done := 0
	for done < n {
		var m int
		var e syscall.Errno
		werr := h.drc.Write(func(fd uintptr) bool {
			for {
				m, e = rawSplice(sp.r, int(fd), n-done, flags)
				if e != unix.EINTR {
					return !wait || e != unix.EAGAIN
				}
			}
		})
		switch {
		case werr != nil:
			return done, werr
		case e != 0:
			return done, e
		}
		done += m
	}
	return done, nil
}

// flushPending delivers what an inline burst left in h.pending, waiting
// for room in the destination's send buffer.
func flushPending(h *half) (int64, error) {
	sp, n := h.pending, h.pendingN
	h.pending = nil
	m, err := spliceOut(h, sp, n, false, true)
	if err == nil {
		pipePool.Put(sp)
	}
	return int64(m), err
}
