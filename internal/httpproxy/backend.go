package httpproxy

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/view"
)

// backendKey names one connection pool: a target of a group, reached with
// one listener's timeouts.
type backendKey struct {
	group            string
	addr             netip.AddrPort
	connect, request time.Duration
}

// backend is one target's connection pool.
type backend struct {
	// Immutable after newBackend.
	key      backendKey
	hostport string          // addr as a URL host
	tr       *http.Transport // requests with bodies, upgrades, gRPC
	dialer   *net.Dialer
	maxIdle  int
	delay    time.Duration // the group's deregistration delay

	h1 h1pool // the fast path's connections (h1.go)
	// inst counts the target's requests for metrics; nil when
	// Config.Instruments gives none, and every use checks.
	inst Instruments

	inflight atomic.Int64
	removed  atomic.Bool // out of the map: close connections as requests end

	drainSince time.Time // zero unless draining; guarded by Proxy.bmu
}

func (p *Proxy) newBackend(k backendKey, g *group) *backend {
	d := &net.Dialer{Timeout: k.connect, KeepAlive: 30 * time.Second}
	b := &backend{}
	if p.cfg.Instruments != nil {
		b.inst = p.cfg.Instruments(g.name, k.addr)
	}
	tr := &http.Transport{
		DialContext:           b.dial,
		MaxIdleConnsPerHost:   p.cfg.MaxIdlePerTarget,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: k.request,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
	if g.grpc {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		tr.Protocols = &protos
	}
	b.key, b.hostport, b.tr, b.dialer, b.maxIdle, b.delay = k, k.addr.String(), tr, d, p.cfg.MaxIdlePerTarget, g.delay
	return b
}

// dial connects to the target, counting the connection while it is open
// when the backend has instruments.
func (b *backend) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := b.dialer.DialContext(ctx, network, addr)
	if err != nil || b.inst == nil {
		return c, err
	}
	b.inst.Opened()
	return &countedConn{Conn: c, inst: b.inst}, nil
}

// countedConn reports its Close to the instruments, once.
type countedConn struct {
	net.Conn
	inst   Instruments
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if !c.closed.Swap(true) {
		c.inst.Closed()
	}
	return c.Conn.Close()
}

// backend returns the pool for target addr of g under the listener
// timeouts of t, creating it on first use. The common case is one atomic
// load and a map lookup.
func (p *Proxy) backend(t *table, g *group, addr netip.AddrPort) *backend {
	k := backendKey{group: g.name, addr: addr, connect: t.connect, request: t.request}
	if b := (*p.backends.Load())[k]; b != nil {
		return b
	}
	p.bmu.Lock()
	defer p.bmu.Unlock()
	cur := *p.backends.Load()
	if b := cur[k]; b != nil {
		return b
	}
	b := p.newBackend(k, g)
	next := maps.Clone(cur)
	next[k] = b
	p.backends.Store(&next)
	return b
}

// markDraining starts the deregistration clock of every pool whose target
// is not routable in v, and stops it for those that are again.
func (p *Proxy) markDraining(v *view.View, now time.Time) {
	routable := map[backendKey]bool{}
	for name, tg := range v.TargetGroups {
		rs, _ := tg.RoutableFrom(p.cfg.Zone)
		for _, t := range rs {
			routable[backendKey{group: name, addr: t.Addr}] = true
		}
	}
	p.bmu.Lock()
	defer p.bmu.Unlock()
	for k, b := range *p.backends.Load() {
		in := routable[backendKey{group: k.group, addr: k.addr}]
		switch {
		case in:
			b.drainSince = time.Time{}
		case b.drainSince.IsZero():
			b.drainSince = now
		}
	}
}

// sweepDrained drops the pools of draining targets that have no request in
// flight or whose deregistration delay has passed, closing their idle
// connections; requests still in flight finish on theirs, which are closed
// when they end.
func (p *Proxy) sweepDrained(now time.Time) {
	p.bmu.Lock()
	defer p.bmu.Unlock()
	cur := *p.backends.Load()
	var next map[backendKey]*backend
	for k, b := range cur {
		if b.drainSince.IsZero() || (b.inflight.Load() > 0 && now.Sub(b.drainSince) < b.delay) {
			b.closeIdle(now.Add(-h1idleTimeout), false)
			continue
		}
		if next == nil {
			next = maps.Clone(cur)
		}
		delete(next, k)
		b.removed.Store(true)
		b.tr.CloseIdleConnections()
		b.closeIdle(time.Time{}, true)
	}
	if next != nil {
		p.backends.Store(&next)
	}
}

// begin and end count a request in flight on b.
func (b *backend) begin() { b.inflight.Add(1) }

func (b *backend) end() {
	if b.inflight.Add(-1) == 0 && b.removed.Load() {
		b.tr.CloseIdleConnections()
		b.closeIdle(time.Time{}, true)
	}
}
