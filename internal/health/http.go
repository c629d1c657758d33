package health

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
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
	tr             *http.Transport

	// roots, when not nil, replaces the system's roots for verify_tls.
	// Tests set it before the first Check; it is read at each TLS dial.
	roots *x509.CertPool
}

// NewHTTP builds the checker of an http or https probe. It does no I/O.
// The checker owns one http.Transport; Close releases its idle connections.
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
	if _, err := http.NewRequest(c.method, "http://127.0.0.1"+c.path, nil); err != nil {
		return nil, fmt.Errorf("health: method %q, path %q: %w", c.method, c.path, err)
	}
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

	idle := 90 * time.Second
	if iv := 2 * p.Interval.D(); iv > idle {
		idle = iv // keep a keep-alive connection until the next probe
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	c.tr = &http.Transport{
		Proxy: nil, // never through a proxy from the environment
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dial(ctx, addr, c.connectTimeout, nil)
		},
		// A fresh connection per probe (as ELB) also tests that the
		// endpoint still accepts connections.
		DisableKeepAlives: !c.keepAlive,
		// We ask for gzip and deflate ourselves and decode them; Go's
		// transport would decode only gzip, and only if it asked.
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		IdleConnTimeout:        idle,
		Protocols:              &protocols,
	}
	if c.scheme == "https" {
		c.tr.DialTLSContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, &connectError{addr: addr, err: err}
			}
			return dial(ctx, addr, c.connectTimeout, tlsConfig(c.sni, host, c.verify, c.roots, "http/1.1"))
		}
	}
	return c, nil
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
func (c *HTTP) Close() { c.tr.CloseIdleConnections() }

// Check sends one request to t and judges the answer. The connect timeout
// bounds the TCP connect and TLS handshake; ctx, and the probe's timeout,
// bound everything, body included.
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
	start := time.Now()
	ctx, cancel, budget := probeBudget(ctx, c.timeout, start)
	defer cancel()
	ctx, a := withAttempt(ctx)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { a.phase.Store(phaseConnected) },
	})

	req, err := http.NewRequestWithContext(ctx, c.method, c.scheme+"://"+t.Addr()+c.path, nil)
	if err != nil {
		return Result{Reason: "request: " + err.Error(), Latency: time.Since(start)}
	}
	req.Host = c.hostHeader(t)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "gzip, deflate")

	resp, err := c.tr.RoundTrip(req)
	latency := time.Since(start)
	if err != nil {
		return Result{Reason: c.failure(ctx, a, budget, err), Latency: latency}
	}
	defer resp.Body.Close()

	if !model.Match(c.want, resp.StatusCode) {
		c.drain(resp)
		return Result{Reason: fmt.Sprintf("status %d, want %s", resp.StatusCode, c.wantText), Latency: latency}
	}
	if c.search != nil {
		found, err := c.find(resp)
		if err != nil {
			return Result{Reason: failure(ctx, a, budget, "reading body", err), Latency: time.Since(start)}
		}
		if !found {
			c.drain(resp)
			return Result{Reason: fmt.Sprintf("body has no %q in the first %d bytes", c.search, searchLimit), Latency: latency}
		}
	}
	c.drain(resp)
	return Result{Healthy: true, Reason: "status " + strconv.Itoa(resp.StatusCode), Latency: latency}
}

// hostHeader is the Host header for t: the configured host, else the
// target's, with the port unless it is the scheme's default (as Route 53).
func (c *HTTP) hostHeader(t Target) string {
	if c.hostHasPort {
		return c.host
	}
	h := c.host
	if h == "" {
		h = t.Host
	}
	if t.Port == c.defaultPort {
		if strings.Contains(h, ":") { // an IPv6 address
			return "[" + h + "]"
		}
		return h
	}
	return net.JoinHostPort(h, strconv.Itoa(t.Port))
}

// failure explains an error of RoundTrip.
func (c *HTTP) failure(ctx context.Context, a *attempt, budget time.Duration, err error) string {
	var ce *connectError
	if ctx.Err() != nil || errors.As(err, &ce) {
		return failure(ctx, a, budget, "reading response", err)
	}
	msg := err.Error()
	// net/http has no sentinel for this one; its message is stable.
	if strings.Contains(msg, "server response headers exceeded") {
		return fmt.Sprintf("response headers over %d bytes", maxResponseHeaderBytes)
	}
	return "reading response: " + strings.TrimPrefix(msg, "net/http: ")
}

// find reports whether the search string lies entirely within the first
// searchLimit bytes of the decoded body. It stops reading as soon as it
// knows.
func (c *HTTP) find(resp *http.Response) (bool, error) {
	r, err := decoded(resp.Body, resp.Header.Get("Content-Encoding"))
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
// unread; closing it closes the connection, which is cheaper than reading
// it and cannot hang.
func (c *HTTP) drain(resp *http.Response) {
	if c.keepAlive && resp.ContentLength >= 0 && resp.ContentLength <= drainLimit {
		io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit+1))
	}
}
