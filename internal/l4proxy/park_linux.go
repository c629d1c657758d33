package l4proxy

import (
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// parker holds established plain-TCP connections without a goroutine each.
// Both sockets of a connection sit in one epoll set of the parker's,
// edge-triggered for readability and registered once for the connection's
// life; the epoll descriptor itself waits in the Go runtime's poller. When a
// socket turns readable the parker's loop splices what is queued to the
// other socket itself, or, for a bulk burst or a full send buffer, starts a
// goroutine that does (and may wait). Edge triggering saves the re-arming
// epoll_ctl after every burst; each half's state word makes sure one pump
// at a time runs per direction and that an edge arriving while it runs is
// not lost (the pump goes round once more). The event's flags say when the
// peer has shut down, which saves a peek per end of stream.
// An idle connection thus costs its two sockets and a small record, not two
// goroutine stacks (which dominate the memory of a goroutine-per-direction
// proxy: about 8 KiB a connection).
type parker struct {
	ep   *os.File
	epfd int
	log  func(msg string, args ...any)

	mu    sync.Mutex // guards pairs and next
	pairs map[uint64]*pair
	next  uint64

	done chan struct{} // closed when the loop has returned
}

// pair is one parked connection.
type pair struct {
	pk   *parker
	id   uint64
	tc   *tcpConn
	t    *target
	dirs [2]half // 0: client to target, 1: target to client
	open atomic.Int32
	// refs counts the registration (1 until finish) plus running pumps;
	// end runs when it drops to 0.
	refs   atomic.Int32
	end    func()
	finish sync.Once
}

type half struct {
	src, dst *net.TCPConn
	// rc reaches src's descriptor: every raw call on it goes through
	// rc.Control, which keeps the descriptor open meanwhile, so a
	// concurrent Close cannot let the number be reused under the call.
	rc    syscall.RawConn
	drc   syscall.RawConn // dst's
	bytes *atomic.Int64
	// state is halfIdle, halfRunning or halfAgain (running, and an edge
	// came meanwhile).
	state atomic.Int32
	// flags collects the EPOLLRDHUP, EPOLLHUP and EPOLLERR bits seen.
	flags atomic.Uint32
	// ended is set once end of stream or an error has been handled;
	// pending holds pendingN bytes an inline burst could not deliver at
	// once. Only the running pump touches them.
	ended    bool
	pending  *splicePipe
	pendingN int
}

const (
	halfIdle int32 = iota
	halfRunning
	halfAgain
)

func newParker() (*parker, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking descriptor given to os.NewFile joins the runtime's
	// poller, so the loop below parks like any network read.
	pk := &parker{ep: os.NewFile(uintptr(fd), "l4proxy-epoll"), epfd: fd, pairs: map[uint64]*pair{}, done: make(chan struct{})}
	go pk.loop()
	return pk, nil
}

// close stops the loop; parked connections must have ended.
func (pk *parker) close() {
	pk.ep.Close()
	<-pk.done
}

// add parks the connection tc (client and up), counting bytes on t; end
// runs once it is over. false means it could not be parked (the caller
// serves it itself).
func (pk *parker) add(tc *tcpConn, client, up *net.TCPConn, t *target, end func()) bool {
	crc, err1 := client.SyscallConn()
	urc, err2 := up.SyscallConn()
	if err1 != nil || err2 != nil {
		return false
	}
	p := &pair{pk: pk, tc: tc, t: t, end: end}
	p.dirs[0] = half{src: client, dst: up, rc: crc, drc: urc, bytes: &t.bytesIn}
	p.dirs[1] = half{src: up, dst: client, rc: urc, drc: crc, bytes: &t.bytesOut}
	p.open.Store(2)
	p.refs.Store(1)
	pk.mu.Lock()
	pk.next++
	p.id = pk.next
	pk.pairs[p.id] = p
	pk.mu.Unlock()
	if !tc.setOnClose(p.close) {
		pk.forget(p)
		return false
	}
	for dir := range 2 {
		ev := p.event(dir)
		var e syscall.Errno
		cerr := p.dirs[dir].rc.Control(func(fd uintptr) {
			e = rawEpollCtl(pk.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
		})
		if cerr != nil || e != 0 {
			// Too late to hand back: the connection is ours now.
			tc.Close()
			return true
		}
	}
	return true
}

func (p *pair) event(dir int) unix.EpollEvent {
	key := p.id<<1 | uint64(dir)
	return unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(key), Pad: int32(key >> 32)}
}

func (pk *parker) forget(p *pair) {
	pk.mu.Lock()
	delete(pk.pairs, p.id)
	pk.mu.Unlock()
}

func (pk *parker) loop() {
	defer close(pk.done)
	rc, err := pk.ep.SyscallConn()
	if err != nil {
		return
	}
	events := make([]unix.EpollEvent, 256)
	for {
		var n int
		err := rc.Read(func(fd uintptr) bool {
			var werr error
			n, werr = unix.EpollWait(int(fd), events, 0)
			return werr == nil && n > 0
		})
		if err != nil {
			return // closed
		}
		for _, ev := range events[:n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			pk.mu.Lock()
			p := pk.pairs[key>>1]
			pk.mu.Unlock()
			if p != nil {
				p.wake(int(key&1), ev.Events)
			}
		}
	}
}

// acquire takes a reference for a pump unless the pair has ended.
func (p *pair) acquire() bool {
	for {
		n := p.refs.Load()
		if n <= 0 {
			return false
		}
		if p.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (p *pair) releaseRef() {
	if p.refs.Add(-1) == 0 {
		p.end()
	}
}

// close ends the pair once: tcpConn.Close calls it after closing both
// sockets (which also takes them out of the epoll set).
func (p *pair) close() {
	p.finish.Do(func() {
		p.pk.forget(p)
		p.releaseRef()
	})
}

// wake notes an edge on one direction's source: it starts a pump unless one
// runs, which then goes round once more.
func (p *pair) wake(dir int, events uint32) {
	h := &p.dirs[dir]
	if f := events & (unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR); f != 0 {
		h.flags.Or(f)
	}
	for {
		switch h.state.Load() {
		case halfIdle:
			if h.state.CompareAndSwap(halfIdle, halfRunning) {
				if p.acquire() {
					p.pumpInline(dir)
				} else {
					h.state.Store(halfIdle)
				}
				return
			}
		case halfRunning:
			if h.state.CompareAndSwap(halfRunning, halfAgain) {
				return
			}
		default:
			return
		}
	}
}

// pumpInline runs a pump in the parker's loop, as long as no call would
// wait: a request or response of a few kilobytes goes through without a
// goroutine. A bulk burst or a full send buffer hands the pump over to a
// goroutine of its own.
func (p *pair) pumpInline(dir int) {
	h := &p.dirs[dir]
	for {
		if !h.ended && !p.drain(h, true) {
			go p.pump(dir)
			return
		}
		if h.state.CompareAndSwap(halfRunning, halfIdle) {
			p.releaseRef()
			return
		}
		h.state.Store(halfRunning)
	}
}

// pump moves what is queued on one direction's source, again as long as
// edges arrive meanwhile; at end of stream it half-closes the destination.
func (p *pair) pump(dir int) {
	defer p.releaseRef()
	h := &p.dirs[dir]
	for {
		if !h.ended {
			p.drain(h, false)
		}
		if h.state.CompareAndSwap(halfRunning, halfIdle) {
			return
		}
		h.state.Store(halfRunning)
	}
}

// drain splices what is queued on h's source, until the queue is found
// empty; with edge triggering nothing may be left behind. It handles end
// of stream and errors, setting h.ended. Inline, it returns false as soon
// as it would have to wait or move a bulk burst, leaving the rest to a
// goroutine.
func (p *pair) drain(h *half, inline bool) bool {
	if h.pending != nil {
		n, err := flushPending(h)
		h.bytes.Add(n)
		if err != nil {
			h.ended = true
			p.tc.Close()
			return true
		}
	}
	for round := 1; ; round++ {
		// Read the flags before the queue: a shutdown seen here comes
		// after every byte that FIONREAD then counts.
		flags := h.flags.Load()
		var avail int
		var e syscall.Errno
		cerr := h.rc.Control(func(fd uintptr) { avail, e = rawInq(int(fd)) })
		if cerr != nil || e != 0 {
			h.ended = true
			p.tc.Close()
			return true
		}
		if avail == 0 {
			eof := false
			var err error
			switch {
			case flags&unix.EPOLLERR != 0:
				// An error or a reset: the peek reports it.
				if cerr = h.rc.Control(func(fd uintptr) { eof, err = peekEOF(int(fd)) }); cerr != nil || err != nil {
					h.ended = true
					p.tc.Close()
					return true
				}
			case flags&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0:
				eof = true
			}
			if !eof {
				return true // a spurious edge, or the data went with the last burst
			}
			h.ended = true
			// The first direction to end is passed on as a half-close;
			// when the second ends the connection closes (no shutdown
			// needed).
			if p.open.Add(-1) == 0 || h.dst.CloseWrite() != nil {
				p.tc.Close()
			}
			return true
		}
		if inline && avail >= 64<<10 {
			return false
		}
		n, blocked, err := spliceBurst(h, avail, inline)
		h.bytes.Add(n)
		if err != nil {
			h.ended = true
			p.tc.Close()
			return true
		}
		if blocked {
			return false
		}
		// Small bursts (requests, responses) end here unless the peer
		// shut down meanwhile; an edge arriving after the FIONREAD
		// above brings the pump round again. A bulk transfer keeps
		// splicing, yielding now and then.
		if avail < 64<<10 && flags == h.flags.Load() && flags&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
			return true
		}
		if round%64 == 0 {
			runtime.Gosched()
		}
	}
}

// peekEOF reports whether socket fd is at end of stream.
func peekEOF(fd int) (bool, error) {
	var b [1]byte
	for {
		n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false, nil
		case err != nil:
			return false, err
		}
		return n == 0, nil
	}
}
