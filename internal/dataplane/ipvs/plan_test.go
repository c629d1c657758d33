package ipvs

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard/switchboard/internal/dataplane"
)

func TestPlan(t *testing.T) {
	vip := serviceKey{Proto: protoTCP, Addr: aport("192.0.2.1:80")}
	other := serviceKey{Proto: protoUDP, Addr: aport("192.0.2.1:53")}
	foreign := serviceKey{Proto: protoTCP, Addr: aport("198.51.100.1:80")}
	t0 := epoch
	want := func(sched string, delay time.Duration, ds map[netip.AddrPort]dest) map[serviceKey]*service {
		return map[serviceKey]*service{vip: {Key: vip, Name: "front/tcp:80", Sched: sched, Delay: delay, Dests: ds}}
	}
	kern := func(k serviceKey, sched string, ds map[netip.AddrPort]dest) *kernelService {
		return &kernelService{Key: k, Sched: sched, Dests: ds}
	}
	owned := func(a netip.Addr) bool { return a == vip.Addr.Addr() }
	ab := dests(NAT, 1, "10.0.0.1:80", "10.0.0.2:80")

	for _, tt := range []struct {
		name      string
		kernel    []*kernelService
		want      map[serviceKey]*service
		drains    map[drainKey]time.Time
		delays    map[serviceKey]time.Duration
		now       time.Time
		wantOps   []string
		wantDrain map[drainKey]time.Time
	}{
		{
			name: "empty-kernel-adds-everything",
			want: want("wrr", time.Minute, ab),
			wantOps: []string{
				"add service tcp/192.0.2.1:80 wrr",
				"add real server tcp/192.0.2.1:80 10.0.0.1:80 w1 nat",
				"add real server tcp/192.0.2.1:80 10.0.0.2:80 w1 nat",
			},
		},
		{
			name:   "in-sync-changes-nothing",
			kernel: []*kernelService{kern(vip, "wrr", ab)},
			want:   want("wrr", time.Minute, ab),
		},
		{
			name:    "weight-and-method-updates",
			kernel:  []*kernelService{kern(vip, "wrr", ab)},
			want:    want("wrr", time.Minute, map[netip.AddrPort]dest{aport("10.0.0.1:80"): {Weight: 7}, aport("10.0.0.2:80"): {Weight: 1, Method: DirectRouting}}),
			wantOps: []string{"update real server tcp/192.0.2.1:80 10.0.0.1:80 w7 nat", "update real server tcp/192.0.2.1:80 10.0.0.2:80 w1 dr"},
		},
		{
			name:    "scheduler-change-updates-the-service",
			kernel:  []*kernelService{kern(vip, "rr", ab)},
			want:    want("mh", time.Minute, ab),
			wantOps: []string{"update service tcp/192.0.2.1:80 mh"},
		},
		{
			name:      "leaving-target-drains-at-weight-0",
			kernel:    []*kernelService{kern(vip, "wrr", ab)},
			want:      want("wrr", time.Minute, dests(NAT, 1, "10.0.0.1:80")),
			wantOps:   []string{"update real server tcp/192.0.2.1:80 10.0.0.2:80 w0 nat"},
			wantDrain: map[drainKey]time.Time{{vip, aport("10.0.0.2:80")}: t0.Add(time.Minute)},
		},
		{
			name:      "draining-target-waits-for-its-delay",
			kernel:    []*kernelService{kern(vip, "wrr", map[netip.AddrPort]dest{aport("10.0.0.1:80"): {Weight: 1}, aport("10.0.0.2:80"): {Weight: 0}})},
			want:      want("wrr", time.Minute, dests(NAT, 1, "10.0.0.1:80")),
			drains:    map[drainKey]time.Time{{vip, aport("10.0.0.2:80")}: t0.Add(time.Minute)},
			now:       t0.Add(59 * time.Second),
			wantDrain: map[drainKey]time.Time{{vip, aport("10.0.0.2:80")}: t0.Add(time.Minute)},
		},
		{
			name:    "drained-target-is-deleted-after-its-delay",
			kernel:  []*kernelService{kern(vip, "wrr", map[netip.AddrPort]dest{aport("10.0.0.1:80"): {Weight: 1}, aport("10.0.0.2:80"): {Weight: 0}})},
			want:    want("wrr", time.Minute, dests(NAT, 1, "10.0.0.1:80")),
			drains:  map[drainKey]time.Time{{vip, aport("10.0.0.2:80")}: t0.Add(time.Minute)},
			now:     t0.Add(time.Minute),
			wantOps: []string{"delete real server tcp/192.0.2.1:80 10.0.0.2:80"},
		},
		{
			name:    "zero-delay-deletes-at-once",
			kernel:  []*kernelService{kern(vip, "wrr", ab)},
			want:    want("wrr", 0, dests(NAT, 1, "10.0.0.1:80")),
			wantOps: []string{"delete real server tcp/192.0.2.1:80 10.0.0.2:80"},
		},
		{
			name:    "returning-target-gets-its-weight-back",
			kernel:  []*kernelService{kern(vip, "wrr", map[netip.AddrPort]dest{aport("10.0.0.1:80"): {Weight: 1}, aport("10.0.0.2:80"): {Weight: 0}})},
			want:    want("wrr", time.Minute, ab),
			drains:  map[drainKey]time.Time{{vip, aport("10.0.0.2:80")}: t0.Add(time.Minute)},
			wantOps: []string{"update real server tcp/192.0.2.1:80 10.0.0.2:80 w1 nat"},
		},
		{
			name:      "leaving-service-drains-whole-with-its-last-delay",
			kernel:    []*kernelService{kern(vip, "wrr", ab), kern(other, "rr", dests(NAT, 3, "10.0.0.9:53"))},
			want:      want("wrr", time.Minute, ab),
			delays:    map[serviceKey]time.Duration{other: 10 * time.Second},
			wantOps:   []string{"update real server udp/192.0.2.1:53 10.0.0.9:53 w0 nat"},
			wantDrain: map[drainKey]time.Time{{Svc: other}: t0.Add(10 * time.Second)},
		},
		{
			name:      "unknown-leaving-service-gets-the-default-delay",
			kernel:    []*kernelService{kern(other, "rr", dests(NAT, 0, "10.0.0.9:53"))},
			want:      map[serviceKey]*service{},
			wantDrain: map[drainKey]time.Time{{Svc: other}: t0.Add(defaultDelay)},
		},
		{
			name:    "drained-service-is-deleted",
			kernel:  []*kernelService{kern(other, "rr", dests(NAT, 0, "10.0.0.9:53"))},
			want:    map[serviceKey]*service{},
			drains:  map[drainKey]time.Time{{Svc: other}: t0.Add(10 * time.Second)},
			now:     t0.Add(11 * time.Second),
			wantOps: []string{"delete service udp/192.0.2.1:53"},
		},
		{
			name:   "foreign-services-are-left-alone",
			kernel: []*kernelService{kern(foreign, "rr", dests(DirectRouting, 1, "10.9.9.9:80"))},
			want:   map[serviceKey]*service{},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kernel := map[serviceKey]*kernelService{}
			for _, k := range tt.kernel {
				kernel[k.Key] = k
			}
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			if tt.delays == nil {
				tt.delays = map[serviceKey]time.Duration{}
			}
			ops, next := plan(kernel, tt.want, owned, tt.drains, tt.delays, now)
			var got []string
			for _, o := range ops {
				got = append(got, describe(o))
			}
			if diff := cmp.Diff(tt.wantOps, got); diff != "" {
				t.Errorf("plan() ops mismatch (-want +got):\n%s", diff)
			}
			if tt.wantDrain == nil {
				tt.wantDrain = map[drainKey]time.Time{}
			}
			if diff := cmp.Diff(tt.wantDrain, next); diff != "" {
				t.Errorf("plan() drains mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func describe(o op) string {
	s := o.Kind.String() + " " + o.Svc.String()
	switch o.Kind {
	case addService, setService:
		s += " " + o.Spec.Sched
	case addDest, setDest:
		s += fmt.Sprintf(" %s w%d %s", o.Addr, o.Dest.Weight, o.Dest.Method)
	case delDest:
		s += " " + o.Addr.String()
	}
	return s
}

func TestEarliest(t *testing.T) {
	if _, ok := earliest(nil); ok {
		t.Errorf("earliest(nil) found a deadline")
	}
	d := map[drainKey]time.Time{{Addr: aport("10.0.0.1:1")}: epoch.Add(time.Minute), {Addr: aport("10.0.0.2:1")}: epoch}
	if got, ok := earliest(d); !ok || !got.Equal(epoch) {
		t.Errorf("earliest() = %v, %v; want %v", got, ok, epoch)
	}
}

// TestRecord checks that the table the backend keeps follows each change as
// the kernel would, so that the next diff against it is empty.
func TestRecord(t *testing.T) {
	vip := serviceKey{Proto: protoTCP, Addr: aport("192.0.2.1:80")}
	want := map[serviceKey]*service{vip: {Key: vip, Sched: "mh", Flags: flagPersistent, Timeout: 60, Delay: time.Minute,
		Dests: map[netip.AddrPort]dest{aport("10.0.0.1:80"): {Weight: 3, Method: Tunnel}}}}
	owned := func(netip.Addr) bool { return true }
	for _, start := range []map[serviceKey]*kernelService{
		{},
		{vip: {Key: vip, Sched: "rr", Dests: dests(NAT, 1, "10.0.0.1:80", "10.0.0.2:80")}},
		{vip: {Key: vip, Sched: "rr"}, {Proto: protoUDP, Addr: aport("192.0.2.1:53")}: {Dests: dests(NAT, 0, "10.0.0.9:53")}},
	} {
		table := start
		for _, s := range table {
			if s.Dests == nil {
				s.Dests = map[netip.AddrPort]dest{}
			}
		}
		var drains map[drainKey]time.Time
		for round := range 3 { // a drain, then its end, then nothing
			ops, next := plan(table, want, owned, drains, map[serviceKey]time.Duration{}, epoch.Add(time.Duration(round)*time.Hour))
			for _, o := range ops {
				record(table, o)
			}
			drains = next
		}
		if ops, _ := plan(table, want, owned, drains, map[serviceKey]time.Duration{}, epoch.Add(5*time.Hour)); len(ops) != 0 || len(table) != 1 || len(drains) != 0 {
			var got []string
			for _, o := range ops {
				got = append(got, describe(o))
			}
			t.Errorf("after recording every change, plan() = %q with %d services and drains %v; want nothing left to do", got, len(table), drains)
		}
	}
}

func TestReport(t *testing.T) {
	vip := serviceKey{Proto: protoTCP, Addr: aport("192.0.2.1:80")}
	gone := serviceKey{Proto: protoUDP, Addr: aport("192.0.2.1:53")}
	want := map[serviceKey]*service{vip: {Key: vip, Name: "front/tcp:80", Dests: map[netip.AddrPort]dest{aport("10.0.0.10:80"): {Weight: 2}, aport("10.0.0.9:80"): {Weight: 1}}}}
	kernel := map[serviceKey]*kernelService{gone: {Key: gone, Dests: dests(NAT, 0, "10.0.0.5:53")}}
	drains := map[drainKey]time.Time{{vip, aport("10.0.0.1:80")}: epoch, {Svc: gone}: epoch}
	got := report(want, kernel, drains)
	wantReport := []dataplane.Service{
		{Name: "front/tcp:80", VIP: "192.0.2.1:80", Protocol: "tcp", Targets: []dataplane.WeightedTarget{{Addr: netip.MustParseAddrPort("10.0.0.1:80")}, {Addr: netip.MustParseAddrPort("10.0.0.9:80"), Weight: 1}, {Addr: netip.MustParseAddrPort("10.0.0.10:80"), Weight: 2}}},
		{Name: "draining", VIP: "192.0.2.1:53", Protocol: "udp", Targets: []dataplane.WeightedTarget{{Addr: netip.MustParseAddrPort("10.0.0.5:53")}}},
	}
	if diff := cmp.Diff(wantReport, got, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("report() mismatch (-want +got):\n%s", diff)
	}
}
