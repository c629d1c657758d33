package health

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// group is a target group's passive health: its outlier-detection settings
// and each target's record of live traffic.
type group struct {
	od      *model.OutlierDetection
	passive map[state.Key]*passive
}

// Outcome is what happened to one request or connection sent to a target.
type Outcome int

// Outcomes.
const (
	// Success: the target answered (any status below 500).
	Success Outcome = iota
	// Failure: reset, timeout or a 5xx answer.
	Failure
	// ConnectFailure: the connection was refused or the target unreachable.
	ConnectFailure
)

// passive is one target's record of live traffic.
type passive struct {
	failures  int       // consecutive failures since the last success or ejection
	connects  int       // consecutive connect failures, likewise
	until     time.Time // ejected until then; zero when not ejected
	ejections int       // ejections so far; the next lasts one base_ejection longer
	lastEnd   time.Time // when the last ejection ended
	// sawDown is true once the active check's latest result, at or after
	// the current ejection's start, was a failure: once the check passes
	// healthy_threshold times again, the ejection ends.
	sawDown bool
	reason  string
	// counting mirrors failures+connects > 0, so that Report can drop a
	// Success on a target with nothing to reset without taking the lock.
	// Written under Engine.mu, read without it.
	counting atomic.Bool
}

// passiveKey names one target of one group in Engine.fast.
type passiveKey struct {
	group  string
	target netip.AddrPort
}

// setFastLocked publishes the passive records of groups whose outlier
// detection is on, for Report's lock-free path. e.mu must be held.
func (e *Engine) setFastLocked() {
	m := map[passiveKey]*passive{}
	for name, g := range e.groups {
		if g.od == nil || g.od.Disabled {
			continue
		}
		for k, ps := range g.passive {
			m[passiveKey{name, k.Target}] = ps
		}
	}
	e.fast.Store(&m)
}

func (ps *passive) ejected(now time.Time) bool { return !ps.until.IsZero() && now.Before(ps.until) }

func (ps *passive) endEjection(now time.Time) {
	ps.until, ps.lastEnd, ps.reason, ps.sawDown = time.Time{}, now, "", false
}

// activeSays folds the active check into an ejection in force. failed says
// a checker's latest probe failed (even one the unhealthy threshold does not
// count yet) or holds the target unhealthy: the check sees what live
// traffic saw. recovered says every checker has since passed
// healthy_threshold times in a row. A target the check saw failing while
// ejected (including a failure that was the latest result when the ejection
// began) and then recover returns at once rather than after base_ejection,
// so a brief outage costs seconds, not the ejection's time. A target the
// active check never saw fail (live traffic failing in ways the check does
// not catch) stays out for the ejection's time.
func (ps *passive) activeSays(failed, recovered bool, now time.Time) {
	switch {
	case !ps.ejected(now):
	case failed:
		ps.sawDown = true
	case recovered && ps.sawDown:
		ps.endEjection(now)
	}
}

func (e *Engine) groupOf(k state.Key) *group {
	if !k.Target.IsValid() || len(k.Check) <= len(state.GroupCheck("")) {
		return nil
	}
	return e.groups[k.Check[len(state.GroupCheck("")):]]
}

// Report records the outcome of one request or connection that a proxy sent
// to target of target group name; reason describes a failure. After the
// group's consecutive_failures failures, or consecutive_connect_failures
// connect failures (by default the first), the target is ejected at once,
// for base_ejection times the number of its recent ejections (up to
// max_ejection), unless that would eject more than max_ejection_percent of
// the group. Report is safe for concurrent use. The common case, a Success
// on a target with no failure counted, is one map lookup and an atomic load
// and takes no lock; the rest takes the engine's lock briefly.
func (e *Engine) Report(name string, target netip.AddrPort, o Outcome, reason string) {
	if o == Success {
		if m := e.fast.Load(); m != nil {
			if ps := (*m)[passiveKey{name, target}]; ps == nil || !ps.counting.Load() {
				return // unknown target, detection off, or nothing to reset
			}
		}
	}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.groups[name]
	if g == nil || g.od == nil || g.od.Disabled {
		return
	}
	k := state.Key{Check: state.GroupCheck(name), Target: target}
	ps := g.passive[k]
	if ps == nil {
		return
	}
	var run, limit int
	defer func() { ps.counting.Store(ps.failures > 0 || ps.connects > 0) }()
	switch o {
	case Success:
		ps.failures, ps.connects = 0, 0
		return
	case ConnectFailure:
		ps.connects++
		run, limit = ps.connects, g.od.ConsecutiveConnectFailures
	default:
		ps.failures++
		run, limit = ps.failures, g.od.ConsecutiveFailures
	}
	if ps.ejected(now) || run < limit {
		return
	}
	if g.ejectedCount(now) >= g.maxEjected() {
		e.log.Debug("outlier not ejected: group at its ejection limit", "target_group", name, "target", target.String())
		return
	}
	if !ps.lastEnd.IsZero() && now.Sub(ps.lastEnd) > g.od.MaxEjection.D() {
		ps.ejections = 0 // healthy for long enough: start again from base_ejection
	}
	ps.ejections++
	d := min(time.Duration(ps.ejections)*g.od.BaseEjection.D(), g.od.MaxEjection.D())
	ps.until, ps.failures, ps.connects, ps.sawDown = now.Add(d), 0, 0, false
	what := "failures"
	if o == ConnectFailure {
		what = "connect failures"
	}
	ps.reason = fmt.Sprintf("ejected for %s after %d consecutive %s of live traffic (last: %s)", d, limit, what, reason)
	e.combineLocked(k, now)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// maxEjected is how many of g's targets may be ejected at once: the
// percentage of the group, but at least one when the percentage is not 0.
func (g *group) maxEjected() int {
	pct := 50
	if g.od.MaxEjectionPercent != nil {
		pct = *g.od.MaxEjectionPercent
	}
	n := len(g.passive) * pct / 100
	if n == 0 && pct > 0 {
		n = 1
	}
	return n
}

func (g *group) ejectedCount(now time.Time) int {
	n := 0
	for _, ps := range g.passive {
		if ps.ejected(now) {
			n++
		}
	}
	return n
}

// endEjections returns ejected targets whose time is up to their active
// status, and says how long until the next ejection ends.
func (e *Engine) endEjections(now time.Time) (time.Duration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var next time.Duration
	found := false
	for _, g := range e.groups {
		for k, ps := range g.passive {
			switch {
			case ps.until.IsZero():
			case !now.Before(ps.until):
				ps.endEjection(now)
				e.combineLocked(k, now)
			default:
				if d := ps.until.Sub(now); !found || d < next {
					next, found = d, true
				}
			}
		}
	}
	return next, found
}
