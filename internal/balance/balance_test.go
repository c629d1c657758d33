package balance_test

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// groupView builds a view of one target group "web" with targets
// 10.0.0.1…, weights as given (0 in weights means the default).
func groupView(algo model.Algorithm, slow time.Duration, weights ...int) *view.View {
	tg := model.TargetGroup{Name: "web", Protocol: model.ProtoHTTP, Port: 80, Algorithm: algo, SlowStart: model.Duration(slow)}
	for i, w := range weights {
		t := model.Target{Address: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Zone: "a"}
		if w > 0 {
			t.Weight = &w
		}
		tg.Targets = append(tg.Targets, t)
	}
	st := &model.State{TargetGroups: []model.TargetGroup{tg}}
	st.SetDefaults()
	return view.Build(1, st, state.NewSnapshot(0, nil), t0)
}

func counts(g *balance.Group, n int, h func(i int) balance.Hint) map[string]int {
	out := map[string]int{}
	for i := range n {
		out[g.Pick(h(i)).Addr.Addr().String()]++
	}
	return out
}

func noHint(int) balance.Hint { return balance.Hint{} }

func TestRoundRobinIsExactAndInOrder(t *testing.T) {
	g := balance.NewGroup("web", "a", 0)
	g.Update(groupView(model.RoundRobin, 0, 1, 1, 1), t0)
	var prev string
	for i := range 9 {
		a := g.Pick(balance.Hint{}).Addr.Addr().String()
		if a == prev {
			t.Fatalf("pick %d repeated %s: round robin must rotate", i, a)
		}
		prev = a
	}
	got := counts(g, 300, noHint)
	for a, n := range got {
		if n != 100 {
			t.Errorf("%s got %d of 300, want exactly 100", a, n)
		}
	}
}

func TestWeightedRoundRobinIsExactPerCycle(t *testing.T) {
	g := balance.NewGroup("web", "a", 0)
	g.Update(groupView(model.RoundRobin, 0, 1, 2, 3), t0)
	// The weights are kept in hundredths, so one cycle is 600 picks.
	got := counts(g, 600, noHint)
	want := map[string]int{"10.0.0.1": 100, "10.0.0.2": 200, "10.0.0.3": 300}
	for a, n := range want {
		if got[a] != n {
			t.Errorf("%s got %d of 600, want %d (%v)", a, got[a], n, got)
		}
	}
	// Interleaved, not in runs: within any 12 consecutive picks every
	// target appears.
	for start := 0; start < 60; start++ {
		seen := map[string]bool{}
		for range 12 {
			seen[g.Pick(balance.Hint{}).Addr.Addr().String()] = true
		}
		if len(seen) != 3 {
			t.Fatalf("12 consecutive picks reached only %v", seen)
		}
	}
}

func TestWeightedRandomShares(t *testing.T) {
	g := balance.NewGroup("web", "a", 0)
	g.Update(groupView(model.WeightedRandom, 0, 1, 2, 3), t0)
	const n = 60000
	got := counts(g, n, noHint)
	for i, w := range []int{1, 2, 3} {
		a := fmt.Sprintf("10.0.0.%d", i+1)
		want := float64(n) * float64(w) / 6
		// Five standard deviations of a binomial count.
		tol := 5 * math.Sqrt(want*(1-float64(w)/6))
		if math.Abs(float64(got[a])-want) > tol {
			t.Errorf("%s got %d, want %.0f ± %.0f", a, got[a], want, tol)
		}
	}
}

func TestLeastOutstandingPrefersIdlePerWeight(t *testing.T) {
	g := balance.NewGroup("web", "a", 0)
	g.Update(groupView(model.LeastOutstandingRequests, 0, 1, 1, 2), t0)
	eps := map[string]*balance.Endpoint{}
	for range 3 {
		ep := g.Pick(balance.Hint{})
		eps[ep.Addr.Addr().String()] = ep
	}
	// 10.0.0.1: 4 in flight, 10.0.0.2: 3, 10.0.0.3 (weight 2): 5 → 2.5 per weight.
	for a, n := range map[string]int{"10.0.0.1": 4, "10.0.0.2": 3, "10.0.0.3": 5} {
		for range n {
			eps[a].Begin()
		}
	}
	for range 5 {
		if got := g.Pick(balance.Hint{}).Addr.Addr().String(); got != "10.0.0.3" {
			t.Fatalf("picked %s, want 10.0.0.3 (fewest in flight per weight)", got)
		}
	}
	eps["10.0.0.2"].Done()
	eps["10.0.0.2"].Done()
	if got := g.Pick(balance.Hint{}).Addr.Addr().String(); got != "10.0.0.2" {
		t.Errorf("after 10.0.0.2 finished two, picked %s, want 10.0.0.2", got)
	}
	// Counts survive a new view.
	g.Update(groupView(model.LeastOutstandingRequests, 0, 1, 1, 2), t0.Add(time.Second))
	if got := g.Find(netip.MustParseAddrPort("10.0.0.1:80")).Active(); got != 4 {
		t.Errorf("in-flight count after a new view = %d, want 4", got)
	}
}

func TestConsistentHashIsStableAndMovesLittle(t *testing.T) {
	g := balance.NewGroup("web", "a", 0)
	g.Update(groupView(model.ConsistentHash, 0, 1, 1, 1, 1), t0)
	key := func(i int) balance.Hint {
		return balance.Hint{Key: balance.HashString(fmt.Sprint("user-", i)), HasKey: true}
	}
	before := make([]netip.AddrPort, 4000)
	for i := range before {
		before[i] = g.Pick(key(i)).Addr
		if again := g.Pick(key(i)).Addr; again != before[i] {
			t.Fatalf("key %d went to %s then %s", i, before[i], again)
		}
	}
	g.Update(groupView(model.ConsistentHash, 0, 1, 1, 1, 1, 1), t0)
	moved, elsewhere := 0, 0
	for i := range before {
		if after := g.Pick(key(i)).Addr; after != before[i] {
			moved++
			if after.Addr() != netip.MustParseAddr("10.0.0.5") {
				elsewhere++
			}
		}
	}
	// Maglev trades a little extra movement between old targets for even
	// spread; the paper measures it at a few percent of the slots.
	if elsewhere > len(before)/50 {
		t.Errorf("%d of %d keys moved between old targets, want under 2%%", elsewhere, len(before))
	}
	// Ideal: 1/5 of the keys move to the new target.
	if frac := float64(moved) / float64(len(before)); frac < 0.15 || frac > 0.25 {
		t.Errorf("%.3f of keys moved when a fifth target joined, want about 0.2", frac)
	}
	if g.Next(key(1), g.Pick(key(1))) == g.Pick(key(1)) {
		t.Error("Next returned the target it had to avoid")
	}
}

func TestMaglevWeightsAndDisruption(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	table, err := balance.Maglev(names, []int{1, 1, 1, 2}, 65537)
	if err != nil {
		t.Fatal(err)
	}
	slots := make([]int, 4)
	for _, i := range table {
		slots[i]++
	}
	for i, w := range []float64{0.2, 0.2, 0.2, 0.4} {
		if got := float64(slots[i]) / float64(len(table)); math.Abs(got-w) > 0.01 {
			t.Errorf("%s holds %.4f of the slots, want %.2f", names[i], got, w)
		}
	}
	// Removing one of n equal names: ideally exactly its 1/n of slots move.
	eq, _ := balance.Maglev(names, []int{1, 1, 1, 1}, 65537)
	less, _ := balance.Maglev(names[:3], []int{1, 1, 1}, 65537)
	moved := balance.Moved(eq, names, less, names[:3])
	if frac := float64(moved) / 65537; frac < 0.25 || frac > 0.30 {
		t.Errorf("removing 1 of 4 moved %.4f of slots, want about 0.25", frac)
	}
	for _, bad := range []struct {
		names   []string
		weights []int
		m       int
	}{
		{names, []int{1, 1, 1, 1}, 65536},
		{names, []int{1, 1, 1}, 65537},
		{[]string{"a", "a"}, []int{1, 1}, 13},
		{names, []int{0, 0, 0, 0}, 13},
	} {
		if _, err := balance.Maglev(bad.names, bad.weights, bad.m); err == nil {
			t.Errorf("Maglev(%v, %v, %d) did not fail", bad.names, bad.weights, bad.m)
		}
	}
}

func TestSlowStartRampsLinearly(t *testing.T) {
	g := balance.NewGroup("web", "a", 0)
	g.Update(groupView(model.RoundRobin, 0, 1, 1), t0.Add(-time.Hour))
	// A third target joins at t0 with a 100 s slow start; the others were
	// first seen an hour earlier, long past their ramp.
	v := groupView(model.RoundRobin, 100*time.Second, 1, 1, 1)
	share := func(now time.Time) float64 {
		g.Refresh(now)
		got := counts(g, 30000, noHint)
		return float64(got["10.0.0.3"]) / 30000
	}
	g.Update(v, t0)
	for _, c := range []struct {
		at   time.Duration
		want float64 // 0.1 + 0.9·age/100 of a full weight
	}{{0, 0.1 / 2.1}, {50 * time.Second, 0.55 / 2.55}, {100 * time.Second, 1.0 / 3}} {
		if got := share(t0.Add(c.at)); math.Abs(got-c.want) > 0.01 {
			t.Errorf("at +%v the new target got %.3f of picks, want %.3f", c.at, got, c.want)
		}
	}
}

func TestFailingOpenAndEmpty(t *testing.T) {
	v := groupView(model.RoundRobin, 0, 1, 1)
	h := map[state.Key]state.Status{}
	for _, tt := range v.TargetGroups["web"].Zones["a"].Targets {
		h[state.Key{Check: state.GroupCheck("web"), Target: tt.Addr}] = state.Status{Healthy: false, Reason: "refused"}
	}
	down := view.Build(2, v.State, state.NewSnapshot(1, h), t0)
	g := balance.NewGroup("web", "a", 0)
	g.Update(down, t0)
	if !g.FailingOpen() || g.Len() != 2 {
		t.Errorf("all unhealthy: FailingOpen %v, %d targets; want fail open to both", g.FailingOpen(), g.Len())
	}
	other := balance.NewGroup("gone", "a", 0)
	other.Update(down, t0)
	if other.Pick(balance.Hint{}) != nil || other.Next(balance.Hint{}, nil) != nil {
		t.Error("a group missing from the view picked a target")
	}
}

func TestRegistryKeepsEndpointsAcrossViews(t *testing.T) {
	r := balance.NewRegistry("a", 0)
	r.Update(groupView(model.RoundRobin, 0, 1, 1), t0)
	ep := r.Group("web").Pick(balance.Hint{})
	ep.Begin()
	r.Update(groupView(model.RoundRobin, 0, 1, 1), t0.Add(time.Second))
	if got := r.Group("web").Find(ep.Addr); got != ep || got.Active() != 1 {
		t.Errorf("endpoint after a new view: %p active %d; want the same endpoint with 1 in flight", got, got.Active())
	}
	r.Update(view.Build(3, &model.State{}, state.NewSnapshot(0, nil), t0), t0)
	if r.Group("web") != nil {
		t.Error("a group gone from the view is still in the registry")
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	for _, algo := range []model.Algorithm{model.RoundRobin, model.LeastOutstandingRequests, model.WeightedRandom, model.ConsistentHash} {
		g := balance.NewGroup("web", "a", 0)
		g.Update(groupView(algo, 0, 1, 2, 3), t0)
		h := balance.Hint{Key: 42, HasKey: true}
		if n := testing.AllocsPerRun(1000, func() { g.Pick(h).Begin() }); n != 0 {
			t.Errorf("%s: %.1f allocations per pick, want 0", algo, n)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, algo := range []model.Algorithm{model.RoundRobin, model.LeastOutstandingRequests, model.WeightedRandom, model.ConsistentHash} {
		b.Run(string(algo), func(b *testing.B) {
			g := balance.NewGroup("web", "a", 0)
			g.Update(groupView(algo, 0, 1, 2, 3, 1, 1, 1, 2, 2), t0)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var k uint64
				for pb.Next() {
					k++
					g.Pick(balance.Hint{Key: k, HasKey: true})
				}
			})
		})
	}
}

func BenchmarkMaglev1000(b *testing.B) {
	names := make([]string, 1000)
	weights := make([]int, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("10.0.%d.%d:80", i/250, i%250)
		weights[i] = 1
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := balance.Maglev(names, weights, balance.DefaultTableSize); err != nil {
			b.Fatal(err)
		}
	}
}
