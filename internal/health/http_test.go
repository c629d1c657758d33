package health

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/model"
)

// startHTTP starts a real HTTP server (HTTPS if secure) on loopback for the
// test, and returns it and its address as a Target.
func startHTTP(t *testing.T, secure bool, h http.Handler) (*httptest.Server, Target) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	// The server's complaints (handshakes the probe broke off, certificates
	// it refused) are the probe's results, checked as such.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if secure {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s, targetAt(t, s.Listener.Addr().String())
}

// silentTarget is a loopback target that accepts connections and never says a
// word, until the test ends.
func silentTarget(t *testing.T) Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return targetAt(t, ln.Addr().String())
}

func replyStatus(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

func replyBody(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s) }
}

// replyEncoded serves s compressed by compress under Content-Encoding encoding.
func replyEncoded(encoding, s string, compress func(io.Writer) io.WriteCloser) http.HandlerFunc {
	var buf bytes.Buffer
	zw := compress(&buf)
	io.WriteString(zw, s)
	zw.Close()
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", encoding)
		w.Write(buf.Bytes())
	}
}

func gzipWriter(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }
func zlibWriter(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }
func flateWriter(w io.Writer) io.WriteCloser {
	fw, _ := flate.NewWriter(w, flate.DefaultCompression)
	return fw
}

// replyEndless writes a body that never ends, until the client goes away.
func replyEndless(w http.ResponseWriter, r *http.Request) {
	chunk := bytes.Repeat([]byte("x"), 1024)
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		w.(http.Flusher).Flush()
	}
}

// replyStalled sends the headers and a little of the body, then waits for the
// client to give up.
func replyStalled(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "almost")
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// replyNever never answers; it returns when the client goes away.
func replyNever(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func TestHTTP(t *testing.T) {
	x := strings.Repeat("x", 5120)
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		target  func(*testing.T) Target // instead of the server
		probe   func(*model.Probe)
		want    wantResult
	}{
		{name: "status/200", handler: replyStatus(200), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "status/204", handler: replyStatus(204), want: wantResult{healthy: true, reason: "status 204"}},
		{
			name: "status/302-not-followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					w.WriteHeader(500)
					return
				}
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			},
			want: wantResult{healthy: true, reason: "status 302"},
		},
		{name: "status/302-not-wanted", handler: replyStatus(302), probe: withStatus("200"), want: wantResult{reason: "status 302, want 200"}},
		{name: "status/404", handler: replyStatus(404), want: wantResult{reason: "status 404, want 200-399"}},
		{name: "status/503", handler: replyStatus(503), want: wantResult{reason: "status 503, want 200-399"}},
		{name: "status/503-wanted", handler: replyStatus(503), probe: withStatus("200-299, 503"), want: wantResult{healthy: true, reason: "status 503"}},
		{name: "status/404-wanted", handler: replyStatus(404), probe: withStatus("404"), want: wantResult{healthy: true, reason: "status 404"}},
		{name: "status/200-not-wanted", handler: replyStatus(200), probe: withStatus("204,300-301"), want: wantResult{reason: "status 200, want 204,300-301"}},

		{name: "search/found", handler: replyBody("all is ok here"), probe: withSearch("ok"), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "search/missing", handler: replyBody("all is well"), probe: withSearch("ok"), want: wantResult{reason: `body has no "ok" in the first 5120 bytes`}},
		{name: "search/case-sensitive", handler: replyBody("ok"), probe: withSearch("OK"), want: wantResult{reason: `body has no "OK" in the first 5120 bytes`}},
		{name: "search/empty-body", handler: replyStatus(200), probe: withSearch("ok"), want: wantResult{reason: `body has no "ok" in the first 5120 bytes`}},
		{name: "search/ends-at-5120", handler: replyBody(x[:5118] + "ok"), probe: withSearch("ok"), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "search/straddles-5120", handler: replyBody(x[:5119] + "ok"), probe: withSearch("ok"), want: wantResult{reason: `body has no "ok" in the first 5120 bytes`}},
		{name: "search/after-5120", handler: replyBody(x + "ok"), probe: withSearch("ok"), want: wantResult{reason: `body has no "ok" in the first 5120 bytes`}},
		{name: "search/status-first", handler: replyStatus(500), probe: withSearch("ok"), want: wantResult{reason: "status 500, want 200-399"}},
		{name: "search/gzip", handler: replyEncoded("gzip", x[:4000]+"ok", gzipWriter), probe: withSearch("ok"), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "search/gzip-after-5120", handler: replyEncoded("gzip", x+"ok", gzipWriter), probe: withSearch("ok"), want: wantResult{reason: `body has no "ok" in the first 5120 bytes`}},
		{name: "search/deflate-zlib", handler: replyEncoded("deflate", x[:4000]+"ok", zlibWriter), probe: withSearch("ok"), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "search/deflate-raw", handler: replyEncoded("deflate", x[:4000]+"ok", flateWriter), probe: withSearch("ok"), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "search/deflate-raw-short", handler: replyEncoded("deflate", "ok", flateWriter), probe: withSearch("ok"), want: wantResult{healthy: true, reason: "status 200"}},
		{
			name: "search/gzip-corrupt",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				io.WriteString(w, "ok, not gzip")
			},
			probe: withSearch("ok"),
			want:  wantResult{reason: "reading body: gzip: invalid header"},
		},
		{
			name: "search/unknown-encoding",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "br")
				io.WriteString(w, "ok")
			},
			probe: withSearch("ok"),
			want:  wantResult{reason: `reading body: content-encoding "br" is neither gzip nor deflate`},
		},
		{name: "search/endless-body", handler: replyEndless, probe: withSearch("ok"), want: wantResult{reason: `body has no "ok" in the first 5120 bytes`}},
		{name: "search/stalled-body", handler: replyStalled, probe: withAll(withSearch("ok"), withTimeout(probeFailTimeout)), want: wantResult{reason: "timeout after 200ms"}},

		{name: "endless-body", handler: replyEndless, probe: withTimeout(probeFailTimeout), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "stalled-body", handler: replyStalled, probe: withTimeout(probeFailTimeout), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "endless-body/keep-alive", handler: replyEndless, probe: withAll(withTimeout(probeFailTimeout), withKeepAlive), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "response-timeout", handler: replyNever, probe: withTimeout(probeFailTimeout), want: wantResult{reason: "timeout after 200ms"}},
		{name: "response-timeout/silent", target: silentTarget, probe: withTimeout(probeFailTimeout), want: wantResult{reason: "timeout after 200ms"}},
		{
			name: "headers/oversized",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Big", strings.Repeat("b", 17<<10))
			},
			want: wantResult{reason: "response headers over 16384 bytes"},
		},
		{
			name: "headers/just-fit",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Big", strings.Repeat("b", 15<<10))
			},
			want: wantResult{healthy: true, reason: "status 200"},
		},
		{
			name: "closed-without-answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				c, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					c.Close()
				}
			},
			want: wantResult{reason: "reading response: EOF"},
		},
		{name: "refused", target: refusedTarget, want: wantResult{re: `connect 127\.0\.0\.1:\d+: connection refused`}},
		{name: "connect-timeout", target: unansweredTarget, probe: withConnectTimeout(probeFailTimeout), want: wantResult{reason: "connect timeout after 200ms"}},
		{name: "connect-timeout/whole-timeout", target: unansweredTarget, probe: withAll(withTimeout(probeFailTimeout), withConnectTimeout(probeFailTimeout)), want: wantResult{reason: "connect timeout after 200ms"}},
		{name: "https-to-http", handler: replyStatus(200), probe: withHTTPS, want: wantResult{re: `tls: .+`}},
		{name: "tls-handshake-timeout", target: silentTarget, probe: withAll(withHTTPS, withConnectTimeout(probeFailTimeout)), want: wantResult{reason: "tls: handshake timeout after 200ms"}},
		{name: "tls-handshake-timeout/whole-timeout", target: silentTarget, probe: withAll(withHTTPS, withTimeout(probeFailTimeout)), want: wantResult{reason: "tls: handshake timeout after 200ms"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := activeProbe(model.CheckHTTP)
			if tt.probe != nil {
				tt.probe(p)
			}
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			var target Target
			if tt.target != nil {
				target = tt.target(t)
			} else {
				_, target = startHTTP(t, false, tt.handler)
			}
			start := time.Now()
			got := c.Check(t.Context(), target)
			expectResult(t, tt.name, got, tt.want)
			if elapsed := time.Since(start); elapsed > p.Timeout.D()+time.Second {
				t.Errorf("Check(%s) took %v, want at most the timeout %v", tt.name, elapsed, p.Timeout)
			}
		})
	}
}

func withStatus(s string) func(*model.Probe) {
	return func(p *model.Probe) { p.ExpectedStatus = s }
}

func withSearch(s string) func(*model.Probe) {
	return func(p *model.Probe) { p.SearchString = s }
}

func withTimeout(d time.Duration) func(*model.Probe) {
	return func(p *model.Probe) {
		p.Timeout, p.ConnectTimeout = model.Duration(d), min(p.ConnectTimeout, model.Duration(d))
	}
}

func withConnectTimeout(d time.Duration) func(*model.Probe) {
	return func(p *model.Probe) { p.ConnectTimeout = model.Duration(d) }
}

func withKeepAlive(p *model.Probe) { p.KeepAlive = true }

func withHTTPS(p *model.Probe) { p.Type = model.CheckHTTPS }

func withAll(fs ...func(*model.Probe)) func(*model.Probe) {
	return func(p *model.Probe) {
		for _, f := range fs {
			f(p)
		}
	}
}

// seenRequest is what the server saw of a probe's request.
type seenRequest struct {
	method, uri, host, userAgent, acceptEncoding, sni string
}

// requestRecorder serves 200 and sends what it saw on the returned channel.
func requestRecorder() (http.HandlerFunc, <-chan seenRequest) {
	ch := make(chan seenRequest, 1)
	return func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{
			method:         r.Method,
			uri:            r.RequestURI,
			host:           r.Host,
			userAgent:      r.UserAgent(),
			acceptEncoding: r.Header.Get("Accept-Encoding"),
		}
		if r.TLS != nil {
			s.sni = r.TLS.ServerName
		}
		ch <- s
	}, ch
}

func TestHTTPRequest(t *testing.T) {
	for _, tt := range []struct {
		name   string
		probe  func(*model.Probe)
		target func(Target) Target
		want   func(Target) seenRequest // with the server's address
	}{
		{
			name: "defaults",
			want: func(t Target) seenRequest {
				return seenRequest{method: "GET", uri: "/", host: t.Addr(), userAgent: "switchboard-health/1", acceptEncoding: "gzip, deflate"}
			},
		},
		{
			name: "method-path-query-host",
			probe: func(p *model.Probe) {
				p.Method, p.Path, p.Host = "HEAD", "/healthz?deep=1&who=me", "app.example.test"
			},
			want: func(t Target) seenRequest {
				return seenRequest{method: "HEAD", uri: "/healthz?deep=1&who=me", host: net.JoinHostPort("app.example.test", strconv.Itoa(t.Port)), userAgent: "switchboard-health/1", acceptEncoding: "gzip, deflate"}
			},
		},
		{
			name:  "host-with-port",
			probe: func(p *model.Probe) { p.Method, p.Host = "POST", "app.example.test:8080" },
			want: func(t Target) seenRequest {
				return seenRequest{method: "POST", uri: "/", host: "app.example.test:8080", userAgent: "switchboard-health/1", acceptEncoding: "gzip, deflate"}
			},
		},
		{
			name:   "target-by-name",
			target: func(t Target) Target { return Target{Host: "localhost", Port: t.Port} },
			want: func(t Target) seenRequest {
				return seenRequest{method: "GET", uri: "/", host: "localhost:" + strconv.Itoa(t.Port), userAgent: "switchboard-health/1", acceptEncoding: "gzip, deflate"}
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, ch := requestRecorder()
			_, target := startHTTP(t, false, h)
			p := activeProbe(model.CheckHTTP)
			if tt.probe != nil {
				tt.probe(p)
			}
			if tt.target != nil {
				target = tt.target(target)
			}
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			expectResult(t, tt.name, c.Check(t.Context(), target), wantResult{healthy: true, reason: "status 200"})
			if got, want := <-ch, tt.want(target); got != want {
				t.Errorf("Check(%s) sent %+v, want %+v", tt.name, got, want)
			}
		})
	}
}

func TestHTTPHostHeader(t *testing.T) {
	for _, tt := range []struct {
		typ    model.CheckType
		host   string
		target Target
		want   string
	}{
		{model.CheckHTTP, "", Target{"192.0.2.1", 80}, "192.0.2.1"},
		{model.CheckHTTP, "", Target{"192.0.2.1", 8080}, "192.0.2.1:8080"},
		{model.CheckHTTP, "", Target{"2001:db8::1", 80}, "[2001:db8::1]"},
		{model.CheckHTTP, "", Target{"2001:db8::1", 8080}, "[2001:db8::1]:8080"},
		{model.CheckHTTP, "www.example.com", Target{"192.0.2.1", 80}, "www.example.com"},
		{model.CheckHTTP, "www.example.com", Target{"192.0.2.1", 443}, "www.example.com:443"},
		{model.CheckHTTPS, "www.example.com", Target{"192.0.2.1", 443}, "www.example.com"},
		{model.CheckHTTPS, "www.example.com", Target{"192.0.2.1", 8443}, "www.example.com:8443"},
		{model.CheckHTTPS, "www.example.com:9999", Target{"192.0.2.1", 443}, "www.example.com:9999"},
	} {
		p := activeProbe(tt.typ)
		p.Host = tt.host
		c, err := NewHTTP(p)
		if err != nil {
			t.Fatalf("NewHTTP: %v", err)
		}
		if got := c.hostHeader(tt.target); got != tt.want {
			t.Errorf("hostHeader(%s %q, %v) = %q, want %q", tt.typ, tt.host, tt.target, got, tt.want)
		}
	}
}

func TestHTTPS(t *testing.T) {
	// httptest's certificate is self-signed, for example.com, 127.0.0.1 and ::1.
	for _, tt := range []struct {
		name    string
		probe   func(*model.Probe)
		trustCA bool
		target  func(Target) Target
		want    wantResult
		wantSNI string
	}{
		{name: "no-verify/self-signed", want: wantResult{healthy: true, reason: "status 200"}},
		{name: "verify/unknown-ca", probe: withVerify, want: wantResult{reason: "tls: failed to verify certificate: x509: certificate signed by unknown authority"}},
		{name: "verify/ip", probe: withVerify, trustCA: true, want: wantResult{healthy: true, reason: "status 200"}},
		{name: "verify/host", probe: withAll(withVerify, withHost("example.com")), trustCA: true, want: wantResult{healthy: true, reason: "status 200"}, wantSNI: "example.com"},
		{
			name:    "verify/wrong-name",
			probe:   withAll(withVerify, withSNI("wrong.example.net")),
			trustCA: true,
			want:    wantResult{re: `tls: failed to verify certificate: x509: certificate is valid for .*example\.com, not wrong\.example\.net`},
		},
		{name: "sni/configured", probe: withSNI("sni.example.net"), want: wantResult{healthy: true, reason: "status 200"}, wantSNI: "sni.example.net"},
		{name: "sni/over-host", probe: withAll(withSNI("sni.example.net"), withHost("host.example.net")), want: wantResult{healthy: true, reason: "status 200"}, wantSNI: "sni.example.net"},
		{name: "sni/from-host", probe: withHost("host.example.net:8443"), want: wantResult{healthy: true, reason: "status 200"}, wantSNI: "host.example.net"},
		{name: "sni/none-for-ip", want: wantResult{healthy: true, reason: "status 200"}, wantSNI: ""},
		{
			name:    "sni/target-name",
			target:  func(t Target) Target { return Target{Host: "localhost", Port: t.Port} },
			want:    wantResult{healthy: true, reason: "status 200"},
			wantSNI: "localhost",
		},
		{name: "status-checked", probe: withStatus("204"), want: wantResult{reason: "status 200, want 204"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, ch := requestRecorder()
			s, target := startHTTP(t, true, h)
			if tt.target != nil {
				target = tt.target(target)
			}
			p := activeProbe(model.CheckHTTPS)
			if tt.probe != nil {
				tt.probe(p)
			}
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			if tt.trustCA {
				c.roots = x509.NewCertPool()
				c.roots.AddCert(s.Certificate())
			}
			expectResult(t, tt.name, c.Check(t.Context(), target), tt.want)
			select {
			case got := <-ch:
				if got.sni != tt.wantSNI {
					t.Errorf("Check(%s) sent SNI %q, want %q", tt.name, got.sni, tt.wantSNI)
				}
			default:
				if tt.want.healthy || strings.HasPrefix(tt.want.reason, "status") {
					t.Errorf("Check(%s): the server saw no request", tt.name)
				}
			}
		})
	}
}

func withVerify(p *model.Probe) { p.VerifyTLS = true }

func withSNI(s string) func(*model.Probe) { return func(p *model.Probe) { p.SNI = s } }

func withHost(s string) func(*model.Probe) { return func(p *model.Probe) { p.Host = s } }

func TestHTTPKeepAlive(t *testing.T) {
	for _, tt := range []struct {
		name  string
		probe func(*model.Probe)
		want  int32 // connections for 3 probes
	}{
		{name: "off", want: 3},
		{name: "on", probe: withKeepAlive, want: 1},
		{name: "on/search", probe: withAll(withKeepAlive, withSearch("ok")), want: 1},
		{name: "on/https", probe: withAll(withKeepAlive, withHTTPS), want: 1},
		{name: "off/https", probe: withHTTPS, want: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := activeProbe(model.CheckHTTP)
			if tt.probe != nil {
				tt.probe(p)
			}
			var conns atomic.Int32
			s := httptest.NewUnstartedServer(replyBody("ok"))
			s.Config.ErrorLog = log.New(io.Discard, "", 0)
			s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
			if p.Type == model.CheckHTTPS {
				s.StartTLS()
			} else {
				s.Start()
			}
			defer s.Close()
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			target := targetAt(t, s.Listener.Addr().String())
			for range 3 {
				expectResult(t, tt.name, c.Check(t.Context(), target), wantResult{healthy: true, reason: "status 200"})
			}
			if got := conns.Load(); got != tt.want {
				t.Errorf("3 × Check(%s) opened %d connections, want %d", tt.name, got, tt.want)
			}
		})
	}
}

// TestHTTPConcurrent runs many probes on one checker at once, for -race.
func TestHTTPConcurrent(t *testing.T) {
	for _, tt := range []struct {
		name  string
		probe func(*model.Probe)
	}{
		{name: "http"},
		{name: "http/keep-alive", probe: withAll(withKeepAlive, withSearch("ok"))},
		{name: "https", probe: withHTTPS},
		{name: "https/keep-alive", probe: withAll(withHTTPS, withKeepAlive)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := activeProbe(model.CheckHTTP)
			if tt.probe != nil {
				tt.probe(p)
			}
			_, target := startHTTP(t, p.Type == model.CheckHTTPS, replyBody("ok"))
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			var wg sync.WaitGroup
			// Enough to overlap dials, handshakes and reuse; TLS under -race
			// on a busy two-core machine is slow enough without more.
			for range 8 {
				wg.Go(func() {
					for range 3 {
						expectResult(t, tt.name, c.Check(t.Context(), target), wantResult{healthy: true, reason: "status 200"})
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestNewHTTPErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		probe func(*model.Probe)
		want  string
	}{
		{name: "tcp", probe: func(p *model.Probe) { p.Type = model.CheckTCP }, want: `health: a "tcp" probe is not an http or https probe`},
		{name: "status", probe: withStatus("200-"), want: `health: expected_status: "" is not a status code 100–599`},
		{name: "path", probe: func(p *model.Probe) { p.Path = "health" }, want: `health: path "health" does not start with '/'`},
		{name: "method", probe: func(p *model.Probe) { p.Method = "GE T" }, want: `health: method "GE T", path "/": net/http: invalid method "GE T"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := activeProbe(model.CheckHTTP)
			tt.probe(p)
			c, err := NewHTTP(p)
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewHTTP(%s) = %v, %v; want error %q", tt.name, c, err, tt.want)
			}
		})
	}
	if c, err := NewHTTP(nil); err == nil {
		t.Errorf("NewHTTP(nil) = %v, nil; want an error", c)
	}
}

// TestNoLeaks probes with every checker, through timeouts that cut dials
// and handshakes short, and checks that nothing is left running once the
// checkers and servers are closed.
func TestNoLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Run("probes", func(t *testing.T) {
		var wg sync.WaitGroup
		probe := func(c Checker, target Target) {
			wg.Go(func() {
				c.Check(t.Context(), target)
				if cl, ok := c.(interface{ Close() }); ok {
					cl.Close()
				}
			})
		}
		_, h := startHTTP(t, false, replyBody("ok"))
		_, hs := startHTTP(t, true, replyBody("ok"))
		_, g := startGRPC(t, false, nil)
		quiet, hung := silentTarget(t), unansweredTarget(t)
		for _, tt := range []struct {
			name   string
			typ    model.CheckType
			probe  func(*model.Probe)
			target Target
		}{
			{"http", model.CheckHTTP, withKeepAlive, h},
			{"https", model.CheckHTTPS, withKeepAlive, hs},
			{"grpc", model.CheckGRPC, nil, g},
			{"tcp", model.CheckTCP, nil, h},
			{"http/silent", model.CheckHTTP, withTimeout(probeFailTimeout), quiet},
			{"https/silent", model.CheckHTTPS, withAll(withKeepAlive, withTimeout(probeFailTimeout)), quiet},
			{"http/unanswered", model.CheckHTTP, withAll(withKeepAlive, withTimeout(probeFailTimeout)), hung},
			{"grpc/unanswered", model.CheckGRPC, withTimeout(probeFailTimeout), hung},
			{"tcp/unanswered", model.CheckTCP, withTimeout(probeFailTimeout), hung},
		} {
			p := activeProbe(tt.typ)
			if tt.probe != nil {
				tt.probe(p)
			}
			c, err := NewChecker(p)
			if err != nil {
				t.Fatalf("NewChecker(%s): %v", tt.name, err)
			}
			probe(c, tt.target)
		}
		wg.Wait()
	})
}

// startRaw starts a loopback server that reads each request on a
// connection (its headers; probes send no body) and writes answer, as it
// is; then, if hangUp, it closes the connection. It counts connections.
func startRaw(t *testing.T, answer string, hangUp bool) (Target, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	serve := func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			if _, err := io.WriteString(c, answer); err != nil || hangUp {
				return
			}
		}
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() { serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return targetAt(t, ln.Addr().String()), &conns
}

// TestHTTPAnswers covers answers that net/http's server does not give.
func TestHTTPAnswers(t *testing.T) {
	hint := "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
	big := "HTTP/1.1 103 Early Hints\r\nLink: " + strings.Repeat("l", 4<<10) + "\r\n\r\n"
	for _, tt := range []struct {
		name   string
		answer string
		hangUp bool
		probe  func(*model.Probe)
		want   wantResult
	}{
		{name: "informational/skipped", answer: hint + hint + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: wantResult{healthy: true, reason: "status 200"}},
		{name: "informational/then-503", answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", want: wantResult{reason: "status 503, want 200-399"}},
		{name: "informational/headers-over-limit", answer: strings.Repeat(big, 4) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", want: wantResult{reason: "response headers over 16384 bytes"}},
		{name: "switching-protocols", answer: "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n", want: wantResult{reason: "status 101, want 200-399"}},
		{name: "http/1.0", answer: "HTTP/1.0 200 OK\r\n\r\nok", hangUp: true, probe: withSearch("ok"), want: wantResult{healthy: true, reason: "status 200"}},
		{name: "malformed", answer: "HTTP/1.1 abc\r\n\r\n", want: wantResult{reason: `reading response: malformed HTTP status code "abc"`}},
		{name: "truncated", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", hangUp: true, want: wantResult{reason: "reading response: unexpected EOF"}},
		{name: "body-truncated", answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", hangUp: true, probe: withSearch("ok"), want: wantResult{reason: "reading body: unexpected EOF"}},
		{name: "head/length-without-body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", probe: func(p *model.Probe) { p.Method = "HEAD" }, want: wantResult{healthy: true, reason: "status 200"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target, _ := startRaw(t, tt.answer, tt.hangUp)
			p := activeProbe(model.CheckHTTP)
			p.Timeout = model.Duration(probeFailTimeout * 5) // a wrong parse waits for a body that never comes
			if tt.probe != nil {
				tt.probe(p)
			}
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			expectResult(t, tt.name, c.Check(t.Context(), target), tt.want)
		})
	}
}

// TestHTTPReuse checks when keep-alive reuses a connection, and that a
// kept connection the server has closed costs a new one, not a failure.
func TestHTTPReuse(t *testing.T) {
	for _, tt := range []struct {
		name    string
		answer  string // by a raw server; "" for net/http's
		hangUp  bool   // the raw server closes the connection after answering
		hangUp2 bool   // net/http's server closes every connection after each probe
		probe   func(*model.Probe)
		want    int32 // connections for 3 probes
	}{
		{name: "kept", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: 1},
		{name: "kept/status-not-wanted", answer: "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy", want: 1},
		{name: "kept/head", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", probe: func(p *model.Probe) { p.Method = "HEAD" }, want: 1},
		{name: "connection-close", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", hangUp: true, want: 3},
		{name: "body-not-read-to-end", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: 3},
		{name: "stale/raw", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", hangUp: true, want: 3},
		{name: "stale/net-http", hangUp2: true, want: 3},
		{name: "stale/net-http-tls", hangUp2: true, probe: withHTTPS, want: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := activeProbe(model.CheckHTTP)
			p.KeepAlive = true
			if tt.probe != nil {
				tt.probe(p)
			}
			var target Target
			var conns *atomic.Int32
			var s *httptest.Server
			if tt.answer != "" {
				target, conns = startRaw(t, tt.answer, tt.hangUp)
			} else {
				conns = new(atomic.Int32)
				s = httptest.NewUnstartedServer(replyBody("ok"))
				s.Config.ErrorLog = log.New(io.Discard, "", 0)
				s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
					if st == http.StateNew {
						conns.Add(1)
					}
				}
				if p.Type == model.CheckHTTPS {
					s.StartTLS()
				} else {
					s.Start()
				}
				defer s.Close()
				target = targetAt(t, s.Listener.Addr().String())
			}
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			want := wantResult{healthy: true, reason: "status 200"}
			if strings.Contains(tt.answer, "503") {
				want = wantResult{reason: "status 503, want 200-399"}
			}
			for range 3 {
				expectResult(t, tt.name, c.Check(t.Context(), target), want)
				if tt.hangUp2 {
					s.CloseClientConnections()
				}
			}
			if got := conns.Load(); got != tt.want {
				t.Errorf("3 × Check(%s) opened %d connections, want %d", tt.name, got, tt.want)
			}
		})
	}
}

// TestHTTPContext checks that the caller's ctx bounds a probe: its
// deadline, when shorter than the probe's timeout, and its cancellation.
func TestHTTPContext(t *testing.T) {
	// A ctx of 150ms leaves the probe what is left of it when Check starts:
	// 150ms, or a little less on a busy machine.
	const ctxShorter = `1[2-5]\dms`
	for _, tt := range []struct {
		name   string
		target func(t *testing.T, ready chan<- struct{}) Target // signals ready when the probe waits
		probe  func(*model.Probe)
		ctx    time.Duration // the caller's timeout, if any; -1: canceled before; 0: canceled once ready
		want   wantResult
	}{
		{name: "canceled/before", target: serveNever, ctx: -1, want: wantResult{reason: "canceled"}},
		{name: "canceled/waiting", target: serveNever, want: wantResult{reason: "canceled"}},
		{name: "canceled/waiting/keep-alive", target: serveNever, probe: withKeepAlive, want: wantResult{reason: "canceled"}},
		{name: "canceled/handshake", target: acceptSilently, probe: withHTTPS, want: wantResult{reason: "canceled"}},
		{name: "ctx-shorter/response", target: serveNever, ctx: 150 * time.Millisecond, want: wantResult{re: "timeout after " + ctxShorter}},
		{name: "ctx-shorter/connect", target: func(t *testing.T, _ chan<- struct{}) Target { return unansweredTarget(t) }, ctx: 150 * time.Millisecond, want: wantResult{re: "connect timeout after " + ctxShorter}},
		{name: "ctx-shorter/handshake", target: acceptSilently, probe: withHTTPS, ctx: 150 * time.Millisecond, want: wantResult{re: "tls: handshake timeout after " + ctxShorter}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := activeProbe(model.CheckHTTP)
			if tt.probe != nil {
				tt.probe(p)
			}
			c, err := NewHTTP(p)
			if err != nil {
				t.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			ready := make(chan struct{}, 1)
			target := tt.target(t, ready)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			switch {
			case tt.ctx < 0:
				cancel()
			case tt.ctx > 0:
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			default:
				var wg sync.WaitGroup
				defer wg.Wait()
				wg.Go(func() {
					select {
					case <-ready:
						cancel()
					case <-ctx.Done():
					}
				})
			}
			start := time.Now()
			expectResult(t, tt.name, c.Check(ctx, target), tt.want)
			if elapsed := time.Since(start); elapsed > probeOKTimeout/2 {
				t.Errorf("Check(%s) took %v, want it cut short", tt.name, elapsed)
			}
		})
	}
}

// serveNever is an HTTP target that signals ready when a request arrives
// and never answers it.
func serveNever(t *testing.T, ready chan<- struct{}) Target {
	_, target := startHTTP(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ready <- struct{}{}
		<-r.Context().Done()
	}))
	return target
}

// acceptSilently is a target that signals ready when it accepts a
// connection, and never says a word on it.
func acceptSilently(t *testing.T, ready chan<- struct{}) Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return targetAt(t, ln.Addr().String())
}

// TestNoTimeWait checks that probes that open a connection each time leave
// no socket in TIME_WAIT, on either side: the checker closes with a reset.
func TestNoTimeWait(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("needs Linux's /proc/net/tcp")
	}
	for _, tt := range []struct {
		name string
		typ  model.CheckType
	}{
		{"http", model.CheckHTTP},
		{"https", model.CheckHTTPS},
		{"tcp", model.CheckTCP},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, target := startHTTP(t, tt.typ == model.CheckHTTPS, replyBody("ok"))
			c, err := NewChecker(activeProbe(tt.typ))
			if err != nil {
				t.Fatalf("NewChecker: %v", err)
			}
			// Another test's connections may have left the port in
			// TIME_WAIT before this server took it.
			before := timeWaits(t, target.Port)
			for range 5 {
				if r := c.Check(t.Context(), target); !r.Healthy {
					t.Fatalf("Check(%s) = %s, want healthy", tt.name, showResult(r))
				}
			}
			if n := timeWaits(t, target.Port) - before; n > 0 {
				t.Errorf("5 × Check(%s) left %d sockets in TIME_WAIT, want none", tt.name, n)
			}
		})
	}
}

// timeWaits counts the IPv4 sockets in TIME_WAIT from or to port.
func timeWaits(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf(":%04X", port)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st …; st 06 is TIME_WAIT.
		f := strings.Fields(line)
		if len(f) > 3 && f[3] == "06" && (strings.HasSuffix(f[1], suffix) || strings.HasSuffix(f[2], suffix)) {
			n++
		}
	}
	return n
}

// BenchmarkHTTPCheck measures one probe against a loopback httptest server,
// with a new connection per probe (the default) and with keep-alive. The
// server runs in the same process: its allocations count too.
func BenchmarkHTTPCheck(b *testing.B) {
	for _, bb := range []struct {
		name  string
		probe func(*model.Probe)
	}{
		{name: "new-connection"},
		{name: "keep-alive", probe: withKeepAlive},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s := httptest.NewUnstartedServer(replyBody("ok"))
			s.Config.ErrorLog = log.New(io.Discard, "", 0)
			s.Start()
			defer s.Close()
			p := activeProbe(model.CheckHTTP)
			if bb.probe != nil {
				bb.probe(p)
			}
			c, err := NewHTTP(p)
			if err != nil {
				b.Fatalf("NewHTTP: %v", err)
			}
			defer c.Close()
			host, port, _ := net.SplitHostPort(s.Listener.Addr().String())
			n, _ := strconv.Atoi(port)
			target := Target{Host: host, Port: n}
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Check(ctx, target); !r.Healthy {
					b.Fatalf("Check(%s) = %s, want healthy", bb.name, showResult(r))
				}
			}
		})
	}
}
