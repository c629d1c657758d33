// Package l4proxy is the userspace L4 load balancer: it runs the tcp, tls,
// tls_passthrough and udp listeners of the load balancers in the view and
// forwards each connection or UDP flow to a target that internal/balance
// picks among those the view says are routable. Plain TCP connections are
// served by an epoll event loop per processor (the parker, Linux) on raw
// descriptors, with no goroutine per connection: bulk bytes move with the
// kernel's splice path, bursts under 16 KiB with recv and send through a
// scratch buffer. TLS passthrough routes by the ClientHello's server name
// without decrypting; tls listeners terminate TLS; PROXY protocol is read
// from upstream balancers and written to targets on request.
//
// Connections are tracked per target, so that a deregistered target's
// connections end when its deregistration delay does, and an unhealthy
// target's after its draining interval, as NLB does.
package l4proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// Reporter receives the outcome of connections sent to targets, as passive
// health signals; health.Engine satisfies it. Report may be called from
// many goroutines at once.
type Reporter interface {
	Report(group string, target netip.AddrPort, o health.Outcome, reason string)
}

var _ Reporter = (*health.Engine)(nil)

// Config is what a Proxy needs. Every field is optional.
type Config struct {
	// Zone is the node's zone; with cross-zone off a node routes only to
	// targets in its zone. "" routes to every zone.
	Zone string
	// Reporter receives connect outcomes; nil drops them.
	Reporter Reporter
	// Logger receives structured logs.
	Logger *slog.Logger
	// CertPoll is how often a tls listener's certificate files are checked
	// for change (the L7 listeners' certificate store, with its SNI
	// choice). Default 5s.
	CertPoll time.Duration
	// Addr returns the address a listener binds. Default the listener's
	// address (or every address) and port; tests bind port 0.
	Addr func(lb string, l *model.Listener) string
	// ConnectTimeout bounds a connect to a target. Default 10s (as ALB).
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds reading a PROXY header, a ClientHello, and a
	// TLS handshake with the client or a tls target. Default 10s.
	HandshakeTimeout time.Duration
	// SweepInterval is how often slow start advances, UDP flows expire and
	// draining deadlines are enforced. Default 1s.
	SweepInterval time.Duration
	// Now returns the time. Default time.Now.
	Now func() time.Time
	// Instruments returns the metrics of one target of a group, resolved
	// once per target; nil counts nothing. metrics.Proxy.Target fits.
	Instruments func(group string, addr netip.AddrPort) Instruments
	// Serves picks the load balancers whose listeners this proxy runs; nil
	// runs every one. serve leaves out those a kernel data plane forwards.
	Serves func(*model.LoadBalancer) bool
}

// Proxy runs the L4 listeners of the views it is given. Apply installs a
// view; Run advances time-driven work until its context ends; Shutdown
// drains. All methods are safe for concurrent use.
type Proxy struct {
	// Immutable after New.
	cfg Config
	log *slog.Logger
	reg *balance.Registry

	cur     atomic.Pointer[view.View]
	targets sync.Map // targetKey -> *target
	sticky  stickyTable
	groups  sync.Map // group name -> *groupStats

	mu        sync.Mutex // guards the fields below
	listeners map[string]listener
	closed    bool
	lastCerts time.Time // when sweep last re-read certificate files

	conns sync.WaitGroup // one per connection or flow being served
	serve sync.WaitGroup // one per accept or read loop

	parkOnce sync.Once
	parks    []*parker // empty where connections cannot be parked
	parkNext atomic.Uint32
}

// parker returns one of the Proxy's parkers, in turn, starting them on
// first use (one per processor the runtime may use at once: each runs one
// event loop); nil when connections cannot be parked (not Linux, or no
// epoll).
func (p *Proxy) parker() *parker {
	p.parkOnce.Do(func() {
		for range max(1, runtime.GOMAXPROCS(0)) {
			pk, err := newParker()
			if err != nil {
				p.log.Warn("connections are not parked; each holds two goroutines", "err", err)
				return
			}
			p.parks = append(p.parks, pk)
		}
	})
	switch len(p.parks) {
	case 0:
		return nil
	case 1:
		return p.parks[0]
	}
	return p.parks[p.parkNext.Add(1)%uint32(len(p.parks))]
}

// listener is a running tcp or udp listener.
type listener interface {
	// update installs a new spec of the same bind address.
	update(s *listenerSpec)
	spec() *listenerSpec
	addr() net.Addr
	// close stops accepting; connections stay.
	close()
	// closeAll ends every connection or flow.
	closeAll()
	stats() ListenerStats
	// sweep expires idle state at now.
	sweep(now time.Time)
}

// New returns a Proxy with no listeners. It does no I/O.
func New(cfg Config) *Proxy {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CertPoll <= 0 {
		cfg.CertPoll = 5 * time.Second
	}
	if cfg.Addr == nil {
		cfg.Addr = defaultAddr
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Proxy{
		cfg: cfg, log: cfg.Logger,
		reg:       balance.NewRegistry(cfg.Zone, 0),
		listeners: map[string]listener{},
	}
}

func defaultAddr(_ string, l *model.Listener) string {
	host := ""
	if l.Address != nil {
		host = l.Address.String()
	}
	return net.JoinHostPort(host, fmt.Sprint(l.Port))
}

// IsL4 reports whether a listener of protocol p is served by this package.
func IsL4(p model.Protocol) bool {
	return p == model.ProtoTCP || p == model.ProtoTLS || p == model.ProtoTLSPassthrough || p == model.ProtoUDP
}

// listenerKey names a listener: balancer, transport and port are unique.
func listenerKey(lb string, l *model.Listener) string {
	tr := "tcp"
	if l.Protocol == model.ProtoUDP {
		tr = "udp"
	}
	return fmt.Sprintf("%s/%s/%d", lb, tr, l.Port)
}

// Apply routes new connections by v and brings the listeners in line with
// it: new L4 listeners are bound, changed ones take their new rules at
// once, and removed ones stop accepting (their connections stay). It
// returns the listeners it could not bind or configure; the others run.
func (p *Proxy) Apply(v *view.View) error {
	now := p.cfg.Now()
	p.cur.Store(v)
	p.reg.Update(v, now)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("l4proxy: shut down")
	}
	var errs []error
	want := map[string]bool{}
	for i := range v.State.LoadBalancers {
		lb := &v.State.LoadBalancers[i]
		if p.cfg.Serves != nil && !p.cfg.Serves(lb) {
			continue
		}
		for j := range lb.Listeners {
			l := &lb.Listeners[j]
			if !IsL4(l.Protocol) {
				continue
			}
			key := listenerKey(lb.Name, l)
			want[key] = true
			old := p.listeners[key]
			var oldSpec *listenerSpec
			if old != nil {
				oldSpec = old.spec()
			}
			spec, err := p.newSpec(key, lb.Name, l, oldSpec)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if old != nil && old.spec().bind == spec.bind && old.spec().proto == spec.proto {
				old.update(spec)
				continue
			}
			if old != nil {
				old.close()
				delete(p.listeners, key)
			}
			nl, err := p.listen(spec)
			if err != nil {
				errs = append(errs, fmt.Errorf("l4proxy: listener %s on %s: %w", key, spec.bind, err))
				continue
			}
			p.listeners[key] = nl
			p.log.Info("l4 listener", "listener", key, "addr", nl.addr().String(), "protocol", string(spec.proto))
		}
	}
	for key, l := range p.listeners {
		if !want[key] {
			l.close()
			delete(p.listeners, key)
			p.log.Info("l4 listener removed", "listener", key)
		}
	}
	return errors.Join(errs...)
}

func (p *Proxy) listen(s *listenerSpec) (listener, error) {
	if s.proto == model.ProtoUDP {
		return p.listenUDP(s)
	}
	return p.listenTCP(s)
}

// Addr is the bound address of the listener on port of balancer lb
// (network "tcp" or "udp"), nil when there is none. Port is the
// configured port.
func (p *Proxy) Addr(lb, network string, port int) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[fmt.Sprintf("%s/%s/%d", lb, network, port)]; l != nil {
		return l.addr()
	}
	return nil
}

// Run advances slow start, expires idle UDP flows and enforces draining
// deadlines every SweepInterval until ctx ends. It does not close the
// listeners; Shutdown does.
func (p *Proxy) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			p.sweep(p.cfg.Now())
		}
	}
}

// Shutdown stops accepting, lets connections finish until ctx ends, then
// closes those left and waits for every goroutine the Proxy started.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	ls := make([]listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		ls = append(ls, l)
		l.close()
	}
	p.mu.Unlock()
	p.serve.Wait()
	done := make(chan struct{})
	go func() { p.conns.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, l := range ls {
			l.closeAll()
		}
		<-done
		err = ctx.Err()
	}
	p.parkOnce.Do(func() {}) // no parker may start now
	for _, pk := range p.parks {
		pk.close()
	}
	return err
}

// sweep runs the time-driven work at now.
func (p *Proxy) sweep(now time.Time) {
	p.reg.Refresh(now)
	p.mu.Lock()
	ls := make([]listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		ls = append(ls, l)
	}
	certsDue := now.Sub(p.lastCerts) >= p.cfg.CertPoll
	if certsDue {
		p.lastCerts = now
	}
	p.mu.Unlock()
	for _, l := range ls {
		l.sweep(now)
		if s := l.spec().certSet; certsDue && s != nil {
			s.Reload()
		}
	}
	p.drain(now)
	p.sticky.expire(now.Add(-StickyIdle))
}

// drain closes the connections of targets whose deregistration delay or
// unhealthy draining interval has ended, and forgets idle targets that
// left the view.
func (p *Proxy) drain(now time.Time) {
	v := p.cur.Load()
	if v == nil {
		return
	}
	p.targets.Range(func(k, val any) bool {
		key, t := k.(targetKey), val.(*target)
		tg := v.TargetGroups[key.group]
		vt, registered := findTarget(tg, key.addr)
		if tg != nil {
			t.spec.Store(tg.Spec)
		}
		if !registered {
			if t.active.Load() == 0 {
				p.targets.Delete(k)
				return true
			}
			if t.goneSince.IsZero() {
				t.goneSince = now
			}
			spec := t.spec.Load()
			if spec == nil || spec.ConnectionTermination == nil || !*spec.ConnectionTermination {
				return true
			}
			if now.Sub(t.goneSince) >= spec.DeregistrationDelay.D() {
				if n := t.closeConns(); n > 0 {
					p.log.Info("deregistration delay over; connections closed", "target_group", key.group, "target", key.addr.String(), "connections", n)
				}
			}
			return true
		}
		t.goneSince = time.Time{}
		spec := tg.Spec
		if vt.Healthy || spec.UnhealthyDraining == nil || tg.FailingOpen || vt.Since.IsZero() {
			return true
		}
		if now.Sub(vt.Since) >= spec.UnhealthyDraining.D() {
			if n := t.closeConns(); n > 0 {
				p.log.Info("target unhealthy; connections closed", "target_group", key.group, "target", key.addr.String(), "connections", n, "reason", vt.Reason)
			}
		}
		return true
	})
}

func findTarget(tg *view.TargetGroup, addr netip.AddrPort) (view.Target, bool) {
	if tg == nil {
		return view.Target{}, false
	}
	for _, z := range tg.Zones {
		for _, t := range z.Targets {
			if t.Addr == addr {
				return t, true
			}
		}
	}
	return view.Target{}, false
}

// targetKey identifies a target within a group.
type targetKey struct {
	group string
	addr  netip.AddrPort
}

// target is what the proxy knows of one target of one group: counters and
// the connections open to it.
// Instruments count one target's connections for metrics. Their methods
// must not block or allocate; *metrics.Target implements them.
type Instruments interface {
	// Opened and Closed count a connection (or UDP flow) to the target.
	Opened()
	Closed()
	// Response records a successful connect and how long it took (status 0).
	Response(status int, took time.Duration)
	// Failed records a connect that failed, after took.
	Failed(took time.Duration)
}

type target struct {
	key  targetKey
	inst Instruments                       // never nil
	spec atomic.Pointer[model.TargetGroup] // the group as last seen

	active, total, refused, connectFailures atomic.Int64
	bytesIn, bytesOut                       atomic.Int64 // to and from the target
	failed                                  atomic.Bool  // a failure was reported since the last success

	goneSince time.Time // when drain first saw it deregistered; drain's goroutine only

	mu    sync.Mutex // guards conns
	conns map[closer]struct{}
}

// closer is a connection or flow that draining may end.
type closer interface{ Close() error }

func (p *Proxy) target(group string, addr netip.AddrPort, spec *model.TargetGroup) *target {
	k := targetKey{group, addr}
	if t, ok := p.targets.Load(k); ok {
		return t.(*target)
	}
	t := &target{key: k, conns: map[closer]struct{}{}, inst: noInstruments{}}
	if p.cfg.Instruments != nil {
		if in := p.cfg.Instruments(group, addr); in != nil {
			t.inst = in
		}
	}
	t.spec.Store(spec)
	actual, _ := p.targets.LoadOrStore(k, t)
	return actual.(*target)
}

// acquire counts a new connection to t unless that would pass limit (0: none).
func (t *target) acquire(limit int) bool {
	for {
		n := t.active.Load()
		if limit > 0 && n >= int64(limit) {
			return false
		}
		if t.active.CompareAndSwap(n, n+1) {
			t.total.Add(1)
			t.inst.Opened()
			return true
		}
	}
}

func (t *target) track(c closer) {
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
}

func (t *target) release(c closer) {
	if c != nil {
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}
	t.active.Add(-1)
	t.inst.Closed()
}

// noInstruments counts nothing.
type noInstruments struct{}

func (noInstruments) Opened()                     {}
func (noInstruments) Closed()                     {}
func (noInstruments) Response(int, time.Duration) {}
func (noInstruments) Failed(time.Duration)        {}

func (t *target) closeConns() int {
	t.mu.Lock()
	cs := make([]closer, 0, len(t.conns))
	for c := range t.conns {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	return len(cs)
}

// groupStats counts what happened to a target group as a whole.
type groupStats struct {
	refused atomic.Int64 // no routable target, or all at their cap
}

func (p *Proxy) groupStats(name string) *groupStats {
	if g, ok := p.groups.Load(name); ok {
		return g.(*groupStats)
	}
	g, _ := p.groups.LoadOrStore(name, &groupStats{})
	return g.(*groupStats)
}

// errNoTarget is why a connection found nowhere to go.
var errNoTarget = errors.New("l4proxy: no routable target")

// pick chooses a target of group for a client, honouring the per-target
// cap; the returned target has been acquired. avoid is a target that just
// failed, nil for a first try. It also returns the group's settings in the
// current view (nil when the view has none), which the connection follows
// (PROXY header, protocol) rather than the target's t.spec, which only
// sweep refreshes.
func (p *Proxy) pick(group string, client netip.Addr, avoid *balance.Endpoint) (chosen *balance.Endpoint, _ *target, _ *model.TargetGroup, _ error) {
	g := p.reg.Group(group)
	if g == nil {
		return nil, nil, nil, errNoTarget
	}
	v := p.cur.Load()
	var spec *model.TargetGroup
	if tg := v.TargetGroups[group]; tg != nil {
		spec = tg.Spec
	}
	var h balance.Hint
	if spec != nil && (spec.Stickiness != nil && spec.Stickiness.Type == model.StickySourceIP ||
		spec.HashOn != nil && spec.HashOn.SourceIP) {
		h = balance.Hint{Key: balance.HashAddr(client), HasKey: true}
	}
	limit := 0
	if spec != nil {
		limit = spec.MaxConnectionsPerTarget
	}
	// Source-IP stickiness: consistent hashing keeps a client on its target
	// by itself; other algorithms remember the client's target.
	sticky := spec != nil && spec.Stickiness != nil && spec.Stickiness.Type == model.StickySourceIP &&
		spec.Algorithm != model.ConsistentHash
	if sticky && avoid == nil {
		if to, ok := p.sticky.get(group, client); ok {
			if ep := g.Find(to); ep != nil {
				if t := p.target(group, ep.Addr, spec); t.acquire(limit) {
					p.sticky.put(group, client, to, p.cfg.Now())
					return ep, t, spec, nil
				}
			}
		}
	}
	if sticky {
		defer func() {
			if chosen != nil {
				p.sticky.put(group, client, chosen.Addr, p.cfg.Now())
			}
		}()
	}
	var ep *balance.Endpoint
	if avoid == nil {
		ep = g.Pick(h)
	} else {
		ep = g.Next(h, avoid)
	}
	for try := 0; ep != nil && try < 3; try++ {
		t := p.target(group, ep.Addr, spec)
		if t.acquire(limit) {
			return ep, t, spec, nil
		}
		t.refused.Add(1)
		next := g.Next(h, ep)
		if next == nil || next == avoid {
			break
		}
		ep = next
	}
	p.groupStats(group).refused.Add(1)
	if ep == nil {
		return nil, nil, nil, errNoTarget
	}
	return nil, nil, nil, fmt.Errorf("l4proxy: every target of %s tried is at its connection cap", group)
}

// report sends a connect outcome to the Reporter. Successes are reported
// only after a failure, so that a busy proxy does not take the health
// engine's lock for every connection.
func (p *Proxy) report(t *target, err error) {
	if p.cfg.Reporter == nil {
		return
	}
	if err != nil {
		t.connectFailures.Add(1)
		t.failed.Store(true)
		p.cfg.Reporter.Report(t.key.group, t.key.addr, health.ConnectFailure, err.Error())
		return
	}
	if t.failed.Swap(false) {
		p.cfg.Reporter.Report(t.key.group, t.key.addr, health.Success, "")
	}
}

// Stats is a snapshot of the proxy's counters.
type Stats struct {
	Listeners    []ListenerStats
	TargetGroups []GroupStats
	Targets      []TargetStats
}

// ListenerStats counts one listener's connections (tcp) or flows (udp).
type ListenerStats struct {
	// Listener is "balancer/transport/port"; Addr the bound address.
	Listener, Addr string
	Protocol       model.Protocol
	// Active and Total connections or flows; Refused are closed without
	// being forwarded (bad PROXY header, ClientHello timeout, no target)
	// or, for udp, datagrams dropped because the flow table was full or no
	// target was routable.
	Active, Total, Refused int64
}

// GroupStats counts what happened to a target group as a whole.
type GroupStats struct {
	TargetGroup string
	// Refused connections found no routable target under its cap.
	Refused int64
}

// TargetStats counts one target's connections.
type TargetStats struct {
	TargetGroup string
	Target      netip.AddrPort
	// Active and Total connections (or udp flows) to the target.
	Active, Total int64
	// Refused: picks skipped because the target was at its cap.
	Refused int64
	// ConnectFailures: connects refused, unreachable or timed out.
	ConnectFailures int64
	// BytesIn were sent to the target, BytesOut received from it; counted
	// when a tcp connection ends, per datagram for udp.
	BytesIn, BytesOut int64
}

// Stats returns the current counters, sorted by name.
func (p *Proxy) Stats() Stats {
	var s Stats
	p.mu.Lock()
	for _, l := range p.listeners {
		s.Listeners = append(s.Listeners, l.stats())
	}
	p.mu.Unlock()
	p.groups.Range(func(k, v any) bool {
		s.TargetGroups = append(s.TargetGroups, GroupStats{TargetGroup: k.(string), Refused: v.(*groupStats).refused.Load()})
		return true
	})
	p.targets.Range(func(_, v any) bool {
		t := v.(*target)
		s.Targets = append(s.Targets, TargetStats{
			TargetGroup: t.key.group, Target: t.key.addr,
			Active: t.active.Load(), Total: t.total.Load(), Refused: t.refused.Load(),
			ConnectFailures: t.connectFailures.Load(),
			BytesIn:         t.bytesIn.Load(), BytesOut: t.bytesOut.Load(),
		})
		return true
	})
	slices.SortFunc(s.Listeners, func(a, b ListenerStats) int { return strings.Compare(a.Listener, b.Listener) })
	slices.SortFunc(s.TargetGroups, func(a, b GroupStats) int { return strings.Compare(a.TargetGroup, b.TargetGroup) })
	slices.SortFunc(s.Targets, func(a, b TargetStats) int {
		if c := strings.Compare(a.TargetGroup, b.TargetGroup); c != 0 {
			return c
		}
		return a.Target.Compare(b.Target)
	})
	return s
}

// StickyIdle is how long source-IP stickiness remembers a client that made
// no new connection (NLB documents no duration; an hour keeps a client's
// reconnections together without keeping clients forever).
const StickyIdle = time.Hour

// maxSticky bounds the stickiness table; beyond it new clients are balanced
// without being remembered.
const maxSticky = 1 << 20

// stickyTable remembers the target of each client of groups with
// source-IP stickiness.
type stickyTable struct {
	m sync.Map // stickyKey -> *stickyEntry
	n atomic.Int64
}

type stickyKey struct {
	group  string
	client netip.Addr
}

type stickyEntry struct {
	to   atomic.Pointer[netip.AddrPort]
	last atomic.Int64 // unix nanoseconds of the last connection
}

func (s *stickyTable) get(group string, client netip.Addr) (netip.AddrPort, bool) {
	v, ok := s.m.Load(stickyKey{group, client.Unmap()})
	if !ok {
		return netip.AddrPort{}, false
	}
	to := v.(*stickyEntry).to.Load()
	if to == nil { // being added
		return netip.AddrPort{}, false
	}
	return *to, true
}

func (s *stickyTable) put(group string, client netip.Addr, to netip.AddrPort, now time.Time) {
	k := stickyKey{group, client.Unmap()}
	v, ok := s.m.Load(k)
	if !ok {
		if s.n.Load() >= maxSticky {
			return
		}
		var loaded bool
		v, loaded = s.m.LoadOrStore(k, &stickyEntry{})
		if !loaded {
			s.n.Add(1)
		}
	}
	e := v.(*stickyEntry)
	e.to.Store(&to)
	e.last.Store(now.UnixNano())
}

// expire forgets clients last seen before cutoff.
func (s *stickyTable) expire(cutoff time.Time) {
	c := cutoff.UnixNano()
	s.m.Range(func(k, v any) bool {
		if v.(*stickyEntry).last.Load() < c {
			s.m.Delete(k)
			s.n.Add(-1)
		}
		return true
	})
}
