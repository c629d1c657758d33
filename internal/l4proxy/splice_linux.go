package l4proxy

import (
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parker's calls on sockets (splice with SPLICE_F_NONBLOCK, shutdown,
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
	// closed is set by close, so that the cleanup does not close the
	// descriptors (by then maybe reused) again.
	closed *bool
}

func (sp *splicePipe) close() {
	*sp.closed = true
	unix.Close(sp.r)
	unix.Close(sp.w)
}

var pipePool = sync.Pool{New: func() any {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil
	}
	// Best effort: without it the pipe holds 64 KiB (16 pages).
	unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	sp := &splicePipe{r: fds[0], w: fds[1], closed: new(bool)}
	// A pipe the pool drops is closed when collected.
	runtime.AddCleanup(sp, func(p pipeFDs) {
		if !*p.closed {
			unix.Close(p.fds[0])
			unix.Close(p.fds[1])
		}
	}, pipeFDs{fds, sp.closed})
	return sp
}}

type pipeFDs struct {
	fds    [2]int
	closed *bool
}

func getPipe() *splicePipe {
	sp, _ := pipePool.Get().(*splicePipe)
	return sp
}

func rawSplice(in, out, n int, flags uintptr) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), flags)
	return int(r), e
}

func rawShutdown(fd, how int) syscall.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	return e
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) syscall.Errno {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return e
}
