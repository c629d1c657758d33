//go:build linux

package httpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/health"
)

// The event loop: the fast path for clients and targets without a
// goroutine per connection. Go's netpoller reads before it waits, so a
// goroutine per connection pays a failed read (EAGAIN) for every request
// on the client socket and another on the target socket, plus parking and
// waking the goroutine. The loop owns non-blocking sockets on an epoll
// instance of its own (edge-triggered) and reads a socket only when epoll
// said it is readable, handling every ready connection of a wake-up in a
// row, as HAProxy and nginx do.
//
// The loop serves what the goroutine fast path serves (an HTTP/1.1
// request without a body) forwarded to an HTTP/1.1 target with pooled
// keep-alive connections of its own, and the answers it can parse in place
// (a Content-Length or no body; the body streamed, with the client's
// backpressure stopping reads from the target). Fixed responses, redirects
// and error pages are written by the same code as elsewhere, into memory.
// Everything else leaves the loop for the goroutine path with the bytes
// already read, for the rest of the connection's life:
//   - a request the fast parser refuses (bodies, upgrades, h2c, anything
//     malformed) or one for a gRPC group or with a method that is not
//     idempotent, before anything is sent (fastConn.serve, which passes on
//     to net/http what it does not handle itself);
//   - an answer the in-place parser refuses (chunked or close-delimited
//     bodies, 1xx, HTTP/1.0, odd headers), with the target connection and
//     what was read of it: net/http's ReadResponse reads it (evEscape).
//
// Timeouts are checked every evTick while a request waits for a target,
// and the idle timeout of clients every evIdleTick.

const (
	evTick     = 10 * time.Millisecond
	evIdleTick = 250 * time.Millisecond
	evInBuf    = fastHeadMax // a client's read buffer, also the largest head
	evTgtBuf   = 16 << 10    // a target's read buffer
	evEvents   = 256
)

// stopLoops asks the event loops to stop accepting and to close idle
// clients (all clients with force), and waits until they let go of the
// listening socket, so that its port can be bound again.
func (fs *fastServer) stopLoops(force bool) {
	for _, lp := range fs.loops {
		lp.stop(force)
	}
	for _, lp := range fs.loops {
		select {
		case <-lp.lnDone:
		case <-lp.done:
		}
	}
}

// loopClients is the number of clients the event loops serve.
func (fs *fastServer) loopClients() int {
	n := 0
	for _, lp := range fs.loops {
		n += int(lp.nclients.Load())
	}
	return n
}

// evLoop is one event loop: one epoll instance serving connections
// accepted from one listener.
type evLoop struct {
	fs    *fastServer
	p     *Proxy
	epfd  int
	ep    *os.File        // epfd, for Go's netpoller
	rc    syscall.RawConn // ep's
	armed time.Time       // ep's read deadline
	poll  func(uintptr) bool
	// lnPaused is when the listener, out of the epoll instance after
	// accept failed, goes back in; zero while it is in.
	lnPaused time.Time
	nready   int
	lnfd     int // a duplicate of the listener's socket, this loop's own; -1 once closed
	wake     int // eventfd: Shutdown wakes the loop

	gen  uint32
	ents []evEnt // by fd

	clients  map[*evClient]struct{}
	nclients atomic.Int64
	waiting  evList // targets connecting or waiting for an answer head, with deadlines
	pools    map[*backend][]*evTarget
	inFree   [][]byte
	reqFree  []*evReq
	bw       *bufio.Writer
	app      appendWriter
	events   [evEvents]unix.EpollEvent
	lines    [100]hdrLine // headRaw's room
	now      time.Time
	nextIdle time.Time
	nextPool time.Time

	wmu     sync.Mutex    // guards wake against closing
	lnDone  chan struct{} // closed once the loop let go of the listener
	closing atomic.Bool   // stop accepting; close clients when idle
	force   atomic.Bool   // close every client now
	done    chan struct{}
}

// evEnt says what a descriptor is; gen tells events of a closed
// descriptor from those of a new one with the same number.
type evEnt struct {
	gen uint32
	c   *evClient
	t   *evTarget
}

// appendWriter appends to a byte slice.
type appendWriter struct{ b *[]byte }

func (a appendWriter) Write(p []byte) (int, error) {
	*a.b = append(*a.b, p...)
	return len(p), nil
}

// startLoops starts GOMAXPROCS event loops on fs's listener. It returns
// false, starting none, when the listener is not a TCP listener or the
// kernel refuses what the loop needs.
func (fs *fastServer) startLoops() bool {
	tl, ok := fs.ln.(*net.TCPListener)
	if !ok {
		return false
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	n := runtime.GOMAXPROCS(0)
	var loops []*evLoop
	fail := func() bool {
		for _, lp := range loops {
			lp.closeAll()
		}
		return false
	}
	for range n {
		lnfd := -1
		if cerr := rc.Control(func(fd uintptr) {
			lnfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		}); cerr != nil || err != nil {
			return fail()
		}
		lp, err := newEvLoop(fs, lnfd)
		if err != nil {
			unix.Close(lnfd)
			return fail()
		}
		loops = append(loops, lp)
	}
	fs.loops = loops
	for _, lp := range loops {
		fs.wg.Add(1)
		go lp.run()
	}
	return true
}

func newEvLoop(fs *fastServer, lnfd int) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Go's netpoller watches the epoll instance for readiness (wait).
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ep := os.NewFile(uintptr(epfd), "epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		ep.Close()
		return nil, err
	}
	lp := &evLoop{fs: fs, p: fs.l.p, epfd: epfd, ep: ep, rc: rc, lnfd: lnfd, wake: wake,
		clients: map[*evClient]struct{}{}, pools: map[*backend][]*evTarget{}, done: make(chan struct{}), lnDone: make(chan struct{})}
	lp.bw = bufio.NewWriterSize(nil, 8<<10)
	// The listener and the wake-up are level-triggered; with several
	// loops, one of them is woken per connection.
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, lnfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(lnfd)}); err != nil {
		lp.closeAll()
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		lp.closeAll()
		return nil, err
	}
	return lp, nil
}

// closeAll releases the loop's own descriptors.
func (lp *evLoop) closeAll() {
	lp.closeListener()
	lp.wmu.Lock()
	if lp.wake >= 0 {
		unix.Close(lp.wake)
		lp.wake = -1
	}
	lp.wmu.Unlock()
	lp.ep.Close() // the epoll instance
}

// wait returns the number of ready events in lp.events. With none ready,
// the loop's goroutine parks on Go's netpoller, which watches the epoll
// instance, until one is or the next timer is due: the loop never holds
// the scheduler's P in a blocking system call, so the process's other
// goroutines (health checks, DNS, the goroutine path) run as usual.
func (lp *evLoop) wait() int {
	lp.nready = 0
	if lp.poll == nil {
		lp.poll = lp.pollOnce // one closure for the loop's life: no allocation per wait
	}
	err := lp.rc.Read(lp.poll)
	if err != nil {
		// The deadline passed (timers are due); it stays passed until
		// moved.
		lp.ep.SetReadDeadline(time.Time{})
		lp.armed = time.Time{}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			lp.force.Store(true)
		}
	}
	return lp.nready
}

// pollOnce takes the ready events without blocking; false (park) when
// there are none.
func (lp *evLoop) pollOnce(uintptr) bool {
	k, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(lp.epfd), uintptr(unsafe.Pointer(&lp.events[0])), uintptr(len(lp.events)), 0, 0, 0)
	switch {
	case e == 0 && k > 0:
		lp.nready = int(k)
		return true
	case e != 0 && e != unix.EINTR:
		lp.p.log.Error("event loop: epoll_wait", "err", e)
		lp.force.Store(true)
		return true
	}
	// Nothing ready. An event from now on makes the epoll instance
	// readable, which wakes this wait.
	var d time.Time
	switch {
	case !lp.waiting.empty() || !lp.lnPaused.IsZero():
		d = lp.now.Add(evTick)
	case len(lp.clients) > 0 || len(lp.pools) > 0 || lp.closing.Load():
		d = lp.now.Add(evIdleTick)
	}
	if !d.Equal(lp.armed) {
		lp.ep.SetReadDeadline(d)
		lp.armed = d
	}
	return false
}

// closeListener closes the loop's copy of the listening socket.
func (lp *evLoop) closeListener() {
	if lp.lnfd >= 0 {
		lp.forget(lp.lnfd)
		unix.Close(lp.lnfd)
		lp.lnfd = -1
		close(lp.lnDone)
	}
}

// stop asks the loop to stop accepting and to close its idle clients, or
// all of them when force is true.
func (lp *evLoop) stop(force bool) {
	lp.closing.Store(true)
	if force {
		lp.force.Store(true)
	}
	lp.wmu.Lock()
	defer lp.wmu.Unlock()
	if lp.wake >= 0 {
		var one = [8]byte{1}
		unix.Write(lp.wake, one[:])
	}
}

// register adds fd to the loop, edge-triggered, as e.
func (lp *evLoop) register(fd int, e evEnt) (uint32, error) {
	lp.gen++
	e.gen = lp.gen
	for fd >= len(lp.ents) {
		lp.ents = append(lp.ents, make([]evEnt, len(lp.ents)+64)...)
	}
	lp.ents[fd] = e
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: int32(e.gen)}
	if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		lp.ents[fd] = evEnt{}
		return 0, err
	}
	return e.gen, nil
}

// forget removes fd from the loop; the caller closes it.
func (lp *evLoop) forget(fd int) {
	unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	if fd < len(lp.ents) {
		lp.ents[fd] = evEnt{}
	}
}

func (lp *evLoop) run() {
	defer lp.fs.wg.Done()
	defer close(lp.done)
	defer func() {
		if v := recover(); v != nil {
			lp.p.log.Error("panic in the event loop", "panic", v)
			lp.force.Store(true)
			lp.shutdownNow()
		}
	}()
	lp.now = time.Now()
	for {
		n := lp.wait()
		lp.now = time.Now()
		for i := 0; i < n; i++ {
			ev := lp.events[i]
			fd := int(ev.Fd)
			switch {
			case fd == lp.lnfd:
				lp.accept()
			case fd == lp.wake:
				var b [8]byte
				unix.Read(lp.wake, b[:])
			case fd < len(lp.ents) && (lp.ents[fd].c != nil || lp.ents[fd].t != nil):
				lp.dispatch(ev)
			}
		}
		lp.timers()
		if lp.closing.Load() {
			if lp.shutdownNow() {
				return
			}
		}
	}
}

// dispatch hands an event to its connection. A panic while handling it
// closes that connection, as the goroutine path's recover does, and the
// loop goes on.
func (lp *evLoop) dispatch(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	e := lp.ents[fd]
	if e.gen != uint32(ev.Pad) {
		return // closed earlier in this batch, and maybe its number reused
	}
	defer func() {
		if v := recover(); v != nil {
			lp.p.log.Error("panic serving a request", "panic", fmt.Sprint(v))
			if e.c != nil {
				e.c.close()
			} else if e.t.c != nil {
				e.t.c.close()
			} else {
				e.t.close()
			}
		}
	}()
	if e.c != nil {
		e.c.event(ev.Events)
	} else {
		e.t.event(ev.Events)
	}
}

// shutdownNow stops accepting and closes idle clients (all with force);
// it reports whether the loop is done.
func (lp *evLoop) shutdownNow() bool {
	lp.closeListener()
	force := lp.force.Load()
	for c := range lp.clients {
		switch {
		case force:
			c.close()
		case c.state == csIdle:
			c.closeWhenFlushed()
		}
	}
	if len(lp.clients) > 0 {
		return false
	}
	for be, ts := range lp.pools {
		for _, t := range ts {
			t.close()
		}
		delete(lp.pools, be)
	}
	lp.closeAll()
	return true
}

// timers fails requests whose target did not connect or answer in time,
// closes clients idle too long, and expires pooled target connections.
func (lp *evLoop) timers() {
	now := lp.now
	if !lp.lnPaused.IsZero() && now.After(lp.lnPaused) {
		lp.lnPaused = time.Time{}
		if lp.lnfd >= 0 {
			unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, lp.lnfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(lp.lnfd)})
		}
	}
	for t := lp.waiting.head; t != nil; {
		next := t.next
		if !t.deadline.IsZero() && now.After(t.deadline) {
			if t.connecting {
				t.fail(errConnectTimeout)
			} else {
				t.fail(errAnswerTimeout)
			}
		}
		t = next
	}
	if now.After(lp.nextIdle) {
		lp.nextIdle = now.Add(evIdleTick)
		for c := range lp.clients {
			if c.state == csIdle && now.After(c.deadline) {
				c.idleTimeout()
			}
		}
	}
	if now.After(lp.nextPool) {
		lp.nextPool = now.Add(time.Second)
		cutoff := now.Add(-h1idleTimeout)
		for be, ts := range lp.pools {
			keep := ts[:0]
			for _, t := range ts {
				if be.removed.Load() || t.idleSince.Before(cutoff) {
					t.close()
				} else {
					keep = append(keep, t)
				}
			}
			clear(ts[len(keep):])
			if len(keep) == 0 {
				delete(lp.pools, be)
			} else {
				lp.pools[be] = keep
			}
		}
	}
}

// accept takes every pending connection.
func (lp *evLoop) accept() {
	for lp.lnfd >= 0 {
		fd, sa, err := unix.Accept4(lp.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR && err != unix.ECONNABORTED {
				// Out of descriptors, most likely: the listener stays
				// readable, so it leaves the epoll instance for a moment
				// instead of spinning, and some connections close.
				unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_DEL, lp.lnfd, nil)
				lp.lnPaused = lp.now.Add(5 * time.Millisecond)
			}
			return
		}
		if lp.closing.Load() {
			unix.Close(fd)
			continue
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15)
		c := &evClient{lp: lp, fd: fd}
		var ap netip.AddrPort
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			ap = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
		case *unix.SockaddrInet6:
			ap = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
		}
		if ap.IsValid() {
			c.ci.addr = ap.Addr().Unmap()
			c.ci.xff = []string{c.ci.addr.String()}
			c.remote = netip.AddrPortFrom(c.ci.addr, ap.Port()).String() // as net.TCPAddr prints it
		}
		gen, err := lp.register(fd, evEnt{c: c})
		if err != nil {
			unix.Close(fd)
			continue
		}
		c.gen = gen
		c.enterIdle()
		lp.clients[c] = struct{}{}
		lp.nclients.Add(1)
	}
}

func (lp *evLoop) getIn() []byte {
	if n := len(lp.inFree); n > 0 {
		b := lp.inFree[n-1]
		lp.inFree = lp.inFree[:n-1]
		return b[:0]
	}
	return make([]byte, 0, evInBuf)
}

func (lp *evLoop) putIn(b []byte) {
	if cap(b) == evInBuf && len(lp.inFree) < 256 {
		lp.inFree = append(lp.inFree, b[:0])
	}
}

// evReq is the room of a request in the loop: idle connections hold
// none, so that they cost little memory; it is reused from lp.reqFree.
type evReq struct {
	r  http.Request
	u  url.URL
	h  http.Header
	w  fastWriter
	ex exchange
}

func (lp *evLoop) getReq() *evReq {
	if n := len(lp.reqFree); n > 0 {
		rq := lp.reqFree[n-1]
		lp.reqFree[n-1] = nil
		lp.reqFree = lp.reqFree[:n-1]
		return rq
	}
	rq := &evReq{h: make(http.Header, 16)}
	rq.w.h = make(http.Header, 16)
	return rq
}

// putReq takes back a request's room; its header maps are cleared.
func (lp *evLoop) putReq(rq *evReq) {
	clear(rq.h)
	clear(rq.w.h)
	rq.r, rq.u, rq.ex = http.Request{}, url.URL{}, exchange{}
	if len(lp.reqFree) < 1024 {
		lp.reqFree = append(lp.reqFree, rq)
	}
}

// Client states.
const (
	csIdle    = iota // reading a request head
	csWaiting        // the request is at a target, waiting for the answer's head
	csBody           // relaying the answer's body
)

// evClient is a client connection served by the loop.
type evClient struct {
	lp     *evLoop
	fd     int
	gen    uint32
	state  int
	in     []byte // read, not yet consumed; nil while idle and empty
	out    []byte // to write to the client
	outOff int
	full   bool // in was full when reading stopped: more may wait in the kernel
	rdhup  bool // the client will send no more
	hup    bool // epoll said the client closed its side: read to the end
	closed bool

	deadline time.Time // while idle: close after
	remote   string

	// The current request, reused for the next one.
	*evReq  // the current request's room; nil while idle
	ci      connInfo
	headLen int
	sc      *scratch

	// The current forward.
	ac        answerCtx
	hint      balance.Hint
	attempt   int // 1 once retried on another target
	t         *evTarget
	begun     bool      // ac.ep.Begin and ac.be.begin were called; release undoes them
	sent      time.Time // for instruments
	t0        time.Time // for the access log
	bodyLeft  int64
	keepTgt   bool // the target connection may carry another request
	closeTail bool // close after the answer: its framing was lost
	logIt     bool // the access log line is the loop's to write (forwards)
	raw       bool // the answer's head was written without fastWriter (headRaw)
}

func (c *evClient) event(ev uint32) {
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.hup = true
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.read()
	}
	if !c.closed && ev&unix.EPOLLOUT != 0 && c.outOff < len(c.out) {
		c.flush()
	}
}

// enterIdle waits for the next request.
func (c *evClient) enterIdle() {
	c.state = csIdle
	idle := c.lp.p.cfg.ReadHeaderTimeout
	if it := c.lp.fs.l.srv.IdleTimeout; it > 0 {
		idle = it
	}
	c.deadline = c.lp.now.Add(idle)
}

// read takes what the client sent, then handles the requests it completes.
func (c *evClient) read() {
	if c.in == nil {
		c.in = c.lp.getIn()
	}
	c.full = false
	for {
		room := c.in[len(c.in):cap(c.in)]
		if len(room) == 0 {
			c.full = true
			break
		}
		n, err := rawRead(c.fd, room)
		if n > 0 {
			c.in = c.in[:len(c.in)+n]
			if n < len(room) && !c.hup {
				break // the kernel had no more; a new edge comes with new bytes
			}
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err == nil {
			c.rdhup = true // end of stream
			break
		}
		// A reset: nobody reads the answer.
		c.close()
		return
	}
	if c.state == csIdle {
		c.next()
	}
}

// next handles the buffered requests while the connection is idle.
func (c *evClient) next() {
	for !c.closed && c.state == csIdle {
		if c.lp.closing.Load() {
			c.closeWhenFlushed()
			return
		}
		if len(c.in) == 0 {
			if c.rdhup {
				c.closeWhenFlushed()
				return
			}
			if c.full {
				c.read() // bytes left in the kernel when the buffer was full
				return
			}
			c.lp.putIn(c.in)
			c.in = nil
			return
		}
		head, verdict := findHead(c.in, cap(c.in))
		switch verdict {
		case headIncomplete:
			if c.rdhup {
				c.closeWhenFlushed()
			} else if c.full {
				c.read()
			}
			return
		case headFallback:
			c.escape()
			return
		}
		if c.evReq == nil {
			c.evReq = c.lp.getReq()
		}
		sc := scratchPool.Get().(*scratch)
		// Without an access log, whose handler might keep them, the
		// request's strings point into c.in, which stays put until the
		// request is done (or goes with it to the goroutine path).
		hs := unsafe.String(&head[0], len(head))
		if c.lp.p.cfg.AccessLog != nil {
			hs = string(head)
		}
		if err := parseRequestString(hs, &c.r, &c.u, c.h, sc.vals[:0]); err != nil {
			*sc = scratch{}
			scratchPool.Put(sc)
			c.escape()
			return
		}
		c.headLen = len(head)
		c.sc = sc
		c.ci.scratch = sc
		c.r.RemoteAddr = c.remote
		c.start()
	}
}

// start routes the parsed request.
func (c *evClient) start() {
	l := c.lp.fs.l
	p := l.p
	r := &c.r
	var start time.Time
	if p.cfg.AccessLog != nil {
		start = time.Now()
	}
	tab := l.tab.Load()
	ru := tab.match(r, hostOnly(r.Host), c.ci.addr)
	c.ex = exchange{tab: tab, rule: ru, start: start}
	// parseRequestString lets no request with a body this far (a
	// Content-Length other than 0 goes to the goroutine path), so
	// MaxBodyBytes cannot apply here.
	if ru.forward == nil || len(ru.forward.groups) == 0 {
		// A fixed response, a redirect or an error page: no I/O, so the
		// listener's own code writes it into memory.
		c.beginAnswer()
		l.serve(&c.w, r, &c.ci)
		c.endAnswer()
		return
	}
	f := ru.forward
	gi, setGroupCookie := f.chooseGroup(r)
	g := f.groups[gi]
	if g.grpc || !idempotent(r.Method) {
		c.unparse()
		c.escape()
		return
	}
	c.ex.group = g.name
	c.logIt = true
	var ep *balance.Endpoint
	if g.bal != nil {
		c.hint = g.hint(r, c.ci.addr)
		if ep = g.stuck(r); ep == nil {
			ep = g.bal.Pick(c.hint)
		}
	}
	if ep == nil {
		c.errorPage(http.StatusServiceUnavailable, g.name)
		return
	}
	rid := c.h["X-Request-Id"]
	if !saneRequestID(rid) {
		if c.lp.p.cfg.AccessLog != nil {
			c.sc.rid[0] = newRequestID()
		} else {
			c.sc.rid[0] = requestIDInto(&c.sc.ridBuf)
		}
		rid = c.sc.rid[:]
	}
	c.ex.requestID = rid[0]
	c.ac = answerCtx{f: f, gi: gi, setGroupCookie: setGroupCookie, g: g, ep: ep, rid: rid}
	c.attempt = 0
	if !start.IsZero() {
		c.t0 = time.Now()
	}
	c.send(false)
}

// unparse forgets the parsed request, which stays in c.in for another
// reader.
func (c *evClient) unparse() {
	c.ci.scratch = nil
	clear(c.h)
	*c.sc = scratch{}
	scratchPool.Put(c.sc)
	c.sc = nil
}

// send sends the request to c.ac.ep, on a pooled connection unless fresh.
func (c *evClient) send(fresh bool) {
	lp := c.lp
	ac := &c.ac
	tab := c.ex.tab
	be := lp.p.backend(tab, ac.g, ac.ep.Addr)
	ac.be = be
	c.ex.target, c.ex.zone = ac.ep.Addr, ac.ep.Zone
	if !fresh {
		ac.ep.Begin()
		be.begin()
		c.begun = true
		if be.inst != nil {
			be.inst.Request()
			c.sent = time.Now()
		}
	}
	c.state = csWaiting
	t, err := lp.target(be, fresh, tab.connect)
	if err != nil {
		c.failed(err)
		return
	}
	c.t = t
	t.c = c
	t.got = 0
	t.n = 0
	t.out = c.appendRequest(t.out)
	if !t.connecting {
		t.deadline = time.Time{}
		if tab.request > 0 {
			t.deadline = lp.now.Add(tab.request)
		}
		lp.waiting.push(t)
		t.flush()
	}
}

// release undoes send's ac.ep.Begin and ac.be.begin, once per Begin,
// whatever state the forward reached.
func (c *evClient) release() {
	if !c.begun {
		return
	}
	c.begun = false
	c.ac.ep.Done()
	c.ac.be.end()
}

// failed ends an attempt that got no answer: a retry on another target
// when allowed, else an error page. t is closed already.
func (c *evClient) failed(err error) {
	ac := &c.ac
	be := ac.be
	if be.inst != nil {
		be.inst.Failed(time.Since(c.sent))
	}
	c.release()
	c.t = nil
	status, o, reason, unsent := evFailure(err)
	c.lp.p.report(ac.g.name, ac.ep.Addr, o, reason)
	if unsent {
		c.lp.dropPool(be) // the target is not there: its pooled connections are as dead
	}
	if c.attempt == 0 && unsent {
		if next := ac.g.bal.Next(c.hint, ac.ep); next != nil {
			ac.ep, c.ex.retried = next, true
			c.attempt = 1
			c.send(false)
			return
		}
	}
	c.errorPage(status, ac.g.name)
}

// errorPage answers with the proxy's error page.
func (c *evClient) errorPage(status int, group string) {
	c.beginAnswer()
	c.ex.status = writeError(&c.w, &c.r, status, group)
	c.endAnswer()
}

// beginAnswer points the writer at c.out.
func (c *evClient) beginAnswer() {
	c.lp.bw.Reset(appendWriter{&c.out})
	c.w.bw = c.lp.bw
	c.w.reset(&c.r)
}

// endAnswer finishes a whole answer in memory: it is sent, and the next
// request is handled.
func (c *evClient) endAnswer() {
	c.w.finish()
	c.w.bw.Flush()
	c.w.bw.Reset(nil)
	c.w.bw = nil
	c.done()
}

// done ends the current request: the access log, the request's room, the
// head consumed; then the answer goes out and the next request is read.
func (c *evClient) done() {
	p := c.lp.p
	if al := p.cfg.AccessLog; al != nil && c.logIt && p.logSeq.Add(1)%uint64(p.cfg.AccessLogEvery) == 0 {
		c.ex.log(al, &c.r, c.ci.addr)
	}
	closeAfter := c.w.closeAfter || c.closeTail
	c.closeTail, c.logIt = false, false
	c.ci.scratch = nil
	clear(c.h)
	if c.sc != nil {
		*c.sc = scratch{}
		scratchPool.Put(c.sc)
		c.sc = nil
	}
	c.ac = answerCtx{}
	c.t0 = time.Time{}
	c.lp.putReq(c.evReq)
	c.evReq = nil
	c.in = c.in[:copy(c.in, c.in[c.headLen:])]
	c.headLen = 0
	c.enterIdle()
	if closeAfter {
		c.rdhup = true
		c.in = c.in[:0]
		c.full = false
	}
	c.flush()
	if !c.closed {
		c.next()
	}
}

// flush writes what is pending to the client.
func (c *evClient) flush() {
	for c.outOff < len(c.out) {
		n, err := rawWrite(c.fd, c.out[c.outOff:])
		if n > 0 {
			c.outOff += n
			continue
		}
		if err == unix.EAGAIN {
			return // EPOLLOUT says when to go on
		}
		c.close()
		return
	}
	c.out = c.out[:0]
	c.outOff = 0
	if cap(c.out) > 64<<10 {
		c.out = nil
	}
	if c.state == csIdle && c.rdhup && len(c.in) == 0 {
		c.close()
		return
	}
	if c.state == csBody && c.t != nil && c.t.paused {
		c.t.paused = false
		c.t.read()
	}
}

// idleTimeout ends a connection that waited too long for a request head:
// silently when the client sent nothing, with a 408 when it began a head
// and did not finish it. A client that does not read the 408 either is
// closed at the next tick.
func (c *evClient) idleTimeout() {
	if len(c.in) == 0 || c.outOff < len(c.out) {
		c.close()
		return
	}
	c.in = c.in[:0]
	c.rdhup, c.full = true, false
	c.out = append(c.out, answer408...)
	c.flush()
}

// closeWhenFlushed closes the connection once its answers are written.
func (c *evClient) closeWhenFlushed() {
	if c.outOff < len(c.out) {
		c.rdhup, c.full = true, false
		c.in = c.in[:0]
		return
	}
	c.close()
}

// close closes the connection and abandons its request.
func (c *evClient) close() {
	if c.closed {
		return
	}
	c.closed = true
	lp := c.lp
	if t := c.t; t != nil {
		c.t = nil
		t.c = nil
		t.close()
	}
	// Apart from c.t: a panic between Begin and setting c.t (in send)
	// leaves no target, and the counts must come back all the same.
	c.release()
	if c.sc != nil {
		c.ci.scratch = nil
		*c.sc = scratch{}
		scratchPool.Put(c.sc)
		c.sc = nil
	}
	if c.evReq != nil {
		lp.putReq(c.evReq)
		c.evReq = nil
	}
	lp.forget(c.fd)
	unix.Close(c.fd)
	if c.in != nil {
		lp.putIn(c.in)
		c.in = nil
	}
	delete(lp.clients, c)
	lp.nclients.Add(-1)
}

// escape hands the connection, with what it sent so far, to the goroutine
// path for the rest of its life.
func (c *evClient) escape() {
	lp := c.lp
	pre := append([]byte(nil), c.in...)
	if c.evReq != nil {
		lp.putReq(c.evReq)
		c.evReq = nil
	}
	nc, err := c.detach()
	if err != nil {
		return
	}
	if !lp.fs.adopt(nc, pre) {
		nc.Close()
	}
}

// detach takes the connection out of the loop as a net.Conn.
func (c *evClient) detach() (net.Conn, error) {
	lp := c.lp
	c.closed = true
	lp.forget(c.fd)
	delete(lp.clients, c)
	lp.nclients.Add(-1)
	if c.in != nil {
		lp.putIn(c.in)
		c.in = nil
	}
	return fdConn(c.fd)
}

// fdConn makes a net.Conn of a socket, closing fd.
func fdConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	return nc, err
}

// evTarget is a connection to a target owned by the loop.
type evTarget struct {
	lp         *evLoop
	fd         int
	gen        uint32
	be         *backend
	c          *evClient // nil while pooled
	h          http.Header
	buf        []byte // read from the target: buf[off:n] not yet used
	off, n     int
	out        []byte
	outOff     int
	got        int64 // answer bytes read in this exchange
	connecting bool
	reuse      bool
	paused     bool // the client's output is full: stop reading
	hup        bool // the target closed its side, or the connection failed
	closed     bool
	idleSince  time.Time
	deadline   time.Time

	prev, next *evTarget // in lp.waiting
	listed     bool
}

var (
	errConnectTimeout = &evError{"connect timeout", true, true}
	errAnswerTimeout  = &evError{"no answer within request_timeout", false, true}
	errTargetClosed   = &evError{"target closed the connection", false, false}
)

// evError is a failure of the loop's own making.
type evError struct {
	s               string
	dial, isTimeout bool
}

func (e *evError) Error() string { return "httpproxy: " + e.s }

// evDialError is a connection that could not be made.
type evDialError struct{ err error }

func (e *evDialError) Error() string { return "httpproxy: dial: " + e.err.Error() }
func (e *evDialError) Unwrap() error { return e.err }

// evFailure classifies the loop's failures as failure does net's.
func evFailure(err error) (status int, o health.Outcome, reason string, unsent bool) {
	var ee *evError
	if errors.As(err, &ee) {
		switch {
		case ee.dial:
			return http.StatusGatewayTimeout, health.ConnectFailure, reasonConnect, true
		case ee.isTimeout:
			return http.StatusGatewayTimeout, health.Failure, reasonTimeout, false
		}
		return http.StatusBadGateway, health.Failure, reasonReset, false
	}
	var de *evDialError
	if errors.As(err, &de) {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return http.StatusBadGateway, health.ConnectFailure, reasonRefused, true
		}
		return http.StatusBadGateway, health.ConnectFailure, reasonConnect, true
	}
	return http.StatusBadGateway, health.Failure, reasonReset, false
}

// target returns a connection to be: a pooled one unless fresh, else a
// new one, connecting.
func (lp *evLoop) target(be *backend, fresh bool, connect time.Duration) (*evTarget, error) {
	if !fresh {
		ts := lp.pools[be]
		for n := len(ts); n > 0; n = len(ts) {
			t := ts[n-1]
			ts[n-1] = nil
			ts = ts[:n-1]
			lp.pools[be] = ts
			if t.closed {
				continue
			}
			t.reuse = true
			return t, nil
		}
	}
	sa, domain := sockaddr(be.key.addr)
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &evDialError{err}
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 30)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 30)
	t := &evTarget{lp: lp, fd: fd, be: be, buf: make([]byte, evTgtBuf)}
	gen, err := lp.register(fd, evEnt{t: t})
	if err != nil {
		unix.Close(fd)
		return nil, &evDialError{err}
	}
	t.gen = gen
	err = unix.Connect(fd, sa)
	switch err {
	case nil:
		t.opened()
	case unix.EINPROGRESS:
		t.connecting = true
		if connect > 0 {
			t.deadline = lp.now.Add(connect)
		}
		lp.waiting.push(t)
	default:
		lp.forget(fd)
		unix.Close(fd)
		t.closed = true
		lp.dropPool(be)
		return nil, &evDialError{err}
	}
	return t, nil
}

// dropPool closes be's pooled connections: the target is not there.
func (lp *evLoop) dropPool(be *backend) {
	for _, t := range lp.pools[be] {
		t.close()
	}
	delete(lp.pools, be)
	be.closeIdle(time.Time{}, true)
}

func (t *evTarget) opened() {
	if t.be.inst != nil {
		t.be.inst.Opened()
	}
}

func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	if a := ap.Addr(); a.Is4() || a.Is4In6() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, unix.AF_INET6
}

func (t *evTarget) event(ev uint32) {
	if t.connecting {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		soerr, err := unix.GetsockoptInt(t.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = syscall.Errno(soerr)
		}
		if err != nil {
			t.fail(&evDialError{err})
			return
		}
		t.connecting = false
		t.opened()
		t.deadline = time.Time{}
		if c := t.c; c != nil && c.ex.tab.request > 0 {
			t.deadline = t.lp.now.Add(c.ex.tab.request)
		}
		t.flush()
		if t.closed {
			return
		}
	}
	if ev&unix.EPOLLOUT != 0 && t.outOff < len(t.out) {
		t.flush()
		if t.closed {
			return
		}
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		t.hup = true
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		t.read()
	}
}

// flush writes the request.
func (t *evTarget) flush() {
	for t.outOff < len(t.out) {
		n, err := rawWrite(t.fd, t.out[t.outOff:])
		if n > 0 {
			t.outOff += n
			continue
		}
		if err == unix.EAGAIN {
			return
		}
		t.fail(errTargetClosed)
		return
	}
	t.out = t.out[:0]
	t.outOff = 0
}

// read takes what the target sent.
func (t *evTarget) read() {
	c := t.c
	if c == nil {
		// Pooled and idle: the target closed it, or sent what nobody
		// asked for.
		t.close()
		return
	}
	if t.paused {
		return
	}
	for !t.closed && t.c == c {
		if t.off == t.n {
			t.off, t.n = 0, 0
		}
		if t.n == len(t.buf) {
			if c.state == csWaiting {
				t.escape() // a head larger than the buffer
			}
			return
		}
		room := t.buf[t.n:]
		k, err := rawRead(t.fd, room)
		if k > 0 {
			t.n += k
			t.got += int64(k)
			switch c.state {
			case csWaiting:
				t.head()
			case csBody:
				t.body()
			}
			if k < len(room) && !t.hup {
				return // the kernel had no more; a new edge comes with new bytes
			}
			continue
		}
		if err == unix.EAGAIN {
			return
		}
		t.lost(err)
		return
	}
}

// lost handles the end of the target's stream (err nil) or an error.
func (t *evTarget) lost(err error) {
	c := t.c
	switch {
	case c.state == csWaiting && t.n-t.off > 0:
		// A part of a head: net/http's reader says what is wrong.
		t.escape()
	case c.state == csWaiting:
		t.fail(errTargetClosed)
	default:
		// The body broke off: the client's framing is lost.
		c.closeTail = true
		t.endBody(false)
	}
}

// fail ends the exchange on t without an answer: a reused connection that
// broke before any answer byte is tried once more on a new one; else the
// client's request fails over or gets an error page.
func (t *evTarget) fail(err error) {
	c := t.c
	reuse, got := t.reuse, t.got
	t.c = nil
	t.close()
	if c == nil {
		return
	}
	c.t = nil
	if reuse && got == 0 {
		c.send(true)
		return
	}
	c.failed(err)
}

// head parses the answer's head once it is whole.
func (t *evTarget) head() {
	c := t.c
	buf := t.buf[t.off:t.n]
	i := bytes.Index(buf, []byte("\r\n\r\n"))
	if i < 0 {
		if bytes.Contains(buf, []byte("\n\n")) {
			t.escape()
		}
		return
	}
	head := buf[:i+4]
	if t.h == nil {
		t.h = make(http.Header, 16)
	}
	ac := &c.ac
	if ac.g.sticky == "" && !ac.setGroupCookie {
		t.headRaw(head)
		return
	}
	hr := &c.sc.resp
	*hr = h1resp{}
	resp := &hr.resp
	if err := parseResponse(head, c.r.Method, resp, t.h, hr.vals[:0]); err != nil {
		t.escape()
		return
	}
	t.off += len(head)
	t.answered(resp.StatusCode)
	c.bodyLeft = resp.ContentLength
	if c.r.Method == http.MethodHead || c.bodyLeft < 0 {
		c.bodyLeft = 0
	}
	c.keepTgt = !resp.Close
	c.ex.status = resp.StatusCode
	c.beginAnswer()
	answerHeader(c.w.h, resp, *ac)
	c.w.WriteHeader(resp.StatusCode)
	c.w.bw.Flush()
	c.state = csBody
	t.body()
}

// answered counts and reports an answer's head.
func (t *evTarget) answered(status int) {
	c := t.c
	t.lp.waiting.remove(t)
	t.deadline = time.Time{}
	ac := &c.ac
	if be := ac.be; be.inst != nil {
		be.inst.Response(status, time.Since(c.sent))
	}
	if !c.t0.IsZero() {
		c.ex.upstream = time.Since(c.t0)
	}
	t.lp.p.reportAnswer(ac.g.name, ac.ep.Addr, status)
	c.ex.status = status
}

// headRaw writes the client's head straight from the target's, without
// header maps, as answerHeader and fastWriter would: hop-by-hop headers
// (and those the answer's Connection names) and the target's X-Request-Id
// left out, ours added.
func (t *evTarget) headRaw(head []byte) {
	c := t.c
	lines := &t.lp.lines
	// The strings point into t.buf and are not kept past this call.
	hs := unsafe.String(&head[0], len(head))
	status, cl, closing, n, named, err := scanResponse(hs, c.r.Method, lines[:])
	if err != nil {
		t.escape()
		return
	}
	t.off += len(head)
	t.answered(status)
	c.bodyLeft = cl
	if c.r.Method == http.MethodHead || cl < 0 {
		c.bodyLeft = 0
	}
	c.keepTgt = !closing
	b := append(c.out, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\n"...)
	for i := range n {
		l := &lines[i]
		if isHop(l.key) || l.key == "X-Request-Id" || named && connectionNames(lines[:n], l.key) {
			continue
		}
		b = append(b, l.key...)
		b = append(b, ": "...)
		b = append(b, l.value...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Request-Id: "...)
	b = append(b, c.ac.rid[0]...)
	if c.r.Close {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	c.out = b
	c.raw = true
	c.w.reset(&c.r) // for its closeAfter
	c.state = csBody
	t.body()
}

// hdrLine is a header line's canonical key and value.
type hdrLine struct{ key, value string }

// scanResponse checks an answer's head as parseResponse does and returns
// what the loop needs, with the header lines in lines; named says whether
// a Connection header names other headers.
func scanResponse(hs, method string, lines []hdrLine) (status int, cl int64, closing bool, n int, named bool, err error) {
	if len(hs) < 16 || hs[:9] != "HTTP/1.1 " {
		return 0, 0, false, 0, false, errFallback
	}
	line, rest, _ := strings.Cut(hs, "\r\n")
	code := line[9:min(12, len(line))]
	if len(code) != 3 || code[0] < '2' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return 0, 0, false, 0, false, errFallback
	}
	if len(line) > 12 && line[12] != ' ' || !validValue(line) {
		return 0, 0, false, 0, false, errFallback
	}
	status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	cl = -1
	cls := 0
	for rest != "\r\n" {
		key, value, after, ok := headerLine(rest)
		if !ok || n >= len(lines) {
			return 0, 0, false, 0, false, errFallback
		}
		rest = after
		switch key {
		case "Content-Length":
			if cls++; cls > 1 || value == "" || len(value) > 18 {
				return 0, 0, false, 0, false, errFallback
			}
			cl = 0
			for i := 0; i < len(value); i++ {
				if value[i] < '0' || value[i] > '9' {
					return 0, 0, false, 0, false, errFallback
				}
				cl = cl*10 + int64(value[i]-'0')
			}
		case "Transfer-Encoding":
			return 0, 0, false, 0, false, errFallback
		case "Connection":
			for v := value; v != ""; {
				var f string
				f, v, _ = strings.Cut(v, ",")
				switch f = strings.TrimSpace(f); {
				case strings.EqualFold(f, "close"):
					closing = true
				case f != "" && !strings.EqualFold(f, "keep-alive"):
					named = true
				}
			}
		}
		lines[n] = hdrLine{key, value}
		n++
	}
	switch {
	case method == http.MethodHead:
	case status == http.StatusNoContent || status == http.StatusNotModified:
		cl = 0
	case cl < 0:
		return 0, 0, false, 0, false, errFallback
	}
	return status, cl, closing, n, named, nil
}

// connectionNames reports whether a Connection line of lines names key.
func connectionNames(lines []hdrLine, key string) bool {
	for _, l := range lines {
		if l.key != "Connection" {
			continue
		}
		for v := l.value; v != ""; {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(f), key) {
				return true
			}
		}
	}
	return false
}

// appendRequest appends the request for the target to b, from the
// client's head, as forward and writeRequestH1 would write it: the
// client's header lines without hop-by-hop ones (and those its Connection
// names), then X-Forwarded-For (appended to), -Proto, -Port and the
// request id; no header map is changed or walked.
func (c *evClient) appendRequest(b []byte) []byte {
	r := &c.r
	h := c.h
	tab := c.ex.tab
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.RequestURI...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.Host...)
	b = append(b, "\r\n"...)
	conn := h["Connection"]
	te := h["Te"]
	teKeep := len(te) > 0 && strings.EqualFold(te[0], "trailers")
	src := c.ci.addr
	hs := unsafe.String(&c.in[0], c.headLen)
	_, rest, _ := strings.Cut(hs, "\r\n")
	for rest != "\r\n" && rest != "" {
		var l string
		l, rest, _ = strings.Cut(rest, "\r\n")
		name, _, _ := strings.Cut(l, ":")
		if skipOutgoing(name, teKeep, src.IsValid()) || len(conn) > 0 && namedIn(conn, name) {
			continue
		}
		b = append(b, l...)
		b = append(b, "\r\n"...)
	}
	if src.IsValid() {
		b = append(b, "X-Forwarded-For: "...)
		for _, v := range h["X-Forwarded-For"] {
			b = append(b, v...)
			b = append(b, ", "...)
		}
		b = append(b, c.ci.xff[0]...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Forwarded-Proto: "...)
	b = append(b, tab.xfProto[0]...)
	b = append(b, "\r\nX-Forwarded-Port: "...)
	b = append(b, tab.xfPort[0]...)
	b = append(b, "\r\nX-Request-Id: "...)
	b = append(b, c.ac.rid[0]...)
	return append(b, "\r\n\r\n"...)
}

// skipOutgoing reports whether a client's header line named name is left
// out of the request to the target: Host (written first), hop-by-hop
// headers but Te: trailers, and the ones the proxy writes itself.
func skipOutgoing(name string, teKeep, xff bool) bool {
	var k string
	switch len(name) {
	case 2:
		return !teKeep && strings.EqualFold(name, "Te")
	case 4:
		k = "Host"
	case 7:
		return strings.EqualFold(name, "Trailer") || strings.EqualFold(name, "Upgrade")
	case 10:
		return strings.EqualFold(name, "Connection") || strings.EqualFold(name, "Keep-Alive")
	case 12:
		k = "X-Request-Id"
	case 15:
		return xff && strings.EqualFold(name, "X-Forwarded-For")
	case 16:
		return strings.EqualFold(name, "Proxy-Connection") || strings.EqualFold(name, "X-Forwarded-Port")
	case 17:
		return strings.EqualFold(name, "Transfer-Encoding") || strings.EqualFold(name, "X-Forwarded-Proto")
	case 18:
		k = "Proxy-Authenticate"
	case 19:
		k = "Proxy-Authorization"
	default:
		return false
	}
	return strings.EqualFold(name, k)
}

// namedIn reports whether the Connection values conn name header name.
func namedIn(conn []string, name string) bool {
	for _, v := range conn {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if f = strings.TrimSpace(f); !strings.EqualFold(f, "close") && strings.EqualFold(f, name) {
				return true
			}
		}
	}
	return false
}

// body passes the answer's body on.
func (t *evTarget) body() {
	c := t.c
	if c.raw {
		if k := int64(t.n - t.off); k > 0 && c.bodyLeft > 0 {
			k = min(k, c.bodyLeft)
			c.out = append(c.out, t.buf[t.off:t.off+int(k)]...)
			c.ex.bytes += k
			t.off += int(k)
			c.bodyLeft -= k
		}
	} else {
		// The loop's writer is shared: it is this client's until flushed.
		c.lp.bw.Reset(appendWriter{&c.out})
		c.w.bw = c.lp.bw
		if k := int64(t.n - t.off); k > 0 && c.bodyLeft > 0 {
			k = min(k, c.bodyLeft)
			c.w.Write(t.buf[t.off : t.off+int(k)])
			c.ex.bytes += k
			t.off += int(k)
			c.bodyLeft -= k
		}
	}
	if c.bodyLeft == 0 {
		t.endBody(true)
		return
	}
	// More to come: what there is goes out now.
	if !c.raw {
		c.w.bw.Flush()
		c.w.bw.Reset(nil)
		c.w.bw = nil
	}
	c.flush()
	if c.closed {
		return
	}
	if c.outOff < len(c.out) {
		t.paused = true
	}
}

// endBody finishes the answer; complete is false when the target broke
// off.
func (t *evTarget) endBody(complete bool) {
	c := t.c
	extra := t.n > t.off
	c.t = nil
	t.c = nil
	if complete && c.keepTgt && !extra && !t.closed && !t.hup {
		t.pool()
	} else {
		t.close()
	}
	c.release()
	if c.raw {
		c.raw = false
		if !complete {
			c.closeTail = true
		}
		c.done()
		return
	}
	if c.w.bw == nil { // the body's last bytes went out already
		c.lp.bw.Reset(appendWriter{&c.out})
		c.w.bw = c.lp.bw
	}
	c.endAnswer()
}

// pool puts t among its backend's idle connections.
func (t *evTarget) pool() {
	lp := t.lp
	be := t.be
	t.paused = false
	t.off, t.n = 0, 0
	ts := lp.pools[be]
	if be.removed.Load() || len(ts) >= be.maxIdle {
		t.close()
		return
	}
	t.idleSince = lp.now
	lp.pools[be] = append(ts, t)
}

func (t *evTarget) close() {
	if t.closed {
		return
	}
	t.closed = true
	t.lp.waiting.remove(t)
	t.lp.forget(t.fd)
	unix.Close(t.fd)
	if t.be.inst != nil && !t.connecting {
		t.be.inst.Closed()
	}
}

// escape hands the client, the target connection and what the target sent
// so far to a goroutine that reads the answer with net/http's reader.
func (t *evTarget) escape() {
	lp := t.lp
	c := t.c
	tab := c.ex.tab
	var deadline time.Time
	if tab.request > 0 && !t.deadline.IsZero() {
		deadline = t.deadline
	}
	pre := append([]byte(nil), t.buf[t.off:t.n]...)
	t.c = nil
	c.t = nil
	t.closed = true
	lp.waiting.remove(t)
	lp.forget(t.fd)
	be := c.ac.be
	tc, terr := fdConn(t.fd)
	if terr == nil && be.inst != nil {
		tc = &countedConn{Conn: tc, inst: be.inst}
	}
	// The client's bytes after this request's head stay for the goroutine.
	rest := append([]byte(nil), c.in[c.headLen:]...)
	sc := c.sc
	o := &sc.out
	o.req = c.r
	o.url = c.u
	o.req.URL = &o.url
	o.url.Scheme, o.url.Host = "http", be.hostport
	o.req.Close = false
	r := c.r
	u := c.u
	r.URL = &u
	ex := c.ex
	ac := c.ac
	c.begun = false // the goroutine below releases ac from here on
	ci := c.ci
	h := c.h
	c.sc = nil
	c.evReq = nil // the goroutine has its header map
	c.in = nil    // the request's strings point into it: it goes with them
	nc, cerr := c.detach()
	if terr != nil || cerr != nil {
		if terr == nil {
			tc.Close()
		}
		if cerr == nil {
			nc.Close()
		}
		ac.ep.Done()
		ac.be.end()
		return
	}
	fs := lp.fs
	fs.mu.Lock() // when closing, this request still finishes: shutdown waits for it
	fc := &fastConn{fs: fs, c: nc}
	fs.conns[fc] = struct{}{}
	fs.wg.Add(1)
	fs.mu.Unlock()
	reuse, sent := t.reuse, c.sent
	go func() {
		// Until fc.serve takes over, this goroutine owns nc, tc, fc's place
		// in fs and ac's counts; after a panic it gives them all back, as
		// fastConn.serve does, or Shutdown would wait for fc forever.
		owned, tcOwned, acOwned := true, true, true
		defer func() {
			if v := recover(); v != nil {
				fs.l.p.log.Error("panic serving a request", "panic", fmt.Sprint(v))
			}
			if !owned {
				return
			}
			if tcOwned {
				tc.Close()
			}
			if acOwned {
				ac.ep.Done()
				ac.be.end()
			}
			nc.Close()
			fs.forget(fc)
			fs.wg.Done()
		}()
		hc := &h1conn{c: &preConn{Conn: tc, pre: pre}, reuse: reuse, h: make(http.Header, 16)}
		hc.n = int64(len(pre))
		hc.bw = bufio.NewWriterSize(hc.c, 4<<10)
		hc.br = bufio.NewReaderSize(hc, 16<<10)
		bw := writerPool.Get().(*bufio.Writer)
		bw.Reset(nc)
		w := &fastWriter{bw: bw, h: make(http.Header, 16)}
		w.reset(&r)
		r.Header = h
		ci.scratch = sc
		if !deadline.IsZero() {
			tc.SetReadDeadline(deadline)
		}
		hr := &sc.resp
		*hr = h1resp{}
		resp, err := be.readResponseH1(hc, &sc.out.req, hr)
		if err == nil {
			tc.SetReadDeadline(time.Time{})
			if be.inst != nil {
				be.inst.Response(resp.StatusCode, time.Since(sent))
			}
			acOwned = false // relay releases ac, even when it panics
			fs.l.p.relay(w, &ex, resp, ac)
			tcOwned = false // pooled or closed by the body's end
		} else {
			tcOwned = false
			tc.Close()
			if be.inst != nil {
				be.inst.Failed(time.Since(sent))
			}
			acOwned = false
			ac.ep.Done()
			be.end()
			status, o, reason, _ := failure(err)
			fs.l.p.report(ac.g.name, ac.ep.Addr, o, reason)
			ex.status = writeError(w, &r, status, ac.g.name)
		}
		if al := fs.l.p.cfg.AccessLog; al != nil && fs.l.p.logSeq.Add(1)%uint64(fs.l.p.cfg.AccessLogEvery) == 0 {
			ex.log(al, &r, ci.addr)
		}
		w.finish()
		ferr := bw.Flush()
		bw.Reset(nil)
		writerPool.Put(bw)
		*sc = scratch{}
		scratchPool.Put(sc)
		if ferr != nil || w.closeAfter {
			return // the deferred function closes nc and lets fc go
		}
		owned = false
		fc.src.pre = rest
		fc.serve()
	}()
}

// preConn is a connection whose first bytes were read already.
type preConn struct {
	net.Conn
	pre []byte
}

func (c *preConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		k := copy(p, c.pre)
		c.pre = c.pre[k:]
		return k, nil
	}
	return c.Conn.Read(p)
}

// evList is a doubly linked list of targets.
type evList struct{ head *evTarget }

func (l *evList) empty() bool { return l.head == nil }

func (l *evList) push(t *evTarget) {
	if t.listed {
		return
	}
	t.listed = true
	t.prev = nil
	t.next = l.head
	if l.head != nil {
		l.head.prev = t
	}
	l.head = t
}

func (l *evList) remove(t *evTarget) {
	if !t.listed {
		return
	}
	t.listed = false
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		l.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}
