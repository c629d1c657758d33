package l4proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/model"
)

// parker moves the bytes of plain-TCP connections in an event loop, as
// HAProxy and nginx do, with no goroutine per connection: both sockets of
// a connection are raw non-blocking descriptors in one epoll set of the
// parker's, registered once, edge-triggered, for reading and writing; the
// epoll descriptor itself waits in the Go runtime's poller. The loop moves
// what a readable socket holds to the other socket: a burst under 16 KiB
// with recv and send through a scratch buffer, a bulk transfer with splice
// through a pooled pipe; what a full send buffer refuses waits in the pipe
// (or a pooled buffer) until the socket turns writable. An end of stream
// is passed on as a half-close.
//
// A listener's plain-TCP connections never become net.Conns (see
// acceptLoop): the accept loop connects to the target with a raw
// non-blocking connect, and the parker's epoll reports its completion
// (EPOLLOUT) or failure (EPOLLERR), on which the loop tries another target
// once. Connections that needed a net.Conn first (PROXY header from the
// client, TLS passthrough's ClientHello) are adopted once connected.
//
// An idle connection costs its two sockets and a pair record with one
// runtime timer (connect timeout, then idle timeout).
type parker struct {
	ep   *os.File
	epfd int

	mu    sync.Mutex // guards pairs, lns and next
	pairs map[uint64]*pair
	lns   map[uint64]*tcpListener // listeners whose accepts this loop runs
	next  uint64

	runq []*pair // pairs with work left after their turn; the loop's only
	// shuts are pairs with a half-close due (the loop's only); see
	// endOfStream.
	shuts []*pair

	// scratch carries small bursts (the loop's only): recv and send
	// through it cost the kernel less than two splices through a pipe.
	scratch [smallBurst]byte

	done chan struct{} // closed when the loop has returned
}

// pairState is where a pair is in its life.
type pairState uint8

const (
	pairConnecting pairState = iota
	pairEstablished
	pairClosed
)

// pair is one proxied connection in a parker. Its mutex guards every
// field below it; the loop holds it while working on the pair, and Close
// (from the idle timer, draining or shutdown) takes it too, so a
// descriptor is never closed under a call that uses it.
type pair struct {
	pk *parker
	id uint64
	l  *tcpListener // for the target choice, retries and accounting

	mu     sync.Mutex
	state  pairState
	fd     [2]int // client, target; -1 once closed
	gen    uint64 // generation of the target socket (0 or 1), in its event key
	queued bool   // in pk.runq
	shutQ  bool   // in pk.shuts
	dirs   [2]half
	open   int // directions not yet at end of stream
	timer  *time.Timer
	idle   time.Duration
	ended  bool // finish is due once mu is released

	// The target side.
	spec     *listenerSpec
	group    string
	client   netip.AddrPort
	ep       *balance.Endpoint
	t        *target
	tg       *model.TargetGroup // the group's settings when t was picked
	tries    int
	firstErr error
	started  time.Time
	tracked  closer // what t tracks: the pair, or an adopted connection's tcpConn
	end      func() // the listener's accounting, once the pair is over
	wasUp    bool   // reached pairEstablished
	refusing bool   // closed before reaching a target: counted as refused
}

// half is one direction: dirs[i] reads fd[i] and writes fd[1-i].
type half struct {
	readable bool // an edge came and the source may hold bytes
	hup      bool // an edge said the source's peer shut down, or an error
	writable bool // the destination has not said EAGAIN since its last edge
	done     bool // end of stream seen
	shutDue  bool // end of stream not yet passed on as a half-close
	pipe     *splicePipe
	pending  int // bytes in pipe
	// bulk is set when the last read filled the scratch buffer: reads
	// splice until one moves less than smallBurst again.
	bulk bool
	// buf holds what a send of a small burst left, buf[off:end].
	buf      *[]byte
	off, end int
	bytes    int64
}

// smallBurst is the size below which a burst is copied through user space
// rather than spliced.
const smallBurst = 16 << 10

var burstPool = newBytesPool(smallBurst)

// turnBytes is how much one direction moves per turn of the loop before
// the other connections get theirs.
const turnBytes = 4 << 20

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
	pk := &parker{ep: os.NewFile(uintptr(fd), "l4proxy-epoll"), epfd: fd, pairs: map[uint64]*pair{}, lns: map[uint64]*tcpListener{}, done: make(chan struct{})}
	go pk.loop()
	return pk, nil
}

// close stops the loop; parked connections must have ended.
func (pk *parker) close() {
	pk.ep.Close()
	<-pk.done
}

func (pk *parker) register(c *pair) {
	pk.mu.Lock()
	pk.next++
	c.id = pk.next
	pk.pairs[c.id] = c
	pk.mu.Unlock()
}

func (pk *parker) forget(c *pair) {
	pk.mu.Lock()
	delete(pk.pairs, c.id)
	pk.mu.Unlock()
}

// key is the epoll key of side (0 client, 1 target) of c.
func (c *pair) key(side int) uint64 {
	k := c.id<<2 | uint64(side)
	if side == 1 {
		k |= c.gen << 1
	}
	return k
}

func (c *pair) epollAdd(side int) syscall.Errno {
	k := c.key(side)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(k), Pad: int32(k >> 32)}
	return rawEpollCtl(c.pk.epfd, unix.EPOLL_CTL_ADD, c.fd[side], &ev)
}

// unlock releases c.mu, then finishes c if it ended meanwhile.
func (c *pair) unlock() {
	f := c.ended
	c.ended = false
	c.mu.Unlock()
	if f {
		c.finish()
	}
}

// Close ends the connection: both sockets close.
func (c *pair) Close() error {
	c.mu.Lock()
	c.closeLocked()
	c.unlock()
	return nil
}

// closeLocked closes both sockets once; finish runs after unlock.
func (c *pair) closeLocked() {
	if c.state == pairClosed {
		return
	}
	c.state = pairClosed
	c.ended = true
	for i, fd := range c.fd {
		if fd >= 0 {
			// Closing takes the socket out of the epoll set.
			rawClose(fd)
			c.fd[i] = -1
		}
	}
	for i := range c.dirs {
		h := &c.dirs[i]
		if h.buf != nil {
			burstPool.put(h.buf)
			h.buf = nil
		}
		if h.pipe != nil {
			if h.pending == 0 {
				pipePool.Put(h.pipe)
			} else {
				h.pipe.close()
			}
			h.pipe = nil
		}
	}
	if c.timer != nil {
		c.timer.Stop()
	}
}

// finish does the accounting of a closed pair, outside its lock.
func (c *pair) finish() {
	c.pk.forget(c)
	if t := c.t; t != nil {
		if c.wasUp {
			t.bytesIn.Add(c.dirs[0].bytes)
			t.bytesOut.Add(c.dirs[1].bytes)
			t.release(c.tracked)
			c.ep.Done()
		} else {
			t.release(nil)
		}
	}
	if c.refusing && c.l != nil {
		c.l.refused.Add(1)
		c.l.p.log.Debug("connection refused", "listener", c.spec.key, "client", c.client.String(), "err", fmt.Sprint(c.firstErr))
	}
	c.end()
}

// startFast serves a connection accepted by the raw accept loop: it picks
// a target and starts a non-blocking connect, whose end the loop sees.
func (l *tcpListener) startFast(pk *parker, fd int, client netip.AddrPort, s *listenerSpec) {
	c := &pair{pk: pk, l: l, fd: [2]int{fd, -1}, open: 2, spec: s, client: client, idle: s.idle}
	c.tracked = c
	l.begin(c)
	c.end = func() { l.done(c) }
	pk.register(c)
	c.mu.Lock()
	defer c.unlock()
	c.group = s.route("", client.Addr())
	if c.group == "" {
		c.refuse(errNoTarget)
		return
	}
	if err := c.connectLocked(nil); err != nil {
		c.refuse(err)
		return
	}
	if e := c.epollAdd(0); e != 0 {
		c.refuse(fmt.Errorf("epoll: %w", e))
		return
	}
	c.timer = time.AfterFunc(l.p.cfg.ConnectTimeout, c.onTimer)
}

func (c *pair) refuse(err error) {
	c.refusing = true
	if c.firstErr == nil {
		c.firstErr = err
	}
	c.closeLocked()
}

// connectLocked picks a target (other than avoid) and starts connecting
// to it, trying a second target when the first cannot even start; two
// tries in all per connection.
func (c *pair) connectLocked(avoid *balance.Endpoint) error {
	p := c.l.p
	for c.tries < 2 {
		c.tries++
		ep, t, tg, err := p.pick(c.group, c.client.Addr(), avoid)
		if err != nil {
			if c.firstErr != nil {
				return c.firstErr
			}
			return err
		}
		c.started = time.Now()
		fd, e := rawConnectSocket(t.key.addr)
		if e == 0 {
			c.fd[1], c.ep, c.t, c.tg = fd, ep, t, tg
			c.gen ^= 1
			if e = c.epollAdd(1); e == 0 {
				return nil
			}
			rawClose(fd)
			c.fd[1], c.ep, c.t, c.tg = -1, nil, nil, nil
		}
		c.connectFailed(ep, t, e)
		avoid = ep
	}
	return c.firstErr
}

// connectFailed counts and reports a failed connect to t.
func (c *pair) connectFailed(ep *balance.Endpoint, t *target, err error) {
	err = fmt.Errorf("connect %s: %w", t.key.addr, err)
	t.inst.Failed(time.Since(c.started))
	c.l.p.report(t, err)
	t.release(nil)
	if c.firstErr == nil {
		c.firstErr = err
	}
}

// retryLocked handles the failure of the connect under way: it tries
// another target once, or refuses the connection.
func (c *pair) retryLocked(err error) {
	ep, t := c.ep, c.t
	rawClose(c.fd[1])
	c.fd[1], c.ep, c.t, c.tg = -1, nil, nil, nil
	c.connectFailed(ep, t, err)
	if err := c.connectLocked(ep); err != nil {
		c.refuse(err)
		return
	}
	c.timer.Reset(c.l.p.cfg.ConnectTimeout)
}

// connectedLocked completes the connect: the PROXY header goes out first,
// then both directions flow.
func (c *pair) connectedLocked() {
	t := c.t
	t.inst.Response(0, time.Since(c.started))
	c.l.p.report(t, nil)
	c.ep.Begin()
	t.track(c.tracked)
	c.state, c.wasUp = pairEstablished, true
	c.timer.Reset(c.idle)
	if spec := c.tg; spec != nil && spec.ProxyProtocol != "" {
		if err := c.sendProxyHeader(spec); err != nil {
			c.closeLocked()
			return
		}
	}
	c.dirs[0].writable, c.dirs[1].writable = true, true
}

func (c *pair) sendProxyHeader(spec *model.TargetGroup) error {
	local, e := rawSockname(c.fd[0])
	if e != 0 {
		return e
	}
	h := appendProxyHeader(nil, spec.ProxyProtocol, c.client, local)
	n, err := unix.Write(c.fd[1], h)
	if err == nil && n < len(h) {
		err = errors.New("short write")
	}
	return err
}

// onTimer is the pair's timer: the connect timeout while connecting, then
// the idle timeout, checked against the kernel's record of the client
// socket's last traffic.
func (c *pair) onTimer() {
	c.mu.Lock()
	defer c.unlock()
	switch c.state {
	case pairConnecting:
		c.retryLocked(errors.New("timed out"))
	case pairEstablished:
		if since, ok := fdSinceActivity(c.fd[0]); ok && since < c.idle {
			c.timer.Reset(c.idle - since)
			return
		}
		c.closeLocked()
	}
}

// adopt parks an established connection that began as net.Conns (client
// and up, with tc their record): the parker takes duplicates of their
// descriptors and the net.Conns close. t, ep and end are released when the
// connection ends. false means nothing was taken over.
func (pk *parker) adopt(tc *tcpConn, client, up *net.TCPConn, t *target, ep *balance.Endpoint, idle time.Duration, end func()) bool {
	cfd, err1 := dupConn(client)
	if err1 != nil {
		return false
	}
	ufd, err2 := dupConn(up)
	if err2 != nil {
		unix.Close(cfd)
		return false
	}
	c := &pair{pk: pk, fd: [2]int{cfd, ufd}, open: 2, idle: idle, state: pairEstablished, wasUp: true, t: t, ep: ep, tracked: tc, end: end}
	c.dirs[0].writable, c.dirs[1].writable = true, true
	pk.register(c)
	if !tc.setOnClose(func() { c.Close() }) {
		unix.Close(cfd)
		unix.Close(ufd)
		pk.forget(c)
		return false
	}
	client.Close()
	up.Close()
	c.mu.Lock()
	defer c.unlock()
	if c.state == pairClosed {
		return true
	}
	c.timer = time.AfterFunc(idle, c.onTimer)
	for side := range 2 {
		if e := c.epollAdd(side); e != 0 {
			c.closeLocked()
			return true
		}
	}
	return true
}

func dupConn(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	cerr := rc.Control(func(fd uintptr) { nfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) })
	if cerr != nil {
		return -1, cerr
	}
	return nfd, err
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
		busy := len(pk.runq) > 0
		if busy {
			// Others may run (the accept loop, with one processor).
			runtime.Gosched()
		}
		due := len(pk.shuts) // half-closes queued before this round
		err := rc.Read(func(fd uintptr) bool {
			var werr error
			n, werr = unix.EpollWait(int(fd), events, 0)
			if werr != nil {
				n = 0
			}
			return busy || n > 0 || due > 0
		})
		if err != nil {
			return // closed
		}
		for _, ev := range events[:n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if key&3 == listenerKeyBits {
				pk.mu.Lock()
				l := pk.lns[key>>2]
				pk.mu.Unlock()
				if l != nil {
					l.acceptBatch()
				}
				continue
			}
			pk.mu.Lock()
			c := pk.pairs[key>>2]
			pk.mu.Unlock()
			if c != nil {
				c.event(int(key&1), key>>1&1, ev.Events)
			}
		}
		if busy {
			q := pk.runq
			pk.runq = nil
			for i, c := range q {
				q[i] = nil
				c.mu.Lock()
				c.queued = false
				if c.state == pairEstablished {
					c.runLocked()
				}
				c.unlock()
			}
			if pk.runq == nil {
				pk.runq = q[:0]
			}
		}
		if n == 0 {
			due = len(pk.shuts) // about to wait: every one is due
		}
		if due > 0 {
			for i, c := range pk.shuts[:due] {
				pk.shuts[i] = nil
				c.shutNow()
			}
			pk.shuts = append(pk.shuts[:0], pk.shuts[due:]...)
		}
	}
}

// shutNow passes on the ends of stream that endOfStream deferred.
func (c *pair) shutNow() {
	c.mu.Lock()
	defer c.unlock()
	c.shutQ = false
	for dir := range c.dirs {
		h := &c.dirs[dir]
		if !h.shutDue {
			continue
		}
		h.shutDue = false
		if c.state == pairEstablished && rawShutdown(c.fd[1-dir], unix.SHUT_WR) != 0 {
			c.closeLocked()
		}
	}
}

// event handles the events of one side (0 client, 1 target) of c.
func (c *pair) event(side int, gen uint64, events uint32) {
	c.mu.Lock()
	defer c.unlock()
	switch {
	case c.state == pairClosed:
		return
	case side == 1 && gen != c.gen:
		return // the socket of a failed connect
	case c.state == pairConnecting:
		if side == 1 {
			if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				err := error(unix.ECONNREFUSED)
				if v, gerr := unix.GetsockoptInt(c.fd[1], unix.SOL_SOCKET, unix.SO_ERROR); gerr == nil && v != 0 {
					err = syscall.Errno(v)
				}
				c.retryLocked(err)
				return
			}
			if events&unix.EPOLLOUT == 0 {
				return
			}
			c.connectedLocked()
			if c.state != pairEstablished {
				return
			}
		} else {
			// The client's bytes wait until the target is connected.
			c.dirs[0].readable = true
			if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.dirs[0].hup = true
			}
			return
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.dirs[side].readable = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.dirs[side].hup = true
	}
	if events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.dirs[1-side].writable = true
	}
	c.runLocked()
}

// runLocked moves what both directions can move now.
func (c *pair) runLocked() {
	for dir := range 2 {
		if c.state != pairEstablished {
			return
		}
		c.pump(dir)
	}
}

// pump moves one direction's bytes until its source is empty, its
// destination is full or its turn is over; at end of stream it passes on
// a half-close, or closes the connection when both directions are done.
func (c *pair) pump(dir int) {
	h := &c.dirs[dir]
	if h.done {
		return
	}
	src, dst := c.fd[dir], c.fd[1-dir]
	budget := turnBytes
	for {
		if h.buf != nil {
			if !h.writable {
				return
			}
			n, e := rawSend(dst, (*h.buf)[h.off:h.end])
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				h.writable = false
				return
			case e != 0:
				c.closeLocked()
				return
			}
			h.off += n
			h.bytes += int64(n)
			budget -= n
			if h.off < h.end {
				continue
			}
			burstPool.put(h.buf)
			h.buf = nil
		}
		if h.pending > 0 {
			if !h.writable {
				return // the destination's EPOLLOUT brings us back
			}
			n, e := rawSplice(h.pipe.r, dst, h.pending, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				h.writable = false
				return
			case e != 0:
				c.closeLocked()
				return
			}
			h.pending -= n
			h.bytes += int64(n)
			budget -= n
			if h.pending > 0 {
				continue
			}
		}
		if !h.readable {
			break
		}
		if budget <= 0 {
			if !c.queued {
				c.queued = true
				c.pk.runq = append(c.pk.runq, c)
			}
			return
		}
		if !h.bulk {
			buf := c.pk.scratch[:]
			n, e := rawRecv(src, buf)
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				h.readable = false
			case e != 0:
				c.closeLocked()
				return
			case n == 0:
				if !c.endOfStream(h) {
					return
				}
			default:
				// A short read emptied the socket (see the splice
				// below); a full one starts a bulk transfer.
				if n == len(buf) {
					h.bulk = true
				} else if !h.hup {
					h.readable = false
				}
				m := 0
				var e syscall.Errno
				for h.writable {
					if m, e = rawSend(dst, buf[:n]); e != unix.EINTR {
						break
					}
				}
				switch {
				case e == unix.EAGAIN:
					m = 0
					h.writable = false
				case e != 0:
					c.closeLocked()
					return
				}
				h.bytes += int64(m)
				budget -= m
				if m < n {
					h.buf = burstPool.get()
					h.off, h.end = 0, copy(*h.buf, buf[m:n])
				}
				continue
			}
			break
		}
		if h.pipe == nil {
			if h.pipe = getPipe(); h.pipe == nil {
				c.closeLocked()
				return
			}
		}
		n, e := rawSplice(src, h.pipe.w, pipeSize, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			h.readable = false
		case e != 0:
			// A reset ends the whole connection.
			c.closeLocked()
			return
		case n == 0:
			if !c.endOfStream(h) {
				return
			}
		default:
			h.pending = n
			if n < smallBurst {
				h.bulk = false
			}
			// Fewer bytes than the empty pipe has buffers: the socket
			// had no more. Bytes that come later bring a new edge, so
			// the read that would say EAGAIN is saved, unless the peer
			// has shut down (its edge has come already).
			if n < h.pipe.slots && !h.hup {
				h.readable = false
			}
			continue
		}
		break
	}
	// Between bursts the pipe goes back to the pool: an idle connection
	// holds none.
	if h.pending == 0 && h.pipe != nil {
		pipePool.Put(h.pipe)
		h.pipe = nil
	}
}

// endOfStream passes on the end of h's source as a half-close of its
// destination, or closes the connection when both directions have ended;
// false when the connection is closed.
//
// The half-close waits for the loop's next round: a client that closes
// as soon as it has its answer (HTTP with Connection: close) has then
// often done so, and both sockets simply close, the client's first, which
// saves the shutdown and leaves the TIME_WAIT state to the client (the
// active closer) rather than to the proxy.
func (c *pair) endOfStream(h *half) bool {
	h.readable, h.done = false, true
	c.open--
	if c.open == 0 {
		c.closeLocked()
		return false
	}
	h.shutDue = true
	if !c.shutQ {
		c.shutQ = true
		c.pk.shuts = append(c.pk.shuts, c)
	}
	return true
}
