//go:build linux

package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
)

// loopClients is the number of client connections the listener's event
// loops serve.
func (e *env) loopClients() int {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	l := e.p.listeners["127.0.0.1:"+strconv.Itoa(e.port)]
	if l == nil || l.fast == nil || len(l.fast.loops) == 0 {
		e.t.Fatal("the listener has no event loop")
	}
	return l.fast.loopClients()
}

// rawConn is a client connection for requests written by hand.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (e *env) dialRaw(t *testing.T) *rawConn {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// answer reads one answer to a request with method.
func (rc *rawConn) answer(method string) (*http.Response, string, error) {
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// countingTarget is an HTTP target that counts the connections it accepts.
func countingTarget(t *testing.T, h http.HandlerFunc) (model.Target, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	return model.Target{Address: ap.Addr(), Port: int(ap.Port()), Zone: "a"}, &n
}

// scriptTarget accepts connections and answers each request with the
// script's bytes, then closes the connection.
func scriptTarget(t *testing.T, script string) model.Target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, script)
			}()
		}
	}()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	return model.Target{Address: ap.Addr(), Port: int(ap.Port()), Zone: "a"}
}

func echoPath(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }

// TestEventLoopPipelining: requests sent in one write get their answers in
// order, on one connection that stays in the event loop, over one
// keep-alive connection to the target.
func TestEventLoopPipelining(t *testing.T) {
	tg, conns := countingTarget(t, echoPath)
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{tg} })
	rc := e.dialRaw(t)
	var b strings.Builder
	for i := range 5 {
		fmt.Fprintf(&b, "GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	rc.send(b.String())
	for i := range 5 {
		resp, body, err := rc.answer("GET")
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if want := "/p" + strconv.Itoa(i); resp.StatusCode != 200 || body != want {
			t.Fatalf("answer %d = %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("answer %d has no X-Request-Id", i)
		}
	}
	if n := e.loopClients(); n != 1 {
		t.Errorf("event loops serve %d clients, want 1 (the connection left the loop)", n)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("target accepted %d connections for 5 requests on one client connection, want 1", n)
	}
}

// TestEventLoopKeepAliveToTargets: many clients one after another share
// the loops' pooled target connections, at most one per loop; the target
// sees the forwarding headers and no hop-by-hop ones.
func TestEventLoopKeepAliveToTargets(t *testing.T) {
	var last atomic.Pointer[http.Header]
	tg, conns := countingTarget(t, func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		last.Store(&h)
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop")
		echoPath(w, r)
	})
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{tg} })
	for i := range 40 {
		rc := e.dialRaw(t)
		rc.send("GET /k" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-Forwarded-For: 192.0.2.9\r\n\r\n")
		resp, body, err := rc.answer("GET")
		if err != nil || resp.StatusCode != 200 || body != "/k"+strconv.Itoa(i) {
			t.Fatalf("request %d: %v %v %q", i, err, resp, body)
		}
		if resp.Header.Get("X-Secret") != "" {
			t.Fatalf("answer kept a header its Connection named: %v", resp.Header)
		}
		rc.c.Close()
	}
	h := *last.Load()
	if h.Get("X-Hop") != "" || h.Get("Connection") != "" {
		t.Errorf("target got hop-by-hop headers: %v", h)
	}
	if got := h.Get("X-Forwarded-For"); got != "192.0.2.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the client's appended", got)
	}
	if h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Port") != strconv.Itoa(e.port) || h.Get("X-Request-Id") == "" {
		t.Errorf("target's forwarding headers: %v", h)
	}
	if n := conns.Load(); n > int64(runtime.GOMAXPROCS(0)) {
		t.Errorf("target accepted %d connections for 40 requests one after another, want at most one per loop (%d)", n, runtime.GOMAXPROCS(0))
	}
}

// TestEventLoopTargetDies: a target that closes in the middle of the
// answer's head gives 502 and a passive failure; one that closes in the
// middle of the body cuts the client's connection, since its framing is
// lost. The client's connection keeps working after the 502.
func TestEventLoopTargetDies(t *testing.T) {
	head := scriptTarget(t, "HTTP/1.1 200 OK\r\nContent-Le")
	body := scriptTarget(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups = []model.TargetGroup{
			{Name: "head", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{head}},
			{Name: "body", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{body}},
		}
		l := &st.LoadBalancers[0].Listeners[0]
		l.Rules = []model.Rule{{Priority: 1, Conditions: model.Conditions{Path: []string{"/body"}},
			Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "body"}}}}}}
		l.DefaultAction = model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "head"}}}}
	})
	rc := e.dialRaw(t)
	for range 2 {
		rc.send("GET /head HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, page, err := rc.answer("GET")
		if err != nil || resp.StatusCode != 502 || !strings.Contains(page, "on our side") {
			t.Fatalf("target died in the head: %v %v %q, want 502 with our page", err, resp, page)
		}
	}
	if n := e.rec.count(netipOf(head), health.Failure); n != 2 {
		t.Errorf("%d Failures reported for the target that died in its head, want 2", n)
	}
	rc.send("GET /body HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, got, err := rc.answer("GET")
	if err == nil || resp.StatusCode != 200 || got != "hello" {
		t.Fatalf("target died in the body: %v %v %q, want 200, then hello and the connection cut", err, resp, got)
	}
	if _, err := rc.br.ReadByte(); err == nil {
		t.Error("the client's connection stayed open after a broken body")
	}
}

// TestEventLoopNoTargetAndTimeout: 503 without a routable target, 504 when
// the target is slower than request_timeout, both served by the loop on a
// connection that stays open; a fixed response too.
func TestEventLoopNoTargetAndTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups = append(st.TargetGroups, model.TargetGroup{Name: "slow", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{slow.target("a")}})
		l := &st.LoadBalancers[0].Listeners[0]
		l.RequestTimeout = model.Duration(time.Second)
		l.Rules = []model.Rule{
			{Priority: 1, Conditions: model.Conditions{Path: []string{"/slow"}},
				Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "slow"}}}}},
			{Priority: 2, Conditions: model.Conditions{Path: []string{"/fixed"}},
				Action: model.Action{FixedResponse: &model.FixedResponse{Status: 418, ContentType: "text/plain", Body: "teapot"}}},
		}
	})
	rc := e.dialRaw(t)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n")
	resp, page, err := rc.answer("GET")
	if err != nil || resp.StatusCode != 503 || !strings.Contains(page, `"status":503`) {
		t.Fatalf("no target: %v %v %q, want 503 as JSON", err, resp, page)
	}
	start := time.Now()
	rc.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, page, err = rc.answer("GET")
	if err != nil || resp.StatusCode != 504 || !strings.Contains(page, "did not answer in time") {
		t.Fatalf("slow target: %v %v %q, want 504", err, resp, page)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("504 after %v, before request_timeout", took)
	}
	rc.send("GET /fixed HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, page, err = rc.answer("GET")
	if err != nil || resp.StatusCode != 418 || page != "teapot" {
		t.Fatalf("fixed response: %v %v %q", err, resp, page)
	}
	if n := e.loopClients(); n != 1 {
		t.Errorf("event loops serve %d clients, want 1", n)
	}
	if n := e.rec.count(slow.addr, health.Failure); n == 0 {
		t.Error("no Failure reported for the target that timed out")
	}
}

// TestEventLoopLargeAnswers: a large Content-Length answer to a client
// that reads slowly arrives whole (the loop stops reading the target while
// the client's socket is full); a large chunked answer, which the goroutine
// path relays, arrives whole and streamed, and the connection goes on.
func TestEventLoopLargeAnswers(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	sum := sha256.Sum256(big)
	b := newBackend(t, "big", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			for i := 0; i < len(big); i += 64 << 10 {
				w.Write(big[i : i+64<<10])
				w.(http.Flusher).Flush()
			}
			return
		}
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	})
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	rc := e.dialRaw(t)
	rc.send("GET /cl HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // let the sockets fill
	resp, got, err := rc.answer("GET")
	if err != nil || resp.StatusCode != 200 || sha256.Sum256([]byte(got)) != sum {
		t.Fatalf("Content-Length answer: %v %v, %d bytes, want %d intact", err, resp, len(got), len(big))
	}
	rc.send("GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(rc.br, &http.Request{Method: "GET"})
	if err != nil || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("chunked answer: %v %v, want chunked", err, resp)
	}
	first := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("first bytes of the chunked answer: %v", err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || sha256.Sum256(append(first, rest...)) != sum {
		t.Fatalf("chunked answer: %v, %d bytes, want %d intact", err, len(first)+len(rest), len(big))
	}
	rc.send("GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, got, err := rc.answer("GET"); err != nil || resp.StatusCode != 200 || got != "small" {
		t.Fatalf("after the chunked answer: %v %v %q", err, resp, got)
	}
}

// TestEventLoopHandoff: a request the loop does not handle (a body) goes to
// the goroutine path with what was read, and later requests on the same
// connection keep working there.
func TestEventLoopHandoff(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	})
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	rc := e.dialRaw(t)
	rc.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, got, err := rc.answer("GET"); err != nil || got != "GET /first " {
		t.Fatalf("GET in the loop: %v %q", err, got)
	}
	if n := e.loopClients(); n != 1 {
		t.Fatalf("event loops serve %d clients, want 1", n)
	}
	rc.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"POST /up hello", "GET /after "} {
		resp, got, err := rc.answer("GET")
		if err != nil || resp.StatusCode != 200 || got != want {
			t.Fatalf("after the handoff: %v %v %q, want %q", err, resp, got, want)
		}
	}
	if n := e.loopClients(); n != 0 {
		t.Errorf("event loops serve %d clients after the handoff, want 0", n)
	}
	// A malformed request is handed over too, and net/http answers 400.
	rc2 := e.dialRaw(t)
	rc2.send("GET /bad HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n")
	if resp, _, err := rc2.answer("GET"); err != nil || resp.StatusCode != 400 {
		t.Fatalf("malformed request: %v %v, want 400", err, resp)
	}
}

// TestEventLoopShutdown: Shutdown lets a request in flight in the loop
// finish and closes idle connections.
func TestEventLoopShutdown(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	})
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	idle := e.dialRaw(t)
	busy := e.dialRaw(t)
	busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- e.p.Shutdown(ctx) }()
	resp, got, err := busy.answer("GET")
	if err != nil || resp.StatusCode != 200 || got != "done" {
		t.Fatalf("request in flight during Shutdown: %v %v %q", err, resp, got)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := idle.br.ReadByte(); err == nil {
		t.Error("an idle connection stayed open after Shutdown")
	}
	if _, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.port)); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

// TestEventLoopRetry: an idempotent request whose target refuses goes to
// another target once, from the loop.
func TestEventLoopRetry(t *testing.T) {
	good := newBackend(t, "good", nil)
	dead := deadTarget(t, "a")
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = []model.Target{dead, good.target("a")}
	})
	for range 4 {
		rc := e.dialRaw(t)
		rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, got, err := rc.answer("GET"); err != nil || resp.StatusCode != 200 || got != "good" {
			t.Fatalf("with one target refusing: %v %v %q, want 200 from good", err, resp, got)
		}
	}
	if n := e.rec.count(netipOf(dead), health.ConnectFailure); n == 0 {
		t.Error("no ConnectFailure reported for the refusing target")
	}
}

// FuzzScanResponse: the event loop's map-free check of an answer's head
// agrees with parseResponse on what it accepts and on status, length and
// Connection: close, and keeps the same header lines.
func FuzzScanResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nset-cookie: a=1\r\nSet-Cookie:  b=2 \t\r\nx-a-b:\tv\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nConnection: close, X-A\r\nX-A: 1\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 204\r\nTrailer: X\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		var lines [100]hdrLine
		status, cl, closing, n, _, err := scanResponse(s, method, lines[:])
		var resp http.Response
		h := http.Header{}
		perr := parseResponse([]byte(s), method, &resp, h, nil)
		if len(s) < 4 || s[len(s)-4:] != "\r\n\r\n" || strings.Contains(s[:len(s)-2], "\r\n\r\n") {
			return // not one head: the callers never pass such input
		}
		if (err == nil) != (perr == nil) {
			t.Fatalf("%q: scanResponse %v, parseResponse %v", s, err, perr)
		}
		if err != nil {
			return
		}
		if status != resp.StatusCode || cl != resp.ContentLength || closing != resp.Close {
			t.Fatalf("%q: scanResponse %d %d %v, parseResponse %d %d %v", s, status, cl, closing, resp.StatusCode, resp.ContentLength, resp.Close)
		}
		got := http.Header{}
		for _, l := range lines[:n] {
			got[l.key] = append(got[l.key], l.value)
		}
		if closing {
			delete(got, "Connection") // as parseResponse does
		}
		if fmt.Sprint(got) != fmt.Sprint(h) {
			t.Fatalf("%q: scanResponse lines %v, parseResponse header %v", s, got, h)
		}
	})
}

// FuzzAppendRequest: what the event loop writes to a target for a request
// the fast parser accepted is a request net/http reads back with the same
// method, target, host and end-to-end headers, and without hop-by-hop
// ones.
func FuzzAppendRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a?b=c HTTP/1.1\r\nhost: x\r\nx-a: 1\r\nX-A: 2\r\nCookie: a=b; c=d\r\nConnection: keep-alive, x-a\r\n\r\n",
		"HEAD /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTE: trailers\r\nX-Forwarded-For: 192.0.2.1\r\nX-Request-Id: abc\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: \t v \t\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\n\r\n",
	} {
		f.Add(s)
	}
	tab := &table{xfProto: []string{"http"}, xfPort: []string{"80"}}
	f.Fuzz(func(t *testing.T, s string) {
		head, err := readHead(bufio.NewReaderSize(strings.NewReader(s), fastHeadMax))
		if err != nil {
			return
		}
		c := &evClient{evReq: &evReq{h: http.Header{}}, in: head, headLen: len(head)}
		if parseRequest(head, &c.r, &c.u, c.h, make([]string, 0, 4)) != nil {
			return
		}
		c.ci.addr = netip.MustParseAddr("127.0.0.1")
		c.ci.xff = []string{"127.0.0.1"}
		c.ex.tab = tab
		c.ac.rid = []string{"rid"}
		out := c.appendRequest(nil)
		got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(out)))
		if err != nil {
			t.Fatalf("%q became %q, which net/http refuses: %v", head, out, err)
		}
		if got.Method != c.r.Method || got.RequestURI != c.r.RequestURI || got.Host != c.r.Host {
			t.Fatalf("%q became %q: %s %s host %q", head, out, got.Method, got.RequestURI, got.Host)
		}
		want := c.h.Clone()
		want.Del("Host")
		removeHop(want)
		if te := c.h["Te"]; len(te) > 0 && strings.EqualFold(te[0], "trailers") {
			want["Te"] = te
		}
		want["X-Forwarded-For"] = []string{strings.Join(append(c.h["X-Forwarded-For"], "127.0.0.1"), ", ")}
		want["X-Forwarded-Proto"] = []string{"http"}
		want["X-Forwarded-Port"] = []string{"80"}
		want["X-Request-Id"] = []string{"rid"}
		for k, v := range want {
			gv := got.Header[k]
			if len(gv) != len(v) {
				t.Fatalf("%q became %q: %s = %q, want %q", head, out, k, gv, v)
			}
			for i := range v {
				if strings.TrimSpace(gv[i]) != strings.TrimSpace(v[i]) {
					t.Fatalf("%q became %q: %s = %q, want %q", head, out, k, gv, v)
				}
			}
		}
		for k := range got.Header {
			if _, ok := want[k]; !ok {
				t.Fatalf("%q became %q: %s should not be there", head, out, k)
			}
		}
	})
}

// TestGoroutinePath: with NoEventLoop, plain listeners are served by a
// goroutine per connection as before the event loop: pipelined requests,
// 503, 504 and the handoff to net/http all work there too.
func TestGoroutinePath(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	})
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = []model.Target{b.target("a")}
		st.TargetGroups = append(st.TargetGroups, model.TargetGroup{Name: "empty", Protocol: model.ProtoHTTP, Port: 80})
		l := &st.LoadBalancers[0].Listeners[0]
		l.RequestTimeout = model.Duration(time.Second)
		l.Rules = []model.Rule{{Priority: 1, Conditions: model.Conditions{Path: []string{"/empty"}},
			Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "empty"}}}}}}
	}, noEventLoop(true))
	e.p.mu.Lock()
	loops := len(e.p.listeners["127.0.0.1:"+strconv.Itoa(e.port)].fast.loops)
	e.p.mu.Unlock()
	if loops != 0 {
		t.Fatalf("%d event loops with NoEventLoop", loops)
	}
	rc := e.dialRaw(t)
	rc.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"GET /a ", "GET /b "} {
		if resp, got, err := rc.answer("GET"); err != nil || resp.StatusCode != 200 || got != want {
			t.Fatalf("pipelined: %v %v %q, want %q", err, resp, got, want)
		}
	}
	rc.send("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _, err := rc.answer("GET"); err != nil || resp.StatusCode != 503 {
		t.Fatalf("no target: %v %v, want 503", err, resp)
	}
	rc.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _, err := rc.answer("GET"); err != nil || resp.StatusCode != 504 {
		t.Fatalf("slow target: %v %v, want 504", err, resp)
	}
	rc.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	if resp, got, err := rc.answer("POST"); err != nil || resp.StatusCode != 200 || got != "POST /up hi" {
		t.Fatalf("handoff: %v %v %q", err, resp, got)
	}
}

// panicInst panics when a request goes to a target of group "boom".
type panicInst struct{}

func (panicInst) Request()                    { panic("instrument broke") }
func (panicInst) Response(int, time.Duration) {}
func (panicInst) Failed(time.Duration)        {}
func (panicInst) Opened()                     {}
func (panicInst) Closed()                     {}

// TestEventLoopSurvivesPanic: a panic while serving one request closes
// that client's connection only; the loop goes on serving the others and
// accepting new ones.
func TestEventLoopSurvivesPanic(t *testing.T) {
	good := newBackend(t, "good", nil)
	boom := newBackend(t, "boom", nil)
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = []model.Target{good.target("a")}
		st.TargetGroups = append(st.TargetGroups, model.TargetGroup{Name: "boom", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{boom.target("a")}})
		l := &st.LoadBalancers[0].Listeners[0]
		l.Rules = []model.Rule{{Priority: 1, Conditions: model.Conditions{Path: []string{"/boom"}},
			Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "boom"}}}}}}
	})
	e.p.cfg.Instruments = func(group string, _ netip.AddrPort) Instruments {
		if group == "boom" {
			return panicInst{}
		}
		return nil
	}
	// Several open connections, so that some share the victim's loop.
	var others []*rawConn
	for range 8 {
		rc := e.dialRaw(t)
		rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, got, err := rc.answer("GET"); err != nil || got != "good" {
			t.Fatalf("before the panic: %v %q", err, got)
		}
		others = append(others, rc)
	}
	victim := e.dialRaw(t)
	victim.send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := victim.br.ReadByte(); err == nil {
		t.Fatal("the connection whose request panicked got an answer")
	}
	// The panic came after Begin: closing the connection gives the counts
	// back, or the target would look busy (and never drain) for good.
	ep := e.p.reg.Group("boom").Find(boom.addr)
	if ep == nil {
		t.Fatal("no endpoint for the boom target")
	}
	if a, n := ep.Active(), inflight(e, boom); a != 0 || n != 0 {
		t.Errorf("after the panic: endpoint Active() = %d, backend inflight = %d, want 0 and 0", a, n)
	}
	for i, rc := range others {
		rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, got, err := rc.answer("GET"); err != nil || got != "good" {
			t.Fatalf("connection %d after the panic: %v %q", i, err, got)
		}
	}
	for range 2 * runtime.GOMAXPROCS(0) {
		rc := e.dialRaw(t)
		rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, got, err := rc.answer("GET"); err != nil || got != "good" {
			t.Fatalf("a new connection after the panic: %v %q", err, got)
		}
	}
}
