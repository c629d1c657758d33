package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// TestFastServer: what the fast path serves itself and what it hands to
// net/http, on raw connections so that the bytes are the test's.
func TestFastServer(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	})
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = []model.Target{b.target("a")}
		st.LoadBalancers[0].Listeners[0].Rules = []model.Rule{{Priority: 1,
			Conditions: model.Conditions{Headers: []model.HeaderMatch{{Name: "X-Env", Values: []string{"canary"}}}},
			Action:     fixedAction("canary")}}
	})
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	read := func(br *bufio.Reader, method string) (*http.Response, string) {
		t.Helper()
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}

	t.Run("pipelined", func(t *testing.T) {
		c, br := dial()
		io.WriteString(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
		for _, want := range []string{"GET /one ", "GET /two?q=1 "} {
			if _, body := read(br, "GET"); body != want {
				t.Errorf("pipelined answer %q, want %q", body, want)
			}
		}
	})
	t.Run("non-canonical-names", func(t *testing.T) {
		c, br := dial()
		io.WriteString(c, "GET / HTTP/1.1\r\nhost: x\r\nx-ENV: canary\r\n\r\n")
		if _, body := read(br, "GET"); body != "canary" {
			t.Errorf("header rule with a lower-case name = %q, want canary", body)
		}
	})
	t.Run("connection-close", func(t *testing.T) {
		c, br := dial()
		io.WriteString(c, "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, body := read(br, "GET")
		if !resp.Close || body != "GET /bye " {
			t.Errorf("Connection: close answered close=%v %q, want close and the body", resp.Close, body)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("after Connection: close, read = %v, want EOF", err)
		}
	})
	t.Run("hand-off-mid-connection", func(t *testing.T) {
		c, br := dial()
		io.WriteString(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := read(br, "GET"); body != "GET /first " {
			t.Fatalf("first answer %q", body)
		}
		io.WriteString(c, "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
		if _, body := read(br, "POST"); body != "POST /second hello" {
			t.Errorf("POST after a fast GET = %q, want POST /second hello", body)
		}
		io.WriteString(c, "GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := read(br, "GET"); body != "GET /third " {
			t.Errorf("GET after the hand-off = %q", body)
		}
	})
	t.Run("long-heads", func(t *testing.T) {
		c, br := dial()
		for _, n := range []int{1000, 3000, 7000, 20000} { // around the idle read (1 KiB) and the buffer (8 KiB)
			io.WriteString(c, "GET /long"+strconv.Itoa(n)+" HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("p", n)+"\r\n\r\n")
			if _, body := read(br, "GET"); body != "GET /long"+strconv.Itoa(n)+" " {
				t.Errorf("request with a %d-byte header = %q", n, body)
			}
		}
	})
	t.Run("bare-LF", func(t *testing.T) {
		c, br := dial()
		io.WriteString(c, "GET /lf HTTP/1.1\nHost: x\n\n")
		if _, body := read(br, "GET"); body != "GET /lf " {
			t.Errorf("request with bare LF line ends = %q", body)
		}
	})
	t.Run("escaped-target", func(t *testing.T) {
		c, br := dial()
		io.WriteString(c, "GET /a%20b?x=%41 HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := read(br, "GET"); body != "GET /a%20b?x=%41 " {
			t.Errorf("escaped target = %q", body)
		}
	})
	for _, tt := range []struct{ name, req string }{
		{"no-host", "GET / HTTP/1.1\r\n\r\n"},
		{"two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{"bad-header", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"},
		{"control-character", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"},
	} {
		t.Run("400/"+tt.name, func(t *testing.T) {
			c, br := dial()
			io.WriteString(c, tt.req)
			if resp, _ := read(br, "GET"); resp.StatusCode != 400 {
				t.Errorf("%q = %d, want 400 (from net/http)", tt.req, resp.StatusCode)
			}
		})
	}
	before := b.Hits()
	t.Run("head", func(t *testing.T) {
		c, br := dial()
		io.WriteString(c, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := read(br, "HEAD"); resp.StatusCode != 200 || body != "" {
			t.Errorf("HEAD = %d %q, want 200 and no body", resp.StatusCode, body)
		}
		if _, body := read(br, "GET"); !strings.HasPrefix(body, "GET /g") {
			t.Errorf("GET after HEAD = %q", body)
		}
	})
	if b.Hits()-before != 2 {
		t.Errorf("target saw %d requests for HEAD and GET, want 2", b.Hits()-before)
	}
}

// FuzzParseRequest: whatever the fast path's parser accepts, net/http
// accepts too and reads alike (method, target, host, every header); the
// fast path must never be more lenient than net/http.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a?b=c HTTP/1.1\r\nhost: x\r\nx-a: 1\r\nX-A: 2\r\nCookie: a=b; c=d\r\n\r\n",
		"HEAD /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: \t v \t\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		head, err := readHead(bufio.NewReaderSize(strings.NewReader(s), fastHeadMax))
		if err != nil {
			return
		}
		var r http.Request
		var u url.URL
		h := http.Header{}
		if parseRequest(head, &r, &u, h, make([]string, 0, 4)) != nil {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(head))))
		if err != nil {
			t.Fatalf("fast path accepted %q; net/http refused it: %v", head, err)
		}
		if r.Method != want.Method || r.RequestURI != want.RequestURI || r.Host != want.Host || r.URL.Path != want.URL.Path || r.URL.RawQuery != want.URL.RawQuery {
			t.Fatalf("%q: fast path read %s %s host %q, net/http %s %s host %q", head, r.Method, r.RequestURI, r.Host, want.Method, want.RequestURI, want.Host)
		}
		if len(h) != len(want.Header) {
			t.Fatalf("%q: fast path headers %v, net/http %v", head, h, want.Header)
		}
		for k, v := range want.Header {
			if strings.Join(h[k], "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("%q: header %s = %q, net/http %q", head, k, h[k], v)
			}
		}
	})
}

// TestShutdownCutsOff: Shutdown waits for a request in flight only until
// its context ends, then closes the client's connection and returns.
func TestShutdownCutsOff(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, func() bool { return b.Hits() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := e.p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stuck request = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v, want about 100ms", d)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the client's connection is still open after Shutdown")
	}
}
