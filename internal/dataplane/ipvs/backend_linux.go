package ipvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/view"
)

var _ dataplane.Backend = (*Backend)(nil)

// Backend programs IPVS virtual services towards a view. Apply and Close may
// be called from any goroutine; calls are serialized. The backend owns one
// goroutine, which reconciles the last view again when a drain ends and
// when the table is due to be read again; Close stops it.
//
// Reading the table back costs more than the change itself when a group is
// large (a netlink dump of every real server), so Apply diffs against the
// table as the backend last read and wrote it, and reads it from the kernel
// again on the first Apply, after any change the kernel refused, and at
// least every ResyncInterval. What someone else changed in an owned service
// is repaired at the next read.
type Backend struct {
	// Immutable after New.
	cfg  Config
	log  *slog.Logger
	wake chan struct{} // deadline changed; capacity 1
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the loop has returned

	mu       sync.Mutex // guards the fields below
	conn     *conn
	last     *view.View
	drains   map[drainKey]time.Time
	delays   map[serviceKey]time.Duration  // deregistration delay per service last desired
	seen     map[netip.Addr]bool           // virtual addresses this backend has programmed
	deadline time.Time                     // when the loop should reconcile next, zero for never
	table    map[serviceKey]*kernelService // the kernel's table as last read and written; nil: read it
	readAt   time.Time                     // when table was read from the kernel
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
	c, err := dial()
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

	deadline := time.Now().Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := b.conn.setDeadline(deadline); err != nil {
		return rep, fmt.Errorf("dataplane/ipvs: %w", err)
	}
	now := b.cfg.now()
	if b.table == nil || b.cfg.ResyncInterval < 0 || now.Sub(b.readAt) >= b.cfg.resync() {
		table, err := b.conn.services()
		if err != nil {
			return rep, err
		}
		b.table, b.readAt = table, now
	}
	kernel := b.table
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
			b.table = nil // the kernel is not what we thought: read it next time
			continue
		}
		if b.table != nil {
			record(b.table, o)
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
	rep.Services = report(want, kernel, next)
	b.setDeadlineLocked()
	rep.Took = time.Since(start)
	return rep, nil
}

// setDeadlineLocked sets when the loop reconciles next: the earliest drain
// deadline, or the next read of the table, whichever comes first; and wakes
// the loop when that changed. b.mu must be held.
func (b *Backend) setDeadlineLocked() {
	next, _ := earliest(b.drains)
	if b.cfg.ResyncInterval >= 0 && b.table != nil && b.last != nil {
		if r := b.readAt.Add(b.cfg.resync()); next.IsZero() || r.Before(next) {
			next = r
		}
	}
	if next.Equal(b.deadline) {
		return
	}
	b.deadline = next
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// loop reconciles the last view when a drain ends or the table is due to
// be read.
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

// requestTimeout bounds the netlink requests of one reconcile (or of Close)
// when the caller's context has no earlier deadline.
const requestTimeout = 10 * time.Second

// retryAfter is how long the loop waits to reconcile again after the table
// could not be read.
const retryAfter = time.Second

// handleDeadline reconciles the last view, so that ended drains are deleted
// and the table is read and repaired.
func (b *Backend) handleDeadline() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	rep, err := b.reconcileLocked(context.Background())
	if err != nil {
		// The table could not be read: try again in a second, not at once.
		b.deadline = time.Now().Add(retryAfter)
	}
	b.mu.Unlock()
	select { // re-arm the timer even when the next deadline did not change
	case b.wake <- struct{}{}:
	default:
	}
	switch {
	case err != nil:
		b.log.Error("dataplane/ipvs: timed reconcile", "err", err)
	case len(rep.Problems) > 0:
		b.log.Warn("dataplane/ipvs: timed reconcile", "problems", rep.Problems)
	default:
		b.log.Debug("dataplane/ipvs: timed reconcile", "added", rep.Added, "updated", rep.Updated, "removed", rep.Removed, "took_seconds", rep.Took.Seconds())
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
	if err := b.conn.setDeadline(time.Now().Add(requestTimeout)); err != nil {
		errs = append(errs, err)
	}
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
