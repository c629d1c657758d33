package httpproxy

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

func fixedAction(body string) model.Action {
	return model.Action{FixedResponse: &model.FixedResponse{Status: 200, Body: body}}
}

// TestConditions: every condition type, through a real listener; each rule
// answers with its own fixed body.
func TestConditions(t *testing.T) {
	e := newEnv(t, "", func(st *model.State) {
		l := &st.LoadBalancers[0].Listeners[0]
		rule := func(prio int, c model.Conditions, body string) {
			l.Rules = append(l.Rules, model.Rule{Priority: prio, Conditions: c, Action: fixedAction(body)})
		}
		// Out of priority order on purpose: /order must answer "first".
		rule(20, model.Conditions{Path: []string{"/order"}}, "second")
		rule(15, model.Conditions{Path: []string{"/order"}}, "first")
		rule(1, model.Conditions{Host: []string{"api.example.com"}}, "host-exact")
		rule(2, model.Conditions{Host: []string{"*.wild.test"}}, "host-wild")
		rule(3, model.Conditions{Path: []string{"/exact"}}, "path-exact")
		rule(4, model.Conditions{Path: []string{"/pre/*"}}, "path-prefix")
		rule(5, model.Conditions{Path: []string{"/img/*.png"}}, "path-glob")
		rule(6, model.Conditions{Headers: []model.HeaderMatch{{Name: "x-env", Values: []string{"canary", "beta-*"}}}}, "header")
		rule(7, model.Conditions{Methods: []string{"DELETE"}}, "method")
		rule(8, model.Conditions{Query: []model.QueryMatch{{Key: "v", Value: "2*"}}}, "query")
		rule(9, model.Conditions{Query: []model.QueryMatch{{Value: "anykey"}}}, "query-anykey")
		rule(10, model.Conditions{Path: []string{"/src"}, SourceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "cidr-other")
		rule(11, model.Conditions{Path: []string{"/src"}, SourceCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, "cidr-loopback")
		rule(12, model.Conditions{GRPC: &model.GRPCMatch{Service: "pkg.Svc", Method: "Get"}}, "grpc-method")
		rule(13, model.Conditions{GRPC: &model.GRPCMatch{Service: "pkg.Svc"}}, "grpc-service")
		rule(14, model.Conditions{Host: []string{"both.test"}, Path: []string{"/both"}}, "host-and-path")
		l.DefaultAction = model.Action{FixedResponse: &model.FixedResponse{Status: 404, Body: "default"}}
	})
	for _, tt := range []struct {
		name, method, path string
		hdr                []string
		want               string
	}{
		{name: "priority-order", path: "/order", want: "first"},
		{name: "host/exact", path: "/", hdr: []string{"Host", "API.example.com:8080"}, want: "host-exact"},
		{name: "host/wildcard", path: "/", hdr: []string{"Host", "x.wild.test"}, want: "host-wild"},
		{name: "host/wildcard-needs-label", path: "/", hdr: []string{"Host", "wild.test"}, want: "default"},
		{name: "path/exact", path: "/exact", want: "path-exact"},
		{name: "path/exact-not-prefix", path: "/exact/more", want: "default"},
		{name: "path/case-sensitive", path: "/EXACT", want: "default"},
		{name: "path/prefix", path: "/pre/a/b", want: "path-prefix"},
		{name: "path/glob", path: "/img/x/y.png", want: "path-glob"},
		{name: "path/glob-miss", path: "/img/x/y.gif", want: "default"},
		{name: "header/value", path: "/", hdr: []string{"X-Env", "Canary"}, want: "header"},
		{name: "header/wildcard", path: "/", hdr: []string{"X-Env", "beta-7"}, want: "header"},
		{name: "header/miss", path: "/", hdr: []string{"X-Env", "prod"}, want: "default"},
		{name: "method", method: "DELETE", path: "/", want: "method"},
		{name: "query/key-value", path: "/?a=1&v=21", want: "query"},
		{name: "query/miss", path: "/?v=3", want: "default"},
		{name: "query/any-key", path: "/?zz=anykey", want: "query-anykey"},
		{name: "source-cidr", path: "/src", want: "cidr-loopback"},
		{name: "grpc/method", method: "POST", path: "/pkg.Svc/Get", hdr: []string{"Content-Type", "application/grpc"}, want: "grpc-method"},
		{name: "grpc/service", method: "POST", path: "/pkg.Svc/List", hdr: []string{"Content-Type", "application/grpc+proto"}, want: "grpc-service"},
		{name: "grpc/not-grpc", method: "POST", path: "/pkg.Svc/Get", want: "default"},
		{name: "all-must-match", path: "/both", hdr: []string{"Host", "both.test"}, want: "host-and-path"},
		{name: "all-must-match/one-misses", path: "/both", hdr: []string{"Host", "other.test"}, want: "default"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.method
			if m == "" {
				m = "GET"
			}
			req, _ := http.NewRequest(m, e.url(tt.path), nil)
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				if tt.hdr[i] == "Host" {
					req.Host = tt.hdr[i+1]
				} else {
					req.Header.Set(tt.hdr[i], tt.hdr[i+1])
				}
			}
			_, body := e.do(req)
			if body != tt.want {
				t.Errorf("%s %s = %q, want %q", m, tt.path, body, tt.want)
			}
		})
	}
}

// TestRedirectAndFixed: redirect placeholders and statuses, and a fixed
// response's status, type and body.
func TestRedirectAndFixed(t *testing.T) {
	var port string
	e := newEnv(t, "", func(st *model.State) {
		l := &st.LoadBalancers[0].Listeners[0]
		port = strconv.Itoa(l.Port)
		l.Rules = []model.Rule{
			{Priority: 1, Conditions: model.Conditions{Path: []string{"/old/*"}}, Action: model.Action{Redirect: &model.Redirect{
				Status: 302, Host: "new.#{host}", Path: "/v2/#{path}", Query: ptr("#{query}&from=old")}}},
			{Priority: 2, Conditions: model.Conditions{Path: []string{"/secure"}}, Action: model.Action{Redirect: &model.Redirect{Protocol: "https", Port: "443"}}},
			{Priority: 3, Conditions: model.Conditions{Path: []string{"/teapot"}}, Action: model.Action{FixedResponse: &model.FixedResponse{
				Status: 418, ContentType: "application/json", Body: `{"short":"stout"}`}}},
		}
	})
	for _, tt := range []struct {
		name, path, host string
		status           int
		location         string
	}{
		{name: "placeholders", path: "/old/a/b?x=1", host: "site.test", status: 302, location: "http://new.site.test:" + port + "/v2/old/a/b?x=1&from=old"},
		{name: "defaults-to-https", path: "/secure?q=1", host: "site.test:" + port, status: 301, location: "https://site.test/secure?q=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := e.get(tt.path, "Host", tt.host)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
		})
	}
	resp, body := e.get("/teapot")
	if resp.StatusCode != 418 || resp.Header.Get("Content-Type") != "application/json" || body != `{"short":"stout"}` {
		t.Errorf("GET /teapot = %d %q %q, want 418 application/json {\"short\":\"stout\"}", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// TestForwardHeaders: what the target sees and what the client gets back.
func TestForwardHeaders(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Write([]byte("ok"))
	})
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })

	resp, _ := e.get("/p?q=1", "Host", "shop.test", "X-Forwarded-For", "203.0.113.7", "Connection", "X-Drop", "X-Drop", "1",
		"X-Request-Id", "abc-123", "Proxy-Authorization", "Basic eA==")
	b.mu.Lock()
	got := b.last
	b.mu.Unlock()
	checks := map[string]string{
		"X-Forwarded-For":     "203.0.113.7, 127.0.0.1",
		"X-Forwarded-Proto":   "http",
		"X-Forwarded-Port":    strconv.Itoa(e.port),
		"X-Request-Id":        "abc-123",
		"X-Drop":              "",
		"Proxy-Authorization": "",
	}
	for k, want := range checks {
		if v := got.Header.Get(k); v != want {
			t.Errorf("target saw %s = %q, want %q", k, v, want)
		}
	}
	if got.Host != "shop.test" || got.URL.RequestURI() != "/p?q=1" {
		t.Errorf("target saw host %q uri %q, want shop.test /p?q=1", got.Host, got.URL.RequestURI())
	}
	if resp.Header.Get("X-Request-Id") != "abc-123" || resp.Header.Get("X-Hop") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("client got X-Request-Id %q X-Hop %q Keep-Alive %q, want abc-123 and no hop-by-hop headers",
			resp.Header.Get("X-Request-Id"), resp.Header.Get("X-Hop"), resp.Header.Get("Keep-Alive"))
	}
	// Without (or with an absurd) request id the proxy makes one up.
	resp, _ = e.get("/", "X-Request-Id", strings.Repeat("x", 200))
	b.mu.Lock()
	seen := b.last.Header.Get("X-Request-Id")
	b.mu.Unlock()
	if len(seen) != 32 || resp.Header.Get("X-Request-Id") != seen {
		t.Errorf("made-up request id: target saw %q, client got %q; want the same 32 hex digits", seen, resp.Header.Get("X-Request-Id"))
	}
}

// TestListenersFollowView: a listener added to the view starts serving, one
// removed stops, and an existing one keeps its socket across views.
func TestListenersFollowView(t *testing.T) {
	e := newEnv(t, "", func(st *model.State) {
		st.LoadBalancers[0].Listeners[0].DefaultAction = fixedAction("one")
	})
	before := e.p.Addrs()
	second := freePort(t)
	e.st.LoadBalancers[0].Listeners = append(e.st.LoadBalancers[0].Listeners, model.Listener{
		Protocol: model.ProtoHTTP, Port: second, Address: ptr(netip.MustParseAddr("127.0.0.1")), DefaultAction: fixedAction("two")})
	e.apply()
	if _, body := e.get("/"); body != "one" {
		t.Errorf("first listener after a new view = %q, want one", body)
	}
	resp, err := e.cli.Get("http://127.0.0.1:" + strconv.Itoa(second) + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("second listener = %d, want 200", resp.StatusCode)
	}
	for k, a := range before {
		if e.p.Addrs()[k] != a {
			t.Errorf("listener %s was rebound", k)
		}
	}
	e.st.LoadBalancers[0].Listeners = e.st.LoadBalancers[0].Listeners[1:]
	e.apply()
	e.cli.Transport.(*http.Transport).CloseIdleConnections()
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.port))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}
