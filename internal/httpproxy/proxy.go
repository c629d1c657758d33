package httpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/certstore"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// Reporter receives the outcome of every request sent to a target; the
// health engine is one. Report is called concurrently from request
// goroutines and must be cheap.
type Reporter interface {
	Report(group string, target netip.AddrPort, o health.Outcome, reason string)
}

// Config is what a Proxy needs. Only Zone matters for routing; the rest
// have working defaults.
type Config struct {
	// Zone is the zone this node runs in (server.zone); "" routes to every
	// zone, even for groups with cross_zone off.
	Zone string
	// Health receives passive health signals; nil drops them.
	Health Reporter
	// Logger receives the proxy's own logs (listeners, certificates).
	Logger *slog.Logger
	// AccessLog receives one line per request, every AccessLogEvery-th
	// request (default 1); nil turns the access log off.
	AccessLog      *slog.Logger
	AccessLogEvery int
	// CertPoll is how often certificate files are checked for change by
	// Refresh. Default 5s.
	CertPoll time.Duration
	// MaxHeaderBytes bounds a request's header; larger ones get 431.
	// Default 64 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes refuses requests that declare a longer body with 413,
	// before anything reaches a target. 0 (the default, as ALB): no limit.
	MaxBodyBytes int64
	// ReadHeaderTimeout bounds reading a request's header. Default 30s.
	ReadHeaderTimeout time.Duration
	// MaxIdlePerTarget is the number of idle keep-alive connections kept
	// per target. Default 512.
	MaxIdlePerTarget int
	// NoFastPath serves plain listeners with net/http alone, without the
	// fast path for bodiless HTTP/1.1 requests (fastserve.go).
	NoFastPath bool
	// NoEventLoop serves the fast path of plain listeners with a goroutine
	// per connection instead of event loops (evloop_linux.go); off Linux
	// it is always so.
	NoEventLoop bool
	// Now returns the time for slow start and draining. Default time.Now.
	Now func() time.Time
	// Instruments returns the metrics of one target of a group, resolved
	// once per target pool; nil counts nothing. metrics.Proxy.Target fits.
	Instruments func(group string, addr netip.AddrPort) Instruments
}

// Instruments count one target's requests for metrics. Their methods must
// not block or allocate; *metrics.Target implements them.
type Instruments interface {
	// Request counts a request sent to the target.
	Request()
	// Response records the target's answer status and the time to its head.
	Response(status int, took time.Duration)
	// Failed records a request that got no answer (refused, reset, timed
	// out), after took.
	Failed(took time.Duration)
	// Opened and Closed count connections to the target.
	Opened()
	Closed()
}

// Proxy serves the http and https listeners of the views it is given.
// Apply, Refresh and Shutdown are called from one goroutine (the owner);
// requests are served concurrently by the listeners' goroutines.
type Proxy struct {
	// Immutable after New.
	cfg Config
	log *slog.Logger
	reg *balance.Registry

	backends atomic.Pointer[map[backendKey]*backend]
	logSeq   atomic.Uint64

	bmu sync.Mutex // guards creating and removing backends, and drain times

	// stopCtx ends when Shutdown starts; retired listeners stop waiting.
	stopCtx context.Context
	stop    context.CancelFunc

	mu        sync.Mutex // guards the fields below
	listeners map[string]*listener
	lastCerts time.Time
	closed    bool
	wg        sync.WaitGroup // Serve goroutines
	hijacked  map[net.Conn]struct{}
}

// New returns a Proxy with no listeners. It does no I/O.
func New(cfg Config) *Proxy {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AccessLogEvery <= 0 {
		cfg.AccessLogEvery = 1
	}
	if cfg.CertPoll <= 0 {
		cfg.CertPoll = 5 * time.Second
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxIdlePerTarget <= 0 {
		cfg.MaxIdlePerTarget = 512
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, reg: balance.NewRegistry(cfg.Zone, 0),
		listeners: map[string]*listener{}, hijacked: map[net.Conn]struct{}{}}
	p.backends.Store(&map[backendKey]*backend{})
	p.stopCtx, p.stop = context.WithCancel(context.Background())
	return p
}

// listener is one bound address.
type listener struct {
	// Immutable after start.
	p     *Proxy
	key   string
	https bool
	srv   *http.Server
	ln    net.Listener

	fast *fastServer // plain listeners: the fast path in front of srv

	tab   atomic.Pointer[table]
	certs atomic.Pointer[certstore.Set]

	// Guarded by Proxy.mu.
	certFiles []model.Certificate
	seen      bool // still in the view being applied
}

// Addrs returns the bound address of every listener, by its configured
// address ("127.0.0.1:8080", ":443").
func (p *Proxy) Addrs() map[string]net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]net.Addr, len(p.listeners))
	for k, l := range p.listeners {
		out[k] = l.ln.Addr()
	}
	return out
}

// Apply brings the proxy to view v: the balance groups, every http and https
// listener (binding new ones, closing removed ones after their requests
// finish), each listener's routing table and certificates, and the draining
// of targets that left the view. A listener that cannot bind, or whose
// certificates cannot be read, is reported in the error; the rest are
// applied.
func (p *Proxy) Apply(v *view.View) error {
	now := p.cfg.Now()
	p.reg.Update(v, now)
	groups := compileGroups(v, p.reg)
	p.markDraining(v, now)

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("httpproxy: shut down")
	}
	for _, l := range p.listeners {
		l.seen = false
	}
	var errs []error
	for i := range v.State.LoadBalancers {
		lb := &v.State.LoadBalancers[i]
		for j := range lb.Listeners {
			ml := &lb.Listeners[j]
			if ml.Protocol != model.ProtoHTTP && ml.Protocol != model.ProtoHTTPS {
				continue
			}
			if err := p.applyListener(lb.Name, ml, groups); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for k, l := range p.listeners {
		if !l.seen {
			delete(p.listeners, k)
			p.log.Info("listener removed", "addr", k)
			p.retire(l)
		}
	}
	return errors.Join(errs...)
}

func bindAddr(ml *model.Listener) string {
	host := ""
	if ml.Address != nil {
		host = ml.Address.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(ml.Port))
}

// applyListener starts or updates one listener; p.mu is held.
func (p *Proxy) applyListener(lb string, ml *model.Listener, groups map[string]*group) error {
	key := bindAddr(ml)
	https := ml.Protocol == model.ProtoHTTPS
	tab := compileTable(lb, ml, groups)
	l := p.listeners[key]
	if l != nil && l.https != https {
		// The port changes protocol: the old server must let go of it
		// before the new one binds, so its requests are cut short.
		delete(p.listeners, key)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l.close(ctx)
		l = nil
	}
	if l != nil && l.seen {
		return fmt.Errorf("httpproxy: %s: two listeners bind %s", tab.name, key)
	}
	if l == nil {
		var err error
		if l, err = p.startListener(key, https, ml); err != nil {
			return err
		}
		p.listeners[key] = l
		p.log.Info("listener started", "addr", l.ln.Addr().String(), "listener", tab.name, "protocol", string(ml.Protocol))
	}
	l.seen = true // a changed idle_timeout applies when the listener is bound again
	if https && !reflect.DeepEqual(l.certFiles, ml.Certificates) {
		set, err := certstore.Load(ml.Certificates, p.log.With("listener", tab.name))
		if err != nil {
			return fmt.Errorf("httpproxy: %s: %w", tab.name, err)
		}
		l.certs.Store(set)
		l.certFiles = ml.Certificates
	}
	l.tab.Store(tab)
	return nil
}

// startListener binds key and starts serving it; p.mu is held.
func (p *Proxy) startListener(key string, https bool, ml *model.Listener) (*listener, error) {
	l := &listener{p: p, key: key, https: https}
	if https {
		set, err := certstore.Load(ml.Certificates, p.log.With("addr", key))
		if err != nil {
			return nil, fmt.Errorf("httpproxy: listener %s: %w", key, err)
		}
		l.certs.Store(set)
		l.certFiles = ml.Certificates
	}
	ln, err := net.Listen("tcp", key)
	if err != nil {
		return nil, fmt.Errorf("httpproxy: %w", err)
	}
	l.ln = ln
	var protos http.Protocols
	protos.SetHTTP1(true)
	if https {
		protos.SetHTTP2(true)
	} else {
		protos.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: p.cfg.ReadHeaderTimeout,
		IdleTimeout:       ml.IdleTimeout.D(),
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		Protocols:         &protos,
		ConnContext:       withConnInfo,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	if https {
		l.srv.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
				return l.certs.Load().GetCertificate(h)
			},
			CipherSuites: certstore.CipherSuites(),
		}
	}
	if !https && !p.cfg.NoFastPath {
		l.fast = newFastServer(l, ln)
		if p.cfg.NoEventLoop || !l.fast.startLoops() {
			l.fast.wg.Add(1)
			go l.fast.serve() // owned by l.fast: its shutdown waits for it
		}
	}
	p.wg.Go(func() {
		var err error
		switch {
		case https:
			err = l.srv.ServeTLS(ln, "", "")
		case l.fast != nil:
			err = l.srv.Serve(l.fast.handoff)
		default:
			err = l.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("listener stopped", "addr", key, "err", err)
		}
	})
	return l, nil
}

// retire closes a listener that left the view in the background, letting
// its requests finish until Shutdown or retireTimeout; p.mu is held.
func (p *Proxy) retire(l *listener) {
	p.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), retireTimeout)
		defer cancel()
		stop := context.AfterFunc(p.stopCtx, cancel)
		defer stop()
		l.close(ctx)
	})
}

// retireTimeout bounds the wait for requests on a listener that left the view.
const retireTimeout = 5 * time.Minute

// close stops accepting and waits for in-flight requests until ctx ends.
func (l *listener) close(ctx context.Context) error {
	var ferr error
	if l.fast != nil {
		ferr = l.fast.shutdown(ctx)
	}
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.srv.Close()
	}
	return errors.Join(ferr, err)
}

// Refresh advances time-driven work: slow-start ramps, closing the pools
// of drained targets, and re-reading changed certificate files (every
// CertPoll). Call it about once a second.
func (p *Proxy) Refresh(now time.Time) {
	p.reg.Refresh(now)
	p.sweepDrained(now)
	p.mu.Lock()
	due := now.Sub(p.lastCerts) >= p.cfg.CertPoll
	var sets []*certstore.Set
	if due {
		p.lastCerts = now
		for _, l := range p.listeners {
			if s := l.certs.Load(); s != nil {
				sets = append(sets, s)
			}
		}
	}
	p.mu.Unlock()
	for _, s := range sets {
		s.Reload()
	}
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes what is left, including upgraded connections.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.stop()
	ls := make([]*listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		ls = append(ls, l)
	}
	p.listeners = map[string]*listener{}
	p.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, l := range ls {
		wg.Go(func() {
			if err := l.close(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("httpproxy: %s: %w", l.key, err))
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	p.mu.Lock()
	for c := range p.hijacked {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	for _, b := range *p.backends.Load() {
		b.tr.CloseIdleConnections()
		b.removed.Store(true)
		b.closeIdle(time.Time{}, true)
	}
	return errors.Join(errs...)
}

func (p *Proxy) trackHijacked(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed {
			return false
		}
		p.hijacked[c] = struct{}{}
	} else {
		delete(p.hijacked, c)
	}
	return true
}
