package httpproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// backend is a real HTTP target on loopback that names itself in every
// answer (header X-Backend and the body).
type testBackend struct {
	name string
	srv  *httptest.Server
	addr netip.AddrPort
	mu   sync.Mutex
	hits int
	last *http.Request
}

func newBackend(t testing.TB, name string, h http.HandlerFunc) *testBackend {
	t.Helper()
	b := &testBackend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits++
		b.last = r
		b.mu.Unlock()
		w.Header().Set("X-Backend", name)
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(b.srv.Close)
	b.addr = netip.MustParseAddrPort(b.srv.Listener.Addr().String())
	return b
}

func (b *testBackend) Hits() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits
}

// target registers b in zone.
func (b *testBackend) target(zone string) model.Target {
	return model.Target{Address: b.addr.Addr(), Port: int(b.addr.Port()), Zone: zone}
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// deadAddr is a loopback address where nothing listens (connection refused).
func deadTarget(t testing.TB, zone string) model.Target {
	return model.Target{Address: netip.MustParseAddr("127.0.0.1"), Port: freePort(t), Zone: zone}
}

// recorder is a Reporter that keeps every report; the health engine's own
// handling of reports is tested in internal/health.
type recorder struct {
	mu   sync.Mutex
	got  []report
	next Reporter
}

type report struct {
	group   string
	target  netip.AddrPort
	outcome health.Outcome
}

func (r *recorder) Report(g string, a netip.AddrPort, o health.Outcome, reason string) {
	r.mu.Lock()
	r.got = append(r.got, report{g, a, o})
	r.mu.Unlock()
}

func (r *recorder) count(a netip.AddrPort, o health.Outcome) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.got {
		if x.target == a && x.outcome == o {
			n++
		}
	}
	return n
}

// env is a proxy with one http listener on loopback, built from a state the
// test shapes.
type env struct {
	t    testing.TB
	p    *Proxy
	rec  *recorder
	inst *instRecorder
	port int
	st   *model.State
	now  time.Time
	hs   map[state.Key]state.Status
	cli  *http.Client
	mu   sync.Mutex
}

// envOption changes the Config that newEnv gives New.
type envOption func(*Config)

// noEventLoop makes newEnv's proxy serve plain listeners with a goroutine
// per connection (Config.NoEventLoop) when on.
func noEventLoop(on bool) envOption { return func(c *Config) { c.NoEventLoop = on } }

func zones() []model.Zone {
	return []model.Zone{{Name: "a", Region: "r"}, {Name: "b", Region: "r"}}
}

// newEnv starts a proxy for a node in zone with one load balancer "lb" and
// an http listener whose default action forwards to group "web" (targets
// as given, protocol http) unless mut changes it. opts change the proxy's
// Config.
func newEnv(t testing.TB, zone string, mut func(st *model.State), opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, rec: &recorder{}, inst: &instRecorder{}, port: freePort(t), now: t0, hs: map[state.Key]state.Status{}}
	st := &model.State{
		Regions: []model.Region{{Name: "r"}},
		Zones:   zones(),
		TargetGroups: []model.TargetGroup{{
			Name: "web", Protocol: model.ProtoHTTP, Port: 80,
		}},
		LoadBalancers: []model.LoadBalancer{{
			Name:  "lb",
			Nodes: []model.Node{{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}},
			Listeners: []model.Listener{{
				Protocol: model.ProtoHTTP, Port: e.port, Address: ptr(netip.MustParseAddr("127.0.0.1")),
				DefaultAction: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "web"}}}},
			}},
		}},
	}
	if mut != nil {
		mut(st)
	}
	e.st = st
	cfg := Config{Zone: zone, Health: e.rec, Instruments: e.inst.For, Now: func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.now
	}}
	for _, o := range opts {
		o(&cfg)
	}
	e.p = New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.inst.checkClosed(t)
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	e.cli = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	e.apply()
	return e
}

func ptr[T any](v T) *T { return &v }

// apply validates the state and applies its view at e.now.
func (e *env) apply() {
	e.t.Helper()
	doc := &model.Document{State: *e.st}
	doc.SetDefaults()
	if err := doc.State.Validate(); err != nil {
		e.t.Fatalf("state is not valid: %v", err)
	}
	*e.st = doc.State
	e.mu.Lock()
	now := e.now
	e.mu.Unlock()
	v := view.Build(1, e.st, state.NewSnapshot(1, e.hs), now)
	if err := e.p.Apply(v); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setNow(t time.Time) {
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

func (e *env) url(path string) string { return "http://127.0.0.1:" + strconv.Itoa(e.port) + path }

// get sends a request and returns the response with its body read.
func (e *env) do(req *http.Request) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.cli.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

func (e *env) get(path string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.url(path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

// spread sends n GETs and counts answers by backend.
func (e *env) spread(n int, hdr ...string) map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for range n {
		resp, _ := e.get("/", hdr...)
		out[resp.Header.Get("X-Backend")+statusSuffix(resp.StatusCode)]++
	}
	return out
}

func statusSuffix(code int) string {
	if code == 200 {
		return ""
	}
	return fmt.Sprintf("!%d", code)
}

// setHealth marks target b of group "web" healthy or not.
func (e *env) setHealth(group string, a netip.AddrPort, healthy bool) {
	e.hs[state.Key{Check: state.GroupCheck(group), Target: a}] = state.Status{Healthy: healthy, Observed: true, Since: t0.Add(-time.Hour)}
}

func netipOf(t model.Target) netip.AddrPort { return netip.AddrPortFrom(t.Address, uint16(t.Port)) }

type atomicInt struct {
	mu sync.Mutex
	n  int
}

func (a *atomicInt) add() { a.mu.Lock(); a.n++; a.mu.Unlock() }
func (a *atomicInt) get() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// instRecorder hands out counting Instruments per group and target.
type instRecorder struct {
	mu sync.Mutex
	m  map[string]*countingInst
}

// countingInst counts what a target's instruments were told.
type countingInst struct {
	requests, opened, closed, failed atomic.Int64
	byStatus                         [6]atomic.Int64 // by status/100
}

func (r *instRecorder) For(group string, addr netip.AddrPort) Instruments { return r.get(group, addr) }

func (r *instRecorder) get(group string, addr netip.AddrPort) *countingInst {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*countingInst{}
	}
	k := group + "/" + addr.String()
	if r.m[k] == nil {
		r.m[k] = &countingInst{}
	}
	return r.m[k]
}

func (c *countingInst) Request() { c.requests.Add(1) }
func (c *countingInst) Response(status int, _ time.Duration) {
	if i := status / 100; i >= 0 && i < len(c.byStatus) {
		c.byStatus[i].Add(1)
	}
}
func (c *countingInst) Failed(time.Duration) { c.failed.Add(1) }
func (c *countingInst) Opened()              { c.opened.Add(1) }
func (c *countingInst) Closed()              { c.closed.Add(1) }

// checkClosed reports a target whose instruments saw more connections
// opened than closed: after Shutdown every target connection is closed.
func (r *instRecorder) checkClosed(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.m {
		if o, cl := c.opened.Load(), c.closed.Load(); o != cl {
			t.Errorf("after Shutdown, target %s: %d connections opened, %d closed; want as many closed", k, o, cl)
		}
	}
}
