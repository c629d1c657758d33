package view

import (
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// RecordKey identifies a record group: a hosted zone, a name and a type.
// Names are canonical (model.CanonicalName).
type RecordKey struct {
	Zone, Name string
	Type       model.RecordType
}

// RecordGroup is the records of one name and type, each with its health.
type RecordGroup struct {
	Key    RecordKey
	Policy model.Policy
	// Records are in the order the hosted zone lists them.
	Records []Record
	// AnyHealthy is Route 53's evaluate-target-health for an alias to this
	// group: at least one record of it is healthy.
	AnyHealthy bool
}

// FailingOpen reports whether the group has records and none is healthy:
// DNS then answers as if every record were healthy, as Route 53 does.
func (g *RecordGroup) FailingOpen() bool { return len(g.Records) > 0 && !g.AnyHealthy }

// Record is one record of a group and whether it may be answered.
type Record struct {
	Spec *model.RecordSet
	// Healthy: its health check passes (or it has none) and, for an alias
	// that evaluates target health, its target has a healthy answer.
	Healthy bool
	// Reason says why a record is unhealthy.
	Reason string
}

// buildRecords groups every record set of s and decides each record's
// health: its health check's status (a check without a result yet counts
// healthy, as Route 53), and for an alias with evaluate_target_health its
// target's: a record group with a healthy record, or a healthy load
// balancer. A record with both must pass both. Fail-open within a group
// (every record unhealthy: answer as if all were healthy) is the DNS
// server's, per query, because it depends on the policy's walk.
func buildRecords(s *model.State, h *state.Snapshot, lbs map[string]*LoadBalancer) map[RecordKey]*RecordGroup {
	groups := map[RecordKey]*RecordGroup{}
	for zi := range s.HostedZones {
		z := &s.HostedZones[zi]
		zone := model.CanonicalName(z.Name)
		for ri := range z.Records {
			r := &z.Records[ri]
			k := RecordKey{Zone: zone, Name: model.CanonicalName(r.Name), Type: r.Type}
			g := groups[k]
			if g == nil {
				g = &RecordGroup{Key: k, Policy: r.Policy()}
				groups[k] = g
			}
			g.Records = append(g.Records, Record{Spec: r, Healthy: true})
		}
	}
	// Alias health depends on other groups: resolve depth-first with a
	// memo. Validation refuses alias cycles; onStack guards anyway.
	done := map[RecordKey]bool{}
	onStack := map[RecordKey]bool{}
	var resolve func(k RecordKey)
	resolve = func(k RecordKey) {
		g := groups[k]
		if g == nil || done[k] || onStack[k] {
			return
		}
		onStack[k] = true
		for i := range g.Records {
			rec := &g.Records[i]
			r := rec.Spec
			if r.HealthCheck != "" {
				if st, ok := h.Get(state.Key{Check: r.HealthCheck}); ok && !st.Healthy {
					rec.Healthy, rec.Reason = false, "health check "+r.HealthCheck+": "+st.Reason
				}
			}
			a := r.Alias
			if a == nil || !a.EvaluateTargetHealth || !rec.Healthy {
				continue
			}
			switch {
			case a.LoadBalancer != "":
				if lb := lbs[a.LoadBalancer]; lb == nil || !lb.Healthy {
					rec.Healthy, rec.Reason = false, "load balancer "+a.LoadBalancer+" has no healthy target group"
				}
			default:
				tk := RecordKey{Zone: k.Zone, Name: model.CanonicalName(a.Record), Type: k.Type}
				resolve(tk)
				if t := groups[tk]; t == nil || !t.AnyHealthy {
					rec.Healthy, rec.Reason = false, "alias target "+tk.Name+" has no healthy record"
				}
			}
		}
		for _, rec := range g.Records {
			g.AnyHealthy = g.AnyHealthy || rec.Healthy
		}
		delete(onStack, k)
		done[k] = true
	}
	for k := range groups {
		resolve(k)
	}
	return groups
}
