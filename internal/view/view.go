// Package view turns desired state and health into the routing view: for
// every target group and zone, the targets traffic may go to; for every load
// balancer, the node addresses DNS may hand out. It is the one place where
// thresholds, fail-open and zonal shifts are decided. Build is a pure
// function; Publisher hands the newest View to the data planes.
package view

import (
	"net/netip"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// View is an immutable routing snapshot. Nothing in it may be modified after
// Build returns; hot paths read it without locks.
type View struct {
	// Version is the desired-state version the view was built from.
	Version uint64
	// Built is the time Build was given as now; zonal shifts are judged at it.
	Built time.Time
	// State is the desired state, shared and read-only.
	State *model.State
	// Health is the health snapshot the view was built from.
	Health *state.Snapshot
	// TargetGroups by name.
	TargetGroups map[string]*TargetGroup
	// LoadBalancers by name.
	LoadBalancers map[string]*LoadBalancer
	// Records are the record groups of every hosted zone, with health.
	Records map[RecordKey]*RecordGroup
}

// TargetGroup is the routing decision for one target group.
type TargetGroup struct {
	Spec *model.TargetGroup
	// Zones holds every zone a target is registered in, by zone name.
	Zones map[string]*Zone
	// Registered and Healthy count targets across all zones.
	Registered, Healthy int
	// FailingOpen is true when some zone routes to unhealthy targets because
	// its healthy targets fell below the routing-failover threshold.
	FailingOpen bool
	// HasHealthyTarget is Route 53's "evaluate target health" for a group:
	// false for a group with no registered targets, or none healthy.
	HasHealthyTarget bool
}

// Zone is what a load-balancer node in one zone does with a target group.
type Zone struct {
	Name string
	// Targets are the group's targets registered in this zone.
	Targets []Target
	// Healthy counts the healthy ones among Targets.
	Healthy int
	// Routable are the targets a node in this zone sends new traffic to,
	// after cross-zone, zonal shifts, thresholds and fail-open. It may hold
	// targets of other zones (cross-zone on).
	Routable []Target
	// FailingOpen is true when Routable includes unhealthy targets because
	// healthy ones fell below the routing-failover threshold.
	FailingOpen bool
	// Shifted is true while a zonal shift moves traffic away from this zone.
	Shifted bool
	// DNSHealthy is false when healthy targets fell below the DNS-failover
	// threshold (counted per zone with cross-zone off, across zones with it on).
	DNSHealthy bool
}

// Target is one registered target and its health.
type Target struct {
	Addr   netip.AddrPort
	Zone   string
	Weight int
	// Healthy is the target's health; Reason says why when it is not.
	Healthy bool
	Reason  string
	// Since is when the target's health last changed, zero when it has no
	// result yet; slow start ramps a target's share from it.
	Since time.Time
}

// RoutableFrom returns the targets a node in zone sends new traffic to, and
// whether that is failing open. With cross-zone on every zone routes alike,
// so a node in a zone without targets of the group uses any zone's decision;
// with it off such a node has nothing to route to, and a node in no zone
// ("") routes to the zones that are not failing open.
func (g *TargetGroup) RoutableFrom(zone string) (routable []Target, failingOpen bool) {
	if z := g.Zones[zone]; z != nil {
		return z.Routable, z.FailingOpen
	}
	if !crossZone(g.Spec) {
		if zone == "" {
			// A node that does not know its zone routes to every zone
			// that has healthy targets.
			return g.all()
		}
		return nil, false
	}
	for _, z := range g.Zones {
		return z.Routable, z.FailingOpen // the same in every zone
	}
	return nil, false
}

// LoadBalancer is the DNS decision for one load balancer.
type LoadBalancer struct {
	Spec *model.LoadBalancer
	// Nodes are the balancer's nodes with whether DNS answers them.
	Nodes []Node
	// DNSAddresses are the addresses DNS hands out now.
	DNSAddresses []netip.Addr
	// DNSFailingOpen is true when no zone passed and DNS answers every
	// unshifted node anyway (as ELB).
	DNSFailingOpen bool
	// Healthy is Route 53's "evaluate target health" for an alias to this
	// balancer: every target group it forwards to that has targets has a
	// healthy one, and at least one such group exists.
	Healthy bool
}

// Node is a load-balancer node and why DNS does or does not answer it.
type Node struct {
	Zone      string
	Addresses []netip.Addr
	InDNS     bool
	// Reason says why a node is out of DNS: "zonal shift", "target group web
	// below DNS-failover threshold in zone b".
	Reason string
}

// TargetStatus is the word a status page shows for target t of group g:
// "unknown" while g's health check has no result for t yet (as
// state.Status.Word says), otherwise "healthy" or "unhealthy" as the view
// decided, which is what routing follows. A group without a health check
// has nothing to wait for: its targets are never unknown.
func (v *View) TargetStatus(g *TargetGroup, t Target) string {
	if g.Spec.HealthCheck != nil {
		st, _ := v.Health.Get(state.Key{Check: state.GroupCheck(g.Spec.Name), Target: t.Addr})
		if w := st.Word(); w == "unknown" {
			return w
		}
	}
	if t.Healthy {
		return "healthy"
	}
	return "unhealthy"
}
