package server

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/internal/metrics"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
	"github.com/switchboard/switchboard/internal/vip"
)

// OwnedVIPs returns the virtual IPs this node owns in st, per interface:
// for every load balancer whose data_plane names an interface (whatever
// its backend, since a balancer that fell back to userspace needs its
// addresses too), the addresses of its nodes in zone, or of all its nodes
// when zone is empty. An address named by two balancers on different
// interfaces goes to the first in the state's order; addresses that cannot
// be a VIP (loopback, link-local, …) are skipped. Addresses are sorted.
func OwnedVIPs(st *model.State, zone string) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	seen := map[netip.Addr]bool{}
	for i := range st.LoadBalancers {
		lb := &st.LoadBalancers[i]
		if lb.DataPlane == nil || lb.DataPlane.Interface == "" {
			continue
		}
		for _, n := range lb.Nodes {
			if zone != "" && n.Zone != zone {
				continue
			}
			for _, a := range n.Addresses {
				if seen[a] || vip.Check(a) != nil {
					continue
				}
				seen[a] = true
				out[lb.DataPlane.Interface] = append(out[lb.DataPlane.Interface], a)
			}
		}
	}
	for _, as := range out {
		slices.SortFunc(as, netip.Addr.Compare)
	}
	return out
}

// VIPStatus is one virtual IP this node owns, or tries to, in /status.
type VIPStatus struct {
	Address   string `json:"address"`
	Interface string `json:"interface"`
	// Held is true while the address is on the interface.
	Held  bool   `json:"held"`
	Since string `json:"since,omitempty"`
	// Announced counts the announcements (gratuitous ARP, unsolicited
	// neighbour advertisement) since it was taken; LastAnnounced is the
	// last one's time.
	Announced     int    `json:"announced"`
	LastAnnounced string `json:"last_announced,omitempty"`
	// Error says why it is not held (no root, no such interface, …).
	Error string `json:"error,omitempty"`
}

// vipOwners runs one vip.Owner per interface that the running state's
// balancers name, and gives each the addresses of OwnedVIPs.
type vipOwners struct {
	// Immutable after newVIPOwners.
	log  *slog.Logger
	zone string

	mu     sync.Mutex // guards owners
	owners map[string]*ownerRun
}

// ownerRun is one interface's running Owner.
type ownerRun struct {
	owner  *vip.Owner
	cancel context.CancelFunc
	done   chan struct{}
	err    atomic.Pointer[string] // why Run stopped early, if it did
}

func newVIPOwners(log *slog.Logger, zone string) *vipOwners {
	return &vipOwners{log: log, zone: zone, owners: map[string]*ownerRun{}}
}

// Run follows every view published on pub until ctx ends, then withdraws
// every VIP before returning.
func (v *vipOwners) Run(ctx context.Context, pub *view.Publisher) error {
	defer v.stopAll()
	for view := range pub.Subscribe(ctx) {
		v.apply(ctx, view.State)
	}
	return nil
}

// apply starts, updates and stops the owners so that this node owns
// exactly OwnedVIPs(st). Only Run calls it, from one goroutine; it waits
// for the owners it stops to withdraw, without holding v.mu.
func (v *vipOwners) apply(ctx context.Context, st *model.State) {
	want := OwnedVIPs(st, v.zone)
	v.mu.Lock()
	for ifc, addrs := range want {
		r := v.owners[ifc]
		if r == nil {
			o, err := vip.New(vip.Config{Interface: ifc, Logger: v.log})
			if err != nil {
				v.log.Error("vips not owned", "interface", ifc, "err", err)
				continue
			}
			rctx, cancel := context.WithCancel(ctx)
			r = &ownerRun{owner: o, cancel: cancel, done: make(chan struct{})}
			v.owners[ifc] = r
			go func() {
				defer close(r.done)
				if err := o.Run(rctx); err != nil {
					msg := err.Error()
					r.err.Store(&msg)
					v.log.Error("vips not owned", "interface", ifc, "err", err)
				}
			}()
		}
		if err := r.owner.Set(addrs); err != nil { // OwnedVIPs skips invalid ones
			v.log.Error("vips not updated", "interface", ifc, "err", err)
		}
	}
	var stopping []*ownerRun
	for ifc, r := range v.owners {
		if _, ok := want[ifc]; !ok {
			r.cancel()
			stopping = append(stopping, r)
			delete(v.owners, ifc)
		}
	}
	v.mu.Unlock()
	for _, r := range stopping {
		<-r.done // withdrawn
	}
}

// stopAll withdraws every VIP and returns when they are withdrawn.
func (v *vipOwners) stopAll() {
	v.mu.Lock()
	runs := slices.Collect(maps.Values(v.owners))
	clear(v.owners)
	v.mu.Unlock()
	for _, r := range runs {
		r.cancel()
		<-r.done
	}
}

// Status returns every VIP's state, by interface then address.
func (v *vipOwners) Status() []VIPStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []VIPStatus
	for _, ifc := range slices.Sorted(maps.Keys(v.owners)) {
		r := v.owners[ifc]
		runErr := r.err.Load()
		for _, s := range r.owner.Status() {
			vs := VIPStatus{Address: s.VIP.String(), Interface: s.Interface, Held: s.Held, Since: rfc3339(s.Since),
				Announced: s.Announced, LastAnnounced: rfc3339(s.LastAnnounced), Error: s.Error}
			if runErr != nil && vs.Error == "" {
				vs.Error = *runErr
			}
			out = append(out, vs)
		}
	}
	return out
}

// startVIPs makes the VIP owners Run serves, and exports them as
// switchboard_vip_held.
func (s *Server) startVIPs() *vipOwners {
	v := newVIPOwners(s.log.With("component", "vip"), s.settings.Zone)
	s.mu.Lock()
	s.vips = v
	s.mu.Unlock()
	err := s.obs.metrics.Registry().Register(metrics.NewVIPCollector(func() []metrics.VIP {
		s.mu.Lock()
		v := s.vips
		s.mu.Unlock()
		var out []metrics.VIP
		for _, st := range v.Status() {
			out = append(out, metrics.VIP{Address: st.Address, Interface: st.Interface, Held: st.Held})
		}
		return out
	}))
	if err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		s.log.Error("vip metrics not registered", "err", err)
	}
	return v
}
