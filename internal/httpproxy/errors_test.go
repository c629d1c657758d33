package httpproxy

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
)

// resetBackend reads a request and then closes the connection without an
// answer: bytes were sent, so no retry is allowed.
func resetBackend(t *testing.T) (model.Target, func() int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomicInt
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				c.Read(buf)
				n.add()
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // RST
				}
				c.Close()
			}()
		}
	}()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	return model.Target{Address: ap.Addr(), Port: int(ap.Port()), Zone: "a"}, n.get
}

// TestErrors: 502 for refused, reset and garbage; 503 without routable
// targets; 504 past request_timeout; pages in HTML or JSON by Accept.
func TestErrors(t *testing.T) {
	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 4096))
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n\r\n"))
			c.Close()
		}
	}()
	gap := garbage.Addr().(*net.TCPAddr).AddrPort()
	reset, _ := resetBackend(t)
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	dead := deadTarget(t, "a")
	e := newEnv(t, "", func(st *model.State) {
		g := func(name string, ts ...model.Target) model.TargetGroup {
			return model.TargetGroup{Name: name, Protocol: model.ProtoHTTP, Port: 80, Targets: ts}
		}
		st.TargetGroups = []model.TargetGroup{
			g("refused", dead), g("reset", reset),
			g("garbage", model.Target{Address: gap.Addr(), Port: int(gap.Port()), Zone: "a"}),
			g("slow", slow.target("a")), g("empty"),
		}
		l := &st.LoadBalancers[0].Listeners[0]
		l.RequestTimeout = model.Duration(time.Second)
		for i, name := range []string{"refused", "reset", "garbage", "slow", "empty"} {
			l.Rules = append(l.Rules, model.Rule{Priority: i + 1, Conditions: model.Conditions{Path: []string{"/" + name}},
				Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: name}}}}})
		}
		l.DefaultAction = model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "empty"}}}}
	})
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/refused", 502}, {"/reset", 502}, {"/garbage", 502}, {"/empty", 503}, {"/slow", 504},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := e.get(tt.path)
			if resp.StatusCode != tt.status || !strings.Contains(body, "on our side") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("GET %s = %d %s %q, want %d with an HTML page that says the fault is on our side", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status)
			}
			resp, body = e.get(tt.path, "Accept", "application/json")
			var page struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal([]byte(body), &page); err != nil || page.Status != tt.status || page.Detail == "" {
				t.Errorf("GET %s with Accept JSON = %d %q (%v), want a JSON page with status %d", tt.path, resp.StatusCode, body, err, tt.status)
			}
		})
	}
	if n := e.rec.count(netipOf(dead), health.ConnectFailure); n == 0 {
		t.Error("no ConnectFailure reported for the refused target")
	}
	if n := e.rec.count(slow.addr, health.Failure); n == 0 {
		t.Error("no Failure reported for the target that timed out")
	}
}

// TestRetry: an idempotent request whose connection was refused goes to
// another target once; a POST does not, and neither does a request that
// reached a target that then reset.
func TestRetry(t *testing.T) {
	live := newBackend(t, "live", nil)
	dead := deadTarget(t, "a")
	reset, resets := resetBackend(t)
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = []model.Target{dead, live.target("a")}
		st.TargetGroups = append(st.TargetGroups, model.TargetGroup{Name: "flaky", Protocol: model.ProtoHTTP, Port: 80,
			Targets: []model.Target{reset, live.target("a")}})
		l := &st.LoadBalancers[0].Listeners[0]
		l.Rules = []model.Rule{{Priority: 1, Conditions: model.Conditions{Path: []string{"/flaky"}},
			Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "flaky"}}}}}}
	})
	// Round robin alternates, so of any two requests one picks the dead target first.
	for i := range 4 {
		if resp, body := e.get("/"); resp.StatusCode != 200 || body != "live" {
			t.Errorf("GET #%d = %d %q, want 200 from live after a retry", i, resp.StatusCode, body)
		}
	}
	if n := e.rec.count(netipOf(dead), health.ConnectFailure); n < 1 {
		t.Errorf("ConnectFailure reports for the dead target = %d, want at least 1 (each retried request makes one)", n)
	}
	failed := 0
	for range 4 {
		req, _ := http.NewRequest("POST", e.url("/"), strings.NewReader("x=1"))
		if resp, _ := e.do(req); resp.StatusCode == 502 {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("POSTs that failed = %d of 4, want 2 (never retried)", failed)
	}
	before := live.Hits()
	failed = 0
	for range 4 {
		if resp, _ := e.get("/flaky"); resp.StatusCode == 502 {
			failed++
		}
	}
	if failed != 2 || resets() != 2 || live.Hits()-before != 2 {
		t.Errorf("GET after bytes were sent: %d of 4 failed, %d reached the resetting target, %d the live one; want 2, 2, 2 (no retry)", failed, resets(), live.Hits()-before)
	}
}

// TestClientErrors: 413 for a body over the limit, 431 for an oversized
// header, 400 for a request that is not HTTP; none reaches the target.
func TestClientErrors(t *testing.T) {
	b := newBackend(t, "a", nil)
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	e.p.cfg.MaxBodyBytes = 1000
	req, _ := http.NewRequest("POST", e.url("/"), strings.NewReader(strings.Repeat("x", 2000)))
	if resp, body := e.do(req); resp.StatusCode != 413 || !strings.Contains(body, "too large") {
		t.Errorf("POST of 2000 bytes over a limit of 1000 = %d %q, want 413", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("POST", e.url("/"), strings.NewReader("small"))
	if resp, _ := e.do(req); resp.StatusCode != 200 {
		t.Errorf("POST under the limit = %d, want 200", resp.StatusCode)
	}
	if resp, _ := e.get("/", "X-Big", strings.Repeat("y", 128<<10)); resp.StatusCode != 431 {
		t.Errorf("128 KiB header = %d, want 431", resp.StatusCode)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("NOT HTTP AT ALL\r\n\r\n"))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 400") {
		t.Errorf("garbage request answered %q, want 400", buf[:n])
	}
	if b.Hits() != 1 {
		t.Errorf("target saw %d requests, want only the small POST", b.Hits())
	}
}
