package httpproxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

func cookieOf(resp *http.Response, name string) string {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// TestLBCookieStickiness: the balancer's cookie keeps a client on one
// target; a cookie naming a target that is gone is replaced.
func TestLBCookieStickiness(t *testing.T) {
	bs := threeBackends(t, "a", "a", "a")
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = targetsOf(bs, "a", "a", "a")
		st.TargetGroups[0].Stickiness = &model.Stickiness{Type: model.StickyLBCookie, Duration: model.Duration(time.Hour)}
	})
	resp, first := e.get("/")
	c := cookieOf(resp, "swb_tg_web")
	if c == "" || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=3600") {
		t.Fatalf("first response sets %q, want swb_tg_web with Max-Age=3600", resp.Header.Get("Set-Cookie"))
	}
	if got := e.spread(12, "Cookie", c); got[first] != 12 {
		t.Errorf("with the cookie: %v, want all 12 to %s", got, first)
	}
	if got := e.spread(12); len(got) != 3 {
		t.Errorf("without the cookie: %v, want all three targets", got)
	}
	// The stuck target leaves: the cookie is ignored and replaced.
	var rest []*testBackend
	for _, b := range bs {
		if b.name != first {
			rest = append(rest, b)
		}
	}
	e.st.TargetGroups[0].Targets = targetsOf(rest, "a", "a")
	e.apply()
	resp, body := e.get("/", "Cookie", c)
	if body == first || cookieOf(resp, "swb_tg_web") == c || cookieOf(resp, "swb_tg_web") == "" {
		t.Errorf("cookie for a removed target went to %s with new cookie %q, want another target and a new cookie", body, cookieOf(resp, "swb_tg_web"))
	}
}

// TestAppCookieStickiness: when the application sets its cookie, the
// balancer adds its own beside it, and follows it while both come back.
func TestAppCookieStickiness(t *testing.T) {
	var bs []*testBackend
	for _, name := range []string{"a0", "a1", "a2"} {
		bs = append(bs, newBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				http.SetCookie(w, &http.Cookie{Name: "SESSION", Value: "s-" + name})
			}
			io.WriteString(w, name)
		}))
	}
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = targetsOf(bs, "a", "a", "a")
		st.TargetGroups[0].Stickiness = &model.Stickiness{Type: model.StickyAppCookie, CookieName: "SESSION", Duration: model.Duration(time.Hour)}
	})
	resp, _ := e.get("/")
	if cookieOf(resp, "swb_app_web") != "" {
		t.Error("the balancer set its cookie although the application did not set SESSION")
	}
	resp, who := e.get("/login")
	app, ours := cookieOf(resp, "SESSION"), cookieOf(resp, "swb_app_web")
	if app == "" || ours == "" {
		t.Fatalf("login set %q, want SESSION and swb_app_web", resp.Header["Set-Cookie"])
	}
	if got := e.spread(12, "Cookie", app+"; "+ours); got[who] != 12 {
		t.Errorf("with both cookies: %v, want all 12 to %s", got, who)
	}
	if got := e.spread(12, "Cookie", ours); len(got) != 3 {
		t.Errorf("with our cookie but not the application's: %v, want all three targets", got)
	}
}

// TestGroupStickinessAndWeights: a weighted forward spreads by weight, and
// group stickiness keeps a client on the group it first reached.
func TestGroupStickinessAndWeights(t *testing.T) {
	blue, green := newBackend(t, "blue", nil), newBackend(t, "green", nil)
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups = []model.TargetGroup{
			{Name: "blue", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{blue.target("a")}},
			{Name: "green", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{green.target("a")}},
		}
		st.LoadBalancers[0].Listeners[0].DefaultAction = model.Action{Forward: &model.Forward{
			TargetGroups: []model.WeightedTargetGroup{{Name: "blue", Weight: ptr(1)}, {Name: "green", Weight: ptr(3)}},
			Stickiness:   model.Duration(time.Hour),
		}}
	})
	got := e.spread(800)
	if share := float64(got["green"]) / 800; !near(share, 0.75, 0.06) {
		t.Errorf("weights 1:3 = %v, want about 200:600", got)
	}
	resp, first := e.get("/")
	c := ""
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, "swb_grp_") {
			c = ck.Name + "=" + ck.Value
		}
	}
	if c == "" {
		t.Fatalf("no group stickiness cookie in %q", resp.Header["Set-Cookie"])
	}
	if got := e.spread(40, "Cookie", c); got[first] != 40 {
		t.Errorf("with the group cookie: %v, want all 40 to %s", got, first)
	}
}

// TestDraining: a target that leaves the view finishes its in-flight
// request, gets no new ones, and its pooled connections are closed.
func TestDraining(t *testing.T) {
	release := make(chan struct{})
	var open atomic.Int32
	oldSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "old")
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "old")
	}))
	oldSrv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	oldSrv.Start()
	defer oldSrv.Close()
	oldAddr := netip.MustParseAddrPort(oldSrv.Listener.Addr().String())
	old := model.Target{Address: oldAddr.Addr(), Port: int(oldAddr.Port()), Zone: "a"}
	next := newBackend(t, "new", nil)
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = []model.Target{old}
		st.TargetGroups[0].DeregistrationDelay = ptr(model.Duration(time.Minute))
	})
	// Warm an idle pooled connection, then hold one request in flight.
	if resp, body := e.get("/"); body != "old" {
		t.Fatalf("warm-up = %d %q", resp.StatusCode, body)
	}
	var wg sync.WaitGroup
	var slowStatus, slowBody atomic.Value
	wg.Go(func() {
		resp, err := e.cli.Get(e.url("/slow"))
		if err != nil {
			slowStatus.Store(0)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slowStatus.Store(resp.StatusCode)
		slowBody.Store(string(b))
	})
	waitFor(t, func() bool { return inflight(e, &testBackend{addr: oldAddr}) == 1 })

	e.st.TargetGroups[0].Targets = []model.Target{next.target("a")}
	e.apply()
	if got := e.spread(10); got["new"] != 10 {
		t.Errorf("after deregistration: %v, want all 10 to the new target", got)
	}
	e.p.Refresh(t0.Add(time.Second)) // in flight: the pool stays, idle connections too
	if inflight(e, &testBackend{addr: oldAddr}) != 1 {
		t.Error("the draining target's pool was dropped with a request in flight")
	}
	close(release)
	wg.Wait()
	if slowStatus.Load() != 200 || slowBody.Load() != "old" {
		t.Errorf("in-flight request after deregistration = %v %v, want 200 old", slowStatus.Load(), slowBody.Load())
	}
	e.p.Refresh(t0.Add(2 * time.Second))
	waitFor(t, func() bool { return open.Load() == 0 })
}
