package health

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

const (
	// searchLimit is how much of the decoded body a search string must fit
	// in, as Route 53: "entirely within the first 5,120 bytes".
	searchLimit = 5120
	// maxResponseHeaderBytes is Route 53's limit on a response's headers.
	maxResponseHeaderBytes = 16 << 10
	// drainLimit is the largest body read to its end so that a keep-alive
	// connection can carry the next probe; a larger one costs the connection.
	drainLimit = 64 << 10
	// userAgent is sent with every HTTP and gRPC probe.
	userAgent = "switchboard-health/1"
)

// HTTP probes an endpoint with one HTTP/1.1 request, over TLS for https
// probes, and judges the status code and, optionally, the start of the body
// (Route 53's HTTP, HTTPS and *_STR_MATCH checks; ELB's HTTP checks).
// Redirects are not followed: a 3xx is judged as a status like any other.
// Safe for concurrent use.
//
// A probe runs on its caller's goroutine alone: it dials, writes a request
// prepared by NewHTTP, and reads the answer with net/http's response parser
// (http.ReadResponse). It uses no http.Transport, whose two goroutines and
// two buffers per connection, and three timers per request, cost more than
// the rest of a probe to a loopback target. One deadline on the connection
// bounds the probe.
type HTTP struct {
	// Immutable after NewHTTP.
	scheme         string // "http" or "https"
	defaultPort    int    // 80 or 443: the port a Host header leaves out
	method         string
	path           string // with its query, if any
	host           string // Host header; "" for the target's own host
	hostHasPort    bool   // host carries a port, to send as is
	sni            string // TLS server name; "" for the target's host
	verify         bool
	search         []byte // nil: the body is not read
	want           []model.StatusRange
	wantText       string // want as "200-399,404", for reasons
	keepAlive      bool
	timeout        time.Duration // whole probe; the caller's ctx may be shorter
	connectTimeout time.Duration // TCP connect and TLS handshake
	idleTimeout    time.Duration // keep-alive: a connection idle longer is not reused
	tcpKeepAlive   time.Duration // net.Dialer.KeepAlive
	// The request is head, the Host header's value, then tail; or head
	// alone when the Host header does not depend on the target.
	head, tail []byte
	// req carries the method to http.ReadResponse (a HEAD response has no
	// body). Shared by every probe; ReadResponse only reads it.
	req *http.Request

	// roots, when not nil, replaces the system's roots for verify_tls.
	// Tests set it before the first Check; it is read at each TLS dial.
	roots *x509.CertPool

	mu   sync.Mutex          // guards idle
	idle map[Target]httpConn // keep-alive: at most one idle connection per target
}

// httpConn is a probe's connection.
type httpConn struct {
	net.Conn              // what the request and response go through: tcp, or TLS over it
	tcp      *net.TCPConn // the socket, for deadlines and an abortive close
	since    time.Time    // when it went idle (keep-alive)
}

// NewHTTP builds the checker of an http or https probe. It does no I/O.
// With keep_alive, the checker keeps one idle connection per target
// between probes; Close closes them.
func NewHTTP(p *model.Probe) (*HTTP, error) {
	if p == nil {
		return nil, errors.New("health: no probe")
	}
	c := &HTTP{
		method:         p.Method,
		path:           p.Path,
		host:           p.Host,
		sni:            p.SNI,
		verify:         p.VerifyTLS,
		keepAlive:      p.KeepAlive,
		timeout:        p.Timeout.D(),
		connectTimeout: p.ConnectTimeout.D(),
	}
	switch p.Type {
	case model.CheckHTTP:
		c.scheme, c.defaultPort = "http", 80
	case model.CheckHTTPS:
		c.scheme, c.defaultPort = "https", 443
	default:
		return nil, fmt.Errorf("health: a %q probe is not an http or https probe", p.Type)
	}
	// A request built once here catches a method or path that no request
	// could carry, so that Check need not.
	if !strings.HasPrefix(c.path, "/") {
		return nil, fmt.Errorf("health: path %q does not start with '/'", c.path)
	}
	req, err := http.NewRequest(c.method, "http://127.0.0.1"+c.path, nil)
	if err != nil {
		return nil, fmt.Errorf("health: method %q, path %q: %w", c.method, c.path, err)
	}
	c.req = &http.Request{Method: c.method}
	want, err := model.ParseStatusRanges(p.ExpectedStatus)
	if err != nil {
		return nil, fmt.Errorf("health: expected_status: %w", err)
	}
	c.want, c.wantText = want, statusText(want)
	if p.SearchString != "" {
		c.search = []byte(p.SearchString)
	}
	if h, _, err := net.SplitHostPort(p.Host); err == nil {
		c.hostHasPort = true
		if c.sni == "" {
			c.sni = h
		}
	} else if c.sni == "" {
		c.sni = p.Host
	}

	c.idleTimeout = 90 * time.Second
	if iv := 2 * p.Interval.D(); iv > c.idleTimeout {
		c.idleTimeout = iv // keep a keep-alive connection until the next probe
	}
	if !c.keepAlive {
		// TCP keep-alive is for connections that outlive a probe; setting
		// it up costs four system calls per connection.
		c.tcpKeepAlive = -1
	}
	c.head, c.tail = requestBytes(c.method, req.URL.RequestURI(), c.keepAlive)
	if c.hostHasPort {
		c.head = append(append(c.head, c.host...), c.tail...)
		c.tail = nil
	}
	return c, nil
}

// requestBytes writes the request as net/http's Transport did, in two
// parts around the Host header's value: the request line, Host, User-Agent,
// Connection: close (without keep-alive), Content-Length: 0 (for methods
// other than GET and HEAD, as servers expect of a POST without a body), and
// Accept-Encoding. We ask for gzip and deflate ourselves and decode them.
func requestBytes(method, uri string, keepAlive bool) (head, tail []byte) {
	head = []byte(method + " " + uri + " HTTP/1.1\r\nHost: ")
	t := "\r\nUser-Agent: " + userAgent + "\r\n"
	if !keepAlive {
		// A fresh connection per probe (as ELB) also tests that the
		// endpoint still accepts connections.
		t += "Connection: close\r\n"
	}
	if method != http.MethodGet && method != http.MethodHead {
		t += "Content-Length: 0\r\n"
	}
	t += "Accept-Encoding: gzip, deflate\r\n\r\n"
	return head, []byte(t)
}

// statusText writes rs as in expected_status: "200-399", "200,204".
func statusText(rs []model.StatusRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.Itoa(r.Lo)
		if r.Hi != r.Lo {
			parts[i] += "-" + strconv.Itoa(r.Hi)
		}
	}
	return strings.Join(parts, ",")
}

// Close closes the checker's idle keep-alive connections. Check may still
// be called afterwards; it opens new connections.
func (c *HTTP) Close() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, conn := range idle {
		abort(conn.tcp)
	}
}

// Check sends one request to t and judges the answer. The connect timeout
// bounds the TCP connect and TLS handshake; ctx, and the probe's timeout,
// bound everything, body included.
//
// With keep_alive, a connection kept from the previous probe of t carries
// the request; if it turns out to have been closed (no byte of an answer),
// the probe tries once more on a new connection, within the same time.
//
// Reasons: "status 200" when healthy; otherwise "status 503, want 200-399",
// "body has no \"ok\" in the first 5120 bytes", "connect 127.0.0.1:9001:
// connection refused", "connect timeout after 2s", "tls: …" (handshake),
// "timeout after 2s", "response headers over 16384 bytes", "reading
// response: …", "reading body: …" or "canceled".
//
// Latency is the time to the status line; a probe that gets none, or whose
// body fails to arrive, reports the time to the failure.
func (c *HTTP) Check(ctx context.Context, t Target) Result {
	p := httpProbe{ctx: ctx, start: time.Now()}
	p.deadline, p.budget = probeDeadline(ctx, c.timeout, p.start)
	p.buf = probeBufs.Get().(*probeBuf)
	defer p.buf.release()
	p.req = c.request(p.buf, t)
	for retry := false; ; retry = true {
		var conn httpConn
		var stop func() bool
		reused := false
		if c.keepAlive && !retry {
			conn, reused = c.takeIdle(t)
		}
		if reused {
			stop = watch(ctx, conn.tcp, p.deadline)
		} else {
			var err error
			conn, stop, err = c.dial(&p, t)
			if err != nil {
				return p.fail("reading response", err)
			}
		}
		r, keep, stale := c.exchange(&p, conn, reused)
		// stop reports false when ctx's end has cut, or is cutting, the
		// connection's I/O short: it cannot carry another probe.
		if stop() && keep {
			c.putIdle(t, conn)
		} else {
			abort(conn.tcp)
		}
		if !stale {
			return r
		}
	}
}

// request is the request to t, in pb's buffer unless it is the same for
// every target.
func (c *HTTP) request(pb *probeBuf, t Target) []byte {
	if c.tail == nil {
		return c.head
	}
	pb.req = append(pb.req[:0], c.head...)
	pb.req = c.appendHost(pb.req, t)
	pb.req = append(pb.req, c.tail...)
	return pb.req
}

// dial connects to t within the connect timeout, and within p's deadline
// and ctx, and completes the TLS handshake of an https probe within the
// same time. It returns the connection with p's deadline set and watched
// over by ctx (see watch), or a *connectError.
func (c *HTTP) dial(p *httpProbe, t Target) (httpConn, func() bool, error) {
	// The connect has until the probe's end, which a timeout reports as the
	// probe's budget, unless the connect timeout ends it sooner.
	start := time.Now()
	connDeadline, after := p.deadline, p.budget
	if c.connectTimeout > 0 {
		if d := start.Add(c.connectTimeout); connDeadline.IsZero() || d.Before(connDeadline) {
			connDeadline, after = d, c.connectTimeout
		}
	}
	fail := func(handshake bool, err error) error {
		if connDeadline.IsZero() {
			after = time.Since(start)
		}
		return connectFailure(p.ctx, t.Addr(), handshake, after, err)
	}
	d := net.Dialer{Deadline: connDeadline, KeepAlive: c.tcpKeepAlive}
	nc, err := d.DialContext(p.ctx, "tcp", t.Addr())
	if err != nil {
		return httpConn{}, nil, fail(false, err)
	}
	tcp := nc.(*net.TCPConn)
	if c.scheme != "https" {
		return httpConn{Conn: tcp, tcp: tcp}, watch(p.ctx, tcp, p.deadline), nil
	}
	stop := watch(p.ctx, tcp, connDeadline)
	tc := tls.Client(tcp, tlsConfig(c.sni, t.Host, c.verify, c.roots, "http/1.1"))
	// Handshake, not HandshakeContext(ctx): that would start a goroutine to
	// watch ctx, which watch already does.
	if err := tc.Handshake(); err != nil {
		stop()
		abort(tcp)
		return httpConn{}, nil, fail(true, err)
	}
	setDeadline(p.ctx, tcp, p.deadline)
	return httpConn{Conn: tc, tcp: tcp}, stop, nil
}

// aLongTimeAgo is a deadline that has passed: it stops a connection's I/O.
var aLongTimeAgo = time.Unix(1, 0)

// watch sets tcp's deadline and, if ctx can end early, arranges for its
// end to stop tcp's I/O at once. The returned stop undoes the arrangement
// and reports whether ctx's end had left tcp alone.
func watch(ctx context.Context, tcp *net.TCPConn, deadline time.Time) (stop func() bool) {
	tcp.SetDeadline(deadline)
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { tcp.SetDeadline(aLongTimeAgo) })
}

// setDeadline moves the deadline of a watched tcp, without undoing a stop
// that ctx's end has just made.
func setDeadline(ctx context.Context, tcp *net.TCPConn, deadline time.Time) {
	tcp.SetDeadline(deadline)
	if ctx.Err() != nil {
		tcp.SetDeadline(aLongTimeAgo)
	}
}

// abort closes tcp at once with a reset (SO_LINGER 0), leaving no socket
// in TIME_WAIT: at thousands of probes a second, an orderly close would
// leave tens of thousands behind (as haproxy's checks, we don't). Whatever
// the probe did not read is discarded, as it would be anyway.
func abort(tcp *net.TCPConn) {
	tcp.SetLinger(0)
	tcp.Close()
}

// takeIdle takes the connection kept for t, if there is one that has not
// been idle for too long.
func (c *HTTP) takeIdle(t Target) (httpConn, bool) {
	c.mu.Lock()
	conn, ok := c.idle[t]
	if ok {
		delete(c.idle, t)
	}
	c.mu.Unlock()
	if ok && time.Since(conn.since) > c.idleTimeout {
		abort(conn.tcp)
		return httpConn{}, false
	}
	return conn, ok
}

// putIdle keeps conn for the next probe of t, unless one is kept already.
func (c *HTTP) putIdle(t Target, conn httpConn) {
	conn.since = time.Now()
	c.mu.Lock()
	_, full := c.idle[t]
	if !full {
		if c.idle == nil {
			c.idle = make(map[Target]httpConn)
		}
		c.idle[t] = conn
	}
	c.mu.Unlock()
	if full {
		abort(conn.tcp)
	}
}

// exchange sends p's request on conn and judges the response. keep reports
// whether conn may carry the next probe. stale reports that conn, a kept
// one (reused), was closed before any byte of an answer: the probe should
// try again on a new connection.
func (c *HTTP) exchange(p *httpProbe, conn httpConn, reused bool) (r Result, keep, stale bool) {
	if _, err := conn.Write(p.req); err != nil {
		if reused && !p.expired(err) {
			return Result{}, false, true
		}
		return p.fail("reading response", err), false, false
	}
	// The response's headers, and any 1xx responses before them, may take
	// at most maxResponseHeaderBytes of what we read from the connection.
	pb := p.buf
	pb.lim = limitedReader{r: conn.Conn, n: maxResponseHeaderBytes}
	br := pb.br
	br.Reset(&pb.lim)
	if _, err := br.Peek(1); err != nil {
		if reused && !p.expired(err) {
			return Result{}, false, true
		}
		return p.fail("reading response", err), false, false
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(br, c.req)
		if err != nil {
			if pb.lim.n <= 0 {
				return Result{Reason: fmt.Sprintf("response headers over %d bytes", maxResponseHeaderBytes), Latency: time.Since(p.start)}, false, false
			}
			return p.fail("reading response", err), false, false
		}
		// Skip informational answers (100 Continue, 103 Early Hints), as
		// net/http does; 101 Switching Protocols is final.
		if code := resp.StatusCode; code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
	}
	latency := time.Since(p.start)
	pb.lim.n = math.MaxInt64 // no limit on the body
	pb.body = eofReader{r: resp.Body, eof: resp.Body == http.NoBody}
	r, ok := c.judge(p, resp, &pb.body, latency)
	// With keep-alive, the connection can carry the next probe if this
	// response was read to its end, and nothing after it.
	keep = ok && c.keepAlive && pb.body.eof && !resp.Close && br.Buffered() == 0 &&
		resp.StatusCode != http.StatusSwitchingProtocols
	return r, keep, false
}

// judge judges resp, whose headers arrived after latency, reading body
// as far as it needs to. ok is false when reading the body failed.
func (c *HTTP) judge(p *httpProbe, resp *http.Response, body io.Reader, latency time.Duration) (r Result, ok bool) {
	if !model.Match(c.want, resp.StatusCode) {
		c.drain(resp, body)
		return Result{Reason: fmt.Sprintf("status %d, want %s", resp.StatusCode, c.wantText), Latency: latency}, true
	}
	if c.search != nil {
		found, err := c.find(body, resp.Header.Get("Content-Encoding"))
		if err != nil {
			return p.fail("reading body", err), false
		}
		if !found {
			c.drain(resp, body)
			return Result{Reason: fmt.Sprintf("body has no %q in the first %d bytes", c.search, searchLimit), Latency: latency}, true
		}
	}
	c.drain(resp, body)
	return Result{Healthy: true, Reason: "status " + strconv.Itoa(resp.StatusCode), Latency: latency}, true
}

// hostHeader is the Host header for t: the configured host, else the
// target's, with the port unless it is the scheme's default (as Route 53).
func (c *HTTP) hostHeader(t Target) string { return string(c.appendHost(nil, t)) }

// appendHost appends the Host header for t to b (see hostHeader). An IPv6
// zone is left out, as net/http does: it means nothing to the server.
func (c *HTTP) appendHost(b []byte, t Target) []byte {
	if c.hostHasPort {
		return append(b, c.host...)
	}
	h := c.host
	if h == "" {
		h = t.Host
	}
	if strings.Contains(h, ":") { // an IPv6 address
		if i := strings.IndexByte(h, '%'); i >= 0 {
			h = h[:i]
		}
		b = append(append(append(b, '['), h...), ']')
	} else {
		b = append(b, h...)
	}
	if t.Port != c.defaultPort {
		b = strconv.AppendInt(append(b, ':'), int64(t.Port), 10)
	}
	return b
}

// httpProbe is what one Check knows of itself.
type httpProbe struct {
	ctx      context.Context
	start    time.Time
	deadline time.Time     // the probe's end (zero: none)
	budget   time.Duration // from start to deadline, for reasons
	buf      *probeBuf
	req      []byte // the request
}

// expired reports whether err, which ended p, is owed to p's end: its
// deadline, or ctx's end.
func (p *httpProbe) expired(err error) bool {
	if p.ctx.Err() != nil {
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	return !p.deadline.IsZero() && !time.Now().Before(p.deadline)
}

// fail is the Result of p when err ended it. what names the step for
// errors that are neither p's end nor a failure to connect ("reading
// body").
func (p *httpProbe) fail(what string, err error) Result {
	r := Result{Latency: time.Since(p.start)}
	var ce *connectError
	switch {
	case errors.Is(p.ctx.Err(), context.Canceled):
		r.Reason = "canceled"
	case errors.As(err, &ce):
		r.Reason = ce.reason()
	case p.expired(err):
		r.Reason = "timeout after " + seconds(p.budget)
	default:
		r.Reason = what + ": " + err.Error()
	}
	return r
}

// probeBuf is what a probe needs to talk to its target, kept between probes.
type probeBuf struct {
	br   *bufio.Reader // reads lim
	lim  limitedReader // reads the connection
	body eofReader
	req  []byte // the request, when it depends on the target
}

// probeBufs holds the probeBufs of every HTTP checker: with a pool per
// checker, thousands of idle checks would each keep a buffer.
var probeBufs = sync.Pool{New: func() any {
	pb := &probeBuf{req: make([]byte, 0, 256)}
	pb.br = bufio.NewReaderSize(&pb.lim, 4<<10)
	return pb
}}

// release returns pb to probeBufs, holding on to no connection or body.
func (pb *probeBuf) release() {
	pb.lim = limitedReader{}
	pb.body = eofReader{}
	probeBufs.Put(pb)
}

// limitedReader reads r until n bytes are read. Unlike io.LimitedReader,
// it fails rather than ending, and its caller can lift the limit.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("read limit of %d bytes exhausted", maxResponseHeaderBytes)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// eofReader reads r and remembers whether it has reached r's end.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// find reports whether the search string lies entirely within the first
// searchLimit bytes of body, decoded by its Content-Encoding. It stops
// reading as soon as it knows.
func (c *HTTP) find(body io.Reader, encoding string) (bool, error) {
	r, err := decoded(body, encoding)
	if err != nil {
		return false, err
	}
	buf := make([]byte, searchLimit)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if bytes.Contains(buf[:n], c.search) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// decoded returns body decoded by its Content-Encoding: none, gzip or
// deflate, the only ones a probe asks for.
func decoded(body io.Reader, encoding string) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, err
		}
		return zr, nil
	case "deflate":
		return inflated(body)
	default:
		return nil, fmt.Errorf("content-encoding %q is neither gzip nor deflate", encoding)
	}
}

// inflated decodes a deflate body. RFC 9110 says "deflate" means a zlib
// stream (RFC 1950), but some servers send raw deflate (RFC 1951), as
// browsers accept; so do we. A zlib stream starts with a header whose
// compression method is 8 and whose first two bytes, big-endian, are a
// multiple of 31; a raw stream that happens to look like one is rare enough
// to ignore, as browsers do.
func inflated(body io.Reader) (io.Reader, error) {
	br := bufio.NewReader(body)
	h, err := br.Peek(2)
	if len(h) == 2 && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
		zr, err := zlib.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr, nil
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	return flate.NewReader(br), nil
}

// drain reads the rest of a small body so that, with keep_alive, the
// connection can carry the next probe. An open-ended or large body is left
// unread; closing the connection is cheaper than reading it and cannot hang.
func (c *HTTP) drain(resp *http.Response, body io.Reader) {
	if c.keepAlive && resp.ContentLength >= 0 && resp.ContentLength <= drainLimit {
		io.Copy(io.Discard, body) // no more than ContentLength
	}
}
