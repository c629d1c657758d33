package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The fast path for clients. On plain http listeners an HTTP/1.1 request
// without a body (the common request) is parsed in place and answered by
// our own loop, which spends about a third of the CPU net/http's server
// does on it: one allocation for the request head, the request and header
// map reused for the connection's next request, no background read, and
// the response written with one syscall. A connection whose request is
// anything else (a body, Expect, an upgrade, HTTP/1.0, h2c, an escaped or
// absolute target, folded or oversized headers, no or several Host
// headers) is handed, with the bytes read so far, to net/http for the rest
// of its life; so is anything malformed, which net/http answers with 400
// or 431.

// fastHeadMax is the largest request head the fast path parses; a longer
// one goes to net/http, which applies MaxHeaderBytes.
const fastHeadMax = 8 << 10

// fastServer runs the fast path of one plain listener.
type fastServer struct {
	// Immutable after newFastServer.
	l       *listener
	ln      net.Listener
	handoff *handoffListener

	loops []*evLoop // the event loops, when they serve the listener (evloop_linux.go)

	mu      sync.Mutex // guards the fields below
	conns   map[*fastConn]struct{}
	closing bool

	wg sync.WaitGroup // the accept loop and every connection
}

func newFastServer(l *listener, ln net.Listener) *fastServer {
	return &fastServer{l: l, ln: ln, handoff: newHandoffListener(ln.Addr()), conns: map[*fastConn]struct{}{}}
}

// serve accepts until the listener is closed.
func (fs *fastServer) serve() {
	defer fs.wg.Done()
	for {
		c, err := fs.ln.Accept()
		if err != nil {
			fs.mu.Lock()
			closing := fs.closing
			fs.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond) // out of descriptors: let some close
			continue
		}
		fc := &fastConn{fs: fs, c: c}
		fs.mu.Lock()
		if fs.closing {
			fs.mu.Unlock()
			c.Close()
			return
		}
		fs.conns[fc] = struct{}{}
		fs.wg.Add(1)
		fs.mu.Unlock()
		go fc.serve()
	}
}

// shutdown stops accepting, closes idle connections, and waits for the
// others to finish their request until ctx ends. Then it closes them all
// and returns without waiting further: a request still waiting for its
// target ends within the listener's request_timeout.
func (fs *fastServer) shutdown(ctx context.Context) error {
	fs.mu.Lock()
	fs.closing = true
	fs.mu.Unlock()
	fs.ln.Close()
	fs.stopLoops(false)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var err error
	for {
		if err != nil {
			fs.stopLoops(true)
		}
		fs.mu.Lock()
		for fc := range fs.conns {
			if fc.idle.Load() || err != nil {
				fc.c.Close()
			}
		}
		n := len(fs.conns) + fs.loopClients()
		fs.mu.Unlock()
		switch {
		case n == 0:
			fs.wg.Wait() // the accept loop
			return err
		case err != nil:
			return err
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
		}
	}
}

// adopt serves c, which sent pre already, on the goroutine path; false
// when the server is closing (c is then the caller's to close).
func (fs *fastServer) adopt(c net.Conn, pre []byte) bool {
	fc := &fastConn{fs: fs, c: c}
	fc.src.pre = pre
	fs.mu.Lock()
	if fs.closing {
		fs.mu.Unlock()
		return false
	}
	fs.conns[fc] = struct{}{}
	fs.wg.Add(1)
	fs.mu.Unlock()
	go fc.serve()
	return true
}

func (fs *fastServer) forget(fc *fastConn) {
	fs.mu.Lock()
	delete(fs.conns, fc)
	fs.mu.Unlock()
}

// fastConn is one client connection on the fast path.
type fastConn struct {
	fs   *fastServer
	c    net.Conn
	idle atomic.Bool // waiting for a request: Shutdown may close it
	src  connSource  // used by the connection's goroutine only
}

var errFallback = errors.New("httpproxy: request for net/http")

func (fc *fastConn) serve() {
	fs := fc.fs
	handedOff := false
	defer func() {
		if v := recover(); v != nil {
			fs.l.p.log.Error("panic serving a request", "panic", fmt.Sprint(v), "client", fc.c.RemoteAddr().String())
		}
		if !handedOff {
			fc.c.Close()
		}
		fs.forget(fc)
		fs.wg.Done()
	}()
	// An idle connection holds no read buffer: it waits with a read into
	// fc.src.first (1 KiB, most requests whole), and takes a buffer from the
	// pool once bytes arrive; the buffer goes back when a request leaves
	// nothing after it.
	fc.src.c = fc.c
	var br *bufio.Reader
	defer func() {
		if br != nil && !handedOff {
			br.Reset(nil)
			readerPool.Put(br)
		}
	}()
	ci := newConnInfo(fc.c)
	remote := fc.c.RemoteAddr().String()
	u := new(url.URL)
	h := make(http.Header, 16)
	r := new(http.Request)
	w := &fastWriter{h: make(http.Header, 16)}
	idle := fs.l.p.cfg.ReadHeaderTimeout
	if it := fs.l.srv.IdleTimeout; it > 0 {
		idle = it
	}
	for {
		fc.idle.Store(true)
		fs.mu.Lock()
		closing := fs.closing
		fs.mu.Unlock()
		if closing {
			return
		}
		fc.c.SetReadDeadline(time.Now().Add(idle))
		if br == nil {
			if fc.src.pending() {
				// Bytes the event loop read before handing the connection over.
			} else if err := fc.src.wait(); err != nil {
				return // the client closed, or was idle too long
			}
			br = readerPool.Get().(*bufio.Reader)
			br.Reset(&fc.src)
		}
		head, err := readHead(br)
		fc.idle.Store(false)
		// The request's room comes from a pool, so that an idle connection
		// holds none; it goes back once the answer is written.
		sc := scratchPool.Get().(*scratch)
		if err == nil {
			err = parseRequest(head, r, u, h, sc.vals[:0])
		}
		if err != nil {
			*sc = scratch{}
			scratchPool.Put(sc)
		}
		if errors.Is(err, errFallback) {
			fc.c.SetReadDeadline(time.Time{})
			handedOff = fs.handoff.give(&prefixConn{Conn: fc.c, r: br, src: &fc.src})
			return
		}
		if err != nil {
			// The client closed, or was idle too long: with part of a
			// head sent, it hears why (408).
			if ne, ok := err.(net.Error); ok && ne.Timeout() && br.Buffered() > 0 {
				fc.c.SetWriteDeadline(time.Now().Add(time.Second))
				fc.c.Write(answer408)
			}
			return
		}
		// The read deadline stays: nothing reads from the client until
		// the next request, which sets its own.
		r.RemoteAddr = remote
		// The write buffer is the connection's only while it answers.
		bw := writerPool.Get().(*bufio.Writer)
		bw.Reset(fc.c)
		w.bw = bw
		w.reset(r)
		ci.scratch = sc
		fs.l.serve(w, r, ci)
		w.finish()
		ci.scratch = nil
		clear(h) // it refers to sc
		*sc = scratch{}
		scratchPool.Put(sc)
		_, derr := br.Discard(len(head))
		ferr := bw.Flush()
		bw.Reset(nil)
		writerPool.Put(bw)
		w.bw = nil
		if derr != nil || ferr != nil || w.closeAfter {
			return
		}
		if br.Buffered() == 0 && !fc.src.pending() {
			br.Reset(nil)
			readerPool.Put(br)
			br = nil
		}
	}
}

// connSource is what a fast connection's read buffer reads from: first
// the bytes an idle wait received, then the connection.
type connSource struct {
	c     net.Conn
	pre   []byte // read by the event loop before it handed the connection over
	first [1 << 10]byte
	off   int
	n     int
}

// wait blocks until the client sends something.
func (s *connSource) wait() error {
	n, err := s.c.Read(s.first[:])
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	s.off, s.n = 0, n
	return nil
}

func (s *connSource) pending() bool { return s.off < s.n || len(s.pre) > 0 }

func (s *connSource) Read(p []byte) (int, error) {
	if len(s.pre) > 0 {
		k := copy(p, s.pre)
		s.pre = s.pre[k:]
		return k, nil
	}
	if s.off < s.n {
		k := copy(p, s.first[s.off:s.n])
		s.off += k
		return k, nil
	}
	return s.c.Read(p)
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, fastHeadMax) }}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}

// readHead returns the request head (through the blank line) from br
// without consuming it; errFallback when it does not fit or does not
// look like HTTP/1.1.
func readHead(br *bufio.Reader) ([]byte, error) { return peekHead(br, findHead) }

// peekHead peeks at more of br until find decides on what is buffered:
// the head, or errFallback; br's own error when it ends first.
func peekHead(br *bufio.Reader, find func(buf []byte, size int) ([]byte, int)) ([]byte, error) {
	n := 1
	for {
		if _, err := br.Peek(n); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, errFallback
			}
			return nil, err
		}
		buf, _ := br.Peek(br.Buffered())
		switch head, verdict := find(buf, br.Size()); verdict {
		case headWhole:
			return head, nil
		case headFallback:
			return nil, errFallback
		}
		n = len(buf) + 1
	}
}

// Head verdicts of findHead and findHeadEnd.
const (
	headWhole = iota
	headIncomplete
	headFallback
)

// findHead finds a whole request head at the start of buf (not empty),
// for the event loop and, through readHead, the goroutine path; size is
// the buffer's capacity.
func findHead(buf []byte, size int) ([]byte, int) {
	if buf[0] < 'A' || buf[0] > 'Z' {
		return nil, headFallback // a stray CRLF or garbage: net/http answers 400
	}
	if bytes.HasPrefix(buf, []byte("PRI ")) {
		return nil, headFallback // the h2c preface
	}
	head, verdict := findHeadEnd(buf, size)
	if verdict == headWhole && bytes.Contains(head, []byte("\n\n")) {
		return nil, headFallback // bare LF line ends
	}
	return head, verdict
}

// findHeadEnd finds the blank line that ends a head (a request's or an
// answer's) at the start of buf; size is the buffer's capacity. A head
// with bare LF line ends, which net/http accepts, or one that fills the
// buffer is left to net/http.
func findHeadEnd(buf []byte, size int) ([]byte, int) {
	if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
		return buf[:i+4], headWhole
	}
	if bytes.Contains(buf, []byte("\n\n")) || len(buf) >= size {
		return nil, headFallback
	}
	return nil, headIncomplete
}

// parseRequest fills r (reusing u and h, with the header's values in
// vals' room) from a request head, or returns errFallback for anything the
// fast path leaves to net/http.
func parseRequest(head []byte, r *http.Request, u *url.URL, h http.Header, vals []string) error {
	// The one allocation: every field is a part of this string.
	return parseRequestString(string(head), r, u, h, vals)
}

// parseRequestString is parseRequest on a head held in a string.
func parseRequestString(s string, r *http.Request, u *url.URL, h http.Header, vals []string) error {
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !validMethod(method) || !simpleTarget(target) {
		return errFallback
	}
	if len(h) > 0 {
		clear(h)
	}
	host, hosts := "", 0
	n := 0
	for rest != "\r\n" && rest != "" {
		key, value, after, ok := headerLine(rest)
		if !ok || n >= 100 {
			return errFallback // folded, malformed or too many lines
		}
		rest = after
		n++
		switch key {
		case "Host":
			host, hosts = value, hosts+1
			continue
		case "Content-Length":
			if value != "0" {
				return errFallback
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Http2-Settings":
			return errFallback
		}
		if prior := h[key]; prior != nil {
			h[key] = append(prior, value)
		} else {
			vals = append(vals, value)
			h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	if hosts != 1 {
		return errFallback
	}
	path, query, _ := strings.Cut(target, "?")
	*u = url.URL{Path: path, RawQuery: query}
	*r = http.Request{
		Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: http.NoBody, Host: host, RequestURI: target,
		Close: hasToken(h["Connection"], "close"),
	}
	return nil
}

// headerLine takes the first header line of rest: its canonical key, its
// value without surrounding blanks, and what follows the line. ok is false
// for a folded, malformed or invalid line, which the request and answer
// parsers both leave to net/http.
func headerLine(rest string) (key, value, after string, ok bool) {
	l, after, _ := strings.Cut(rest, "\r\n")
	name, value, ok := strings.Cut(l, ":")
	if !ok || name == "" || !validToken(name) {
		return "", "", "", false
	}
	value = strings.Trim(value, " \t")
	if !validValue(value) {
		return "", "", "", false
	}
	key = name
	if !isCanonical(name) {
		key = textproto.CanonicalMIMEHeaderKey(name)
	}
	return key, value, after, true
}

func validMethod(m string) bool { return m != "" && validToken(m) }

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validValue refuses control characters other than tab.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// simpleTarget accepts an origin-form target of visible ASCII without
// percent-escapes or a fragment, so that its path needs no decoding.
func simpleTarget(t string) bool {
	if t == "" || t[0] != '/' || len(t) > 4096 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= 0x20 || c >= 0x7f || c == '%' || c == '#' {
			return false
		}
	}
	return true
}

// isCanonical reports whether a header name is already in canonical form.
func isCanonical(s string) bool {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

func hasToken(vs []string, tok string) bool {
	for _, v := range vs {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(f), tok) {
				return true
			}
		}
	}
	return false
}

// fastWriter is the fast path's http.ResponseWriter. It writes the head
// when the status is set, frames the body by the Content-Length header if
// there is one and in chunks otherwise, and leaves the flush to the
// connection loop, so that a small answer goes out in one write.
type fastWriter struct {
	bw          *bufio.Writer
	h           http.Header
	head        bool // HEAD: no body
	wroteHeader bool
	noBody      bool
	chunked     bool
	cl, written int64
	closeAfter  bool
}

func (w *fastWriter) reset(r *http.Request) {
	clear(w.h)
	*w = fastWriter{bw: w.bw, h: w.h, head: r.Method == http.MethodHead, cl: -1, closeAfter: r.Close}
}

func (w *fastWriter) Header() http.Header { return w.h }

func (w *fastWriter) WriteHeader(code int) {
	if w.wroteHeader || code < 200 && code >= 100 { // 1xx are not passed on
		return
	}
	w.wroteHeader = true
	bw := w.bw
	bw.WriteString("HTTP/1.1 ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(code), 10))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
	w.noBody = w.head || code == http.StatusNoContent || code == http.StatusNotModified
	if v := w.h["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			w.cl = n
		}
	}
	if w.cl < 0 {
		delete(w.h, "Content-Length")
		if !w.noBody {
			w.chunked = true
			bw.WriteString("Transfer-Encoding: chunked\r\n")
		}
	}
	for k, vv := range w.h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if w.closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

func (w *fastWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody || len(p) == 0 {
		return len(p), nil
	}
	if w.chunked {
		w.bw.Write(strconv.AppendInt(w.bw.AvailableBuffer(), int64(len(p)), 16))
		w.bw.WriteString("\r\n")
		n, err := w.bw.Write(p)
		w.bw.WriteString("\r\n")
		w.written += int64(n)
		return n, err
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		p = p[:w.cl-w.written]
	}
	n, err := w.bw.Write(p)
	w.written += int64(n)
	return n, err
}

// FlushError sends what is buffered; http.ResponseController finds it.
func (w *fastWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.bw.Flush()
}

// finish ends the answer: the last chunk and trailers, or, when fewer bytes
// than declared were written (the target broke off), closing the
// connection, since its framing is lost.
func (w *fastWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.chunked:
		w.bw.WriteString("0\r\n")
		for k, vv := range w.h {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vv {
					w.bw.WriteString(name)
					w.bw.WriteString(": ")
					w.bw.WriteString(v)
					w.bw.WriteString("\r\n")
				}
			}
		}
		w.bw.WriteString("\r\n")
	case !w.noBody && w.cl >= 0 && w.written != w.cl:
		w.closeAfter = true
	}
}

// prefixConn is a connection whose first bytes were already read into r;
// src is what r read from (the connection, after bytes of its own).
type prefixConn struct {
	net.Conn
	r   *bufio.Reader
	src io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.src.Read(p)
}

// CloseWrite half-closes the connection, as net/http does before closing
// one it refused, so that the client reads the answer before a reset.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// handoffListener feeds connections from the fast path to net/http's
// server.
type handoffListener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// give hands c over; false when the server is gone (c is then the
// caller's to close).
func (hl *handoffListener) give(c net.Conn) bool {
	select {
	case hl.ch <- c:
		return true
	case <-hl.closed:
		return false
	}
}

func (hl *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-hl.ch:
		return c, nil
	case <-hl.closed:
		return nil, net.ErrClosed
	}
}

func (hl *handoffListener) Close() error {
	hl.once.Do(func() { close(hl.closed) })
	return nil
}

func (hl *handoffListener) Addr() net.Addr { return hl.addr }
