package ipvs

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// svcWant is what a test expects of one desired service.
type svcWant struct {
	Name    string
	Sched   string
	Flags   uint32
	Timeout uint32
	Delay   time.Duration
	Dests   map[netip.AddrPort]dest
}

func dests(m Method, w int, addrs ...string) map[netip.AddrPort]dest {
	out := map[netip.AddrPort]dest{}
	for _, a := range addrs {
		out[aport(a)] = dest{Weight: w, Method: m}
	}
	return out
}

func TestDesired(t *testing.T) {
	web := func(opts ...func(*model.TargetGroup)) []model.TargetGroup {
		g := group("web", model.ProtoTCP, 8080, "10.0.1.1", "10.0.1.2", "10.0.2.1")
		for _, o := range opts {
			o(&g)
		}
		return []model.TargetGroup{g}
	}
	twoNodes := []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1", "b=192.0.2.2"}, "tcp:80>web")}
	oneNode := []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1"}, "tcp:80>web")}
	all := dests(NAT, 1, "10.0.1.1:8080", "10.0.1.2:8080", "10.0.2.1:8080")
	const day = 300 * time.Second

	for _, tt := range []struct {
		name         string
		groups       []model.TargetGroup
		lbs          []model.LoadBalancer
		down         []string
		cfg          Config
		local        []string // nil: every node
		want         map[string]svcWant
		wantProblems []string // substrings, in order
	}{
		{
			name:   "tcp/every-node-every-target",
			groups: web(),
			lbs:    twoNodes,
			want: map[string]svcWant{
				"tcp/192.0.2.1:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: all},
				"tcp/192.0.2.2:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: all},
			},
		},
		{
			name:   "local-node-only",
			groups: web(),
			lbs:    twoNodes,
			local:  []string{"192.0.2.2", "127.0.0.1"},
			want: map[string]svcWant{
				"tcp/192.0.2.2:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: all},
			},
		},
		{
			name:   "unhealthy-target-left-out",
			groups: web(),
			lbs:    oneNode,
			down:   []string{"10.0.1.2:8080"},
			cfg:    Config{Scheduler: "mh"},
			want: map[string]svcWant{
				"tcp/192.0.2.1:80": {Name: "front/tcp:80", Sched: "mh", Delay: day, Dests: dests(NAT, 1, "10.0.1.1:8080", "10.0.2.1:8080")},
			},
		},
		{
			name:   "cross-zone-off-routes-in-the-node's-zone",
			groups: web(func(g *model.TargetGroup) { g.CrossZone = ptr(false) }),
			lbs:    twoNodes,
			want: map[string]svcWant{
				"tcp/192.0.2.1:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: dests(NAT, 1, "10.0.1.1:8080", "10.0.1.2:8080")},
				"tcp/192.0.2.2:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: dests(NAT, 1, "10.0.2.1:8080")},
			},
		},
		{
			name: "weights-delay-and-source-ip-stickiness/weight-0-not-routable",
			groups: web(func(g *model.TargetGroup) {
				g.Targets[0].Weight = ptr(5)
				g.Targets[1].Weight = ptr(0)
				g.DeregistrationDelay = ptr(model.Duration(30 * time.Second))
				g.Stickiness = &model.Stickiness{Type: model.StickySourceIP}
			}),
			lbs: oneNode,
			want: map[string]svcWant{
				"tcp/192.0.2.1:80": {Name: "front/tcp:80", Sched: "wrr", Flags: flagPersistent, Timeout: 300, Delay: 30 * time.Second,
					Dests: map[netip.AddrPort]dest{aport("10.0.1.1:8080"): {Weight: 5}, aport("10.0.2.1:8080"): {Weight: 1}}},
			},
		},
		{
			name:   "udp-and-tcp-listeners-http-reported",
			groups: []model.TargetGroup{group("dns", model.ProtoUDP, 53, "10.0.1.9"), group("tcpdns", model.ProtoTCP, 53, "10.0.1.9"), group("site", model.ProtoHTTP, 80, "10.0.1.8")},
			lbs:    []model.LoadBalancer{balancer("ns", []string{"a=192.0.2.9"}, "udp:53>dns", "tcp:53>tcpdns", "http:80>site")},
			want: map[string]svcWant{
				"udp/192.0.2.9:53": {Name: "ns/udp:53", Sched: "wrr", Delay: day, Dests: dests(NAT, 1, "10.0.1.9:53")},
				"tcp/192.0.2.9:53": {Name: "ns/tcp:53", Sched: "wrr", Delay: day, Dests: dests(NAT, 1, "10.0.1.9:53")},
			},
			// Nobody serves it: the userspace proxies stand down for a
			// balancer forwarded in the kernel.
			wantProblems: []string{"listener http:80: a kernel data plane cannot serve http"},
		},
		{
			name:   "tls-passthrough-is-tcp",
			groups: web(),
			lbs:    []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1"}, "tls_passthrough:443>web")},
			want: map[string]svcWant{
				"tcp/192.0.2.1:443": {Name: "front/tls_passthrough:443", Sched: "wrr", Delay: day, Dests: all},
			},
		},
		{
			name:   "direct-routing-cannot-map-ports",
			groups: []model.TargetGroup{group("web", model.ProtoTCP, 80, "10.0.1.1"), group("alt", model.ProtoTCP, 8080, "10.0.1.2")},
			lbs:    []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1"}, "tcp:80>web", "tcp:81>alt")},
			cfg:    Config{Method: DirectRouting, Scheduler: "rr"},
			want: map[string]svcWant{
				"tcp/192.0.2.1:80": {Name: "front/tcp:80", Sched: "rr", Delay: day, Dests: dests(DirectRouting, 1, "10.0.1.1:80")},
				"tcp/192.0.2.1:81": {Name: "front/tcp:81", Sched: "rr", Delay: day, Dests: dests(DirectRouting, 1, "10.0.1.2:8080")},
			},
			wantProblems: []string{"front/tcp:81: target 10.0.1.2:8080: dr forwarding cannot change the port"},
		},
		{
			name:   "listener-address-replaces-node-addresses",
			groups: web(),
			lbs: func() []model.LoadBalancer {
				b := balancer("front", []string{"a=192.0.2.1", "b=192.0.2.2"}, "tcp:80>web")
				b.Listeners[0].Address = ptr(netip.MustParseAddr("198.51.100.7"))
				return []model.LoadBalancer{b}
			}(),
			want: map[string]svcWant{
				"tcp/198.51.100.7:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: all},
			},
		},
		{
			name:   "ipv6-vip-skips-ipv4-targets-under-nat",
			groups: []model.TargetGroup{group("web", model.ProtoTCP, 80, "10.0.1.1", "2001:db8::1")},
			lbs:    []model.LoadBalancer{balancer("front", []string{"a=2001:db8::100"}, "tcp:80>web")},
			want: map[string]svcWant{
				"tcp/[2001:db8::100]:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: dests(NAT, 1, "[2001:db8::1]:80")},
			},
			wantProblems: []string{"target 10.0.1.1:80: a IPv4 real server needs tunnel forwarding for a IPv6 virtual address"},
		},
		{
			name: "scheduler-from-the-group's-algorithm",
			groups: []model.TargetGroup{
				func() model.TargetGroup {
					g := group("hash", model.ProtoTCP, 80, "10.0.1.1")
					g.Algorithm = model.ConsistentHash
					g.HashOn = &model.HashKey{SourceIP: true}
					return g
				}(),
				func() model.TargetGroup {
					g := group("least", model.ProtoTCP, 81, "10.0.1.2")
					g.Algorithm = model.LeastOutstandingRequests
					return g
				}(),
			},
			lbs: []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1"}, "tcp:80>hash", "tcp:81>least")},
			want: map[string]svcWant{
				"tcp/192.0.2.1:80": {Name: "front/tcp:80", Sched: "mh", Delay: day, Dests: dests(NAT, 1, "10.0.1.1:80")},
				"tcp/192.0.2.1:81": {Name: "front/tcp:81", Sched: "wlc", Delay: day, Dests: dests(NAT, 1, "10.0.1.2:81")},
			},
		},
		{
			name:   "empty-group-is-a-problem-and-an-empty-service",
			groups: []model.TargetGroup{group("none", model.ProtoTCP, 80)},
			lbs:    []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1"}, "tcp:80>none")},
			want: map[string]svcWant{
				"tcp/192.0.2.1:80": {Name: "front/tcp:80", Sched: "wrr", Delay: day, Dests: map[netip.AddrPort]dest{}},
			},
			wantProblems: []string{"front/tcp:80: target group none has no routable targets"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := buildView(t, 1, tt.groups, tt.lbs, tt.down...)
			var isLocal func(netip.Addr) bool
			if tt.local != nil {
				local := map[netip.Addr]bool{}
				for _, a := range tt.local {
					local[netip.MustParseAddr(a)] = true
				}
				isLocal = func(a netip.Addr) bool { return local[a] }
			}
			got, problems := desired(v, tt.cfg, isLocal)
			gotW := map[string]svcWant{}
			for k, s := range got {
				if k != s.Key {
					t.Errorf("service %v has key %v", k, s.Key)
				}
				gotW[k.String()] = svcWant{Name: s.Name, Sched: s.Sched, Flags: s.Flags, Timeout: s.Timeout, Delay: s.Delay, Dests: s.Dests}
			}
			if diff := cmp.Diff(tt.want, gotW); diff != "" {
				t.Errorf("desired() mismatch (-want +got):\n%s", diff)
			}
			if len(problems) != len(tt.wantProblems) {
				t.Fatalf("desired() problems = %q, want %d matching %q", problems, len(tt.wantProblems), tt.wantProblems)
			}
			for i, p := range problems {
				if !strings.Contains(p, tt.wantProblems[i]) {
					t.Errorf("desired() problem %d = %q, want it to contain %q", i, p, tt.wantProblems[i])
				}
			}
		})
	}
}

func TestDesiredNilView(t *testing.T) {
	got, problems := desired(nil, Config{}, nil)
	if len(got) != 0 || len(problems) != 0 {
		t.Errorf("desired(nil) = %v, %v; want nothing", got, problems)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{}, ""},
		{Config{Method: DirectRouting, Scheduler: "mh"}, ""},
		{Config{Method: Tunnel, Scheduler: "lc"}, ""},
		{Config{Method: 1}, "forwarding method local is not supported"},
		{Config{Scheduler: "twos"}, `scheduler "twos" is not one of`},
	} {
		err := tt.cfg.validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v.validate() = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
	for in, want := range map[string]Method{"nat": NAT, "masquerade": NAT, "dr": DirectRouting, "DIRECT_ROUTING": DirectRouting, "tunnel": Tunnel} {
		if got, err := ParseMethod(in); err != nil || got != want {
			t.Errorf("ParseMethod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMethod("fullnat"); err == nil {
		t.Errorf("ParseMethod(fullnat) = nil error, want one")
	}
}

func TestDesiredServesAndModeFromModel(t *testing.T) {
	st := &model.State{
		Zones: []model.Zone{{Name: "a"}},
		TargetGroups: []model.TargetGroup{{Name: "tg", Protocol: model.ProtoTCP, Port: 80,
			Targets: []model.Target{{Address: netip.MustParseAddr("10.0.0.1"), Zone: "a"}}}},
		LoadBalancers: []model.LoadBalancer{
			{Name: "kernel", Nodes: []model.Node{{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}},
				Listeners: []model.Listener{{Protocol: model.ProtoTCP, Port: 80,
					DefaultAction: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "tg"}}}}}},
				DataPlane: &model.DataPlane{Backend: model.BackendIPVS, Mode: model.ModeDSR}},
			{Name: "user", Nodes: []model.Node{{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.2")}}},
				Listeners: []model.Listener{{Protocol: model.ProtoTCP, Port: 80,
					DefaultAction: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "tg"}}}}}}},
		},
	}
	st.SetDefaults()
	v := view.Build(1, st, state.NewSnapshot(0, nil), time.Unix(0, 0))
	cfg := Config{AllNodes: true, ModeFromModel: true, Serves: func(lb *model.LoadBalancer) bool { return lb.BackendOf() == model.BackendIPVS }}
	got, problems := desired(v, cfg, func(netip.Addr) bool { return true })
	if len(got) != 1 {
		t.Fatalf("desired programs %d services, want only the ipvs balancer's one (problems %v)", len(got), problems)
	}
	for _, s := range got {
		if s.Key.Addr.Addr() != netip.MustParseAddr("192.0.2.1") {
			t.Errorf("service on %s, want the ipvs balancer's 192.0.2.1", s.Key.Addr)
		}
		for addr, d := range s.Dests {
			if d.Method != DirectRouting {
				t.Errorf("real server %s forwards by %s, want dr from data_plane mode dsr", addr, d.Method)
			}
		}
	}
}
