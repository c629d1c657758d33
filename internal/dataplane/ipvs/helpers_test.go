package ipvs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// epoch is the now of every view built in these tests.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// group is an L4 target group of protocol proto (tcp or udp) on port, with
// targets at addrs in the zone their third octet names: 10.0.1.x is zone
// a, 10.0.2.x zone b.
func group(name string, proto model.Protocol, port int, addrs ...string) model.TargetGroup {
	g := model.TargetGroup{Name: name, Protocol: proto, Port: port}
	for _, a := range addrs {
		ip := netip.MustParseAddr(a)
		g.Targets = append(g.Targets, model.Target{Address: ip, Zone: zoneOf(ip)})
	}
	return g
}

func zoneOf(a netip.Addr) string {
	if a.Is4() && a.As4()[2] == 2 {
		return "b"
	}
	return "a"
}

// balancer has one node per "zone=address" and listeners
// forwarding to the named groups: "tcp:80>web".
func balancer(name string, nodes []string, listeners ...string) model.LoadBalancer {
	b := model.LoadBalancer{Name: name}
	for _, n := range nodes {
		zone, addr, _ := strings.Cut(n, "=")
		b.Nodes = append(b.Nodes, model.Node{Zone: zone, Addresses: []netip.Addr{netip.MustParseAddr(addr)}})
	}
	for _, l := range listeners {
		proto, rest, _ := strings.Cut(l, ":")
		portS, tg, _ := strings.Cut(rest, ">")
		port, err := strconv.Atoi(portS)
		if err != nil {
			panic(fmt.Sprintf("listener %q: %v", l, err))
		}
		b.Listeners = append(b.Listeners, model.Listener{
			Protocol: model.Protocol(proto),
			Port:     port,
			DefaultAction: model.Action{Forward: &model.Forward{
				TargetGroups: []model.WeightedTargetGroup{{Name: tg}},
			}},
		})
	}
	return b
}

// buildView validates and defaults the state and builds its view with the
// targets at down failing their checks and every other target passing.
func buildView(t testing.TB, version uint64, groups []model.TargetGroup, lbs []model.LoadBalancer, down ...string) *view.View {
	t.Helper()
	s := &model.State{TargetGroups: groups, LoadBalancers: lbs, Zones: []model.Zone{{Name: "a"}, {Name: "b"}}}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		t.Fatalf("test state is invalid: %v", err)
	}
	isDown := map[string]bool{}
	for _, d := range down {
		isDown[d] = true
	}
	statuses := map[state.Key]state.Status{}
	for _, g := range s.TargetGroups {
		for _, tt := range g.Targets {
			port := g.Port
			if tt.Port != 0 {
				port = tt.Port
			}
			ap := netip.AddrPortFrom(tt.Address, uint16(port))
			st := state.Status{Healthy: !isDown[ap.String()], Observed: true, Since: epoch.Add(-time.Hour)}
			if !st.Healthy {
				st.Reason = "connection refused"
			}
			statuses[state.Key{Check: state.GroupCheck(g.Name), Target: ap}] = st
		}
	}
	return view.Build(version, s, state.NewSnapshot(version, statuses), epoch)
}

func ptr[T any](v T) *T { return &v }

func aport(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
