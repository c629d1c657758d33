package httpproxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

// rawBackend is an HTTP/1.1 target that answers every request on a
// keep-alive connection with a fixed 2-byte body. It allocates nothing per
// request, so that allocation counts of the benchmarks are the proxy's.
func rawBackend(t testing.TB) model.Target {
	return rawBackendWith(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
}

// nginxAnswer is what nginx sends for `return 200 "ok"`.
const nginxAnswer = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 15:00:00 GMT\r\n" +
	"Content-Type: application/octet-stream\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"

// rawBackendWith is rawBackend answering answer.
func rawBackendWith(t testing.TB, answer string) model.Target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resp := []byte(answer)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 16<<10)
				n := 0
				for {
					k, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += k
					for {
						i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						n = copy(buf, buf[i+4:n])
					}
				}
			}()
		}
	}()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	return model.Target{Address: ap.Addr(), Port: int(ap.Port()), Zone: "a"}
}

// rawClient sends one GET on a kept-alive connection and reads the answer
// (headers and a Content-Length body), without allocating.
type rawClient struct {
	c   net.Conn
	req []byte
	buf []byte
}

func newRawClient(t testing.TB, addr, path string) *rawClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{c: c, req: []byte("GET " + path + " HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\n\r\n"), buf: make([]byte, 16<<10)}
}

var clHeader = []byte("\r\nContent-Length: ")

func (rc *rawClient) do(t testing.TB) {
	if _, err := rc.c.Write(rc.req); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		k, err := rc.c.Read(rc.buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += k
		end := bytes.Index(rc.buf[:n], []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		i := bytes.Index(rc.buf[:end], clHeader)
		if i < 0 {
			t.Fatalf("no Content-Length in %q", rc.buf[:n])
		}
		j := i + len(clHeader)
		length := 0
		for ; rc.buf[j] >= '0' && rc.buf[j] <= '9'; j++ {
			length = length*10 + int(rc.buf[j]-'0')
		}
		if n >= end+4+length {
			if !bytes.HasPrefix(rc.buf, []byte("HTTP/1.1 200")) {
				t.Fatalf("answer %q", rc.buf[:n])
			}
			return
		}
	}
}

// benchEnv is a listener with a few rules in front of the default forward
// to three raw targets.
func benchEnv(b testing.TB, opts ...envOption) *env {
	ts := []model.Target{rawBackend(b), rawBackend(b), rawBackend(b)}
	return newEnv(b, "", func(st *model.State) {
		st.TargetGroups[0].Targets = ts
		l := &st.LoadBalancers[0].Listeners[0]
		for i, p := range []string{"/api/*", "/static/*.css", "/admin"} {
			l.Rules = append(l.Rules, model.Rule{Priority: i + 1, Conditions: model.Conditions{Path: []string{p}, Host: []string{"*.example.com"}},
				Action: fixedAction("rule")})
		}
	}, opts...)
}

// BenchmarkProxyRequest is the full request path over loopback: HTTP/1.1
// parse, rule match, target pick, pooled round trip, copy back. The client
// and target allocate nothing, so allocs/op is the proxy's.
func BenchmarkProxyRequest(b *testing.B) { benchRequests(b, benchEnv(b)) }

// benchRequests sends GETs through e's proxy on one keep-alive connection.
func benchRequests(b *testing.B, e *env) {
	rc := newRawClient(b, "127.0.0.1:"+strconv.Itoa(e.port), "/index.html")
	rc.do(b)
	b.ReportAllocs()
	for b.Loop() {
		rc.do(b)
	}
}

// benchRequestsParallel sends GETs through e's proxy on 16 connections
// per CPU.
func benchRequestsParallel(b *testing.B, e *env) {
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		rc := newRawClient(b, "127.0.0.1:"+strconv.Itoa(e.port), "/index.html")
		for pb.Next() {
			rc.do(b)
		}
	})
}

// BenchmarkProxyRequestNoEventLoop is BenchmarkProxyRequest on the
// goroutine path (Config.NoEventLoop): a goroutine per client connection
// and exchangeH1 to the target.
func BenchmarkProxyRequestNoEventLoop(b *testing.B) { benchRequests(b, benchEnv(b, noEventLoop(true))) }

// BenchmarkProxyRequestParallelNoEventLoop is
// BenchmarkProxyRequestParallel on the goroutine path.
func BenchmarkProxyRequestParallelNoEventLoop(b *testing.B) {
	benchRequestsParallel(b, benchEnv(b, noEventLoop(true)))
}

// BenchmarkProxyRequestBrowser is BenchmarkProxyRequest with a browser's
// request header and nginx's answer header, which carry more values and
// Connection: keep-alive both ways.
func BenchmarkProxyRequestBrowser(b *testing.B) {
	ts := []model.Target{rawBackendWith(b, nginxAnswer), rawBackendWith(b, nginxAnswer), rawBackendWith(b, nginxAnswer)}
	e := newEnv(b, "", func(st *model.State) { st.TargetGroups[0].Targets = ts })
	rc := newRawClient(b, "127.0.0.1:"+strconv.Itoa(e.port), "/index.html")
	rc.req = []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nCookie: session=abc123; theme=dark\r\n" +
		"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n\r\n")
	rc.do(b)
	b.ReportAllocs()
	for b.Loop() {
		rc.do(b)
	}
}

// BenchmarkProxyRequestNetHTTP is the same without the client fast path:
// net/http's server reads the request.
func BenchmarkProxyRequestNetHTTP(b *testing.B) {
	e := benchEnv(b)
	e.p.Shutdown(context.Background())
	e.p = New(Config{NoFastPath: true})
	e.apply()
	benchRequests(b, e)
}

// BenchmarkProxyRequestParallel is the same with many connections.
func BenchmarkProxyRequestParallel(b *testing.B) { benchRequestsParallel(b, benchEnv(b)) }

// matchInput is a request as the server hands it to the handler.
func matchInput() (*http.Request, netip.Addr) {
	u, _ := url.ParseRequestURI("/app/items?id=7&v=2")
	r := &http.Request{Method: "GET", URL: u, Host: "www.example.com:8080", Header: http.Header{
		"Cookie": {"theme=dark; uid=42"}, "X-Env": {"prod"}, "Content-Type": {"text/plain"},
	}}
	return r, netip.MustParseAddr("192.0.2.9")
}

func ruleSet() []model.Rule {
	var rs []model.Rule
	for i := range 20 {
		rs = append(rs, model.Rule{Priority: i + 1, Conditions: model.Conditions{
			Host: []string{"api" + strconv.Itoa(i) + ".example.com"}, Path: []string{"/v" + strconv.Itoa(i) + "/*"},
		}, Action: fixedAction("r")})
	}
	rs = append(rs,
		model.Rule{Priority: 100, Conditions: model.Conditions{Headers: []model.HeaderMatch{{Name: "x-env", Values: []string{"canary"}}}}, Action: fixedAction("h")},
		model.Rule{Priority: 101, Conditions: model.Conditions{GRPC: &model.GRPCMatch{Service: "a.B"}}, Action: fixedAction("g")},
		model.Rule{Priority: 102, Conditions: model.Conditions{Query: []model.QueryMatch{{Key: "v", Value: "3"}}}, Action: fixedAction("q")},
		model.Rule{Priority: 103, Conditions: model.Conditions{Host: []string{"*.example.com"}, Path: []string{"/app/*"}, Methods: []string{"GET"},
			SourceCIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
			Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "web"}}}}},
	)
	return rs
}

// TestMatchAndPickDoNotAllocate: rule matching (24 rules, the last
// matching), the consistent-hash key, the stickiness cookie lookup and the
// target pick allocate nothing.
func TestMatchAndPickDoNotAllocate(t *testing.T) {
	ts := []model.Target{rawBackend(t), rawBackend(t), rawBackend(t)}
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = ts
		st.TargetGroups[0].Algorithm = model.ConsistentHash
		st.TargetGroups[0].HashOn = &model.HashKey{Cookie: "uid"}
		st.LoadBalancers[0].Listeners[0].Rules = ruleSet()
	})
	l := e.p.listeners["127.0.0.1:"+strconv.Itoa(e.port)]
	tab := l.tab.Load()
	r, src := matchInput()
	var ru *rule
	allocs := testing.AllocsPerRun(1000, func() {
		ru = tab.match(r, hostOnly(r.Host), src)
		g := ru.forward.groups[0]
		_ = g.stuck(r)
		if g.bal.Pick(g.hint(r, src)) == nil {
			t.Fatal("no target")
		}
		_ = e.p.backend(tab, g, netipOf(ts[0]))
	})
	if ru.name != "103" {
		t.Fatalf("matched rule %s, want 103", ru.name)
	}
	if allocs != 0 {
		t.Errorf("match and pick allocate %.1f times per request, want 0", allocs)
	}
}

func BenchmarkMatchAndPick(b *testing.B) {
	ts := []model.Target{rawBackend(b), rawBackend(b), rawBackend(b)}
	e := newEnv(b, "", func(st *model.State) {
		st.TargetGroups[0].Targets = ts
		st.LoadBalancers[0].Listeners[0].Rules = ruleSet()
	})
	tab := e.p.listeners["127.0.0.1:"+strconv.Itoa(e.port)].tab.Load()
	r, src := matchInput()
	b.ReportAllocs()
	for b.Loop() {
		ru := tab.match(r, hostOnly(r.Host), src)
		g := ru.forward.groups[0]
		g.bal.Pick(g.hint(r, src))
	}
}

// BenchmarkProxyH2C is the request path for HTTP/2 clients (h2c, many
// streams on few connections) to HTTP/1.1 targets.
func BenchmarkProxyH2C(b *testing.B) {
	e := benchEnv(b)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	cli := &http.Client{Transport: tr}
	url := e.url("/index.html")
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := cli.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
