package ipvs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/view"
)

var _ dataplane.Backend = (*Backend)(nil)

// Backend programs IPVS virtual services towards a view. Apply and Close may
// be called from any goroutine; calls are serialized. The backend owns one
// goroutine, which reconciles the last view again when a drain ends; Close
// stops it.
type Backend struct {
	// Immutable after New.
	cfg  Config
	log  *slog.Logger
	wake chan struct{} // a new earliest drain deadline; capacity 1
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the loop has returned

	mu       sync.Mutex // guards the fields below
	conn     *conn
	last     *view.View
	drains   map[drainKey]time.Time
	delays   map[serviceKey]time.Duration // deregistration delay per service last desired
	seen     map[netip.Addr]bool          // virtual addresses this backend has programmed
	deadline time.Time                    // earliest drain deadline, zero when none
	closed   bool
}

// New opens a netlink handle to the kernel's IPVS and starts the backend's
// timer goroutine. It fails with the reason when the kernel has no IPVS or
// the caller may not program it.
func New(cfg Config) (*Backend, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	c, err := dial(cfg.NetNS)
	if err != nil {
		return nil, err
	}
	b := &Backend{
		cfg:    cfg,
		log:    cfg.Logger,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		conn:   c,
		drains: make(map[drainKey]time.Time),
		delays: make(map[serviceKey]time.Duration),
		seen:   make(map[netip.Addr]bool),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	go b.loop()
	return b, nil
}

// Apply reconciles the kernel's IPVS table towards v. It returns an error
// only when the table cannot be read; changes that fail are Problems in the
// report, and the next Apply tries them again.
func (b *Backend) Apply(ctx context.Context, v *view.View) (dataplane.Report, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return dataplane.Report{Backend: "ipvs"}, errors.New("dataplane/ipvs: apply after close")
	}
	b.last = v
	return b.reconcileLocked(ctx)
}

// reconcileLocked diffs the kernel against b.last and runs the difference.
// b.mu must be held.
func (b *Backend) reconcileLocked(ctx context.Context) (dataplane.Report, error) {
	start := time.Now()
	rep := dataplane.Report{Backend: "ipvs"}
	if b.last != nil {
		rep.Version = b.last.Version
	}
	var isLocal func(netip.Addr) bool
	if !b.cfg.AllNodes {
		local, err := localAddrs()
		if err != nil {
			return rep, err
		}
		isLocal = func(a netip.Addr) bool { return local[a] }
	}
	want, problems := desired(b.last, b.cfg, isLocal)
	rep.Problems = problems
	for k, s := range want {
		b.delays[k] = s.Delay
		b.seen[k.Addr.Addr()] = true
	}
	configured := viewAddrs(b.last)
	owned := func(a netip.Addr) bool { return b.seen[a] || configured[a] }

	kernel, err := b.conn.services()
	if err != nil {
		return rep, err
	}
	now := b.cfg.now()
	ops, next := plan(kernel, want, owned, b.drains, b.delays, now)
	failed := make(map[drainKey]bool)
	for _, o := range ops {
		if err := ctx.Err(); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("stopped before all changes ran: %v", err))
			break
		}
		if err := b.conn.run(o); err != nil {
			what := o.Svc.String()
			if o.Addr.IsValid() {
				what = o.Addr.String() + " of " + what
			}
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: %v", o.Kind, what, err))
			failed[drainKey{o.Svc, o.Addr}] = true
			continue
		}
		switch o.Kind {
		case addService, addDest:
			rep.Added++
		case setService, setDest:
			rep.Updated++
		case delService, delDest:
			rep.Removed++
		}
	}
	// A drain whose weight-0 update failed starts again next time.
	for k := range failed {
		if _, draining := b.drains[k]; !draining {
			delete(next, k)
		}
	}
	b.drains = next
	for k := range b.delays {
		if _, ok := want[k]; !ok {
			if _, draining := next[drainKey{Svc: k}]; !draining {
				delete(b.delays, k)
			}
		}
	}
	b.setDeadlineLocked()
	rep.Services = report(want, kernel, next)
	rep.Took = time.Since(start)
	return rep, nil
}

// report lists what is programmed: the desired services with their real
// servers, and what still drains at weight 0.
func report(want map[serviceKey]*service, kernel map[serviceKey]*kernelService, drains map[drainKey]time.Time) []dataplane.Service {
	var out []dataplane.Service
	for _, s := range sortedServices(want) {
		rs := dataplane.Service{Name: s.Name, VIP: s.Key.Addr.String(), Protocol: protoName(s.Key.Proto)}
		for _, a := range sortedAddrs(s.Dests) {
			rs.Targets = append(rs.Targets, dataplane.WeightedTarget{Addr: a.String(), Weight: s.Dests[a].Weight})
		}
		for k := range drains {
			if k.Svc == s.Key && k.Addr.IsValid() {
				rs.Targets = append(rs.Targets, dataplane.WeightedTarget{Addr: k.Addr.String(), Weight: 0})
			}
		}
		slices.SortFunc(rs.Targets, func(a, b dataplane.WeightedTarget) int { return compareAddrStrings(a.Addr, b.Addr) })
		out = append(out, rs)
	}
	for k := range drains {
		if k.Addr.IsValid() {
			continue
		}
		rs := dataplane.Service{Name: "draining", VIP: k.Svc.Addr.String(), Protocol: protoName(k.Svc.Proto)}
		if ks := kernel[k.Svc]; ks != nil {
			for _, a := range sortedAddrs(ks.Dests) {
				rs.Targets = append(rs.Targets, dataplane.WeightedTarget{Addr: a.String(), Weight: 0})
			}
		}
		out = append(out, rs)
	}
	return out
}

func compareAddrStrings(a, b string) int {
	pa, ea := netip.ParseAddrPort(a)
	pb, eb := netip.ParseAddrPort(b)
	if ea != nil || eb != nil {
		return cmp.Compare(a, b)
	}
	return pa.Compare(pb)
}

// setDeadlineLocked records the earliest drain deadline and wakes the loop
// when it changed. b.mu must be held.
func (b *Backend) setDeadlineLocked() {
	first, _ := earliest(b.drains)
	if first.Equal(b.deadline) {
		return
	}
	b.deadline = first
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// loop reconciles the last view when the earliest drain deadline passes.
func (b *Backend) loop() {
	defer close(b.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-b.wake:
			b.mu.Lock()
			d := b.deadline
			b.mu.Unlock()
			t.Stop()
			if !d.IsZero() {
				t.Reset(max(time.Until(d), 0))
			}
		case <-t.C:
			b.handleDeadline()
		}
	}
}

// handleDeadline reconciles the last view so that ended drains are deleted.
func (b *Backend) handleDeadline() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	rep, err := b.reconcileLocked(context.Background())
	b.mu.Unlock()
	switch {
	case err != nil:
		b.log.Error("dataplane/ipvs: reconcile after drain", "err", err)
	case len(rep.Problems) > 0:
		b.log.Warn("dataplane/ipvs: reconcile after drain", "problems", rep.Problems)
	default:
		b.log.Debug("dataplane/ipvs: drain ended", "removed", rep.Removed, "took_seconds", rep.Took.Seconds())
	}
	if b.cfg.OnReport != nil {
		b.cfg.OnReport(rep)
	}
}

// Close deletes every service this backend owns, without draining, stops
// its goroutine and closes the netlink handle.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	var errs []error
	kernel, err := b.conn.services()
	if err != nil {
		errs = append(errs, err)
	}
	configured := viewAddrs(b.last)
	for k := range kernel {
		if b.seen[k.Addr.Addr()] || configured[k.Addr.Addr()] {
			if err := b.conn.run(op{Kind: delService, Svc: k}); err != nil {
				errs = append(errs, fmt.Errorf("dataplane/ipvs: delete service %s: %w", k, err))
			}
		}
	}
	errs = append(errs, b.conn.close())
	b.mu.Unlock()
	<-b.done
	return errors.Join(errs...)
}

// localAddrs returns the addresses on this machine's interfaces.
func localAddrs() (map[netip.Addr]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("dataplane/ipvs: list local addresses: %w", err)
	}
	out := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out[ip.Unmap()] = true
			}
		}
	}
	return out, nil
}
