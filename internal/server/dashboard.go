package server

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// Dashboard is the JSON document the web dashboard renders: one view, the
// health details behind it, and the recent events. It is pushed to the page
// over server-sent events on every change (GET /ui/events) and served whole
// at GET /ui/api/snapshot.
type Dashboard struct {
	// ViewVersion is the desired-state version of the view; Built when it was built.
	ViewVersion uint64 `json:"view_version"`
	Built       string `json:"built,omitempty"`
	// HealthVersion counts health snapshots.
	HealthVersion uint64 `json:"health_version"`
	// Zones are the zone names, in declaration order.
	Zones         []string           `json:"zones"`
	TargetGroups  []DashTargetGroup  `json:"target_groups"`
	LoadBalancers []DashLoadBalancer `json:"load_balancers"`
	Records       []DashRecordGroup  `json:"records"`
	Checks        []DashCheck        `json:"checks"`
	Shifts        []DashShift        `json:"shifts"`
	Events        []DashEvent        `json:"events"`
	Config        DashConfig         `json:"config"`
	// ShiftsWritable is true when a UI token is set: the page offers the
	// zonal shift form.
	ShiftsWritable bool `json:"shifts_writable"`
	// ChecksOmitted counts health checks left out beyond maxDashChecks.
	ChecksOmitted int `json:"checks_omitted,omitempty"`
}

// DashTargetGroup is one target group, per zone.
type DashTargetGroup struct {
	Name        string     `json:"name"`
	Protocol    string     `json:"protocol"`
	Registered  int        `json:"registered"`
	Healthy     int        `json:"healthy"`
	FailingOpen bool       `json:"failing_open"`
	Zones       []DashZone `json:"zones"`
}

// DashZone is one zone of a target group.
type DashZone struct {
	Name        string       `json:"name"`
	Healthy     int          `json:"healthy"`
	FailingOpen bool         `json:"failing_open"`
	Shifted     bool         `json:"shifted"`
	DNSHealthy  bool         `json:"dns_healthy"`
	Targets     []DashTarget `json:"targets"`
	// Routable are the addresses a node in this zone sends new traffic to.
	Routable []string `json:"routable"`
}

// DashTarget is one target and its health.
type DashTarget struct {
	Addr   string `json:"addr"`
	Weight int    `json:"weight"`
	// Status is healthy, unhealthy or unknown (no result yet).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Since  string `json:"since,omitempty"`
}

// DashLoadBalancer is a load balancer and what DNS hands out for it now.
type DashLoadBalancer struct {
	Name           string     `json:"name"`
	DNSName        string     `json:"dns_name,omitempty"`
	DNSAddresses   []string   `json:"dns_addresses"`
	DNSFailingOpen bool       `json:"dns_failing_open"`
	Healthy        bool       `json:"healthy"`
	Nodes          []DashNode `json:"nodes"`
}

// DashNode is one node of a load balancer.
type DashNode struct {
	Zone      string   `json:"zone"`
	Addresses []string `json:"addresses"`
	InDNS     bool     `json:"in_dns"`
	Reason    string   `json:"reason,omitempty"`
}

// DashRecordGroup is a record group, what it answers now and why.
type DashRecordGroup struct {
	Zone   string `json:"zone"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Policy string `json:"policy"`
	// Answering are the set identifiers (or values, for simple records)
	// DNS may answer now; Why says why, for people.
	Answering   []string     `json:"answering"`
	Why         string       `json:"why"`
	FailingOpen bool         `json:"failing_open"`
	Records     []DashRecord `json:"records"`
}

// DashRecord is one record of a group.
type DashRecord struct {
	SetIdentifier string `json:"set_identifier,omitempty"`
	// Routing is the record's policy parameter: "weight 10", "PRIMARY", "region eu".
	Routing string `json:"routing,omitempty"`
	// Answer is the values, or the alias target.
	Answer  string `json:"answer"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
}

// DashCheck is one health status with its recent probes.
type DashCheck struct {
	Check  string `json:"check"`
	Target string `json:"target,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Since  string `json:"since,omitempty"`
	// LatenciesMS are the latest probes' latencies in milliseconds, oldest first.
	LatenciesMS []float64 `json:"latencies_ms"`
	// LastError is the latest failed probe's reason, and when.
	LastError     string `json:"last_error,omitempty"`
	LastErrorTime string `json:"last_error_time,omitempty"`
}

// DashShift is a zonal shift of the desired state.
type DashShift struct {
	LoadBalancer string `json:"load_balancer,omitempty"`
	TargetGroup  string `json:"target_group,omitempty"`
	AwayFrom     string `json:"away_from"`
	ExpiresAt    string `json:"expires_at"`
	Comment      string `json:"comment,omitempty"`
	Active       bool   `json:"active"`
}

// DashEvent is one entry of the timeline.
type DashEvent struct {
	Time string `json:"time"`
	// Kind is health, failover, fail-open, zonal-shift or config.
	Kind string `json:"kind"`
	// Level is ok, warn or bad, for colour.
	Level string `json:"level"`
	Text  string `json:"text"`
}

// DashConfig is the configuration's status.
type DashConfig struct {
	DesiredVersion uint64   `json:"desired_version"`
	OK             bool     `json:"ok"`
	Errors         []string `json:"errors,omitempty"`
}

// maxDashChecks bounds the health rows of one snapshot: every row costs a
// Detail call and its history, and a page of ten thousand rows helps no one.
const maxDashChecks = 500

// buildDashboard renders v with the engine's details. v may be nil (no view
// yet). It reads e under e's lock once per shown check.
func buildDashboard(v *view.View, e *health.Engine) Dashboard {
	d := Dashboard{
		Zones: []string{}, TargetGroups: []DashTargetGroup{}, LoadBalancers: []DashLoadBalancer{},
		Records: []DashRecordGroup{}, Checks: []DashCheck{}, Shifts: []DashShift{}, Events: []DashEvent{},
	}
	hs := e.Snapshot()
	d.HealthVersion = hs.Version()
	d.Checks, d.ChecksOmitted = dashChecks(hs, e)
	if v == nil {
		return d
	}
	d.ViewVersion, d.Built = v.Version, rfc3339(v.Built)
	for _, z := range v.State.Zones {
		d.Zones = append(d.Zones, z.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(v.TargetGroups)) {
		d.TargetGroups = append(d.TargetGroups, dashTargetGroup(v, v.TargetGroups[name]))
	}
	for _, name := range slices.Sorted(maps.Keys(v.LoadBalancers)) {
		lb := v.LoadBalancers[name]
		out := DashLoadBalancer{Name: name, DNSName: lb.Spec.DNSName, DNSAddresses: addrStrings(lb.DNSAddresses),
			DNSFailingOpen: lb.DNSFailingOpen, Healthy: lb.Healthy, Nodes: []DashNode{}}
		for _, n := range lb.Nodes {
			out.Nodes = append(out.Nodes, DashNode{Zone: n.Zone, Addresses: addrStrings(n.Addresses), InDNS: n.InDNS, Reason: n.Reason})
		}
		d.LoadBalancers = append(d.LoadBalancers, out)
	}
	keys := slices.SortedFunc(maps.Keys(v.Records), func(a, b view.RecordKey) int {
		return cmp.Or(cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type))
	})
	for _, k := range keys {
		d.Records = append(d.Records, dashRecordGroup(v.Records[k]))
	}
	for _, s := range v.State.ZonalShifts {
		d.Shifts = append(d.Shifts, DashShift{LoadBalancer: s.LoadBalancer, TargetGroup: s.TargetGroup, AwayFrom: s.AwayFrom,
			ExpiresAt: rfc3339(s.ExpiresAt), Comment: s.Comment, Active: s.ExpiresAt.After(v.Built)})
	}
	return d
}

func dashTargetGroup(v *view.View, g *view.TargetGroup) DashTargetGroup {
	out := DashTargetGroup{Name: g.Spec.Name, Protocol: string(g.Spec.Protocol), Registered: g.Registered,
		Healthy: g.Healthy, FailingOpen: g.FailingOpen, Zones: []DashZone{}}
	for _, zn := range slices.Sorted(maps.Keys(g.Zones)) {
		z := g.Zones[zn]
		dz := DashZone{Name: zn, Healthy: z.Healthy, FailingOpen: z.FailingOpen, Shifted: z.Shifted,
			DNSHealthy: z.DNSHealthy, Targets: []DashTarget{}, Routable: []string{}}
		for _, t := range z.Targets {
			dz.Targets = append(dz.Targets, DashTarget{Addr: t.Addr.String(), Weight: t.Weight, Status: v.TargetStatus(g, t), Reason: t.Reason, Since: rfc3339(t.Since)})
		}
		for _, t := range z.Routable {
			dz.Routable = append(dz.Routable, t.Addr.String())
		}
		out.Zones = append(out.Zones, dz)
	}
	return out
}

// dashRecordGroup says what a group answers now and why. Weighted, latency,
// geolocation and the other per-client policies choose per query among the
// healthy records; failover answers the primary while it is healthy.
func dashRecordGroup(g *view.RecordGroup) DashRecordGroup {
	out := DashRecordGroup{Zone: g.Key.Zone, Name: g.Key.Name, Type: string(g.Key.Type), Policy: string(g.Policy),
		Answering: []string{}, Records: []DashRecord{}}
	var healthy, all []string
	for _, r := range g.Records {
		s := r.Spec
		rec := DashRecord{SetIdentifier: s.SetIdentifier, Routing: routing(s), Answer: answer(s), Healthy: r.Healthy, Reason: r.Reason}
		out.Records = append(out.Records, rec)
		id := cmp.Or(s.SetIdentifier, rec.Answer)
		all = append(all, id)
		if r.Healthy {
			healthy = append(healthy, id)
		}
	}
	out.FailingOpen = g.FailingOpen()
	switch {
	case len(g.Records) == 0:
		out.Why = "no records"
	case g.Policy == model.PolicyFailover:
		primary, secondary := failoverPair(g)
		switch {
		case primary != nil && primary.Healthy:
			out.Answering, out.Why = []string{primary.Spec.SetIdentifier}, "primary healthy"
		case secondary != nil && secondary.Healthy:
			why := "primary unhealthy"
			if primary != nil && primary.Reason != "" {
				why += ": " + primary.Reason
			}
			out.Answering, out.Why = []string{secondary.Spec.SetIdentifier}, why
		default:
			out.Answering, out.Why = all, "every record unhealthy: failing open, answering as if all were healthy"
			if primary != nil {
				out.Answering = []string{primary.Spec.SetIdentifier}
			}
		}
	case out.FailingOpen:
		out.Answering, out.Why = all, "every record unhealthy: failing open, answering as if all were healthy"
	case len(healthy) == len(all):
		out.Answering, out.Why = healthy, whyPolicy(g.Policy, "every record healthy")
	default:
		out.Answering = healthy
		out.Why = whyPolicy(g.Policy, fmt.Sprintf("%d of %d records healthy", len(healthy), len(all)))
	}
	return out
}

func whyPolicy(p model.Policy, health string) string {
	if p == model.PolicySimple {
		return health
	}
	return health + "; each query chooses among them by " + string(p) + " routing"
}

func failoverPair(g *view.RecordGroup) (primary, secondary *view.Record) {
	for i := range g.Records {
		r := &g.Records[i]
		if r.Spec.Failover == model.Primary {
			primary = r
		} else {
			secondary = r
		}
	}
	return primary, secondary
}

func routing(s *model.RecordSet) string {
	switch {
	case s.Weight != nil:
		return fmt.Sprintf("weight %d", *s.Weight)
	case s.Failover != "":
		return string(s.Failover)
	case s.Region != "":
		return "region " + s.Region
	case s.Geolocation != nil:
		return "geolocation " + cmp.Or(s.Geolocation.Country, s.Geolocation.Continent)
	case s.Geoproximity != nil:
		return "geoproximity"
	case s.Multivalue:
		return "multivalue"
	case s.CIDR != nil:
		return "cidr"
	}
	return ""
}

func answer(s *model.RecordSet) string {
	if a := s.Alias; a != nil {
		return "alias → " + cmp.Or(a.LoadBalancer, a.Record)
	}
	return strings.Join(s.Values, ", ")
}

// dashChecks lists every health status with its recent probes, named
// checks first, at most maxDashChecks.
func dashChecks(hs *state.Snapshot, e *health.Engine) ([]DashCheck, int) {
	var keys []state.Key
	hs.Each(func(k state.Key, _ state.Status) { keys = append(keys, k) })
	slices.SortFunc(keys, func(a, b state.Key) int {
		ag, bg := state.IsGroupCheck(a.Check), state.IsGroupCheck(b.Check)
		switch {
		case ag && !bg:
			return 1
		case bg && !ag:
			return -1
		}
		return cmp.Or(cmp.Compare(a.Check, b.Check), a.Target.Compare(b.Target))
	})
	omitted := 0
	if len(keys) > maxDashChecks {
		keys, omitted = keys[:maxDashChecks], len(keys)-maxDashChecks
	}
	out := []DashCheck{}
	for _, k := range keys {
		det, ok := e.Detail(k)
		if !ok {
			continue // gone since the snapshot
		}
		c := DashCheck{Check: k.Check, Status: det.Status.Word(), Reason: det.Status.Reason, Since: rfc3339(det.Status.Since), LatenciesMS: []float64{}}
		if k.Target.IsValid() {
			c.Target = k.Target.String()
		}
		for _, o := range det.History {
			c.LatenciesMS = append(c.LatenciesMS, float64(o.Latency.Microseconds())/1000)
			if !o.Healthy {
				c.LastError, c.LastErrorTime = o.Reason, rfc3339(o.Time)
			}
		}
		out = append(out, c)
	}
	return out, omitted
}

func addrStrings[T fmt.Stringer](as []T) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// timelineLen is how many events the dashboard keeps.
const timelineLen = 200

// diffViews describes, as timeline events, what changed from old to v that
// health events do not already say: a new configuration version, fail-open
// starting or ending, failovers, and zonal shifts starting or ending.
func diffViews(old, v *view.View, summary string, now time.Time) []DashEvent {
	var out []DashEvent
	at := rfc3339(now)
	add := func(kind, level, format string, args ...any) {
		out = append(out, DashEvent{Time: at, Kind: kind, Level: level, Text: fmt.Sprintf(format, args...)})
	}
	if old == nil || old.Version != v.Version {
		add("config", "ok", "desired state version %d: %s", v.Version, cmp.Or(summary, "no summary"))
	}
	if old == nil {
		old = &view.View{}
	}
	for _, name := range slices.Sorted(maps.Keys(v.TargetGroups)) {
		g := v.TargetGroups[name]
		og := old.TargetGroups[name]
		for _, zn := range slices.Sorted(maps.Keys(g.Zones)) {
			z := g.Zones[zn]
			var was, wasShifted bool
			if og != nil && og.Zones[zn] != nil {
				was, wasShifted = og.Zones[zn].FailingOpen, og.Zones[zn].Shifted
			}
			switch {
			case z.FailingOpen && !was:
				add("fail-open", "bad", "target group %s zone %s fails open: too few healthy targets to route to, so it routes to unhealthy ones too (%d routable)", name, zn, len(z.Routable))
			case !z.FailingOpen && was:
				add("fail-open", "ok", "target group %s zone %s no longer fails open", name, zn)
			}
			switch {
			case z.Shifted && !wasShifted:
				add("zonal-shift", "warn", "zonal shift: target group %s traffic moves away from zone %s", name, zn)
			case !z.Shifted && wasShifted:
				add("zonal-shift", "ok", "zonal shift ended: target group %s zone %s takes traffic again", name, zn)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(v.LoadBalancers)) {
		lb := v.LoadBalancers[name]
		ol := old.LoadBalancers[name]
		switch {
		case lb.DNSFailingOpen && (ol == nil || !ol.DNSFailingOpen):
			add("fail-open", "bad", "load balancer %s DNS fails open: no zone passes, answering every node", name)
		case !lb.DNSFailingOpen && ol != nil && ol.DNSFailingOpen:
			add("fail-open", "ok", "load balancer %s DNS no longer fails open", name)
		}
		if ol == nil {
			continue
		}
		for i, n := range lb.Nodes {
			if i >= len(ol.Nodes) || ol.Nodes[i].Zone != n.Zone || ol.Nodes[i].InDNS == n.InDNS {
				continue
			}
			if n.InDNS {
				add("zonal-shift", "ok", "load balancer %s zone %s back in DNS", name, n.Zone)
			} else {
				add("zonal-shift", "warn", "load balancer %s zone %s leaves DNS: %s", name, n.Zone, n.Reason)
			}
		}
	}
	for k, g := range v.Records {
		og := old.Records[k]
		if og == nil {
			continue
		}
		now, was := dashRecordGroup(g), dashRecordGroup(og)
		switch {
		case now.FailingOpen && !was.FailingOpen:
			add("fail-open", "bad", "%s %s fails open: every record unhealthy", k.Name, k.Type)
		case !now.FailingOpen && was.FailingOpen:
			add("fail-open", "ok", "%s %s no longer fails open", k.Name, k.Type)
		}
		if g.Policy == model.PolicyFailover && !slices.Equal(now.Answering, was.Answering) {
			level := "ok"
			if now.Why != "primary healthy" {
				level = "warn"
			}
			add("failover", level, "%s %s now answers %s (%s)", k.Name, k.Type, strings.Join(now.Answering, ", "), now.Why)
		}
	}
	return out
}

// healthEvent describes one health transition for the timeline.
func healthEvent(ev health.Event, now time.Time) DashEvent {
	name := ev.Key.Check
	if ev.Key.Target.IsValid() {
		name += " " + ev.Key.Target.String()
	}
	level := map[string]string{"healthy": "ok", "unhealthy": "bad", "unknown": "warn"}[ev.Status.Word()]
	text := fmt.Sprintf("%s: %s → %s", name, ev.Previous.Word(), ev.Status.Word())
	if ev.Status.Reason != "" && ev.Status.Word() != "healthy" {
		text += ": " + ev.Status.Reason
	}
	return DashEvent{Time: rfc3339(now), Kind: "health", Level: level, Text: text}
}
