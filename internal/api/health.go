package api

import (
	"cmp"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/view"
)

// Health endpoints:
//
//	GET /api/v1/health                          every status the engine holds
//	GET /api/v1/health/checks/{name}[?target=]  one check (or a group's probe of one target), per checker
//	GET /api/v1/health/target_groups/{name}     a group per zone and per target, from the live view
//	GET /api/v1/health/zones                    per zone: targets, healthy, shifts, nodes in DNS

// Status is one health status.
type Status struct {
	Check   string    `json:"check"`
	Target  string    `json:"target,omitempty"`
	Status  string    `json:"status"` // healthy, unhealthy or unknown
	Ejected bool      `json:"ejected,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// Checkers are each vantage point's latest observation, in detail views.
	Checkers []Observation `json:"checkers,omitempty"`
	// History are the latest observations, oldest first, in detail views.
	History []Observation `json:"history,omitempty"`
}

// Observation is one checker's result.
type Observation struct {
	Checker string    `json:"checker"`
	Time    time.Time `json:"time"`
	Healthy bool      `json:"healthy"`
	Reason  string    `json:"reason,omitempty"`
	Latency string    `json:"latency"`
}

func statusOf(k state.Key, st state.Status) Status {
	s := Status{Check: k.Check, Status: st.Word(), Ejected: st.Ejected, Reason: st.Reason, Since: st.Since}
	if k.Target.IsValid() {
		s.Target = k.Target.String()
	}
	return s
}

func (a *API) detail(k state.Key, s *Status) {
	if a.cfg.Health == nil {
		return
	}
	d, ok := a.cfg.Health.Detail(k)
	if !ok {
		return
	}
	conv := func(os []health.Observation) []Observation {
		out := make([]Observation, len(os))
		for i, o := range os {
			out[i] = Observation{o.Checker, o.Time, o.Healthy, o.Reason, o.Latency.String()}
		}
		return out
	}
	*s = statusOf(k, d.Status)
	s.Checkers, s.History = conv(d.Checkers), conv(d.History)
}

func (a *API) snapshotHealth() *state.Snapshot {
	if a.cfg.Health != nil {
		return a.cfg.Health.Snapshot()
	}
	if v := a.cfg.Views.Load(); v != nil {
		return v.Health
	}
	return nil
}

func (a *API) healthAll(w http.ResponseWriter, r *http.Request) error {
	out := []Status{}
	a.snapshotHealth().Each(func(k state.Key, st state.Status) { out = append(out, statusOf(k, st)) })
	slices.SortFunc(out, func(x, y Status) int {
		return cmp.Or(strings.Compare(x.Check, y.Check), strings.Compare(x.Target, y.Target))
	})
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) healthCheck(w http.ResponseWriter, r *http.Request) error {
	k := state.Key{Check: r.PathValue("name")}
	if t := r.URL.Query().Get("target"); t != "" {
		ap, err := netip.ParseAddrPort(t)
		if err != nil {
			return badRequest("target", "%q is not an address and port", t)
		}
		k.Target = ap
	}
	st, ok := a.snapshotHealth().Get(k)
	if !ok {
		return notFound("no health status for check %q%s", k.Check, targetSuffix(k))
	}
	s := statusOf(k, st)
	a.detail(k, &s)
	return writeJSON(w, http.StatusOK, s)
}

func targetSuffix(k state.Key) string {
	if k.Target.IsValid() {
		return " target " + k.Target.String()
	}
	return ""
}

// GroupHealth is a target group's routing state in the live view.
type GroupHealth struct {
	Name        string       `json:"name"`
	Version     uint64       `json:"view_version"`
	Registered  int          `json:"registered"`
	Healthy     int          `json:"healthy"`
	FailingOpen bool         `json:"failing_open"`
	Zones       []ZoneHealth `json:"zones"`
	Targets     []Status     `json:"targets"`
}

// ZoneHealth is one zone of a target group.
type ZoneHealth struct {
	Zone        string   `json:"zone"`
	Registered  int      `json:"registered"`
	Healthy     int      `json:"healthy"`
	Routable    []string `json:"routable"`
	FailingOpen bool     `json:"failing_open,omitempty"`
	Shifted     bool     `json:"shifted,omitempty"`
	DNSHealthy  bool     `json:"dns_healthy"`
}

func (a *API) liveView() (*view.View, error) {
	v := a.cfg.Views.Load()
	if v == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "no_view", Message: "no routing view has been built yet"}
	}
	return v, nil
}

func (a *API) healthGroup(w http.ResponseWriter, r *http.Request) error {
	v, err := a.liveView()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	g := v.TargetGroups[name]
	if g == nil {
		return notFound("target group %q does not exist in view version %d", name, v.Version)
	}
	out := GroupHealth{Name: name, Version: v.Version, Registered: g.Registered, Healthy: g.Healthy, FailingOpen: g.FailingOpen, Zones: []ZoneHealth{}, Targets: []Status{}}
	for _, zn := range slices.Sorted(maps.Keys(g.Zones)) {
		z := g.Zones[zn]
		zh := ZoneHealth{Zone: zn, Registered: len(z.Targets), Healthy: z.Healthy, Routable: []string{}, FailingOpen: z.FailingOpen, Shifted: z.Shifted, DNSHealthy: z.DNSHealthy}
		for _, t := range z.Routable {
			zh.Routable = append(zh.Routable, t.Addr.String())
		}
		out.Zones = append(out.Zones, zh)
		for _, t := range z.Targets {
			k := state.Key{Check: state.GroupCheck(name), Target: t.Addr}
			s := Status{Check: k.Check, Target: t.Addr.String(), Status: v.TargetStatus(g, t), Reason: t.Reason, Since: t.Since}
			a.detail(k, &s)
			out.Targets = append(out.Targets, s)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// ZoneSummary is one zone across every target group and load balancer.
type ZoneSummary struct {
	Zone       string `json:"zone"`
	Registered int    `json:"registered"`
	Healthy    int    `json:"healthy"`
	// ShiftedGroups are the target groups shifted away from the zone.
	ShiftedGroups []string `json:"shifted_groups,omitempty"`
	// Nodes and NodesInDNS count load balancer nodes in the zone.
	Nodes      int `json:"nodes"`
	NodesInDNS int `json:"nodes_in_dns"`
}

func (a *API) healthZones(w http.ResponseWriter, r *http.Request) error {
	v, err := a.liveView()
	if err != nil {
		return err
	}
	zones := map[string]*ZoneSummary{}
	get := func(n string) *ZoneSummary {
		if zones[n] == nil {
			zones[n] = &ZoneSummary{Zone: n}
		}
		return zones[n]
	}
	for _, z := range v.State.Zones {
		get(z.Name)
	}
	for gn, g := range v.TargetGroups {
		for zn, z := range g.Zones {
			s := get(zn)
			s.Registered += len(z.Targets)
			s.Healthy += z.Healthy
			if z.Shifted {
				s.ShiftedGroups = append(s.ShiftedGroups, gn)
			}
		}
	}
	for _, lb := range v.LoadBalancers {
		for _, n := range lb.Nodes {
			s := get(n.Zone)
			s.Nodes++
			if n.InDNS {
				s.NodesInDNS++
			}
		}
	}
	out := []ZoneSummary{}
	for _, n := range slices.Sorted(maps.Keys(zones)) {
		slices.Sort(zones[n].ShiftedGroups)
		out = append(out, *zones[n])
	}
	return writeJSON(w, http.StatusOK, out)
}
