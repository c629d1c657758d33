package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// bigViews returns the views of a 1,000-target group behind one VIP with
// every target, and without target 500.
func bigViews(tb testing.TB, n int) (all, less *view.View) {
	var addrs []string
	for i := range n {
		addrs = append(addrs, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1))
	}
	full := group("big", model.ProtoTCP, 80, addrs...)
	full.DeregistrationDelay = ptr(model.Duration(0))
	for i := range full.Targets {
		full.Targets[i].Zone = "a"
	}
	part := full
	part.Targets = slices.Delete(slices.Clone(full.Targets), n/2, n/2+1)
	lbs := []model.LoadBalancer{balancer("front", []string{"a=192.0.2.50"}, "tcp:80>big")}
	return buildView(tb, 1, []model.TargetGroup{full}, lbs), buildView(tb, 2, []model.TargetGroup{part}, lbs)
}

// BenchmarkReconcileOneOf1000 is the userspace part of an Apply in which
// one target of 1,000 changed: translate the view, diff it against the
// table the backend holds, apply the one change to that table and build the
// report. The kernel's part (one netlink request) is measured in the guest
// by TestGuestSyncTime.
func BenchmarkReconcileOneOf1000(b *testing.B) {
	all, less := bigViews(b, 1000)
	want, _ := desired(all, Config{}, nil)
	table := map[serviceKey]*kernelService{}
	for k, s := range want {
		table[k] = &kernelService{Key: k, Sched: s.Sched, Dests: maps(s.Dests)}
	}
	owned := func(netip.Addr) bool { return true }
	delays := map[serviceKey]time.Duration{}
	views := []*view.View{less, all}
	i := 0 // views[i%2] differs from the table by one target, across runs
	for _, withReport := range []bool{false, true} {
		name := "translate+diff"
		if withReport {
			name = "translate+diff+report"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				want, _ := desired(views[i%2], Config{}, nil)
				ops, next := plan(table, want, owned, nil, delays, epoch)
				if len(ops) != 1 {
					b.Fatalf("plan() = %d ops, want 1", len(ops))
				}
				record(table, ops[0])
				if withReport {
					report(want, table, next)
				}
				i++
			}
		})
	}
}

func maps(m map[netip.AddrPort]dest) map[netip.AddrPort]dest {
	out := make(map[netip.AddrPort]dest, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
