package health

import (
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
)

// calculated is a check whose health is how many of its children are healthy.
type calculated struct {
	name      string
	children  []string
	threshold int
	inverted  bool
	disabled  bool
}

// status counts c's healthy children in statuses: healthy when at least
// threshold are (0: always; more than the children: never), as Route 53. A
// disabled child is healthy, because its own status says so.
func (c *calculated) status(statuses map[state.Key]state.Status) state.Status {
	if c.disabled {
		return state.Status{Healthy: true, Observed: true, Reason: "disabled"}
	}
	healthy, observed := 0, false
	for _, name := range c.children {
		st, ok := statuses[state.Key{Check: name}]
		if !ok || st.Healthy {
			healthy++
		}
		observed = observed || st.Observed
	}
	st := state.Status{
		Healthy:  healthy >= c.threshold,
		Observed: observed,
		Reason:   fmt.Sprintf("%d of %d children healthy, need %d", healthy, len(c.children), c.threshold),
	}
	if c.inverted {
		st.Healthy = !st.Healthy
		st.Reason = "inverted: " + st.Reason
	}
	return st
}

// recomputeCalculatedLocked brings every calculated check up to date with
// its children. Calculated checks may have calculated children, so it
// repeats until nothing changes; validation refuses cycles, so that is at
// most one round per level of nesting. e.mu must be held.
func (e *Engine) recomputeCalculatedLocked(now time.Time) {
	for range len(e.calcs) + 1 {
		changed := false
		for _, c := range e.calcs {
			k := state.Key{Check: c.name}
			st := c.status(e.statuses)
			if prev, ok := e.statuses[k]; ok && prev.Healthy == st.Healthy && prev.Observed == st.Observed && prev.Reason == st.Reason {
				continue
			}
			e.setLocked(k, st, now)
			changed = true
		}
		if !changed {
			return
		}
	}
}
