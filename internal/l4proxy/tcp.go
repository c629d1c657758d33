package l4proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/proxyproto"
)

// tcpListener serves a tcp, tls or tls_passthrough listener.
//
// Overload: at max_connections the accept loop stops calling accept, so new
// connections wait in the kernel's listen backlog (and, once it is full,
// SYNs are dropped and clients retry) instead of being accepted and reset
// in a storm; they proceed as soon as a connection ends. A target at its
// max_connections_per_target is skipped; when every target tried is at its
// cap the connection is accepted and closed at once, counted as refused.
type tcpListener struct {
	p  *Proxy
	ln *net.TCPListener
	// lf is a duplicate of ln's descriptor for the raw accepts of a
	// parker's loop (a net.Listener offers no raw reads); nil where there
	// is none.
	lf *os.File
	// loop is the parker whose event loop accepts for this listener (nil:
	// the acceptLoop goroutine does, with net's AcceptTCP); lkey is the listener's key in its
	// epoll set; paused is set while it is out of the set (at its
	// connection limit, or out of descriptors).
	loop   *parker
	lkey   uint64
	paused atomic.Bool
	cur    atomic.Pointer[listenerSpec]
	lim    limiter

	active, total, refused atomic.Int64

	mu    sync.Mutex // guards conns
	conns map[closer]struct{}
}

func (p *Proxy) listenTCP(s *listenerSpec) (listener, error) {
	// No TCP keepalives (which cost four setsockopt calls per connection):
	// the idle timeout ends dead connections, as NLB's does.
	lc := net.ListenConfig{KeepAlive: -1}
	// Plain TCP: Go listens with MPTCP by default where the kernel has it,
	// which costs every accept (and some socket options behave otherwise)
	// for clients that speak plain TCP anyway.
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", s.bind)
	if err != nil {
		return nil, err
	}
	l := &tcpListener{p: p, ln: ln.(*net.TCPListener), conns: map[closer]struct{}{}}
	l.update(s)
	if !l.startInLoop() {
		p.serve.Go(l.acceptLoop)
	}
	return l, nil
}

// acceptLoop accepts with net's AcceptTCP, a goroutine per connection:
// for listeners that are not in a parker's loop (startInLoop).
func (l *tcpListener) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		if !l.lim.acquire() {
			return
		}
		c, err := l.ln.AcceptTCP()
		if err != nil {
			l.lim.release()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or memory: wait rather than spin.
			l.p.log.Warn("accept failed", "listener", l.cur.Load().key, "err", err, "retry_seconds", backoff.Seconds())
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l.p.conns.Add(1)
		go l.handle(c)
	}
}

func (l *tcpListener) update(s *listenerSpec) {
	l.cur.Store(s)
	l.lim.setMax(s.model.MaxConnections)
	l.resume()
}

func (l *tcpListener) spec() *listenerSpec { return l.cur.Load() }
func (l *tcpListener) addr() net.Addr      { return l.ln.Addr() }
func (l *tcpListener) sweep(time.Time)     {}

func (l *tcpListener) close() {
	l.lim.close()
	l.stopInLoop()
	l.ln.Close()
	if l.lf != nil {
		l.lf.Close()
	}
}

func (l *tcpListener) closeAll() {
	l.mu.Lock()
	cs := make([]closer, 0, len(l.conns))
	for c := range l.conns {
		cs = append(cs, c)
	}
	l.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

func (l *tcpListener) stats() ListenerStats {
	s := l.cur.Load()
	return ListenerStats{
		Listener: s.key, Addr: l.ln.Addr().String(), Protocol: s.proto,
		Active: l.active.Load(), Total: l.total.Load(), Refused: l.refused.Load(),
	}
}

// begin counts a new connection c; done undoes it when c is over.
func (l *tcpListener) begin(c closer) {
	l.active.Add(1)
	l.total.Add(1)
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
}

func (l *tcpListener) done(c closer) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.active.Add(-1)
	l.lim.release()
	l.resume()
	l.p.conns.Done()
}

// tcpConn is one proxied connection; Close ends both sides.
type tcpConn struct {
	client  *net.TCPConn
	once    sync.Once
	mu      sync.Mutex // guards the fields below
	up      net.Conn
	closed  bool
	onClose func() // set while parked
}

func (c *tcpConn) setUpstream(up net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.up = up
	return true
}

func (c *tcpConn) Close() error {
	var onClose func()
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		up := c.up
		onClose = c.onClose
		c.mu.Unlock()
		c.client.Close()
		if up != nil {
			up.Close()
		}
	})
	// Outside the Once: onClose may end the connection, which closes it
	// again.
	if onClose != nil {
		onClose()
	}
	return nil
}

// setOnClose arranges for f to run when c closes; false when c is closed
// already.
func (c *tcpConn) setOnClose(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.onClose = f
	return true
}

func (l *tcpListener) handle(c *net.TCPConn) {
	tc := &tcpConn{client: c}
	l.begin(tc)
	// end undoes the above when the connection is over; a parked connection
	// calls it from the parker.
	end := func() {
		tc.Close()
		l.done(tc)
	}
	parked := false
	defer func() {
		// A connection's bug must not take the proxy down.
		if r := recover(); r != nil {
			l.p.log.Error("connection handler panicked", "listener", l.cur.Load().key, "panic", fmt.Sprint(r))
		}
		if !parked {
			end()
		}
	}()
	var err error
	parked, err = l.serveConn(l.cur.Load(), tc, end)
	if err != nil {
		l.refused.Add(1)
		l.p.log.Debug("connection refused", "listener", l.cur.Load().key, "client", c.RemoteAddr().String(), "err", err)
	}
}

// serveConn forwards one connection; an error means it was refused before
// reaching a target. When it hands the connection to the parker it returns
// parked, and the parker calls end when the connection is over.
func (l *tcpListener) serveConn(s *listenerSpec, tc *tcpConn, end func()) (parked bool, err error) {
	c := tc.client
	p := l.p
	client := addrPort(c.RemoteAddr())
	local := addrPort(c.LocalAddr())
	deadline := p.cfg.Now().Add(p.cfg.HandshakeTimeout)
	var pre []byte // bytes read from the client, to send on to the target
	if s.model.AcceptProxyProtocol {
		c.SetReadDeadline(deadline)
		h, rest, err := readProxyHeader(c)
		if err != nil {
			return false, err
		}
		if h.Command == proxyproto.Proxy && h.Source.IsValid() {
			client, local = h.Source, h.Dest
		}
		pre = rest
	}
	var front net.Conn = c // the client side, in plaintext
	sni := ""
	switch s.proto {
	case model.ProtoTLSPassthrough:
		c.SetReadDeadline(deadline)
		name, all, err := readServerName(c, pre)
		if err != nil {
			return false, err
		}
		sni, pre = name, all
	case model.ProtoTLS:
		var raw net.Conn = c
		if len(pre) > 0 {
			raw = &prefixConn{TCPConn: c, pre: pre}
			pre = nil
		}
		t := tls.Server(raw, s.tls)
		t.SetDeadline(deadline)
		if err := t.Handshake(); err != nil {
			return false, fmt.Errorf("tls handshake: %w", err)
		}
		t.SetDeadline(time.Time{})
		sni, front = t.ConnectionState().ServerName, t
	}
	c.SetReadDeadline(time.Time{})
	group := s.route(sni, client.Addr())
	if group == "" {
		return false, errNoTarget
	}
	ep, t, up, err := p.connect(s, group, client, local, sni, pre)
	if err != nil {
		return false, err
	}
	if !tc.setUpstream(up) {
		up.Close()
		t.release(nil)
		ep.Done()
		return false, nil
	}
	t.track(tc)
	// Plain TCP both ways: the parker moves the bytes, and the connection
	// holds no goroutine.
	if f, ok := front.(*net.TCPConn); ok {
		if u, ok := up.(*net.TCPConn); ok {
			if pk := p.parker(); pk != nil && pk.adopt(tc, f, u, t, ep, s.idle, end) {
				return true, nil
			}
		}
	}
	stop := watchIdle(c, s.idle, func() { tc.Close() })
	defer func() {
		stop()
		t.release(tc)
		ep.Done()
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		n, err := copyHalf(up, front)
		t.bytesIn.Add(n)
		finishHalf(tc, up, err)
	})
	n, err := copyHalf(front, up)
	t.bytesOut.Add(n)
	finishHalf(tc, front, err)
	wg.Wait()
	return false, nil
}

// finishHalf passes on the end of one direction: a clean end of stream
// becomes a half-close of dst, so the other direction keeps flowing; an
// error (reset, idle close) ends the whole connection.
func finishHalf(tc *tcpConn, dst net.Conn, err error) {
	if err != nil {
		tc.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	tc.Close()
}

// connect picks a target of group and connects to it, trying a second
// target once when the first refuses; it sends the PROXY header and pre.
func (p *Proxy) connect(s *listenerSpec, group string, client, local netip.AddrPort, sni string, pre []byte) (*balance.Endpoint, *target, net.Conn, error) {
	var avoid *balance.Endpoint
	var firstErr error
	for try := 0; try < 2; try++ {
		ep, t, tg, err := p.pick(group, client.Addr(), avoid)
		if err != nil {
			if firstErr != nil {
				return nil, nil, nil, firstErr
			}
			return nil, nil, nil, err
		}
		up, err := p.dialTarget(s, t, tg, client, local, sni, pre)
		if err == nil {
			ep.Begin()
			return ep, t, up, nil
		}
		t.release(nil)
		if firstErr == nil {
			firstErr = err
		}
		avoid = ep
	}
	return nil, nil, nil, firstErr
}

// appendProxyHeader appends the PROXY header of version v for a TCP
// connection from client to local.
func appendProxyHeader(b []byte, v model.ProxyProtocol, client, local netip.AddrPort) []byte {
	n := 1
	if v == model.ProxyV2 {
		n = 2
	}
	return proxyproto.Append(b, proxyproto.Header{Version: n, Command: proxyproto.Proxy, Transport: proxyproto.TCP, Source: client, Dest: local})
}

// dialTarget connects to t and sends what goes first (PROXY header, pre,
// or a TLS handshake), as the group's settings spec (from pick) say.
func (p *Proxy) dialTarget(s *listenerSpec, t *target, spec *model.TargetGroup, client, local netip.AddrPort, sni string, pre []byte) (net.Conn, error) {
	d := net.Dialer{Timeout: p.cfg.ConnectTimeout, KeepAlive: -1}
	start := time.Now()
	c, err := d.Dial("tcp", t.key.addr.String())
	if took := time.Since(start); err != nil {
		t.inst.Failed(took)
	} else {
		t.inst.Response(0, took)
	}
	p.report(t, err)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", t.key.addr, err)
	}
	var out []byte
	if spec != nil && spec.ProxyProtocol != "" {
		out = appendProxyHeader(out, spec.ProxyProtocol, client, local)
	}
	wrap := s.proto == model.ProtoTLS && spec != nil && spec.Protocol == model.ProtoTLS
	if !wrap {
		out = append(out, pre...)
	}
	if len(out) > 0 {
		c.SetWriteDeadline(p.cfg.Now().Add(p.cfg.HandshakeTimeout))
		if _, err := c.Write(out); err != nil {
			c.Close()
			return nil, fmt.Errorf("write to %s: %w", t.key.addr, err)
		}
		c.SetWriteDeadline(time.Time{})
	}
	if !wrap {
		return c, nil
	}
	// Targets' certificates are not verified, as ALB and NLB do not.
	tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	tc.SetDeadline(p.cfg.Now().Add(p.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", t.key.addr, err)
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// copyHalf copies src to dst until src ends. Between two TCP connections it
// splices in the kernel (spliceCopy); otherwise (TLS) it copies through a
// pooled buffer.
func copyHalf(dst, src net.Conn) (int64, error) {
	if d, ok := dst.(*net.TCPConn); ok {
		if s, ok := src.(*net.TCPConn); ok {
			return spliceCopy(d, s)
		}
	}
	bp := copyPool.get()
	defer copyPool.put(bp)
	// Hide ReaderFrom and WriterTo so that io.CopyBuffer uses the pooled
	// buffer instead of allocating its own.
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}

var copyPool = newBytesPool(32 << 10)

// readProxyHeader reads a PROXY protocol header from c without reading past
// it by more than what one read returned; it returns the bytes after it.
func readProxyHeader(c net.Conn) (proxyproto.Header, []byte, error) {
	buf := make([]byte, 0, 256)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), proxyproto.MaxV2Len+512-cap(buf)))...)[:len(buf)]
			if len(buf) == cap(buf) {
				return proxyproto.Header{}, nil, errors.New("l4proxy: PROXY header too long")
			}
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		h, used, perr := proxyproto.Parse(buf)
		switch {
		case perr == nil:
			return h, buf[used:], nil
		case !errors.Is(perr, proxyproto.ErrShort):
			return proxyproto.Header{}, nil, perr
		case err != nil:
			return proxyproto.Header{}, nil, fmt.Errorf("l4proxy: reading PROXY header: %w", err)
		}
	}
}

// readServerName reads from c, after pre, until the ClientHello's server
// name is known, at most MaxHelloBytes (plus record headers). It returns
// the name ("" when absent or when the stream is not TLS, which the
// default action then takes) and every byte read, to replay to the target.
func readServerName(c net.Conn, pre []byte) (string, []byte, error) {
	const limit = MaxHelloBytes + 64*5
	buf := append(make([]byte, 0, 2048), pre...)
	for {
		name, err := serverName(buf)
		switch {
		case err == nil:
			return name, buf, nil
		case !errors.Is(err, errHelloShort):
			return "", buf, nil
		}
		if len(buf) >= limit {
			return "", nil, errors.New("l4proxy: ClientHello over the size limit")
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), limit-len(buf)))...)[:len(buf)]
		}
		n, rerr := c.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if rerr != nil && n == 0 {
			return "", nil, fmt.Errorf("l4proxy: reading ClientHello: %w", rerr)
		}
	}
}

// prefixConn replays bytes already read before reading on.
type prefixConn struct {
	*net.TCPConn
	pre []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.TCPConn.Read(b)
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// limiter is a counting semaphore whose size may change; 0 is unlimited.
type limiter struct {
	mu     sync.Mutex
	cond   *sync.Cond
	n, max int
	closed bool
}

func (l *limiter) init() {
	if l.cond == nil {
		l.cond = sync.NewCond(&l.mu)
	}
}

// acquire waits for room; false once closed.
func (l *limiter) acquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	for !l.closed && l.max > 0 && l.n >= l.max {
		l.cond.Wait()
	}
	if l.closed {
		return false
	}
	l.n++
	return true
}

// tryAcquire takes room if there is some, without waiting.
func (l *limiter) tryAcquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.max > 0 && l.n >= l.max {
		return false
	}
	l.n++
	return true
}

func (l *limiter) release() {
	l.mu.Lock()
	l.init()
	l.n--
	l.cond.Signal()
	l.mu.Unlock()
}

func (l *limiter) setMax(n int) {
	l.mu.Lock()
	l.init()
	l.max = n
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *limiter) close() {
	l.mu.Lock()
	l.init()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
}
