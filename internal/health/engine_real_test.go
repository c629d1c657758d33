package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// TestEngineRealHTTP runs the engine with its real checkers against a real
// HTTP server on loopback: a target group's target goes unhealthy when its
// backend answers 503, and a named check of the same server's /db when that
// path does (a closed listener would free a port another parallel test may
// take), each seen as a transition event; then the target recovers.
func TestEngineRealHTTP(t *testing.T) {
	var failing, dbFailing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/db" && dbFailing.Load() {
			http.Error(w, "db down", http.StatusInternalServerError)
			return
		}
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	s := &model.State{
		Zones: []model.Zone{{Name: "a"}},
		HealthChecks: []model.HealthCheck{{Name: "db", Address: ap.Addr().String(),
			Probe: model.Probe{Type: model.CheckHTTP, Port: int(ap.Port()), Path: "/db", Interval: dur("100ms"), UnhealthyThreshold: 2, HealthyThreshold: 1}}},
		TargetGroups: []model.TargetGroup{{Name: "web", Protocol: model.ProtoHTTP, Port: int(ap.Port()),
			Targets:     []model.Target{{Address: ap.Addr(), Zone: "a"}},
			HealthCheck: &model.Probe{Path: "/healthz", Interval: dur("100ms"), UnhealthyThreshold: 2, HealthyThreshold: 2}}},
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(EngineConfig{Metrics: NewMetrics(MetricsOptions{})})
	if err := e.Apply(s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := e.Events(ctx)
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	web := state.Key{Check: state.GroupCheck("web"), Target: ap}
	db := state.Key{Check: "db"}
	// await returns the first event for k that makes its health want.
	await := func(k state.Key, want bool) state.Status {
		t.Helper()
		if d, _ := e.Detail(k); d.Status.Observed && d.Status.Healthy == want {
			return d.Status
		}
		deadline := time.After(20 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.Key == k && ev.Status.Observed && ev.Status.Healthy == want {
					return ev.Status
				}
			case <-deadline:
				d, _ := e.Detail(k)
				t.Fatalf("%v did not become healthy=%v within 20s; now %+v", k, want, d.Status)
			}
		}
	}
	await(web, true)
	failing.Store(true)
	if st := await(web, false); st.Reason != "status 503, want 200-399" {
		t.Errorf("web reason = %q, want the status and the expected range", st.Reason)
	}
	failing.Store(false)
	await(web, true)

	await(db, true)
	dbFailing.Store(true)
	if st := await(db, false); st.Reason != "status 500, want 200-399" {
		t.Errorf("db reason = %q, want the status", st.Reason)
	}
	if d, _ := e.Detail(db); len(d.History) < 3 || d.History[len(d.History)-1].Latency <= 0 {
		t.Errorf("db history = %+v, want the latest observations with latency", d.History)
	}
}
