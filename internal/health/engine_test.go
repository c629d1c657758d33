package health

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// The scheduler tests run in synctest bubbles with checkers that need no
// network, so that time is exact; the checkers themselves are tested against
// real servers in their own files, and TestEngineRealHTTP joins the two.

// switchable is a Checker whose answer the test sets; it records every call.
type switchable struct {
	healthy atomic.Bool
	delay   time.Duration // how long a probe takes
	mu      sync.Mutex
	calls   []time.Time
	running atomic.Int32
	maxRun  atomic.Int32
}

func (s *switchable) Check(ctx context.Context, t Target) Result {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		m := s.maxRun.Load()
		if n <= m || s.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, time.Now())
	s.mu.Unlock()
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return Result{Reason: "timeout"}
		}
	}
	if s.healthy.Load() {
		return Result{Healthy: true, Reason: "status 200"}
	}
	return Result{Reason: "status 503, want 200-399"}
}

func (s *switchable) callTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...)
}

// engineWith returns an engine whose every probe uses c.
func engineWith(c Checker) *Engine {
	return NewEngine(EngineConfig{
		NewChecker:       func(*model.Probe) (Checker, error) { return c, nil },
		NewMetricChecker: func(*model.HealthCheck, *Metrics, *http.Client) (Checker, error) { return c, nil },
	})
}

func dur(s string) model.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return model.Duration(d)
}

// oneCheck is a state with one http check named web.
func oneCheck(mut func(*model.HealthCheck)) *model.State {
	s := &model.State{HealthChecks: []model.HealthCheck{{
		Name: "web", Address: "127.0.0.1",
		Probe: model.Probe{Type: model.CheckHTTP, Interval: dur("1s"), HealthyThreshold: 2, UnhealthyThreshold: 3},
	}}}
	if mut != nil {
		mut(&s.HealthChecks[0])
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return s
}

// run starts e in the bubble and returns a stop function that waits for it.
func run(t *testing.T, e *Engine, s *model.State) func() {
	t.Helper()
	if err := e.Apply(s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	synctest.Wait()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
}

func status(e *Engine, check string) state.Status {
	st, _ := e.Snapshot().Get(state.Key{Check: check})
	return st
}

// after advances the bubble's clock by d and lets everything settle.
func after(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// settle lets the engine publish what has changed: snapshots are at most
// maxPublishGap apart.
func settle() { after(maxPublishGap) }

func TestThresholdsBothWays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		c.healthy.Store(true)
		e := engineWith(c)
		stop := run(t, e, oneCheck(nil))
		defer stop()

		if st := status(e, "web"); !st.Healthy || st.Observed {
			t.Fatalf("before the first probe: %+v, want healthy and not observed (as Route 53)", st)
		}
		after(time.Second) // the first probe is somewhere in the first interval
		if st := status(e, "web"); !st.Healthy || !st.Observed || st.Reason != "status 200" {
			t.Fatalf("after one good probe: %+v, want healthy, observed, status 200", st)
		}
		c.healthy.Store(false)
		for i := 1; i <= 3; i++ {
			after(time.Second)
			if got, want := status(e, "web").Healthy, i < 3; got != want {
				t.Fatalf("after %d failures: healthy = %v, want %v (unhealthy threshold 3)", i, got, want)
			}
		}
		if st := status(e, "web"); st.Reason != "status 503, want 200-399" || st.Word() != "unhealthy" {
			t.Errorf("after 3 failures: %+v, want the probe's reason", st)
		}
		c.healthy.Store(true)
		for i := 1; i <= 2; i++ {
			after(time.Second)
			if got, want := status(e, "web").Healthy, i == 2; got != want {
				t.Fatalf("after %d successes: healthy = %v, want %v (healthy threshold 2)", i, got, want)
			}
		}
	})
}

func TestInvertedDisabledInitial(t *testing.T) {
	for _, tt := range []struct {
		name        string
		mut         func(*model.HealthCheck)
		probeOK     bool
		wantBefore  bool
		wantAfter   bool
		wantProbing bool
	}{
		{name: "inverted/healthy-endpoint", mut: func(h *model.HealthCheck) { h.Inverted = true }, probeOK: true, wantBefore: false, wantAfter: false, wantProbing: true},
		{name: "inverted/failing-endpoint", mut: func(h *model.HealthCheck) { h.Inverted, h.UnhealthyThreshold = true, 1 }, probeOK: false, wantBefore: false, wantAfter: true, wantProbing: true},
		{name: "disabled/counts-healthy", mut: func(h *model.HealthCheck) { h.Disabled = true }, probeOK: false, wantBefore: true, wantAfter: true},
		{name: "disabled-and-inverted/still-healthy", mut: func(h *model.HealthCheck) { h.Disabled, h.Inverted = true, true }, probeOK: false, wantBefore: true, wantAfter: true},
		{name: "initial-unhealthy/until-proven", mut: func(h *model.HealthCheck) { h.InitialState, h.HealthyThreshold = model.Unhealthy, 1 }, probeOK: true, wantBefore: false, wantAfter: true, wantProbing: true},
		{name: "initial-unhealthy/threshold-2-needs-two", mut: func(h *model.HealthCheck) { h.InitialState = model.Unhealthy }, probeOK: true, wantBefore: false, wantAfter: false, wantProbing: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := &switchable{}
				c.healthy.Store(tt.probeOK)
				e := engineWith(c)
				stop := run(t, e, oneCheck(tt.mut))
				defer stop()
				if got := status(e, "web").Healthy; got != tt.wantBefore {
					t.Errorf("before probing: healthy = %v, want %v", got, tt.wantBefore)
				}
				after(time.Second)
				if got := status(e, "web").Healthy; got != tt.wantAfter {
					t.Errorf("after one probe: healthy = %v, want %v (%+v)", got, tt.wantAfter, status(e, "web"))
				}
				if probing := len(c.callTimes()) > 0; probing != tt.wantProbing {
					t.Errorf("probes made = %d, want probing %v", len(c.callTimes()), tt.wantProbing)
				}
			})
		})
	}
}

// TestCheckerQuorum is Route 53's rule: healthy when more than 18% of the
// checkers report healthy. Remote checkers report through Observe.
func TestCheckerQuorum(t *testing.T) {
	for _, tt := range []struct {
		name            string
		healthy, total  int
		percent         *int
		wantHealthy     bool
		wantReasonStart string
	}{
		{name: "2-of-10-is-20%", healthy: 2, total: 10, wantHealthy: true, wantReasonStart: "2 of 10 checkers healthy"},
		{name: "1-of-10-is-10%", healthy: 1, total: 10, wantHealthy: false},
		{name: "0-of-3", healthy: 0, total: 3, wantHealthy: false},
		{name: "1-of-5-is-20%", healthy: 1, total: 5, wantHealthy: true},
		{name: "1-of-6-is-16.7%", healthy: 1, total: 6, wantHealthy: false},
		{name: "majority-rule/2-of-4", healthy: 2, total: 4, percent: new(50), wantHealthy: false},
		{name: "majority-rule/3-of-4", healthy: 3, total: 4, percent: new(50), wantHealthy: true},
		{name: "any-rule/1-of-16", healthy: 1, total: 16, percent: new(0), wantHealthy: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := engineWith(&switchable{})
				stop := run(t, e, oneCheck(func(h *model.HealthCheck) {
					h.Disabled = false
					h.Interval = dur("300s") // the local probe stays out of the way
					h.UnhealthyThreshold, h.HealthyThreshold = 1, 1
					h.HealthyCheckerPercent = tt.percent
				}))
				defer stop()
				k := state.Key{Check: "web"}
				for i := range tt.total {
					ok := i < tt.healthy
					e.Observe(k, fmt.Sprintf("checker-%d", i), Result{Healthy: ok, Reason: map[bool]string{true: "status 200", false: "status 503"}[ok]}, time.Now())
				}
				synctest.Wait()
				d, _ := e.Detail(k) // current; a snapshot's reason is as of its publication
				st := d.Status
				if st.Healthy != tt.wantHealthy {
					t.Errorf("%d of %d checkers healthy: healthy = %v, want %v (%s)", tt.healthy, tt.total, st.Healthy, tt.wantHealthy, st.Reason)
				}
				if !strings.HasPrefix(st.Reason, tt.wantReasonStart) {
					t.Errorf("reason = %q, want it to start with %q", st.Reason, tt.wantReasonStart)
				}
				if len(d.Checkers) != tt.total {
					t.Errorf("Detail.Checkers = %d, want one per checker (%d)", len(d.Checkers), tt.total)
				}
			})
		})
	}
}

// TestCalculatedOverMixedChildren: a calculated check over an http check, a
// metric check, a disabled check and another calculated check.
func TestCalculatedOverMixedChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web, metric := &switchable{}, &switchable{}
		web.healthy.Store(true)
		metric.healthy.Store(true)
		e := NewEngine(EngineConfig{
			NewChecker:       func(*model.Probe) (Checker, error) { return web, nil },
			NewMetricChecker: func(*model.HealthCheck, *Metrics, *http.Client) (Checker, error) { return metric, nil },
		})
		s := &model.State{HealthChecks: []model.HealthCheck{
			{Name: "web", Address: "127.0.0.1", Probe: model.Probe{Type: model.CheckHTTP, Interval: dur("1s"), UnhealthyThreshold: 1, HealthyThreshold: 1}},
			{Name: "p99", Probe: model.Probe{Type: model.CheckMetric, Interval: dur("1s"), UnhealthyThreshold: 1, HealthyThreshold: 1}, Expression: "p99(x[1m]) > 0.25"},
			{Name: "legacy", Address: "127.0.0.2", Probe: model.Probe{Type: model.CheckTCP, Port: 22}, Disabled: true},
			{Name: "inner", Probe: model.Probe{Type: model.CheckCalculated}, Children: []string{"web", "p99"}, HealthThreshold: 2},
			{Name: "outer", Probe: model.Probe{Type: model.CheckCalculated}, Children: []string{"inner", "legacy", "web"}, HealthThreshold: 3},
			{Name: "not-outer", Probe: model.Probe{Type: model.CheckCalculated}, Children: []string{"outer"}, HealthThreshold: 1, Inverted: true},
		}}
		s.SetDefaults()
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		stop := run(t, e, s)
		defer stop()
		after(time.Second)
		check := func(when string, want map[string]bool) {
			t.Helper()
			for name, w := range want {
				if got := status(e, name); got.Healthy != w {
					t.Errorf("%s: %s healthy = %v, want %v (%s)", when, name, got.Healthy, w, got.Reason)
				}
			}
		}
		check("all healthy", map[string]bool{"inner": true, "outer": true, "not-outer": false})
		if r := status(e, "outer").Reason; r != "3 of 3 children healthy, need 3" {
			t.Errorf("outer reason = %q", r)
		}
		metric.healthy.Store(false)
		after(time.Second)
		check("metric unhealthy", map[string]bool{"p99": false, "inner": false, "outer": false, "not-outer": true})
		metric.healthy.Store(true)
		after(time.Second)
		check("recovered", map[string]bool{"inner": true, "outer": true, "not-outer": false})
	})
}

// TestSpreadAndNoOverlap: 1,000 checks at 1 s start spread over the
// interval, and a probe slower than its interval skips ticks instead of
// piling up.
func TestSpreadAndNoOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		c.healthy.Store(true)
		e := engineWith(c)
		s := &model.State{}
		for i := range 1000 {
			s.HealthChecks = append(s.HealthChecks, model.HealthCheck{Name: fmt.Sprintf("c%d", i), Address: "127.0.0.1", Probe: model.Probe{Type: model.CheckHTTP, Interval: dur("1s")}})
		}
		s.SetDefaults()
		start := time.Now()
		stop := run(t, e, s)
		after(time.Second)
		stop()
		var buckets [10]int
		for _, at := range c.callTimes() {
			off := at.Sub(start)
			if off < 0 || off >= time.Second {
				t.Fatalf("a first probe at +%v, outside the first interval", off)
			}
			buckets[off*10/time.Second]++
		}
		for i, n := range buckets {
			if n < 70 || n > 130 { // 100 expected per 100 ms; FNV spreads evenly
				t.Errorf("start offsets %d00–%d99 ms: %d probes, want about 100 (histogram %v)", i, i, n, buckets)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{delay: 2500 * time.Millisecond}
		c.healthy.Store(true)
		e := engineWith(c)
		stop := run(t, e, oneCheck(func(h *model.HealthCheck) { h.Interval, h.Timeout = dur("1s"), dur("900ms") }))
		// A checker slower than the timeout is cut off by it: one probe per tick.
		after(10 * time.Second)
		stop()
		if m := c.maxRun.Load(); m != 1 {
			t.Errorf("at most %d probes of one key ran at once, want 1", m)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		slow := &blocking{release: make(chan struct{})}
		e := engineWith(slow)
		stop := run(t, e, oneCheck(func(h *model.HealthCheck) { h.Interval, h.Timeout = dur("1s"), dur("500ms") }))
		after(time.Second) // the first probe is now blocked, ignoring its timeout
		after(3 * time.Second)
		close(slow.release)
		synctest.Wait()
		after(time.Second)
		stop()
		if got := e.Skipped(); got < 2 {
			t.Errorf("Skipped = %d after a probe overran 3 ticks, want at least 2", got)
		}
		if m := slow.maxRun.Load(); m != 1 {
			t.Errorf("at most %d probes ran at once, want 1", m)
		}
	})
}

// blocking is a misbehaving checker that ignores ctx until released.
type blocking struct {
	release chan struct{}
	running atomic.Int32
	maxRun  atomic.Int32
}

func (b *blocking) Check(ctx context.Context, t Target) Result {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	if n > b.maxRun.Load() {
		b.maxRun.Store(n)
	}
	<-b.release
	return Result{Healthy: true, Reason: "late"}
}

// groupState is a target group of n targets in zone a with a tcp probe.
func groupState(n int, od *model.OutlierDetection) *model.State {
	s := &model.State{Zones: []model.Zone{{Name: "a"}}}
	tg := model.TargetGroup{Name: "web", Protocol: model.ProtoTCP, Port: 8080, OutlierDetection: od,
		HealthCheck: &model.Probe{Interval: dur("10s"), HealthyThreshold: 1, UnhealthyThreshold: 1}}
	for i := range n {
		tg.Targets = append(tg.Targets, model.Target{Address: netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}), Zone: "a"})
	}
	s.TargetGroups = []model.TargetGroup{tg}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return s
}

func targetKey(i int) state.Key {
	return state.Key{Check: state.GroupCheck("web"), Target: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}), 8080)}
}

// TestPassiveEjection: consecutive failures of live traffic eject a target on
// the very report that reaches the threshold, for a time that grows with each
// ejection, never more than the group's share at once.
func TestPassiveEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		c.healthy.Store(true)
		e := engineWith(c)
		stop := run(t, e, groupState(4, &model.OutlierDetection{ConsecutiveFailures: 3, BaseEjection: dur("30s"), MaxEjection: dur("75s")}))
		defer stop()
		target := targetKey(0).Target
		ejected := func() bool {
			settle()
			st, _ := e.Snapshot().Get(targetKey(0))
			return st.Ejected && !st.Healthy
		}
		e.Report("web", target, Failure, "status 502")
		e.Report("web", target, Failure, "status 502")
		e.Report("web", target, Success, "")
		e.Report("web", target, Failure, "reset")
		e.Report("web", target, Failure, "reset")
		if ejected() {
			t.Fatal("ejected after a success broke the run of failures")
		}
		e.Report("web", target, Failure, "status 502")
		if !ejected() {
			t.Fatal("not ejected on the third consecutive failure")
		}
		st, _ := e.Snapshot().Get(targetKey(0))
		if want := "ejected for 30s after 3 consecutive failures of live traffic (last: status 502)"; st.Reason != want {
			t.Errorf("reason = %q, want %q", st.Reason, want)
		}
		for i, want := range []time.Duration{30 * time.Second, 60 * time.Second, 75 * time.Second} {
			if i > 0 {
				for range 3 {
					e.Report("web", target, Failure, "timeout")
				}
				if !ejected() {
					t.Fatalf("ejection %d did not happen", i+1)
				}
			}
			after(want - time.Second)
			if !ejected() {
				t.Fatalf("ejection %d ended before %v", i+1, want)
			}
			after(time.Second)
			if ejected() {
				t.Fatalf("ejection %d lasted longer than %v (base 30s × %d, max 75s)", i+1, want, i+1)
			}
		}
		// Healthy for longer than max_ejection: the next ejection is short again.
		after(2 * time.Minute)
		for range 3 {
			e.Report("web", target, Failure, "timeout")
		}
		after(30 * time.Second)
		if ejected() {
			t.Error("after a long healthy spell the ejection did not start again from 30s")
		}

		// At most 50% of 4 targets at once.
		for i := 1; i <= 3; i++ {
			for range 3 {
				e.Report("web", targetKey(i).Target, Failure, "5xx")
			}
		}
		synctest.Wait()
		n := 0
		e.Snapshot().Each(func(k state.Key, st state.Status) {
			if st.Ejected {
				n++
			}
		})
		if n != 2 {
			t.Errorf("%d of 4 targets ejected, want 2 (max_ejection_percent 50)", n)
		}
	})
}

// TestPassiveConnectFailureEjectsAtOnce: a refused connection means the
// target is not there; by default the first one ejects it, while other
// failures still need their run.
func TestPassiveConnectFailureEjectsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := engineWith(&switchable{})
		stop := run(t, e, groupState(4, nil)) // defaults: 5 failures, 1 connect failure
		defer stop()
		for range 4 {
			e.Report("web", targetKey(1).Target, Failure, "status 503")
		}
		e.Report("web", targetKey(0).Target, ConnectFailure, "connect 127.0.0.10:8080: connection refused")
		// No synctest.Wait: the ejection must be in force when Report returns.
		d, _ := e.Detail(targetKey(0))
		if !d.Status.Ejected || d.Status.Reason != "ejected for 30s after 1 consecutive connect failures of live traffic (last: connect 127.0.0.10:8080: connection refused)" {
			t.Errorf("after one connect failure: %+v, want ejected at once", d.Status)
		}
		if d, _ := e.Detail(targetKey(1)); d.Status.Ejected {
			t.Error("ejected after 4 request failures, want 5")
		}
	})
}

func TestPassiveOffAndUnknownTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := engineWith(&switchable{})
		stop := run(t, e, groupState(2, &model.OutlierDetection{Disabled: true}))
		defer stop()
		for range 10 {
			e.Report("web", targetKey(0).Target, Failure, "reset")
			e.Report("nope", targetKey(0).Target, Failure, "reset")
			e.Report("web", netip.MustParseAddrPort("127.0.0.99:1"), Failure, "reset")
		}
		synctest.Wait()
		if st, _ := e.Snapshot().Get(targetKey(0)); st.Ejected {
			t.Error("a group with outlier detection disabled ejected a target")
		}
	})
}

// TestApplyKeepsState: re-applying the same state keeps probe state;
// removing a target removes its status; events report transitions.
func TestApplyKeepsStateAndEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		e := engineWith(c)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := e.Events(ctx)
		stop := run(t, e, groupState(3, nil))
		defer stop()
		snaps := e.Subscribe(ctx)
		<-snaps
		after(10 * time.Second)
		for i := range 3 {
			if st, _ := e.Snapshot().Get(targetKey(i)); st.Healthy {
				t.Fatalf("target %d healthy after a failing probe with threshold 1", i)
			}
		}
		select {
		case s := <-snaps:
			if st, _ := s.Get(targetKey(0)); st.Healthy {
				t.Error("subscribed snapshot still shows the target healthy")
			}
		default:
			t.Error("no snapshot published after transitions")
		}
		var got []string
		for len(events) > 0 {
			ev := <-events
			if ev.Previous.Healthy != ev.Status.Healthy {
				got = append(got, ev.Key.Target.String()+" "+ev.Status.Word())
			}
		}
		if len(got) != 3 {
			t.Errorf("transition events = %v, want one per target", got)
		}
		if err := e.Apply(groupState(3, nil)); err != nil {
			t.Fatal(err)
		}
		settle()
		if st, _ := e.Snapshot().Get(targetKey(0)); st.Healthy || !st.Observed {
			t.Errorf("after re-applying the same state: %+v, want the state kept (unhealthy, observed)", st)
		}
		if err := e.Apply(groupState(2, nil)); err != nil {
			t.Fatal(err)
		}
		settle()
		if _, ok := e.Snapshot().Get(targetKey(2)); ok {
			t.Error("a removed target still has a status")
		}
		if e.Snapshot().Len() != 2 {
			t.Errorf("snapshot has %d statuses, want 2", e.Snapshot().Len())
		}
	})
}

// TestInsufficientData maps a metric check's "no data" as configured.
func TestInsufficientData(t *testing.T) {
	for _, tt := range []struct {
		mode model.InsufficientData
		want []bool // healthy after: data true, no data, no data
	}{
		{model.InsufficientHealthy, []bool{false, true, true}},
		{model.InsufficientUnhealthy, []bool{true, false, false}},
		{model.InsufficientLastKnown, []bool{false, false, false}},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nd := &scripted{}
				e := engineWith(nd)
				s := &model.State{HealthChecks: []model.HealthCheck{{Name: "m", Probe: model.Probe{Type: model.CheckMetric, Interval: dur("1s"), HealthyThreshold: 1, UnhealthyThreshold: 1}, Expression: "x > 1", InsufficientData: tt.mode}}}
				if tt.mode == model.InsufficientUnhealthy {
					nd.script = []Result{{Healthy: true, Reason: "x > 1 is false"}, noData, noData}
				} else {
					nd.script = []Result{{Healthy: false, Reason: "x > 1 is true: 2 > 1"}, noData, noData}
				}
				s.SetDefaults()
				stop := run(t, e, s)
				defer stop()
				for i, want := range tt.want {
					after(time.Second)
					if got := status(e, "m").Healthy; got != want {
						t.Errorf("probe %d (%s): healthy = %v, want %v", i, nd.script[i].Reason, got, want)
					}
				}
			})
		})
	}
}

var noData = Result{Reason: "no data: nothing matched x"}

// scripted returns its results in order, then repeats the last.
type scripted struct {
	mu     sync.Mutex
	script []Result
	n      int
}

func (s *scripted) Check(context.Context, Target) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.script[min(s.n, len(s.script)-1)]
	s.n++
	return r
}

// TestLateFailureIsNotTheTargets: a failed probe that started more than half
// its timeout after it was due says more about this process than about the
// target, so it is counted as late and skipped, not observed; an on-time
// failure and a late success are observed.
func TestLateFailureIsNotTheTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{} // failing
		e := engineWith(c)
		stop := run(t, e, oneCheck(func(h *model.HealthCheck) {
			h.Interval, h.Timeout, h.UnhealthyThreshold = dur("300s"), dur("1s"), 1
		}))
		defer stop()
		k := state.Key{Check: "web"}
		e.mu.Lock()
		p := e.probes[k]
		e.mu.Unlock()
		probe := func(lateBy time.Duration) {
			e.mu.Lock()
			p.running = true
			e.mu.Unlock()
			e.probeOnce(p, time.Now().Add(-lateBy))
		}
		probe(600 * time.Millisecond)
		if d, _ := e.Detail(k); d.Status.Observed || e.Late() != 1 {
			t.Fatalf("after a late failure: observed %v, Late %d; want not observed, 1", d.Status.Observed, e.Late())
		}
		probe(400 * time.Millisecond)
		if d, _ := e.Detail(k); !d.Status.Observed || d.Status.Healthy {
			t.Fatalf("after a failure 400ms late (timeout 1s): %+v, want observed unhealthy", d.Status)
		}
		c.healthy.Store(true)
		probe(time.Second)
		if d, _ := e.Detail(k); len(d.History) != 2 {
			t.Errorf("a late success was not observed: history %d, want 2", len(d.History))
		}
	})
}

// settledStatus is k's status once the engine has published what changed.
func settledStatus(e *Engine, k state.Key) state.Status {
	settle()
	st, _ := e.Snapshot().Get(k)
	return st
}

// TestEjectionEndsWhenActiveChecksRecover: a target ejected on a refused
// connection stays out while its active check fails, and returns on the
// check's first pass after that, long before base_ejection; one whose check
// never failed stays out for the whole ejection (TestPassiveEjection).
func TestEjectionEndsWhenActiveChecksRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		c.healthy.Store(true)
		e := engineWith(c)
		stop := run(t, e, groupState(4, &model.OutlierDetection{BaseEjection: dur("5m"), MaxEjection: dur("10m")}))
		defer stop()
		status := func() state.Status { return settledStatus(e, targetKey(0)) }
		after(10 * time.Second) // the first active pass
		c.healthy.Store(false)
		e.Report("web", targetKey(0).Target, ConnectFailure, "connection refused")
		if st := status(); !st.Ejected {
			t.Fatalf("not ejected on a refused connection: %+v", st)
		}
		after(10 * time.Second) // the check fails too
		if st := status(); !st.Ejected || st.Healthy {
			t.Fatalf("after a failed check: %+v, want still ejected", st)
		}
		c.healthy.Store(true)
		after(10 * time.Second) // the check passes again: recovered
		if st := status(); st.Ejected || !st.Healthy {
			t.Errorf("after the check passed again: %+v, want the ejection over (it had 4m40s left)", st)
		}
	})
}

// TestEjectionEndsAfterOneFailedProbe: with unhealthy_threshold 2, an outage
// shorter than two probes never turns the check unhealthy, but the probe
// that failed during the ejection is enough: once the check has passed
// healthy_threshold times after it, the ejection ends, not before.
func TestEjectionEndsAfterOneFailedProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		c.healthy.Store(true)
		e := engineWith(c)
		s := groupState(4, &model.OutlierDetection{BaseEjection: dur("5m"), MaxEjection: dur("10m")})
		s.TargetGroups[0].HealthCheck.UnhealthyThreshold = 2
		s.TargetGroups[0].HealthCheck.HealthyThreshold = 2
		stop := run(t, e, s)
		defer stop()
		status := func() state.Status { return settledStatus(e, targetKey(0)) }
		after(10 * time.Second) // the first active pass
		after(10 * time.Second) // the second: healthy at threshold
		c.healthy.Store(false)
		e.Report("web", targetKey(0).Target, ConnectFailure, "connection refused")
		if st := status(); !st.Ejected {
			t.Fatalf("not ejected on a refused connection: %+v", st)
		}
		after(10 * time.Second) // one failed probe: below the threshold
		c.healthy.Store(true)
		after(10 * time.Second) // one pass: not yet healthy_threshold in a row
		if st := status(); !st.Ejected {
			t.Fatalf("after one pass following the failure: %+v, want still ejected", st)
		}
		after(10 * time.Second) // the second pass
		if st := status(); st.Ejected || !st.Healthy {
			t.Errorf("after two passes following the failure: %+v, want the ejection over", st)
		}
	})
}
