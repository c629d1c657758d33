package balance

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/view"
)

// Registry holds one Group per target group of the current view, for a
// node in one zone, so that outstanding-request counts, slow-start clocks
// and rotation survive from one view to the next. A data plane calls Update
// with every view it receives and Refresh about once a second; Group may be
// called from any goroutine at any time.
type Registry struct {
	// Immutable after NewRegistry.
	zone      string
	tableSize int

	groups atomic.Pointer[map[string]*Group]

	mu sync.Mutex // serialises Update and Refresh
}

// NewRegistry returns an empty Registry for a node in zone ("" when it does
// not know its zone). tableSize is the Maglev table size (0: default).
func NewRegistry(zone string, tableSize int) *Registry {
	r := &Registry{zone: zone, tableSize: tableSize}
	r.groups.Store(&map[string]*Group{})
	return r
}

// Update brings every group up to v at time now: new groups are created,
// groups gone from v are dropped (callers holding them keep a group that
// routes as it last did), and the others keep their endpoints.
func (r *Registry) Update(v *view.View, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.groups.Load()
	next := make(map[string]*Group, len(v.TargetGroups))
	for name := range v.TargetGroups {
		g := old[name]
		if g == nil {
			g = NewGroup(name, r.zone, r.tableSize)
		}
		g.Update(v, now)
		next[name] = g
	}
	r.groups.Store(&next)
}

// Refresh lets groups in slow start grow their new targets' share.
func (r *Registry) Refresh(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range *r.groups.Load() {
		g.Refresh(now)
	}
}

// Group returns the group named name, nil when the view has none.
func (r *Registry) Group(name string) *Group { return (*r.groups.Load())[name] }
