package health

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// testClock is a clock that moves only when told, for MetricsOptions.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestHistBins checks the bin layout: bins grow with the value, their
// edges are where the documentation says, and every value in range is
// within 1/64 of its bin's midpoint.
func TestHistBins(t *testing.T) {
	if histBins != 1026 {
		t.Errorf("histBins = %d, want 1026", histBins)
	}
	for _, tt := range []struct {
		v    float64
		want int
	}{
		{-1, 0}, {0, 0}, {math.Nextafter(0x1p-20, 0), 0}, {0x1p-20, 1}, {1e-6, 2},
		{0x1p-20 * (1 + 1.0/32), 2}, {0.5, 1 + 19*32}, {1, 1 + 20*32},
		{math.Nextafter(4096, 0), 1024}, {4096, 1025}, {1e9, 1025},
	} {
		if got := histBin(tt.v); got != tt.want {
			t.Errorf("histBin(%g) = %d, want %d", tt.v, got, tt.want)
		}
	}
	const bound = 1.0 / 64
	worst := 0.0
	rng := rand.New(rand.NewPCG(1, 2))
	prev := 0
	for i := range 200_000 {
		// Log-uniform from 2^-20 to 2^12, in order, plus random ones.
		v := math.Exp2(-20 + 32*float64(i)/200_000)
		if b := histBin(v); b < prev {
			t.Fatalf("histBin(%g) = %d, below the previous value's %d", v, b, prev)
		} else {
			prev = b
		}
		for _, v := range []float64{v, math.Exp2(-20 + 32*rng.Float64())} {
			got := histBinValue(histBin(v))
			worst = max(worst, math.Abs(got-v)/v)
		}
	}
	if worst > bound {
		t.Errorf("worst relative error of a bin's midpoint = %.5f, want at most %.5f", worst, bound)
	}
	t.Logf("worst relative error: %.5f (bound %.5f)", worst, bound)
}

// TestMetricsRing checks the ring of time buckets directly: samples leave
// the window bucket by bucket, and leave the ring after Retention.
func TestMetricsRing(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Retention: 10 * time.Second, Resolution: time.Second, Now: clk.Now})
	sel := func(w time.Duration) *selector { return &selector{name: "c", window: w} }
	increase := func(w time.Duration) float64 {
		t.Helper()
		r, err := m.selectRange(sel(w), clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return r.increase
	}
	for range 10 {
		m.Add("c", nil, 1) // one a second, for 10 s
		clk.Advance(time.Second)
	}
	clk.Advance(-time.Second) // back to the 10th bucket
	for _, tt := range []struct {
		window time.Duration
		want   float64
	}{{time.Second, 1}, {1500 * time.Millisecond, 2}, {5 * time.Second, 5}, {10 * time.Second, 10}} {
		if got := increase(tt.window); got != tt.want {
			t.Errorf("increase over %v = %v, want %v", tt.window, got, tt.want)
		}
	}
	if _, err := m.selectRange(sel(11*time.Second), clk.Now()); err == nil {
		t.Errorf("selectRange over 11s with 10s retention: no error")
	}
	clk.Advance(3 * time.Second)
	if got := increase(10 * time.Second); got != 7 {
		t.Errorf("3s later: increase over 10s = %v, want 7", got)
	}
	m.Add("c", nil, 5) // moves the ring on by 3 buckets
	if got := increase(10 * time.Second); got != 12 {
		t.Errorf("after adding 5: increase over 10s = %v, want 12", got)
	}
	// A clock that goes back within the ring writes into the old bucket;
	// further back than the ring, the sample is dropped.
	clk.Advance(-5 * time.Second)
	m.Add("c", nil, 100)
	clk.Advance(-time.Hour)
	m.Add("c", nil, 1000)
	clk.Advance(time.Hour + 5*time.Second)
	if got := increase(10 * time.Second); got != 112 {
		t.Errorf("after adding in the past: increase over 10s = %v, want 112", got)
	}
	clk.Advance(time.Hour)
	r, err := m.selectRange(sel(10*time.Second), clk.Now())
	if err != nil || r.known || r.increase != 0 {
		t.Errorf("an hour later: selectRange = %+v, %v, want nothing known", r, err)
	}
}

// TestMetricsDropsBadValues checks that Add and Observe ignore what
// counters and histograms cannot hold.
func TestMetricsDropsBadValues(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	for _, v := range []float64{-1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		m.Add("c", nil, v)
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		m.Observe("h", nil, v)
	}
	for _, name := range []string{"c", "h"} {
		r, err := m.selectRange(&selector{name: name, window: time.Minute}, clk.Now())
		if err != nil || r.known {
			t.Errorf("selectRange(%s) = %+v, %v; want nothing recorded", name, r, err)
		}
	}
}

// TestMetricsLabels checks that a series is its name, kind and label set,
// whatever the map's order, and that an empty value is a missing label.
func TestMetricsLabels(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	m.Add("c", Labels{"a": "1", "b": "2"}, 1)
	m.Add("c", Labels{"b": "2", "a": "1"}, 1)
	m.Add("c", Labels{"b": "2", "a": "1", "z": ""}, 1)
	m.Add("c", Labels{"a": "1"}, 1)
	m.Add("c", Labels{"a": "12"}, 1)
	m.Observe("c", Labels{"a": "1"}, 1)
	m.mu.Lock()
	got := len(m.byName["c"])
	m.mu.Unlock()
	if got != 4 {
		t.Errorf("series named c = %d, want 4 ({a,b}, {a=1} counter and histogram, {a=12})", got)
	}
}

// TestMetricsSweep checks that a series idle for Retention is dropped when
// a new series is made, and that recording to it again makes it anew.
func TestMetricsSweep(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Retention: time.Minute, Now: clk.Now})
	m.Add("old", Labels{"a": "1"}, 1)
	m.Observe("busy", nil, 1)
	count := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		for _, ss := range m.byName {
			n += len(ss)
		}
		return n
	}
	for range 61 {
		clk.Advance(time.Second)
		m.Observe("busy", nil, 1)
	}
	m.Add("new", nil, 1) // sweeps
	if got := count(); got != 2 {
		t.Errorf("series after the sweep = %d, want 2 (busy, new)", got)
	}
	if s := m.lookup(m.hash(kindCounter, "old", Labels{"a": "1"}), kindCounter, "old", Labels{"a": "1"}); s != nil {
		t.Errorf("old series still in the index after the sweep")
	}
	m.Add("old", Labels{"a": "1"}, 3)
	r, err := m.selectRange(&selector{name: "old", window: time.Minute}, clk.Now())
	if err != nil || r.increase != 3 {
		t.Errorf("old series made anew: selectRange = %+v, %v, want increase 3", r, err)
	}
}

// TestMetricsConcurrent records from several goroutines into shared and
// own series while others read and new series come and go (sweeps), for
// the race detector, and checks that no sample is lost.
func TestMetricsConcurrent(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Retention: 2 * time.Second, Resolution: time.Second, Now: clk.Now})
	const workers, n = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := Labels{"worker": string(rune('a' + w))}
			for i := range n {
				m.Add("shared", nil, 1)
				m.Observe("lat", own, float64(i)/1000)
				if i%100 == 0 {
					m.Add("new", Labels{"i": string(rune('a' + i/100))}, 1) // makes series
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			if _, err := m.selectRange(&selector{name: "lat", window: time.Second}, clk.Now()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	r, err := m.selectRange(&selector{name: "shared", window: time.Second}, clk.Now())
	if err != nil || r.increase != workers*n {
		t.Errorf("shared counter: selectRange = %v, %v, want increase %d", r.increase, err, workers*n)
	}
	r, err = m.selectRange(&selector{name: "lat", window: time.Second}, clk.Now())
	if err != nil || r.count != workers*n || r.histograms != workers {
		t.Errorf("lat histograms: count %d over %d series, %v; want %d over %d", r.count, r.histograms, err, workers*n, workers)
	}
}

// TestMetricsConcurrentSweep records while the clock runs and series go
// idle, are swept and come back, for the race detector.
func TestMetricsConcurrentSweep(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Retention: 2 * time.Second, Resolution: time.Second, Now: clk.Now})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100 {
			clk.Advance(time.Second)
			if _, err := m.selectRange(&selector{name: "churn", window: time.Second}, clk.Now()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for w := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				// Each worker moves over its own labels, so that most series
				// go idle and are swept while others are made.
				m.Add("churn", Labels{"w": string(rune('a' + w)), "i": string(rune('a' + i/500))}, 1)
			}
		})
	}
	wg.Wait()
	m.Add("churn", Labels{"last": "1"}, 2)
	r, err := m.selectRange(&selector{name: "churn", matchers: []labelMatcher{{label: "last", op: tokAssign, value: "1"}}, window: time.Second}, clk.Now())
	if err != nil || r.increase != 2 {
		t.Errorf("after the churn: selectRange = %v, %v, want increase 2", r.increase, err)
	}
}

func TestNewMetricsPanics(t *testing.T) {
	for _, opt := range []MetricsOptions{
		{Retention: -time.Second},
		{Resolution: -time.Second},
		{Retention: time.Second, Resolution: time.Minute},
		{Retention: 24 * time.Hour, Resolution: time.Millisecond},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMetrics(%+v) did not panic", opt)
				}
			}()
			NewMetrics(opt)
		}()
	}
	if got := NewMetrics(MetricsOptions{}).Retention(); got != 10*time.Minute {
		t.Errorf("default Retention() = %v, want 10m", got)
	}
}

// BenchmarkObserve is the proxies' cost per response: an existing series,
// the real clock, latencies spread over a few dozen bins.
func BenchmarkObserve(b *testing.B) {
	m := NewMetrics(MetricsOptions{})
	labels := Labels{"target_group": "web", "target": "10.0.0.1:8080"}
	m.Observe("target_response_seconds", labels, 0.001)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		m.Observe("target_response_seconds", labels, 0.001*float64(1+i%200))
		i++
	}
}

// BenchmarkObserveParallel is BenchmarkObserve from every core into one
// series, the worst case for its lock.
func BenchmarkObserveParallel(b *testing.B) {
	m := NewMetrics(MetricsOptions{})
	labels := Labels{"target_group": "web", "target": "10.0.0.1:8080"}
	m.Observe("target_response_seconds", labels, 0.001)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Observe("target_response_seconds", labels, 0.001*float64(1+i%200))
			i++
		}
	})
}

// BenchmarkAdd is a counter increment on an existing series.
func BenchmarkAdd(b *testing.B) {
	m := NewMetrics(MetricsOptions{})
	labels := Labels{"target_group": "web", "code": "200"}
	m.Add("responses_total", labels, 1)
	b.ReportAllocs()
	for b.Loop() {
		m.Add("responses_total", labels, 1)
	}
}

// BenchmarkEvalP99 is one evaluation of a metric check: p99 over a minute
// of 1,000 samples a second in 4 series.
func BenchmarkEvalP99(b *testing.B) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 60 {
		for i := range 1000 {
			m.Observe("lat", Labels{"target_group": "web", "target": string(rune('a' + i%4))}, rng.ExpFloat64()/10)
		}
		clk.Advance(time.Second)
	}
	e, err := ParseExpr(`p99(lat{target_group="web"}[1m]) > 0.25`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(m, clk.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
