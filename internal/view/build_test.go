package view_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// epoch is the now of every Build in these tests.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// zones are the zones of every test state; a target's or node's address
// carries its zone's index.
var zones = []string{"a", "b", "c"}

func zoneIndex(zone string) int { return slices.Index(zones, zone) + 1 }

// ap is target i (from 0) of zone at port: 10.0.<zone>.<i+1>:port.
func ap(port int, zone string, i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(zoneIndex(zone)), byte(i + 1)}), uint16(port))
}

// aps lists targets idx of zone at port.
func aps(port int, zone string, idx ...int) []netip.AddrPort {
	var out []netip.AddrPort
	for _, i := range idx {
		out = append(out, ap(port, zone, i))
	}
	return out
}

// upTo returns 0, 1, …, n-1.
func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// from returns from, …, to-1.
func from(from, to int) []int { return upTo(to)[from:] }

// Target groups speak http on their own port; the port is also their
// targets' port, so groups given the same port share target addresses.
const (
	webPort   = 80
	apiPort   = 81
	emptyPort = 82
)

type tgOpt func(*model.TargetGroup)

func crossZoneOff(tg *model.TargetGroup) { tg.CrossZone = new(false) }

func dnsFailover(count, percent int) tgOpt {
	return func(tg *model.TargetGroup) { tg.DNSFailover = &model.Threshold{Count: count, Percent: percent} }
}

func routingFailover(count, percent int) tgOpt {
	return func(tg *model.TargetGroup) { tg.RoutingFailover = &model.Threshold{Count: count, Percent: percent} }
}

// failover sets both thresholds, as ELB's "unified configuration".
func failover(count, percent int) tgOpt {
	return func(tg *model.TargetGroup) {
		dnsFailover(count, percent)(tg)
		routingFailover(count, percent)(tg)
	}
}

// weight sets the weight of target i of zone.
func weight(zone string, i, w int) tgOpt {
	return func(tg *model.TargetGroup) {
		want := ap(tg.Port, zone, i)
		for j := range tg.Targets {
			t := &tg.Targets[j]
			if netip.AddrPortFrom(t.Address, uint16(tg.Port)) == want {
				t.Weight = new(w)
				return
			}
		}
		panic(fmt.Sprintf("weight: group %s has no target %s", tg.Name, want))
	}
}

// inC adds n targets in zone c.
func inC(n int) tgOpt {
	return func(tg *model.TargetGroup) { tg.Targets = append(tg.Targets, targets(tg.Port, "c", n)...) }
}

func targets(port int, zone string, n int) []model.Target {
	var out []model.Target
	for i := range n {
		out = append(out, model.Target{Address: ap(port, zone, i).Addr(), Zone: zone})
	}
	return out
}

// tg is an http target group with nA targets in zone a and nB in zone b.
func tg(name string, port, nA, nB int, opts ...tgOpt) model.TargetGroup {
	g := model.TargetGroup{
		Name:     name,
		Protocol: model.ProtoHTTP,
		Port:     port,
		Targets:  slices.Concat(targets(port, "a", nA), targets(port, "b", nB)),
	}
	for _, o := range opts {
		o(&g)
	}
	return g
}

func forward(groups ...string) model.Action {
	f := &model.Forward{}
	for _, g := range groups {
		f.TargetGroups = append(f.TargetGroups, model.WeightedTargetGroup{Name: g})
	}
	return model.Action{Forward: f}
}

// httpListener listens on port, forwarding by default to def and, for each
// of ruled, by a rule on path /<group>/*.
func httpListener(port int, def model.Action, ruled ...string) model.Listener {
	l := model.Listener{Protocol: model.ProtoHTTP, Port: port, DefaultAction: def}
	for i, g := range ruled {
		l.Rules = append(l.Rules, model.Rule{
			Priority:   i + 1,
			Conditions: model.Conditions{Path: []string{"/" + g + "/*"}},
			Action:     forward(g),
		})
	}
	return l
}

// nodeAddr is the address of load balancer base's node in zone.
func nodeAddr(base int, zone string) netip.Addr {
	return netip.AddrFrom4([4]byte{192, 0, 2, byte(base + zoneIndex(zone))})
}

// lb is a load balancer with one node in each of nodeZones, addresses
// 192.0.2.<base+zone>, and the given listeners.
func lb(name string, base int, nodeZones []string, listeners ...model.Listener) model.LoadBalancer {
	b := model.LoadBalancer{Name: name, Listeners: listeners}
	for _, z := range nodeZones {
		b.Nodes = append(b.Nodes, model.Node{Zone: z, Addresses: []netip.Addr{nodeAddr(base, z)}})
	}
	return b
}

// front is the usual balancer: nodes in zones a and b, port 80 forwarding to
// def by default and to each of ruled by a rule.
func front(def []string, ruled ...string) model.LoadBalancer {
	return lb("front", 0, []string{"a", "b"}, httpListener(80, forward(def...), ruled...))
}

func shiftGroup(group, away string, expires time.Time) model.ZonalShift {
	return model.ZonalShift{TargetGroup: group, AwayFrom: away, ExpiresAt: expires, Comment: "test"}
}

func shiftLB(balancer, away string, expires time.Time) model.ZonalShift {
	return model.ZonalShift{LoadBalancer: balancer, AwayFrom: away, ExpiresAt: expires, Comment: "test"}
}

// newState returns the valid, defaulted state of the given resources.
func newState(t *testing.T, groups []model.TargetGroup, lbs []model.LoadBalancer, shifts []model.ZonalShift) *model.State {
	t.Helper()
	s := &model.State{TargetGroups: groups, LoadBalancers: lbs, ZonalShifts: shifts}
	for _, z := range zones {
		s.Zones = append(s.Zones, model.Zone{Name: z})
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		t.Fatalf("test state is invalid: %v", err)
	}
	return s
}

// down lists the health keys of group's targets at addrs.
func down(group string, addrs ...[]netip.AddrPort) []state.Key {
	var out []state.Key
	for _, a := range slices.Concat(addrs...) {
		out = append(out, state.Key{Check: state.GroupCheck(group), Target: a})
	}
	return out
}

// snapshot reports every key of unhealthy as failing ("status 503") and
// every key of healthy as passing; other keys have no result.
func snapshot(unhealthy, healthy []state.Key) *state.Snapshot {
	m := map[state.Key]state.Status{}
	for _, k := range healthy {
		m[k] = state.Status{Healthy: true, Since: epoch.Add(-time.Hour)}
	}
	for _, k := range unhealthy {
		m[k] = state.Status{Healthy: false, Reason: "status 503", Since: epoch.Add(-time.Minute)}
	}
	return state.NewSnapshot(7, m)
}

// zoneWant is what a test expects of one zone of a target group.
type zoneWant struct {
	Routable                         []netip.AddrPort
	FailingOpen, Shifted, DNSHealthy bool
}

// zoneFlags are the flags of zoneWant, compared apart from Routable.
type zoneFlags struct{ FailingOpen, Shifted, DNSHealthy bool }

// groupWant is what a test expects of a target group as a whole.
type groupWant struct {
	Registered, Healthy           int
	FailingOpen, HasHealthyTarget bool
}

// anyReason in a nodeWant accepts any reason, or none.
const anyReason = "\x00any"

// nodeWant is what a test expects of a load-balancer node. Reason is a
// substring of the node's reason; "" wants none, anyReason accepts any.
type nodeWant struct {
	Zone   string
	InDNS  bool
	Reason string
}

type lbWant struct {
	Nodes          []nodeWant
	DNSFailingOpen bool
	Healthy        bool
}

// allZones gives each of zs the same routing, as cross-zone groups do; the
// zones of shifted are marked Shifted.
func allZones(zs []string, w zoneWant, shifted ...string) map[string]zoneWant {
	out := map[string]zoneWant{}
	for _, z := range zs {
		zw := w
		zw.Shifted = slices.Contains(shifted, z)
		out[z] = zw
	}
	return out
}

var (
	ab = []string{"a", "b"}

	nodesInDNS = []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", InDNS: true}}
)

// buildCase is one Build of TestBuild: the state's resources and health
// results in, and what the test expects of the view. Groups, zones and
// balancers a case does not list are not checked.
type buildCase struct {
	name      string
	groups    []model.TargetGroup
	balancers []model.LoadBalancer
	shifts    []model.ZonalShift
	// down fail their checks, up pass; every other target has no result.
	down, up  []state.Key
	nilHealth bool
	now       time.Time // epoch when zero

	zones      map[string]map[string]zoneWant // by group, then zone: every zone of the group
	wantGroups map[string]groupWant
	wantLBs    map[string]lbWant
	lbHealthy  map[string]bool // cases that check only LoadBalancer.Healthy
}

func TestBuild(t *testing.T) {
	soon := epoch.Add(time.Hour)
	allWeb := func(port, nA, nB int) []netip.AddrPort {
		return slices.Concat(aps(port, "a", upTo(nA)...), aps(port, "b", upTo(nB)...))
	}
	for _, tt := range []buildCase{
		// Everything healthy.
		{
			name:      "healthy/cross-zone-on",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), DNSHealthy: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 4, HasHealthyTarget: true}},
			wantLBs:    map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},
		{
			name:      "healthy/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 3, crossZoneOff)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 0, 1), DNSHealthy: true},
				"b": {Routable: aps(webPort, "b", 0, 1, 2), DNSHealthy: true},
			}},
			wantGroups: map[string]groupWant{"web": {Registered: 5, Healthy: 5, HasHealthyTarget: true}},
			wantLBs:    map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},

		// Unhealthy targets, unknown health, weights.
		{
			name:   "unhealthy/one/cross-zone-on",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2)},
			down:   down("web", aps(webPort, "a", 1)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: slices.Concat(aps(webPort, "a", 0), aps(webPort, "b", 0, 1)), DNSHealthy: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 3, HasHealthyTarget: true}},
		},
		{
			name:      "unhealthy/one/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", aps(webPort, "a", 1)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 0), DNSHealthy: true},
				"b": {Routable: aps(webPort, "b", 0, 1), DNSHealthy: true},
			}},
			wantLBs: map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},
		{
			name:   "health/unknown-counts-healthy",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2)},
			up:     down("web", aps(webPort, "a", 0)), // one passing result; the rest have none
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), DNSHealthy: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 4, HasHealthyTarget: true}},
		},
		{
			name:      "health/nil-snapshot",
			groups:    []model.TargetGroup{tg("web", webPort, 1, 1)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			nilHealth: true,
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 1, 1), DNSHealthy: true}),
			},
			wantLBs: map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},
		{
			// api probes the same addresses as web and finds them failing;
			// only web's own results (none) decide web's routing.
			name:   "health/keyed-by-check-not-address",
			groups: []model.TargetGroup{tg("web", webPort, 1, 1), tg("api", webPort, 1, 1)},
			down:   down("api", aps(webPort, "a", 0), aps(webPort, "b", 0)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 1, 1), DNSHealthy: true}),
				"api": allZones(ab, zoneWant{Routable: allWeb(webPort, 1, 1), FailingOpen: true}),
			},
			wantGroups: map[string]groupWant{
				"web": {Registered: 2, Healthy: 2, HasHealthyTarget: true},
				"api": {Registered: 2, Healthy: 0, FailingOpen: true},
			},
		},
		{
			name:   "weight/zero-not-routable",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, weight("a", 1, 0))},
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: slices.Concat(aps(webPort, "a", 0), aps(webPort, "b", 0, 1)), DNSHealthy: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 4, HasHealthyTarget: true}},
		},
		{
			name:   "weight/zero-not-routable-failing-open",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, weight("a", 1, 0))},
			down:   down("web", allWeb(webPort, 2, 2)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: slices.Concat(aps(webPort, "a", 0), aps(webPort, "b", 0, 1)), FailingOpen: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 0, FailingOpen: true}},
		},
		{
			name:   "weight/zero-not-routable-failing-open/cross-zone-off",
			groups: []model.TargetGroup{tg("web", webPort, 2, 1, crossZoneOff, weight("a", 0, 0))},
			down:   down("web", aps(webPort, "a", 0, 1)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 1), FailingOpen: true},
				"b": {Routable: aps(webPort, "b", 0), DNSHealthy: true},
			}},
		},

		// Fail open.
		{
			name:      "fail-open/all-unhealthy/cross-zone-on",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", allWeb(webPort, 2, 2)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), FailingOpen: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 0, FailingOpen: true}},
			wantLBs: map[string]lbWant{"front": {
				Nodes:          []nodeWant{{Zone: "a", InDNS: true, Reason: anyReason}, {Zone: "b", InDNS: true, Reason: anyReason}},
				DNSFailingOpen: true,
				Healthy:        false,
			}},
		},
		{
			name:      "fail-open/all-unhealthy/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", allWeb(webPort, 2, 2)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 0, 1), FailingOpen: true},
				"b": {Routable: aps(webPort, "b", 0, 1), FailingOpen: true},
			}},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 0, FailingOpen: true}},
			wantLBs: map[string]lbWant{"front": {
				Nodes:          []nodeWant{{Zone: "a", InDNS: true, Reason: anyReason}, {Zone: "b", InDNS: true, Reason: anyReason}},
				DNSFailingOpen: true,
			}},
		},
		{
			name:      "fail-open/one-zone/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", aps(webPort, "a", 0, 1)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 0, 1), FailingOpen: true},
				"b": {Routable: aps(webPort, "b", 0, 1), DNSHealthy: true},
			}},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 2, FailingOpen: true, HasHealthyTarget: true}},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", Reason: "web"}, {Zone: "b", InDNS: true}},
				Healthy: true,
			}},
		},

		// Routing failover thresholds, both sides of each boundary.
		{
			name:   "routing/count/at-threshold",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, failover(3, 0))},
			down:   down("web", aps(webPort, "a", 0)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: slices.Concat(aps(webPort, "a", 1), aps(webPort, "b", 0, 1)), DNSHealthy: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 3, HasHealthyTarget: true}},
		},
		{
			name:   "routing/count/below-threshold",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, failover(3, 0))},
			down:   down("web", aps(webPort, "a", 0, 1)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), FailingOpen: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 2, FailingOpen: true, HasHealthyTarget: true}},
		},
		{
			// Counted per zone: zone a holds 2 of 3, zone b falls to 1.
			name:   "routing/count/per-zone/cross-zone-off",
			groups: []model.TargetGroup{tg("web", webPort, 3, 3, crossZoneOff, failover(2, 0))},
			down:   down("web", aps(webPort, "a", 0), aps(webPort, "b", 0, 1)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 1, 2), DNSHealthy: true},
				"b": {Routable: aps(webPort, "b", 0, 1, 2), FailingOpen: true},
			}},
		},
		{
			name:   "routing/percent/at-threshold",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, failover(0, 50))},
			down:   down("web", aps(webPort, "a", 0, 1)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: aps(webPort, "b", 0, 1), DNSHealthy: true}),
			},
		},
		{
			name:   "routing/percent/below-threshold",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, failover(0, 50))},
			down:   down("web", aps(webPort, "a", 0, 1), aps(webPort, "b", 0)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), FailingOpen: true}),
			},
		},
		{
			// 2 of 3 is 66.7%: below 67%, not below 66%.
			name:   "routing/percent/fraction-below",
			groups: []model.TargetGroup{tg("web", webPort, 2, 1, failover(0, 67))},
			down:   down("web", aps(webPort, "a", 0)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 1), FailingOpen: true}),
			},
		},
		{
			name:   "routing/percent/fraction-above",
			groups: []model.TargetGroup{tg("web", webPort, 2, 1, failover(0, 66))},
			down:   down("web", aps(webPort, "a", 0)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: slices.Concat(aps(webPort, "a", 1), aps(webPort, "b", 0)), DNSHealthy: true}),
			},
		},
		{
			// Count 1 holds, but 50% is below 75%: either breach acts.
			name:   "routing/count-and-percent/either-breached",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, failover(1, 75))},
			down:   down("web", aps(webPort, "a", 0, 1)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), FailingOpen: true}),
			},
		},
		{
			name:   "routing/count-and-percent/neither-breached",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2, failover(1, 75))},
			down:   down("web", aps(webPort, "a", 0)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: slices.Concat(aps(webPort, "a", 1), aps(webPort, "b", 0, 1)), DNSHealthy: true}),
			},
		},

		// ELB's worked example (ALB-UG target-group-health.md): 10+10
		// targets, 50%/50%, 6 fail in zone b.
		{
			name:      "elb-example/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 10, 10, crossZoneOff, failover(0, 50))},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", aps(webPort, "b", upTo(6)...)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", upTo(10)...), DNSHealthy: true},
				"b": {Routable: aps(webPort, "b", upTo(10)...), FailingOpen: true, DNSHealthy: false},
			}},
			wantGroups: map[string]groupWant{"web": {Registered: 20, Healthy: 14, FailingOpen: true, HasHealthyTarget: true}},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", Reason: "zone b"}},
				Healthy: true,
			}},
		},
		{
			// 14 of 20 is 70%: no action anywhere.
			name:      "elb-example/cross-zone-on",
			groups:    []model.TargetGroup{tg("web", webPort, 10, 10, failover(0, 50))},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", aps(webPort, "b", upTo(6)...)),
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: slices.Concat(aps(webPort, "a", upTo(10)...), aps(webPort, "b", from(6, 10)...)), DNSHealthy: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 20, Healthy: 14, HasHealthyTarget: true}},
			wantLBs:    map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},

		// DNS failover.
		{
			name:      "dns/breached-routing-not",
			groups:    []model.TargetGroup{tg("web", webPort, 4, 4, crossZoneOff, dnsFailover(3, 0), routingFailover(1, 0))},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", aps(webPort, "b", 0, 1)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 0, 1, 2, 3), DNSHealthy: true},
				"b": {Routable: aps(webPort, "b", 2, 3), DNSHealthy: false},
			}},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", Reason: "web"}},
				Healthy: true,
			}},
		},
		{
			// api, reached by a rule, fails in zone b: zone b leaves DNS for
			// the whole balancer although web is fine there.
			name: "dns/one-group-breached-removes-zone-for-balancer",
			groups: []model.TargetGroup{
				tg("web", webPort, 2, 2, crossZoneOff),
				tg("api", apiPort, 2, 2, crossZoneOff),
			},
			balancers: []model.LoadBalancer{front([]string{"web"}, "api")},
			down:      down("api", aps(apiPort, "b", 0, 1)),
			zones: map[string]map[string]zoneWant{
				"web": {
					"a": {Routable: aps(webPort, "a", 0, 1), DNSHealthy: true},
					"b": {Routable: aps(webPort, "b", 0, 1), DNSHealthy: true},
				},
				"api": {
					"a": {Routable: aps(apiPort, "a", 0, 1), DNSHealthy: true},
					"b": {Routable: aps(apiPort, "b", 0, 1), FailingOpen: true},
				},
			},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", Reason: "api"}},
				Healthy: true,
			}},
		},
		{
			name: "dns/unforwarded-group-ignored",
			groups: []model.TargetGroup{
				tg("web", webPort, 2, 2, crossZoneOff),
				tg("api", apiPort, 2, 2, crossZoneOff),
			},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("api", aps(apiPort, "b", 0, 1)),
			wantLBs:   map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},
		{
			// Every zone fails for some group: DNS answers every node.
			name: "dns/all-zones-breached-fails-open",
			groups: []model.TargetGroup{
				tg("web", webPort, 2, 2, crossZoneOff),
				tg("api", apiPort, 2, 2, crossZoneOff),
			},
			balancers: []model.LoadBalancer{front([]string{"web"}, "api")},
			down:      slices.Concat(down("web", aps(webPort, "a", 0, 1)), down("api", aps(apiPort, "b", 0, 1))),
			wantLBs: map[string]lbWant{"front": {
				Nodes:          []nodeWant{{Zone: "a", InDNS: true, Reason: anyReason}, {Zone: "b", InDNS: true, Reason: anyReason}},
				DNSFailingOpen: true,
				Healthy:        false, // no zone passed: a parent record may back out
			}},
		},
		{
			// With cross-zone off a node in a zone without targets cannot
			// serve the group (ALB: 503), so it leaves DNS.
			name:      "dns/zone-without-targets/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff)},
			balancers: []model.LoadBalancer{lb("front", 0, zones, httpListener(80, forward("web")))},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", InDNS: true}, {Zone: "c", Reason: "zone c"}},
				Healthy: true,
			}},
		},
		{
			name:      "dns/zone-without-targets/cross-zone-on",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2)},
			balancers: []model.LoadBalancer{lb("front", 0, zones, httpListener(80, forward("web")))},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", InDNS: true}, {Zone: "c", InDNS: true}},
				Healthy: true,
			}},
		},
		{
			// Both thresholds off: no zone leaves DNS, however few are healthy.
			name:      "dns/threshold-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff, dnsFailover(0, 0))},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			down:      down("web", aps(webPort, "a", 0, 1)),
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 0, 1), FailingOpen: true, DNSHealthy: true},
				"b": {Routable: aps(webPort, "b", 0, 1), DNSHealthy: true},
			}},
			wantLBs: map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},

		// Zonal shifts.
		{
			// A target-group shift with cross-zone on: no node sends to the
			// shifted zone's targets; nodes stay in DNS; other groups are untouched.
			name:      "shift/target-group/cross-zone-on",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2), tg("api", apiPort, 1, 1)},
			balancers: []model.LoadBalancer{front([]string{"web"}, "api")},
			shifts:    []model.ZonalShift{shiftGroup("web", "a", soon)},
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: aps(webPort, "b", 0, 1), DNSHealthy: true}, "a"),
				"api": allZones(ab, zoneWant{Routable: allWeb(apiPort, 1, 1), DNSHealthy: true}),
			},
			wantGroups: map[string]groupWant{"web": {Registered: 4, Healthy: 4, HasHealthyTarget: true}},
			wantLBs:    map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},
		{
			// A target-group shift with cross-zone off: a node in the shifted
			// zone could only send to the shifted targets, so it leaves DNS.
			name:      "shift/target-group/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			shifts:    []model.ZonalShift{shiftGroup("web", "a", soon)},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", Reason: "zonal shift of target group web"}, {Zone: "b", InDNS: true}},
				Healthy: true,
			}},
		},
		{
			// Routing failover counts only the unshifted pool: zone b's two
			// targets fail, so nodes fail open to them, not to zone a.
			name:   "shift/target-group/fail-open-within-pool",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2)},
			shifts: []model.ZonalShift{shiftGroup("web", "a", soon)},
			down:   down("web", aps(webPort, "b", 0, 1)),
			zones:  map[string]map[string]zoneWant{"web": allZones(ab, zoneWant{Routable: aps(webPort, "b", 0, 1), FailingOpen: true}, "a")},
		},
		{
			// A balancer shift: the node leaves DNS, and the groups the
			// balancer forwards to (by default action or rule) are shifted
			// too; a group it does not forward to is not.
			name: "shift/load-balancer/cross-zone-on",
			groups: []model.TargetGroup{
				tg("web", webPort, 2, 2),
				tg("api", apiPort, 1, 1),
				tg("other", emptyPort, 1, 1),
			},
			balancers: []model.LoadBalancer{front([]string{"web"}, "api")},
			shifts:    []model.ZonalShift{shiftLB("front", "b", soon)},
			zones: map[string]map[string]zoneWant{
				"web":   allZones(ab, zoneWant{Routable: aps(webPort, "a", 0, 1), DNSHealthy: true}, "b"),
				"api":   allZones(ab, zoneWant{Routable: aps(apiPort, "a", 0), DNSHealthy: true}, "b"),
				"other": allZones(ab, zoneWant{Routable: allWeb(emptyPort, 1, 1), DNSHealthy: true}),
			},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", Reason: "zonal shift"}},
				Healthy: true,
			}},
		},
		{
			// With cross-zone off a node routes within its zone only; the
			// shifted zone's node is out of DNS, so it gets no new clients.
			name:      "shift/load-balancer/cross-zone-off",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			shifts:    []model.ZonalShift{shiftLB("front", "b", soon)},
			zones: map[string]map[string]zoneWant{"web": {
				"a": {Routable: aps(webPort, "a", 0, 1), DNSHealthy: true},
				"b": {Routable: aps(webPort, "b", 0, 1), DNSHealthy: true, Shifted: true},
			}},
			wantLBs: map[string]lbWant{"front": {
				Nodes:   []nodeWant{{Zone: "a", InDNS: true}, {Zone: "b", Reason: "zonal shift"}},
				Healthy: true,
			}},
		},
		{
			// DNS fails open to the unshifted nodes only.
			name:      "shift/load-balancer/with-dns-fail-open",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2, crossZoneOff)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			shifts:    []model.ZonalShift{shiftLB("front", "a", soon)},
			down:      down("web", aps(webPort, "b", 0, 1)),
			wantLBs: map[string]lbWant{"front": {
				Nodes:          []nodeWant{{Zone: "a", Reason: "zonal shift"}, {Zone: "b", InDNS: true, Reason: anyReason}},
				DNSFailingOpen: true,
				Healthy:        false, // no zone passed: a parent record may back out
			}},
		},
		{
			name:      "shift/expires-now",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2)},
			balancers: []model.LoadBalancer{front([]string{"web"})},
			shifts:    []model.ZonalShift{shiftLB("front", "b", epoch)},
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), DNSHealthy: true}),
			},
			wantLBs: map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: true}},
		},
		{
			name:   "shift/expired",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2)},
			shifts: []model.ZonalShift{shiftGroup("web", "a", epoch.Add(-time.Hour))},
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), DNSHealthy: true}),
			},
		},
		{
			name:   "shift/active-until-expiry",
			groups: []model.TargetGroup{tg("web", webPort, 2, 2)},
			shifts: []model.ZonalShift{shiftGroup("web", "a", epoch.Add(time.Nanosecond))},
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: aps(webPort, "b", 0, 1), DNSHealthy: true}, "a"),
			},
		},
		{
			// The group has targets only in the shifted zone: the shift
			// would leave nothing, so it is ignored.
			name:   "shift/target-group/would-leave-nothing",
			groups: []model.TargetGroup{tg("web", webPort, 2, 0)},
			shifts: []model.ZonalShift{shiftGroup("web", "a", soon)},
			zones: map[string]map[string]zoneWant{
				"web": {"a": {Routable: aps(webPort, "a", 0, 1), DNSHealthy: true}},
			},
		},
		{
			// The balancer has a node only in the shifted zone: the shift is
			// ignored, for the balancer and for the groups it forwards to.
			name:      "shift/load-balancer/would-leave-nothing",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2)},
			balancers: []model.LoadBalancer{lb("front", 0, []string{"a"}, httpListener(80, forward("web")))},
			shifts:    []model.ZonalShift{shiftLB("front", "a", soon)},
			zones: map[string]map[string]zoneWant{
				"web": allZones(ab, zoneWant{Routable: allWeb(webPort, 2, 2), DNSHealthy: true}),
			},
			wantLBs: map[string]lbWant{"front": {Nodes: []nodeWant{{Zone: "a", InDNS: true}}, Healthy: true}},
		},

		// LoadBalancer.Healthy: Route 53's evaluate target health.
		{
			name:      "lb-healthy/every-group-has-a-healthy-target",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2), tg("api", apiPort, 1, 1)},
			balancers: []model.LoadBalancer{front([]string{"web"}, "api")},
			down:      slices.Concat(down("web", allWeb(webPort, 2, 1)), down("api", aps(apiPort, "a", 0))),
			lbHealthy: map[string]bool{"front": true},
		},
		{
			name:      "lb-healthy/one-group-none-healthy",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2), tg("api", apiPort, 1, 1)},
			balancers: []model.LoadBalancer{front([]string{"web"}, "api")},
			down:      down("api", allWeb(apiPort, 1, 1)),
			lbHealthy: map[string]bool{"front": false},
		},
		{
			name:      "lb-healthy/group-without-targets-ignored",
			groups:    []model.TargetGroup{tg("web", webPort, 2, 2), tg("empty", emptyPort, 0, 0)},
			balancers: []model.LoadBalancer{front([]string{"web", "empty"})},
			lbHealthy: map[string]bool{"front": true},
		},
		{
			name:      "lb-healthy/no-group-with-targets",
			groups:    []model.TargetGroup{tg("empty", emptyPort, 0, 0)},
			balancers: []model.LoadBalancer{front([]string{"empty"})},
			lbHealthy: map[string]bool{"front": false},
		},
		{
			name:   "lb-healthy/no-forwarded-group",
			groups: []model.TargetGroup{tg("web", webPort, 1, 1)},
			balancers: []model.LoadBalancer{lb("front", 0, ab, httpListener(80, model.Action{
				FixedResponse: &model.FixedResponse{Status: 503, Body: "down for maintenance"},
			}))},
			wantLBs: map[string]lbWant{"front": {Nodes: nodesInDNS, Healthy: false}},
		},
		{
			// Two balancers share a group; one's health follows its own groups.
			name:   "lb-healthy/per-balancer",
			groups: []model.TargetGroup{tg("web", webPort, 1, 1), tg("api", apiPort, 1, 1)},
			balancers: []model.LoadBalancer{
				front([]string{"web"}),
				lb("edge", 10, ab, httpListener(80, forward("web", "api"))),
			},
			down:      down("api", allWeb(apiPort, 1, 1)),
			lbHealthy: map[string]bool{"front": true, "edge": false},
		},
	} {
		t.Run(tt.name, func(t *testing.T) { runBuildCase(t, tt) })
	}
}

func runBuildCase(t *testing.T, tt buildCase) {
	s := newState(t, tt.groups, tt.balancers, tt.shifts)
	h := snapshot(tt.down, tt.up)
	if tt.nilHealth {
		h = nil
	}
	now := tt.now
	if now.IsZero() {
		now = epoch
	}
	v := view.Build(3, s, h, now)
	checkInvariants(t, v)

	byAddr := cmpopts.SortSlices(func(a, b netip.AddrPort) bool { return a.Compare(b) < 0 })
	for _, gname := range slices.Sorted(maps.Keys(tt.zones)) {
		want := tt.zones[gname]
		g := v.TargetGroups[gname]
		if g == nil {
			t.Errorf("Build(...) has no target group %s", gname)
			continue
		}
		if got, want := slices.Sorted(maps.Keys(g.Zones)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, want) {
			t.Errorf("Build(...) group %s zones = %v, want %v", gname, got, want)
		}
		for _, zname := range slices.Sorted(maps.Keys(want)) {
			wz := want[zname]
			z := g.Zones[zname]
			if z == nil {
				continue
			}
			got := addrPorts(z.Routable)
			if diff := cmp.Diff(wz.Routable, got, byAddr, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
				t.Errorf("Build(...) group %s zone %s routable = %v, want %v (-want +got):\n%s", gname, zname, got, wz.Routable, diff)
			}
			gotFlags := zoneFlags{z.FailingOpen, z.Shifted, z.DNSHealthy}
			wantFlags := zoneFlags{wz.FailingOpen, wz.Shifted, wz.DNSHealthy}
			if gotFlags != wantFlags {
				t.Errorf("Build(...) group %s zone %s flags = %+v, want %+v", gname, zname, gotFlags, wantFlags)
			}
		}
	}
	for _, gname := range slices.Sorted(maps.Keys(tt.wantGroups)) {
		g := v.TargetGroups[gname]
		if g == nil {
			t.Errorf("Build(...) has no target group %s", gname)
			continue
		}
		got := groupWant{g.Registered, g.Healthy, g.FailingOpen, g.HasHealthyTarget}
		if want := tt.wantGroups[gname]; got != want {
			t.Errorf("Build(...) group %s = %+v, want %+v", gname, got, want)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tt.wantLBs)) {
		want := tt.wantLBs[name]
		b := v.LoadBalancers[name]
		if b == nil {
			t.Errorf("Build(...) has no load balancer %s", name)
			continue
		}
		got := lbWant{DNSFailingOpen: b.DNSFailingOpen, Healthy: b.Healthy}
		for i, n := range b.Nodes {
			reason := n.Reason
			if i < len(want.Nodes) {
				switch w := want.Nodes[i].Reason; {
				case w == anyReason:
					reason = anyReason
				case w != "" && strings.Contains(reason, w):
					reason = w
				}
			}
			got.Nodes = append(got.Nodes, nodeWant{Zone: n.Zone, InDNS: n.InDNS, Reason: reason})
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(lbWant{}, nodeWant{})); diff != "" {
			t.Errorf("Build(...) load balancer %s mismatch (-want +got; a wanted reason is a substring):\n%s", name, diff)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tt.lbHealthy)) {
		b := v.LoadBalancers[name]
		if b == nil {
			t.Errorf("Build(...) has no load balancer %s", name)
			continue
		}
		if want := tt.lbHealthy[name]; b.Healthy != want {
			t.Errorf("Build(...) load balancer %s healthy = %t, want %t", name, b.Healthy, want)
		}
	}
}

func addrPorts(ts []view.Target) []netip.AddrPort {
	var out []netip.AddrPort
	for _, t := range ts {
		out = append(out, t.Addr)
	}
	return out
}

// checkInvariants checks what must hold of every view, whatever the case.
func checkInvariants(t *testing.T, v *view.View) {
	t.Helper()
	for gname, g := range v.TargetGroups {
		registered, healthy, failing := 0, 0, false
		for zname, z := range g.Zones {
			if z.Name != zname {
				t.Errorf("group %s: zone %s is named %q", gname, zname, z.Name)
			}
			n := 0
			for _, tg := range z.Targets {
				if tg.Zone != zname {
					t.Errorf("group %s zone %s: target %s is in zone %s", gname, zname, tg.Addr, tg.Zone)
				}
				if tg.Healthy {
					n++
				}
			}
			if z.Healthy != n {
				t.Errorf("group %s zone %s: Healthy = %d, want %d (counted in Targets)", gname, zname, z.Healthy, n)
			}
			for _, r := range z.Routable {
				if r.Weight <= 0 {
					t.Errorf("group %s zone %s: routable %s has weight %d", gname, zname, r.Addr, r.Weight)
				}
				if !r.Healthy && !z.FailingOpen {
					t.Errorf("group %s zone %s: routable %s is unhealthy while not failing open", gname, zname, r.Addr)
				}
			}
			registered += len(z.Targets)
			healthy += z.Healthy
			failing = failing || z.FailingOpen
		}
		if g.Registered != registered || g.Healthy != healthy {
			t.Errorf("group %s: Registered, Healthy = %d, %d; zones sum to %d, %d", gname, g.Registered, g.Healthy, registered, healthy)
		}
		if g.HasHealthyTarget != (healthy > 0) {
			t.Errorf("group %s: HasHealthyTarget = %t with %d healthy", gname, g.HasHealthyTarget, healthy)
		}
		if g.FailingOpen != failing {
			t.Errorf("group %s: FailingOpen = %t, zones failing open: %t", gname, g.FailingOpen, failing)
		}
	}
	for name, b := range v.LoadBalancers {
		var addrs []netip.Addr
		for _, n := range b.Nodes {
			if n.InDNS {
				addrs = append(addrs, n.Addresses...)
			} else if n.Reason == "" {
				t.Errorf("load balancer %s: node in zone %s is out of DNS without a reason", name, n.Zone)
			}
		}
		if !slices.Equal(b.DNSAddresses, addrs) {
			t.Errorf("load balancer %s: DNSAddresses = %v, want the in-DNS nodes' %v", name, b.DNSAddresses, addrs)
		}
	}
}

// TestBuildTargets checks what a view says of each target and of itself.
func TestBuildTargets(t *testing.T) {
	s := newState(t, []model.TargetGroup{tg("web", webPort, 2, 1, weight("b", 0, 7))}, nil, nil)
	h := snapshot(down("web", aps(webPort, "a", 1)), down("web", aps(webPort, "a", 0)))
	v := view.Build(42, s, h, epoch)

	if v.Version != 42 || !v.Built.Equal(epoch) || v.State != s || v.Health != h {
		t.Errorf("Build(42, s, h, epoch) = {Version %d, Built %v, State %p, Health %p}, want {42, %v, %p, %p}",
			v.Version, v.Built, v.State, v.Health, epoch, s, h)
	}
	g := v.TargetGroups["web"]
	if g.Spec != &s.TargetGroups[0] {
		t.Errorf("Build(...) group web Spec = %p, want the state's %p", g.Spec, &s.TargetGroups[0])
	}
	got := map[string][]view.Target{}
	for zname, z := range g.Zones {
		got[zname] = z.Targets
	}
	want := map[string][]view.Target{
		"a": {
			{Addr: ap(webPort, "a", 0), Zone: "a", Weight: 1, Healthy: true},
			{Addr: ap(webPort, "a", 1), Zone: "a", Weight: 1, Healthy: false, Reason: "status 503"},
		},
		"b": {{Addr: ap(webPort, "b", 0), Zone: "b", Weight: 7, Healthy: true}},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.AddrPort{}), cmpopts.IgnoreFields(view.Target{}, "Since")); diff != "" {
		t.Errorf("Build(...) group web targets mismatch (-want +got):\n%s", diff)
	}
}

func TestForwardedGroups(t *testing.T) {
	redirect := model.Action{Redirect: &model.Redirect{Protocol: "https"}}
	for _, tt := range []struct {
		name string
		lb   model.LoadBalancer
		want []string
	}{
		{
			name: "default-action",
			lb:   lb("front", 0, ab, httpListener(80, forward("web"))),
			want: []string{"web"},
		},
		{
			name: "weighted-forward",
			lb:   lb("front", 0, ab, httpListener(80, forward("web", "canary"))),
			want: []string{"web", "canary"},
		},
		{
			name: "rules-and-default-once-each",
			lb: lb("front", 0, ab,
				httpListener(80, forward("web"), "api", "web", "api"),
				httpListener(8080, forward("api", "admin"), "web")),
			want: []string{"web", "api", "admin"},
		},
		{
			name: "rule-only",
			lb:   lb("front", 0, ab, httpListener(80, redirect, "api")),
			want: []string{"api"},
		},
		{
			name: "no-forward",
			lb:   lb("front", 0, ab, httpListener(80, redirect)),
			want: nil,
		},
		{
			name: "no-listeners",
			lb:   lb("front", 0, ab),
			want: nil,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := view.ForwardedGroups(&tt.lb)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ForwardedGroups(%s) = %v, want %v (-want +got):\n%s", tt.name, got, tt.want, diff)
			}
		})
	}
}

// richState has a little of everything: two balancers, rules, both
// cross-zone settings, thresholds, weights and shifts live and expired.
func richState(t *testing.T) (*model.State, *state.Snapshot) {
	t.Helper()
	s := newState(t,
		[]model.TargetGroup{
			tg("web", webPort, 3, 3, inC(2), failover(2, 40), weight("a", 2, 0)),
			tg("api", apiPort, 2, 2, crossZoneOff, dnsFailover(2, 50), routingFailover(1, 50)),
			tg("empty", emptyPort, 0, 0),
		},
		[]model.LoadBalancer{
			lb("front", 0, zones, httpListener(80, forward("web"), "api"), httpListener(8080, forward("empty", "web"))),
			lb("edge", 10, ab, httpListener(80, forward("api"))),
		},
		[]model.ZonalShift{
			shiftLB("front", "c", epoch.Add(time.Hour)),
			shiftGroup("api", "a", epoch.Add(-time.Minute)),
		},
	)
	h := snapshot(
		slices.Concat(down("web", aps(webPort, "a", 0), aps(webPort, "b", 0, 1)), down("api", aps(apiPort, "b", 0, 1))),
		down("web", aps(webPort, "c", 0)),
	)
	return s, h
}

// viewCmp compares views: netip values by ==, snapshots field by field.
var viewCmp = cmp.Options{
	cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}, netip.Prefix{}),
	cmp.AllowUnexported(state.Snapshot{}),
}

func TestBuildIsPure(t *testing.T) {
	s, h := richState(t)
	before := deepCopy(t, s)
	if diff := cmp.Diff(before, s, viewCmp); diff != "" {
		t.Fatalf("deepCopy(state) differs from the state (-copy +state):\n%s", diff)
	}

	v1 := view.Build(5, s, h, epoch)
	v2 := view.Build(5, s, h, epoch)
	if diff := cmp.Diff(v1, v2, viewCmp); diff != "" {
		t.Errorf("Build(...) twice with the same inputs differs (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(before, s, viewCmp); diff != "" {
		t.Errorf("Build(...) modified its state (-before +after):\n%s", diff)
	}
	// The rich state exercises what it should.
	if got := v1.LoadBalancers["front"].Nodes[2]; got.InDNS || !strings.Contains(got.Reason, "zonal shift") {
		t.Errorf("Build(...) front node c = %+v, want out of DNS for its zonal shift", got)
	}
}

// deepCopy copies s through JSON, which every model type round-trips.
func deepCopy(t *testing.T, s *model.State) *model.State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal(state) = %v", err)
	}
	var c model.State
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("json.Unmarshal(state) = %v", err)
	}
	return &c
}

func TestRoutableFrom(t *testing.T) {
	off := false
	tg := func(cross *bool) *model.State {
		return &model.State{TargetGroups: []model.TargetGroup{{
			Name: "web", Protocol: model.ProtoHTTP, Port: 80, CrossZone: cross,
			Targets: []model.Target{
				{Address: netip.MustParseAddr("10.0.0.1"), Zone: "a"},
				{Address: netip.MustParseAddr("10.0.0.2"), Zone: "b"},
			},
		}}}
	}
	now := time.Unix(1e9, 0)
	on := view.Build(1, tg(nil), state.NewSnapshot(0, nil), now).TargetGroups["web"]
	if got, _ := on.RoutableFrom("c"); len(got) != 2 {
		t.Errorf("cross-zone on, node in zone c without targets: %d routable, want 2", len(got))
	}
	g := view.Build(1, tg(&off), state.NewSnapshot(0, nil), now).TargetGroups["web"]
	if got, _ := g.RoutableFrom("a"); len(got) != 1 || got[0].Zone != "a" {
		t.Errorf("cross-zone off, zone a: %v, want the zone-a target only", got)
	}
	if got, _ := g.RoutableFrom("c"); len(got) != 0 {
		t.Errorf("cross-zone off, zone c: %v, want none", got)
	}
	if got, _ := g.RoutableFrom(""); len(got) != 2 || got[0].Zone != "a" {
		t.Errorf("cross-zone off, unknown zone: %v, want both, zone a first", got)
	}
	// Zone b's only target fails: b fails open on its own, but a node in
	// no zone keeps to the healthy zone; with both down it fails open.
	down := func(addrs ...string) *state.Snapshot {
		m := map[state.Key]state.Status{}
		for _, a := range addrs {
			m[state.Key{Check: state.GroupCheck("web"), Target: netip.MustParseAddrPort(a)}] = state.Status{Reason: "refused"}
		}
		return state.NewSnapshot(1, m)
	}
	st := tg(&off)
	st.SetDefaults()
	g = view.Build(2, st, down("10.0.0.2:80"), now).TargetGroups["web"]
	if got, open := g.RoutableFrom(""); len(got) != 1 || got[0].Zone != "a" || open {
		t.Errorf("zone b down, unknown zone: %v failing open %v, want zone a's target only", got, open)
	}
	g = view.Build(3, st, down("10.0.0.1:80", "10.0.0.2:80"), now).TargetGroups["web"]
	if got, open := g.RoutableFrom(""); len(got) != 2 || !open {
		t.Errorf("both zones down, unknown zone: %v failing open %v, want both, failing open", got, open)
	}
}
