//go:build linux

package nft_test

import (
	"context"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/dataplane/nft"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/testutil/netns"
	"github.com/switchboard/switchboard/internal/view"
)

// BenchmarkSyncOneTargetOf1000 measures the sync of one health change in a
// group of 1,000 targets: from Apply called with the new view to the kernel
// map changed (Apply returns after the kernel acknowledged the
// transaction). Iterations alternate between the view where all 1,000
// targets are healthy and the view where target 17 failed and a 1,001st
// joined, so each Apply rewrites about 2·65537/1000 slots. It reports the
// p50, p99 and maximum of Apply's duration and the slots written per Apply.
// The build variants also time view.Build from the new health snapshot,
// which is what a health change costs before Apply starts.
//
//	go test -run '^$' -bench SyncOneTargetOf1000 -benchtime 300x ./internal/dataplane/nft/
func BenchmarkSyncOneTargetOf1000(b *testing.B) {
	for _, bench := range []struct {
		name  string
		mode  model.DataPlaneMode
		build bool
	}{{"nat", model.ModeNAT, false}, {"dsr", model.ModeDSR, false}, {"nat+build", model.ModeNAT, true}} {
		mode := bench.mode
		b.Run(bench.name, func(b *testing.B) {
			ns := netns.New(b, "bench")
			netns.RequireCommand(b, "nft")
			ns.Exec(b, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
			ns.Exec(b, "ip", "link", "set", "eth0", "up")
			be, err := nft.New(nft.Config{NetNS: "/var/run/netns/" + ns.Name})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { be.Close() })
			hs, hh := bigState(b, mode, false)
			cs, ch := bigState(b, mode, true)
			healthy, changed := view.Build(1, hs, hh, time.Now()), view.Build(2, cs, ch, time.Now())
			ctx := context.Background()
			if _, err := be.Apply(ctx, healthy); err != nil {
				b.Fatal(err)
			}
			var took []time.Duration
			slots := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			i := 0
			for b.Loop() {
				v, st, h := healthy, hs, hh
				if i%2 == 0 {
					v, st, h = changed, cs, ch
				}
				i++
				start := time.Now()
				if bench.build {
					v = view.Build(uint64(i+2), st, h, time.Now())
				}
				rep, err := be.Apply(ctx, v)
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				slots += rep.Updated + rep.Added + rep.Removed
			}
			cpu := cpuTime() - cpu0
			slices.Sort(took)
			pct := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(took[len(took)-1])/float64(time.Millisecond), "max-ms")
			b.ReportMetric(float64(slots)/float64(len(took)), "slots/op")
			// CPU time (user and system: the kernel runs the netlink
			// transaction in our context) resists the noise of a shared machine.
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(len(took)), "cpu-ms/op")
		})
	}
}

// bigState is a balancer with one tcp/80 service over 1,000 targets, and
// their health; with change, target 17 is unhealthy and a 1,001st target
// is registered.
func bigState(b *testing.B, mode model.DataPlaneMode, change bool) (*model.State, *state.Snapshot) {
	tg := model.TargetGroup{Name: "big", Protocol: model.ProtoTCP, Port: 80}
	n := 1000
	if change {
		n++
	}
	for i := range n {
		tg.Targets = append(tg.Targets, model.Target{Address: netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)}), Zone: "a"})
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
			DataPlane: &model.DataPlane{Backend: model.BackendNft, Mode: mode, Interface: "eth0"},
		}},
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		b.Fatal(err)
	}
	statuses := map[state.Key]state.Status{}
	if change {
		ap := netip.AddrPortFrom(tg.Targets[17].Address, 80)
		statuses[state.Key{Check: state.GroupCheck("big"), Target: ap}] = state.Status{Observed: true, Reason: "bench"}
	}
	h := state.NewSnapshot(1, statuses)
	if got := len(view.Build(1, s, h, time.Now()).TargetGroups["big"].Zones["a"].Routable); got != 1000 {
		b.Fatalf("view routes %d targets", got)
	}
	return s, h
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
