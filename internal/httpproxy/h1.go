package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
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
	nc, err := b.dialer.DialContext(ctx, "tcp", b.hostport)
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
func (b *backend) roundTripH1(out *http.Request, timeout time.Duration) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		c, err := b.getConn(out.Context(), attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := b.exchangeH1(c, out, timeout)
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

func (b *backend) exchangeH1(c *h1conn, out *http.Request, timeout time.Duration) (*http.Response, error) {
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
	var resp *http.Response
	var err error
	for {
		resp, err = http.ReadResponse(c.br, out)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode < 100 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			err = errUnexpectedSwitch
			break
		}
		// 1xx informational answers (103 Early Hints) are not passed on.
	}
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		c.c.SetReadDeadline(time.Time{})
	}
	// A body of its own (not one kept in c): once it hands c back to the
	// pool, a late Close of this body must not touch the next request's.
	resp.Body = &h1body{rc: resp.Body, c: c, b: b, keep: !resp.Close && !out.Close}
	return resp, nil
}

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
