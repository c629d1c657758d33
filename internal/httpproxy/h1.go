package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The fast path to HTTP/1.1 targets. http.Transport hands every request
// between three goroutines (the caller, the connection's writer and its
// reader); for the common request, idempotent and without a body, the
// request goroutine can write it and read the answer itself on a pooled
// connection, which costs about a third less CPU. Requests with a body,
// upgrades and gRPC go through http.Transport, which handles 100-continue,
// early answers to uploads, and HTTP/2.

// h1idleTimeout closes pooled connections idle for longer; targets
// commonly keep idle connections for 60 s or more (nginx 75 s), so ours
// expire first and reuse rarely meets a connection the target closed.
const h1idleTimeout = 50 * time.Second

// h1conn is one keep-alive connection to a target.
type h1conn struct {
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	n     int64 // bytes read from c in this exchange, to tell "no answer at all" from a broken one
	idle  time.Time
	reuse bool
	h     http.Header // the last answer's header, reused for the next
}

func (c *h1conn) Read(p []byte) (int, error) {
	n, err := c.c.Read(p)
	c.n += int64(n)
	return n, err
}

// h1pool is one target's idle connections, most recent last.
type h1pool struct {
	mu     sync.Mutex
	idle   []*h1conn
	closed bool
}

// usesFastPath reports whether out may take the fast path.
func usesFastPath(out *http.Request, g *group, upgrade string) bool {
	return !g.grpc && upgrade == "" && idempotent(out.Method) && (out.Body == nil || out.Body == http.NoBody)
}

func (b *backend) getConn(ctx context.Context, fresh bool) (*h1conn, error) {
	p := &b.h1
	p.mu.Lock()
	if n := len(p.idle); n > 0 && !fresh {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		c.reuse = true
		return c, nil
	}
	p.mu.Unlock()
	nc, err := b.dial(ctx, "tcp", b.hostport)
	if err != nil {
		// The target is not there: its pooled connections are as dead.
		b.closeIdle(time.Time{}, true)
		return nil, err
	}
	c := &h1conn{c: nc, bw: bufio.NewWriterSize(nc, 4<<10)}
	c.br = bufio.NewReaderSize(c, 16<<10)
	return c, nil
}

// putConn returns c to the pool, or closes it when the target is drained
// or the pool is full.
func (b *backend) putConn(c *h1conn, now time.Time) {
	p := &b.h1
	p.mu.Lock()
	if p.closed || b.removed.Load() || len(p.idle) >= b.maxIdle {
		p.mu.Unlock()
		c.c.Close()
		return
	}
	c.idle = now
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// closeIdle closes pooled connections idle since before cutoff, or all of
// them when all is true; after all on a removed backend, the pool takes no
// more.
func (b *backend) closeIdle(cutoff time.Time, all bool) {
	p := &b.h1
	p.mu.Lock()
	keep := p.idle[:0]
	var drop []*h1conn
	for _, c := range p.idle {
		if all || c.idle.Before(cutoff) {
			drop = append(drop, c)
		} else {
			keep = append(keep, c)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	if all {
		p.closed = b.removed.Load()
	}
	p.mu.Unlock()
	for _, c := range drop {
		c.c.Close()
	}
}

var errUnexpectedSwitch = errors.New("httpproxy: target switched protocols unasked")

// roundTripH1 sends out on a pooled connection and reads the answer's
// header. A failure on a reused connection before any answer byte (the
// target closed it while idle, or went away) is tried once more on a new
// connection; if that cannot connect, the dial error lets the caller retry
// on another target. Only idempotent requests come here, so sending one
// twice is allowed.
//
// The answer goes into hr when it is not nil: the caller's, to keep until
// the answer is done with.
func (b *backend) roundTripH1(out *http.Request, timeout time.Duration, hr *h1resp) (*http.Response, error) {
	if hr == nil {
		hr = new(h1resp)
	}
	for attempt := 0; ; attempt++ {
		c, err := b.getConn(out.Context(), attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := b.exchangeH1(c, out, timeout, hr)
		if err == nil {
			return resp, nil
		}
		c.c.Close()
		if attempt == 0 && c.reuse && c.n == 0 && out.Context().Err() == nil {
			continue
		}
		return nil, err
	}
}

func (b *backend) exchangeH1(c *h1conn, out *http.Request, timeout time.Duration, hr *h1resp) (*http.Response, error) {
	c.n = 0
	writeRequestH1(c.bw, out)
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	// A client that leaves does not cut the wait short (HAProxy's default,
	// "abortonclose" off): the answer is read, within request_timeout, and
	// the connection goes back to the pool.
	if timeout > 0 {
		c.c.SetReadDeadline(time.Now().Add(timeout))
	}
	// The answer, its body and room for its header's values are not kept
	// in c: once the body hands c back to the pool, a late Close of it or a
	// look at the response must not touch the next request's.
	*hr = h1resp{}
	resp, err := b.readResponseH1(c, out, hr)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		c.c.SetReadDeadline(time.Time{})
	}
	return resp, nil
}

// h1resp is one answer on the fast path.
type h1resp struct {
	resp http.Response
	body h1body
	lim  h1limited
	vals [16]string
}

// readResponseH1 reads the answer's head. The common answer (HTTP/1.1,
// 2xx–5xx, a Content-Length or no body) is parsed in place from c's read
// buffer with one allocation for the head; anything else (chunked or
// close-delimited bodies, 1xx, HTTP/1.0, folded or odd headers, a head
// over the buffer) goes to net/http's ReadResponse, which reads the same
// bytes, as nothing was consumed.
func (b *backend) readResponseH1(c *h1conn, out *http.Request, hr *h1resp) (*http.Response, error) {
	resp := &hr.resp
	head, err := peekResponseHead(c.br)
	if err == nil {
		if c.h == nil {
			c.h = make(http.Header, 16)
		}
		err = parseResponse(head, out.Method, resp, c.h, hr.vals[:0])
		if err == nil {
			c.br.Discard(len(head))
			resp.Request = out
			hr.lim = h1limited{br: c.br, n: resp.ContentLength}
			if out.Method == http.MethodHead || resp.ContentLength < 0 {
				hr.lim.n = 0
			}
			hr.body = h1body{rc: &hr.lim, c: c, b: b, keep: !resp.Close && !out.Close}
			resp.Body = &hr.body
			return resp, nil
		}
	}
	if !errors.Is(err, errFallback) {
		return nil, err
	}
	for {
		r, err := http.ReadResponse(c.br, out)
		if err != nil {
			return nil, err
		}
		if r.StatusCode == http.StatusSwitchingProtocols {
			return nil, errUnexpectedSwitch
		}
		if r.StatusCode >= 200 || r.StatusCode < 100 {
			hr.body = h1body{rc: r.Body, c: c, b: b, keep: !r.Close && !out.Close}
			r.Body = &hr.body
			return r, nil
		}
		// 1xx informational answers (103 Early Hints) are not passed on.
	}
}

// peekResponseHead returns the answer's head (through the blank line)
// from br without consuming it; errFallback when it does not fit in br.
func peekResponseHead(br *bufio.Reader) ([]byte, error) {
	head, err := peekHead(br, findHeadEnd)
	if err != nil && !errors.Is(err, errFallback) && br.Buffered() > 0 {
		return nil, errFallback // a part of an answer: net/http says what is wrong
	}
	return head, err
}

// parseResponse fills resp from an answer's head (through the blank line)
// to a request with method, with header h (cleared first; the proxy reuses
// one per connection) and values in vals' room. It returns errFallback for
// anything it leaves to net/http's ReadResponse: a status line other than
// "HTTP/1.1 NNN reason" with NNN in 200–599, a bare LF, a folded, malformed
// or control-character header line, Transfer-Encoding, no or several
// Content-Length headers when a body may follow.
func parseResponse(head []byte, method string, resp *http.Response, h http.Header, vals []string) error {
	if len(head) < 16 || string(head[:9]) != "HTTP/1.1 " {
		return errFallback
	}
	s := string(head) // the one allocation: every field below is a part of s
	line, rest, _ := strings.Cut(s, "\r\n")
	code := line[9:min(12, len(line))]
	if len(code) != 3 || code[0] < '2' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return errFallback
	}
	if len(line) > 12 && line[12] != ' ' || !validValue(line) {
		return errFallback
	}
	status := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	clear(h)
	cl, cls, closing := int64(-1), 0, false
	n := 0
	for rest != "\r\n" {
		key, value, after, ok := headerLine(rest)
		if !ok || n >= 100 {
			return errFallback // folded, malformed or too many lines
		}
		rest = after
		n++
		switch key {
		case "Content-Length":
			if cls++; cls > 1 || value == "" || len(value) > 18 {
				return errFallback
			}
			cl = 0
			for i := 0; i < len(value); i++ {
				if value[i] < '0' || value[i] > '9' {
					return errFallback
				}
				cl = cl*10 + int64(value[i]-'0')
			}
		case "Transfer-Encoding":
			return errFallback
		case "Connection":
			closing = closing || hasToken([]string{value}, "close")
		}
		if prior := h[key]; prior != nil {
			h[key] = append(prior, value)
		} else {
			vals = append(vals, value)
			h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	switch {
	case method == http.MethodHead:
	case status == http.StatusNoContent || status == http.StatusNotModified:
		cl = 0
	case cl < 0:
		return errFallback // chunked or up to the close
	}
	if closing {
		delete(h, "Connection") // as net/http does
	}
	*resp = http.Response{
		Status: line[9:], StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: cl, Close: closing,
	}
	return nil
}

// h1limited reads the n bytes of a body from br, and says io.EOF with the
// last of them, so that the connection goes back to the pool without
// another call.
type h1limited struct {
	br *bufio.Reader
	n  int64
}

func (l *h1limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.br.Read(p)
	l.n -= int64(k)
	if l.n == 0 {
		return k, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

func (l *h1limited) Close() error { return nil }

// writeRequestH1 writes a bodiless request's head. The header map is the
// client's, already checked by the server's parser, plus our own values;
// unlike http.Request.Write it neither sorts nor allocates.
func writeRequestH1(bw *bufio.Writer, out *http.Request) {
	bw.WriteString(out.Method)
	bw.WriteByte(' ')
	if uri := out.RequestURI; uri != "" && uri[0] == '/' {
		bw.WriteString(uri)
	} else {
		bw.WriteString(out.URL.RequestURI())
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if out.Host != "" {
		bw.WriteString(out.Host)
	} else {
		bw.WriteString(out.URL.Host)
	}
	bw.WriteString("\r\n")
	for k, vv := range out.Header {
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if out.Close {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// h1body returns its connection to the pool once the answer's body is read
// to the end, and closes it when the body is abandoned.
type h1body struct {
	rc   io.ReadCloser
	c    *h1conn
	b    *backend
	keep bool
	done bool
}

func (hb *h1body) Read(p []byte) (int, error) {
	if hb.done {
		return 0, io.EOF
	}
	n, err := hb.rc.Read(p)
	if err != nil {
		hb.finish(err == io.EOF)
	}
	return n, err
}

func (hb *h1body) Close() error {
	if !hb.done {
		// An unread rest: the connection cannot carry another request.
		hb.finish(false)
	}
	return nil
}

func (hb *h1body) finish(complete bool) {
	hb.done = true
	if complete && hb.keep && hb.c.br.Buffered() == 0 {
		hb.b.putConn(hb.c, time.Now())
		return
	}
	hb.c.c.Close()
}
