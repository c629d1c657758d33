// Package server runs one switchboard process: it loads the configuration
// file into the store, builds a view from every committed version and
// publishes it, re-reads the file on request or change, and serves the admin
// listener with the REST API. It owns every goroutine it starts; Run returns
// when they are done.
//
// Two sources write the store: the configuration file and the REST API.
// They meet by this rule: the file is applied only when its content changed
// since it was last applied. The SHA-256 of the content last applied, and
// the version that made, are kept next to the store (file-applied.json in
// the data directory). So a restart, a SIGHUP or a touch with the same
// content leaves changes made through the API in place, and they survive
// restarts; an edited file wins, replaces the whole state (API changes made
// since included, which the log says with the versions it replaces), and
// `switchboard plan FILE` shows beforehand what it would replace.
//
// # Virtual IPs
//
// A load balancer whose data_plane names an interface has its node
// addresses owned by serve (vip.go, OwnedVIPs): this node puts the
// addresses of the balancer's nodes in its own zone (server.zone; every
// node's addresses when no zone is set) on that interface, announces them
// (gratuitous ARP, unsolicited neighbour advertisements), follows every
// new version (addresses added or removed), and withdraws them on
// shutdown. An address already on the interface is left there. Without
// root or without the interface the VIPs are not held, and the log and
// /status (vips) say why; serve runs on.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/geoip"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// Config is what a Server needs.
type Config struct {
	// ConfigPath is the configuration file.
	ConfigPath string
	// DataDir holds the store; created if missing.
	DataDir string
	// Logger receives structured logs.
	Logger *slog.Logger
	// Version is the build's version, shown on the admin listener.
	Version string
	// Reload receives a value when the file should be re-read now (SIGHUP).
	Reload <-chan struct{}
	// WatchInterval is how often the file is checked for changes. Default 1s;
	// negative turns the watch off.
	WatchInterval time.Duration
	// Now returns the time; default time.Now.
	Now func() time.Time
}

// Server is one switchboard process.
type Server struct {
	// Immutable after New.
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	pub  *view.Publisher
	boot time.Time
	// health runs every check; metrics is the registry metric checks read.
	health  *health.Engine
	metrics *health.Metrics
	// obs serves Prometheus metrics and the dashboard (observe.go).
	obs *observer

	mu        sync.Mutex // guards the fields below
	settings  model.Server
	configErr error     // last load error; nil after a good load
	lastLoad  time.Time // last attempt to load the file
	lastOK    time.Time // last successful load
	lastStat  fileStamp
	draining  bool
	apiTokens []api.Token       // the REST API's tokens; write ones also authorise dashboard shifts
	dns       *dnsserver.Server // nil without DNS listen addresses
	store     store.Store       // set once Run has opened it
	locator   dnsserver.Locator // the DNS server's GeoIP database, nil without
	dataplane *dataPlanes       // set once Run has chosen the data planes
	vips      *vipOwners        // set once Run has started owning VIPs (vip.go)
}

// New checks cfg and returns a Server. It does no I/O.
func New(cfg Config) (*Server, error) {
	if cfg.ConfigPath == "" {
		return nil, errors.New("server: no configuration file")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	metrics := health.NewMetrics(health.MetricsOptions{})
	s := &Server{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, pub: view.NewPublisher(), boot: cfg.Now(),
		metrics: metrics,
	}
	s.newHealthAndObserver(health.EngineConfig{Logger: cfg.Logger.With("component", "health"), Metrics: metrics})
	return s, nil
}

// Views is where the current view is published; data planes subscribe here.
func (s *Server) Views() *view.Publisher { return s.pub }

// Run loads the configuration, opens the store and serves until ctx ends,
// then drains within the configured shutdown timeout. A configuration that
// is invalid at start is fatal only when the store has no earlier state to
// serve.
func (s *Server) Run(ctx context.Context) error {
	doc, sum, loadErr := loadFile(s.cfg.ConfigPath)
	st, err := store.Open(filepath.Join(s.cfg.DataDir, "state.db"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	head, err := st.Head(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.lastLoad = s.now()
	s.configErr = loadErr
	if loadErr == nil {
		s.lastOK = s.lastLoad
	}
	s.store = st
	s.mu.Unlock()
	switch {
	case loadErr != nil && head.Version == 0:
		return loadErr
	case loadErr != nil:
		s.logConfigError(loadErr)
		s.log.Warn("serving the stored state; fix the file and reload", "version", head.Version)
		d := model.Document{}
		d.SetDefaults()
		s.settings = d.Server
	default:
		s.settings = doc.Server
		s.lastStat = stamp(s.cfg.ConfigPath)
		if err := s.apply(ctx, st, doc, sum); err != nil {
			return err
		}
	}

	dp, err := s.newDataPlanes(ctx, st)
	if err != nil {
		return err
	}
	dns, err := s.newDNS()
	if err != nil {
		return err
	}
	apiHandler, err := s.newAPI(st)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.settings.Admin.Listen)
	if err != nil {
		return fmt.Errorf("server: admin listener: %w", err)
	}
	if ln, err = s.adminTLS(ln); err != nil {
		return err
	}
	s.log.Info("admin listener", "addr", ln.Addr().String())
	admin := &http.Server{Handler: s.adminHandler(apiHandler), ReadHeaderTimeout: 10 * time.Second}
	admin.RegisterOnShutdown(s.obs.closeStreams)

	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return s.health.Run(gctx) })
	if dns != nil {
		g.Go(func() error { return dns.Run(gctx) })
	}
	g.Go(func() error { return s.buildViews(gctx, st) })
	g.Go(func() error { return s.obs.run(gctx) })
	g.Go(func() error { return dp.Run(gctx, s.pub) })
	g.Go(func() error { return s.startVIPs().Run(gctx, s.pub) })
	g.Go(func() error { return s.runL4(gctx, dp) })
	g.Go(func() error { return s.runHTTPProxy(gctx, ctx.Done()) })
	g.Go(func() error { return s.watchFile(gctx, st) })
	g.Go(func() error {
		if err := admin.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("server: admin listener: %w", err)
		}
		return nil
	})
	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	return s.shutdown(g, stop, admin)
}

// newDNS builds and binds the DNS server when the settings give it
// addresses, so that a port in use or a missing GeoIP database stops the
// start with the reason, before anything serves. It returns nil without
// addresses.
func (s *Server) newDNS() (*dnsserver.Server, error) {
	cfg := s.settings.DNS
	if len(cfg.Listen) == 0 {
		return nil, nil
	}
	dc := dnsserver.Config{
		Listen:          cfg.Listen,
		Views:           s.pub,
		LoadBalancerTTL: cfg.LoadBalancerTTL.D(),
		Logger:          s.log.With("component", "dns"),
	}
	secondaries, err := dnsserver.SecondariesFrom(cfg.Secondaries)
	if err != nil {
		return nil, fmt.Errorf("server: dns: %w", err)
	}
	dc.Secondaries, dc.RRL = secondaries, dnsserver.RRLFrom(cfg.RRL)
	if cfg.GeoIPDatabase != "" {
		db, err := geoip.Open(cfg.GeoIPDatabase)
		if err != nil {
			return nil, fmt.Errorf("server: dns: %w", err)
		}
		dc.Locator = db
	}
	d, err := dnsserver.New(dc)
	if err != nil {
		return nil, fmt.Errorf("server: dns: %w", err)
	}
	if err := d.Listen(); err != nil {
		return nil, fmt.Errorf("server: dns: %w", err)
	}
	for _, a := range d.Addrs() {
		s.log.Info("dns listener", "addr", a.String(), "net", a.Network())
	}
	s.mu.Lock()
	s.dns = d
	s.locator = dc.Locator
	s.mu.Unlock()
	return d, nil
}

// shutdown stops taking new work, lets in-flight work finish within the
// shutdown timeout, then stops every goroutine.
func (s *Server) shutdown(g *errgroup.Group, stop context.CancelFunc, admin *http.Server) error {
	s.mu.Lock()
	s.draining = true
	timeout := s.settings.ShutdownTimeout.D()
	s.mu.Unlock()
	s.log.Info("draining", "timeout_seconds", timeout.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shutErr := admin.Shutdown(ctx)
	stop()
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	s.log.Info("stopped")
	return errors.Join(err, shutErr)
}

// buildViews builds and publishes a view for every committed version and
// every health change, and again when a zonal shift expires. A version is
// applied to the health engine right after its view is published: the view
// is built from the health snapshot in hand either way, and publishing
// first keeps the engine's planning (milliseconds for thousands of
// targets) out of the time from a commit to the data planes.
func (s *Server) buildViews(ctx context.Context, st store.Store) error {
	versions := st.Watch(ctx, 0)
	healths := s.health.Subscribe(ctx)
	var cur *store.Snapshot
	hs := s.health.Snapshot()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		var newVersion bool
		select {
		case <-ctx.Done():
			return nil
		case snap, ok := <-versions:
			if !ok {
				return nil
			}
			cur, newVersion = snap, true
		case h, ok := <-healths:
			if !ok {
				return nil
			}
			hs = h
		case <-expiry.C:
		}
		if cur == nil {
			continue
		}
		now := s.now()
		v := view.Build(cur.Version, cur.State, hs, now)
		s.pub.Publish(v)
		s.log.Debug("view published", "version", v.Version, "health_version", hs.Version())
		if newVersion {
			// Targets come and go only with a version. The next view is
			// published only after this, so the proxies' handles for v's
			// targets, resolved meanwhile, all survive it.
			s.obs.metrics.Proxy().Retain(v)
			if err := s.health.Apply(cur.State); err != nil {
				s.log.Error("health checks not updated", "version", cur.Version, "err", err)
			}
		}
		expiry.Reset(nextExpiry(cur.State, now))
	}
}

// nextExpiry is how long until the next zonal shift of s ends (an hour at most).
func nextExpiry(s *model.State, now time.Time) time.Duration {
	next := time.Hour
	for _, z := range s.ZonalShifts {
		if d := z.ExpiresAt.Sub(now); d > 0 && d < next {
			next = d
		}
	}
	return next
}

// fileStamp tells whether a file may have changed since it was read.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  any
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ino: inode(fi)}
}

// watchFile re-reads the configuration on a reload request and when the file
// changes. Polling a stat is cheap, and unlike inotify it follows editors
// that replace the file and Kubernetes ConfigMaps that swap a symlink.
func (s *Server) watchFile(ctx context.Context, st store.Store) error {
	var tick <-chan time.Time
	if s.cfg.WatchInterval > 0 {
		t := time.NewTicker(s.cfg.WatchInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Reload:
			s.log.Info("reload requested")
			s.reload(ctx, st)
		case <-tick:
			s.mu.Lock()
			changed := !reflect.DeepEqual(stamp(s.cfg.ConfigPath), s.lastStat)
			s.mu.Unlock()
			if changed {
				s.log.Info("configuration file changed", "file", s.cfg.ConfigPath)
				s.reload(ctx, st)
			}
		}
	}
}

// reload reads the file and applies it as one batch; an invalid file is
// refused whole and the state that runs keeps running.
func (s *Server) reload(ctx context.Context, st store.Store) {
	fs := stamp(s.cfg.ConfigPath)
	doc, sum, err := loadFile(s.cfg.ConfigPath)
	if err == nil {
		err = s.apply(ctx, st, doc, sum)
	}
	s.mu.Lock()
	s.lastStat = fs
	s.lastLoad = s.now()
	s.configErr = err
	if err == nil {
		s.lastOK = s.lastLoad
	}
	running := s.settings
	s.mu.Unlock()
	if err != nil {
		s.logConfigError(err)
		return
	}
	if !reflect.DeepEqual(doc.Server, running) {
		s.log.Warn("server settings change on restart; the running ones stay", "file", s.cfg.ConfigPath)
	}
}

func (s *Server) logConfigError(err error) {
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			s.log.Error("configuration refused", "file", e.File, "line", e.Pos.Line, "col", e.Pos.Col, "field", e.Path, "problem", e.Msg, "allowed", e.Allowed)
		}
		return
	}
	s.log.Error("configuration refused", "err", err)
}
