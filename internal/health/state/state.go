// Package state holds health as immutable snapshots: what the health engine
// publishes and the view reads. It has no network code, so that the view,
// which must stay pure, can depend on it.
package state

import (
	"net/netip"
	"strings"
	"time"
)

// Key identifies one health state: a check and, for checks that probe many
// targets (a target group's), the target. State is never keyed by address
// alone: two groups may probe one address differently.
type Key struct {
	// Check is a named health check, or "target_groups/<name>" for a group's probe.
	Check string
	// Target is the probed target; the zero value for named checks.
	Target netip.AddrPort
}

// groupPrefix starts the Check of every target group's probe.
const groupPrefix = "target_groups/"

// GroupCheck returns the Check of target group name's probe.
func GroupCheck(group string) string { return groupPrefix + group }

// IsGroupCheck reports whether check is a target group's probe, as
// GroupCheck names them, rather than a named health check.
func IsGroupCheck(check string) bool { return strings.HasPrefix(check, groupPrefix) }

// Status is what the engine last decided about one Key.
type Status struct {
	Healthy bool
	// Observed is false while no probe has finished yet: Healthy is then the
	// check's initial state (the "unknown" of status pages).
	Observed bool
	// Ejected is true while passive outlier detection keeps the target out.
	Ejected bool
	// Reason says why, for people: "status 503, want 200-399",
	// "connect 127.0.0.1:9001: connection refused". Snapshots are published
	// on transitions, so a snapshot's reason is the one of its publication;
	// the engine's Detail has the latest.
	Reason string
	// Since is when Healthy last changed.
	Since time.Time
}

// Word is healthy, unhealthy or unknown (not yet observed).
func (s Status) Word() string {
	switch {
	case !s.Observed && !s.Ejected:
		return "unknown"
	case s.Healthy:
		return "healthy"
	}
	return "unhealthy"
}

// Each calls f for every status, in no particular order.
func (s *Snapshot) Each(f func(Key, Status)) {
	if s == nil {
		return
	}
	for k, st := range s.statuses {
		f(k, st)
	}
}

// Snapshot is an immutable set of statuses. Keys it lacks have no result
// yet; readers treat them as healthy (as Route 53 does before its first
// result) unless the check says otherwise.
type Snapshot struct {
	version  uint64
	statuses map[Key]Status
}

// NewSnapshot returns a snapshot of statuses, which it takes over: the
// caller must not change the map afterwards.
func NewSnapshot(version uint64, statuses map[Key]Status) *Snapshot {
	return &Snapshot{version: version, statuses: statuses}
}

// Version increases with every change of any status.
func (s *Snapshot) Version() uint64 {
	if s == nil {
		return 0
	}
	return s.version
}

// Get returns the status of k and whether there is one.
func (s *Snapshot) Get(k Key) (Status, bool) {
	if s == nil {
		return Status{}, false
	}
	st, ok := s.statuses[k]
	return st, ok
}

// Len is the number of statuses.
func (s *Snapshot) Len() int {
	if s == nil {
		return 0
	}
	return len(s.statuses)
}
