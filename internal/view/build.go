package view

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// Build computes the view of state s (at desired-state version) under health
// h at time now. It is pure: the same inputs give the same view. s must be
// valid (model.State.Validate) and is shared by the view, read-only.
//
// The rules, as ELB has them unless said otherwise:
//   - A target without a health result yet counts as healthy (as Route 53).
//   - A zonal shift is active while now is before its expiry. A shift of a
//     load balancer also shifts the target groups it forwards to. A shift that
//     would leave a group or balancer with nothing is ignored (fail open).
//   - Routing failover: when healthy targets fall below routing_failover (or
//     to none at all, whatever the threshold), a node routes to every target
//     of its pool, healthy or not. The pool is all unshifted zones with
//     cross-zone on, the node's own zone with it off.
//   - DNS failover: a zone leaves DNS when healthy targets fall below
//     dns_failover, counted the same way; a zone that fails for one target
//     group of a balancer leaves DNS for the whole balancer. So does a zone
//     shifted for a forwarded group with cross-zone off. If no zone is
//     left, DNS answers every unshifted node (fail open) and the balancer
//     counts as unhealthy for evaluate-target-health.
//   - Weight-0 targets get no new traffic.
func Build(version uint64, s *model.State, h *state.Snapshot, now time.Time) *View {
	v := &View{
		Version:       version,
		Built:         now,
		State:         s,
		Health:        h,
		TargetGroups:  make(map[string]*TargetGroup, len(s.TargetGroups)),
		LoadBalancers: make(map[string]*LoadBalancer, len(s.LoadBalancers)),
	}
	shifted := activeShifts(s, now)
	for i := range s.TargetGroups {
		spec := &s.TargetGroups[i]
		v.TargetGroups[spec.Name] = buildGroup(spec, h, shifted.groups[spec.Name])
	}
	for i := range s.LoadBalancers {
		spec := &s.LoadBalancers[i]
		v.LoadBalancers[spec.Name] = buildBalancer(spec, v.TargetGroups, shifted.balancers[spec.Name])
	}
	v.Records = buildRecords(s, h, v.LoadBalancers)
	return v
}

// shifts holds the zones shifted away, per resource name.
type shifts struct {
	groups, balancers map[string]map[string]bool
}

func activeShifts(s *model.State, now time.Time) shifts {
	sh := shifts{groups: map[string]map[string]bool{}, balancers: map[string]map[string]bool{}}
	mark := func(m map[string]map[string]bool, name, zone string) {
		if m[name] == nil {
			m[name] = map[string]bool{}
		}
		m[name][zone] = true
	}
	for _, z := range s.ZonalShifts {
		if !now.Before(z.ExpiresAt) {
			continue
		}
		if z.TargetGroup != "" {
			mark(sh.groups, z.TargetGroup, z.AwayFrom)
			continue
		}
		for i := range s.LoadBalancers {
			lb := &s.LoadBalancers[i]
			if lb.Name != z.LoadBalancer {
				continue
			}
			// A shift that would leave the balancer no node is ignored, and
			// so it shifts none of its groups either.
			if !slices.ContainsFunc(lb.Nodes, func(n model.Node) bool { return n.Zone != z.AwayFrom }) {
				continue
			}
			mark(sh.balancers, z.LoadBalancer, z.AwayFrom)
			for _, g := range ForwardedGroups(lb) {
				mark(sh.groups, g, z.AwayFrom)
			}
		}
	}
	return sh
}

// ForwardedGroups lists the target groups lb's listeners forward to, once each.
func ForwardedGroups(lb *model.LoadBalancer) []string {
	var out []string
	add := func(a *model.Action) {
		if a.Forward == nil {
			return
		}
		for _, w := range a.Forward.TargetGroups {
			if !slices.Contains(out, w.Name) {
				out = append(out, w.Name)
			}
		}
	}
	for i := range lb.Listeners {
		l := &lb.Listeners[i]
		add(&l.DefaultAction)
		for j := range l.Rules {
			add(&l.Rules[j].Action)
		}
	}
	return out
}

func buildGroup(spec *model.TargetGroup, h *state.Snapshot, shifted map[string]bool) *TargetGroup {
	g := &TargetGroup{Spec: spec, Zones: map[string]*Zone{}}
	// A shift that would leave the group no target is ignored: no zone of
	// it is Shifted.
	if !slices.ContainsFunc(spec.Targets, func(t model.Target) bool { return !shifted[t.Zone] }) {
		shifted = nil
	}
	check := state.GroupCheck(spec.Name)
	// Every slice is made at its final size: a group of thousands of
	// targets is rebuilt on every health change.
	all := make([]Target, 0, len(spec.Targets))
	perZone := map[string]int{}
	for _, t := range spec.Targets {
		perZone[t.Zone]++
	}
	for _, t := range spec.Targets {
		ap := netip.AddrPortFrom(t.Address, uint16(t.Port))
		tv := Target{Addr: ap, Zone: t.Zone, Weight: weight(t.Weight), Healthy: true}
		if st, ok := h.Get(state.Key{Check: check, Target: ap}); ok {
			tv.Healthy, tv.Reason, tv.Since = st.Healthy, st.Reason, st.Since
		}
		all = append(all, tv)
		z := g.Zones[t.Zone]
		if z == nil {
			z = &Zone{Name: t.Zone, Shifted: shifted[t.Zone], Targets: make([]Target, 0, perZone[t.Zone])}
			g.Zones[t.Zone] = z
		}
		z.Targets = append(z.Targets, tv)
		if tv.Healthy {
			z.Healthy++
			g.Healthy++
		}
	}
	g.Registered = len(all)
	g.HasHealthyTarget = g.Healthy > 0

	if crossZone(spec) {
		pool := unshifted(all, shifted)
		routable, failing := route(pool, spec.RoutingFailover)
		dnsOK := !breached(countHealthy(pool), len(pool), spec.DNSFailover)
		for _, z := range g.Zones {
			z.Routable, z.FailingOpen, z.DNSHealthy = routable, failing, dnsOK
		}
		g.FailingOpen = failing
		return g
	}
	for _, z := range g.Zones {
		z.Routable, z.FailingOpen = route(z.Targets, spec.RoutingFailover)
		z.DNSHealthy = !breached(z.Healthy, len(z.Targets), spec.DNSFailover)
		g.FailingOpen = g.FailingOpen || z.FailingOpen
	}
	return g
}

// all is the routing decision for a node in no known zone of a group with
// cross-zone off: the routable targets of every zone that is not failing
// open, so one sick zone does not drag the others into routing to it; and
// only when every zone fails open, all of their targets (fail open).
func (g *TargetGroup) all() ([]Target, bool) {
	names := make([]string, 0, len(g.Zones))
	for n := range g.Zones {
		names = append(names, n)
	}
	slices.Sort(names)
	var healthy, every []Target
	for _, n := range names {
		z := g.Zones[n]
		every = append(every, z.Routable...)
		if !z.FailingOpen {
			healthy = append(healthy, z.Routable...)
		}
	}
	if len(healthy) > 0 {
		return healthy, false
	}
	return every, len(every) > 0
}

func crossZone(spec *model.TargetGroup) bool { return spec.CrossZone == nil || *spec.CrossZone }

func weight(w *int) int {
	if w == nil {
		return 1
	}
	return *w
}

// unshifted returns the targets outside shifted zones, or all of them when
// the shift would leave none.
func unshifted(all []Target, shifted map[string]bool) []Target {
	n := 0
	for _, t := range all {
		if !shifted[t.Zone] {
			n++
		}
	}
	if n == len(all) || n == 0 {
		return all // nothing shifted away, or the shift would leave none
	}
	out := make([]Target, 0, n)
	for _, t := range all {
		if !shifted[t.Zone] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// route picks the routable targets of pool: the healthy ones, or all of
// them when healthy ones fell below th or to none (failing open).
func route(pool []Target, th *model.Threshold) (routable []Target, failingOpen bool) {
	healthy := countHealthy(pool)
	failingOpen = len(pool) > 0 && (healthy == 0 || breached(healthy, len(pool), th))
	n := 0
	for _, t := range pool {
		if t.Weight > 0 && (t.Healthy || failingOpen) {
			n++
		}
	}
	if n == len(pool) {
		return pool, failingOpen // every target routes; views are read-only, so share
	}
	routable = make([]Target, 0, n)
	for _, t := range pool {
		if t.Weight > 0 && (t.Healthy || failingOpen) {
			routable = append(routable, t)
		}
	}
	return routable, failingOpen
}

func countHealthy(ts []Target) int {
	n := 0
	for _, t := range ts {
		if t.Healthy {
			n++
		}
	}
	return n
}

// breached reports whether healthy of registered targets is below th: below
// its count, or below its percentage of registered. Zero parts are off.
func breached(healthy, registered int, th *model.Threshold) bool {
	if th == nil {
		return healthy == 0
	}
	return (th.Count > 0 && healthy < th.Count) || (th.Percent > 0 && healthy*100 < th.Percent*registered)
}

func buildBalancer(spec *model.LoadBalancer, groups map[string]*TargetGroup, shifted map[string]bool) *LoadBalancer {
	lb := &LoadBalancer{Spec: spec}
	forwarded := ForwardedGroups(spec)
	allShifted := len(spec.Nodes) > 0
	for _, n := range spec.Nodes {
		allShifted = allShifted && shifted[n.Zone]
	}
	for _, n := range spec.Nodes {
		node := Node{Zone: n.Zone, Addresses: n.Addresses, InDNS: true}
		switch {
		case shifted[n.Zone] && !allShifted:
			node.InDNS, node.Reason = false, "zonal shift away from "+n.Zone
		default:
			for _, name := range forwarded {
				g := groups[name]
				if g == nil || g.Registered == 0 {
					continue // an empty group is ignored, as for evaluate-target-health
				}
				if z := g.Zones[n.Zone]; z != nil && z.Shifted && !crossZone(g.Spec) {
					// With cross-zone off the node could only send to the
					// shifted targets, so the node itself must leave DNS.
					node.InDNS = false
					node.Reason = fmt.Sprintf("zonal shift of target group %s away from %s", name, n.Zone)
					break
				}
				if !g.dnsHealthy(n.Zone) {
					node.InDNS = false
					node.Reason = fmt.Sprintf("target group %s below its DNS-failover threshold in zone %s", name, n.Zone)
					break
				}
			}
		}
		lb.Nodes = append(lb.Nodes, node)
	}
	if !slices.ContainsFunc(lb.Nodes, func(n Node) bool { return n.InDNS }) {
		for i := range lb.Nodes {
			if !shifted[lb.Nodes[i].Zone] || allShifted {
				lb.Nodes[i].InDNS = true
				lb.DNSFailingOpen = true
			}
		}
	}
	for _, n := range lb.Nodes {
		if n.InDNS {
			lb.DNSAddresses = append(lb.DNSAddresses, n.Addresses...)
		}
	}
	withTargets := 0
	lb.Healthy = true
	for _, name := range forwarded {
		if g := groups[name]; g != nil && g.Registered > 0 {
			withTargets++
			lb.Healthy = lb.Healthy && g.HasHealthyTarget
		}
	}
	// A balancer whose every zone breached its DNS-failover thresholds is
	// unhealthy for "evaluate target health", so a parent record can back
	// out of it, even though its own name fails open.
	lb.Healthy = lb.Healthy && withTargets > 0 && !lb.DNSFailingOpen
	return lb
}

// dnsHealthy reports whether the group keeps zone in DNS. With cross-zone off
// a zone without targets of the group cannot serve it, so it leaves DNS.
func (g *TargetGroup) dnsHealthy(zone string) bool {
	if z := g.Zones[zone]; z != nil {
		return z.DNSHealthy
	}
	if crossZone(g.Spec) {
		for _, z := range g.Zones {
			return z.DNSHealthy // the same in every zone
		}
	}
	return false
}
