package server

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/dataplane/nft"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/testutil/netns"
	"github.com/switchboard/switchboard/internal/view"
)

// BenchmarkChangeToKernel measures serve's whole path from a change to
// the kernel's forwarding table, for a group of 1,000 targets behind an
// nftables load balancer (NAT, 65,537 Maglev slots) in a namespace of its
// own:
//
//   - commit: a 1,001st target is registered (then deregistered) by a
//     store commit; timed from Commit's return (the change is durable)
//     through the store's watch, the health engine's apply, view.Build,
//     the publisher and the data plane's Apply, to the kernel
//     acknowledging the slots' transaction;
//   - health: target 17 turns unhealthy (then healthy) by its health
//     check's results; timed from the result reaching the engine through
//     its snapshot, view.Build and Apply, to the kernel.
//
// These are the same goroutines serve runs (buildViews, dataPlanes.Run,
// the health engine). The targets are loopback addresses so that the
// engine's own probes, one per target every 300 s, stay on this host.
//
//	go test -run '^$' -bench ChangeToKernel -benchtime 200x ./internal/server/
func BenchmarkChangeToKernel(b *testing.B) {
	for _, kind := range []string{"commit", "health"} {
		b.Run(kind, func(b *testing.B) { benchChangeToKernel(b, kind) })
	}
}

func benchChangeToKernel(b *testing.B, kind string) {
	netns.Require(b)
	netns.RequireCommand(b, "nft")
	ns := netns.New(b, "sync")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	dir := b.TempDir()
	srv, err := New(Config{ConfigPath: filepath.Join(dir, "unused.yaml"), DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "state.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	small, big := syncState(b, 1000), syncState(b, 1001)
	if _, err := st.Commit(ctx, store.Batch{State: small, Source: "bench"}); err != nil {
		b.Fatal(err)
	}

	be, err := nft.New(nft.Config{NetNS: "/var/run/netns/" + ns.Name})
	if err != nil {
		b.Fatal(err)
	}
	changed := make(chan dataplane.Report, 64)
	d := &dataPlanes{
		log:      srv.log,
		backends: map[model.DataPlaneBackend]dataplane.Backend{model.BackendNft: &reportingBackend{Backend: be, changed: changed}},
		probe:    func(model.DataPlaneBackend) error { return nil },
		reports:  map[model.DataPlaneBackend]dataplane.Report{},
		told:     map[string]string{},
	}
	done := make(chan struct{}, 3)
	go func() { srv.health.Run(ctx); done <- struct{}{} }()
	go func() { srv.buildViews(ctx, st); done <- struct{}{} }()
	go func() { d.Run(ctx, srv.pub); done <- struct{}{} }()
	defer func() {
		cancel()
		for range 3 {
			<-done
		}
	}()

	// The first view programs every slot; then wait for the engine's first
	// probes (refused on loopback, below the threshold) to settle.
	wait := func() dataplane.Report {
		select {
		case rep := <-changed:
			return rep
		case <-time.After(10 * time.Second):
			b.Fatal("the kernel table did not change within 10 s")
			return dataplane.Report{}
		}
	}
	wait()
	for quiet := time.After(500 * time.Millisecond); ; {
		select {
		case <-changed:
			continue
		case <-quiet:
		}
		break
	}

	key := state.Key{Check: state.GroupCheck("big"), Target: netip.AddrPortFrom(small.TargetGroups[0].Targets[17].Address, 1)}
	observe := func(ok bool) {
		// Two results: the threshold (and one refused probe of the
		// engine's own may already have counted).
		for range 2 {
			srv.health.Observe(key, "local", health.Result{Healthy: ok, Reason: "bench"}, time.Now())
		}
	}
	var took []time.Duration
	slots := 0
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		if kind == "commit" {
			s := big
			if i%2 == 0 {
				s = small
			}
			if _, err := st.Commit(ctx, store.Batch{State: s, Source: "bench"}); err != nil {
				b.Fatal(err)
			}
			start = time.Now()
		} else {
			observe(i%2 == 0)
		}
		rep := wait()
		took = append(took, time.Since(start))
		slots += rep.Added + rep.Updated + rep.Removed
	}
	slices.Sort(took)
	pct := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(took[len(took)-1])/float64(time.Millisecond), "max-ms")
	b.ReportMetric(float64(slots)/float64(len(took)), "slots/op")
}

// reportingBackend passes each Apply that changed the kernel's slots on.
type reportingBackend struct {
	dataplane.Backend
	changed chan<- dataplane.Report
}

func (r *reportingBackend) Apply(ctx context.Context, v *view.View) (dataplane.Report, error) {
	rep, err := r.Backend.Apply(ctx, v)
	if err == nil && rep.Added+rep.Updated+rep.Removed > 0 {
		r.changed <- rep
	}
	return rep, err
}

// syncState is a balancer with a tcp/80 listener (nftables, NAT) over a
// group of n loopback targets, probed every 300 s.
func syncState(b *testing.B, n int) *model.State {
	tg := model.TargetGroup{Name: "big", Protocol: model.ProtoTCP, Port: 1}
	for i := range n {
		tg.Targets = append(tg.Targets, model.Target{Address: netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(1 + i%250)}), Zone: "a"})
	}
	s := &model.State{
		Zones:        []model.Zone{{Name: "a"}},
		TargetGroups: []model.TargetGroup{tg},
		LoadBalancers: []model.LoadBalancer{{
			Name:  "edge",
			Nodes: []model.Node{{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("10.99.0.100")}}},
			Listeners: []model.Listener{{Protocol: model.ProtoTCP, Port: 80, DefaultAction: model.Action{
				Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "big"}}},
			}}},
			DataPlane: &model.DataPlane{Backend: model.BackendNft, Mode: model.ModeNAT},
		}},
	}
	s.SetDefaults()
	hc := s.TargetGroups[0].HealthCheck
	hc.Interval = model.Duration(300 * time.Second)
	hc.HealthyThreshold, hc.UnhealthyThreshold = 2, 2
	if err := s.Validate(); err != nil {
		b.Fatal(err)
	}
	return s
}
