package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/metrics"
	"github.com/switchboard/switchboard/internal/view"
	"github.com/switchboard/switchboard/web"
)

// Timings of the dashboard's snapshots.
const (
	// dashCoalesce is how long a change waits for others before the
	// snapshot is rebuilt: a burst of health transitions costs one build.
	dashCoalesce = 50 * time.Millisecond
	// dashRefresh rebuilds the snapshot while someone watches, for the
	// latency sparklines, which change without a new view.
	dashRefresh = 2 * time.Second
	// sseKeepalive keeps idle event streams open through proxies.
	sseKeepalive = 15 * time.Second
	// maxWatchers bounds the open event streams: each holds a goroutine
	// and a connection, and no one needs more dashboards than this open.
	maxWatchers = 64
)

// observer is what the admin listener shows beyond /status: the Prometheus
// metrics, and the dashboard's live snapshot and event timeline.
type observer struct {
	// Immutable after newObserver.
	srv     *Server
	metrics *metrics.Metrics
	// done is closed when the admin listener shuts down: event streams end,
	// so that the shutdown need not wait for them.
	done     chan struct{}
	doneOnce sync.Once
	watchers atomic.Int32

	mu       sync.Mutex // guards the fields below
	snapshot []byte     // the latest Dashboard as JSON; nil before the first build
	changed  chan struct{}
	events   []DashEvent // newest last, at most timelineLen
}

// newObserver returns s's observer; s.health must be set.
func newObserver(s *Server) *observer {
	o := &observer{srv: s, done: make(chan struct{}), changed: make(chan struct{})}
	o.metrics = metrics.New(metrics.Sources{
		Views:  s.pub,
		Health: s.health,
		DNS:    s.dnsStats,
		Config: s.configStatus,
	})
	return o
}

// healthObserver is the health engine's Observer. It forwards to the
// metrics, which are made after the engine because they read it.
type healthObserver struct {
	h atomic.Pointer[metrics.Health]
}

var _ health.Observer = (*healthObserver)(nil)

func (f *healthObserver) Probed(k state.Key, o health.Observation) {
	if h := f.h.Load(); h != nil {
		h.Probed(k, o)
	}
}

func (f *healthObserver) Transitioned(ev health.Event) {
	if h := f.h.Load(); h != nil {
		h.Transitioned(ev)
	}
}

// newHealthAndObserver builds s's health engine and observer, which need each other.
func (s *Server) newHealthAndObserver(cfg health.EngineConfig) {
	fwd := &healthObserver{}
	cfg.Observer = fwd
	s.health = health.NewEngine(cfg)
	s.obs = newObserver(s)
	fwd.h.Store(s.obs.metrics.Health())
}

func (s *Server) dnsStats() (dnsserver.Stats, bool) {
	s.mu.Lock()
	d := s.dns
	s.mu.Unlock()
	if d == nil {
		return dnsserver.Stats{}, false
	}
	return d.Stats(), true
}

func (s *Server) configStatus() metrics.ConfigStatus {
	s.mu.Lock()
	cs := metrics.ConfigStatus{LastReloadOK: s.configErr == nil, LastReload: s.lastLoad, LastSuccess: s.lastOK}
	st := s.store
	s.mu.Unlock()
	if st != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if h, err := st.History(ctx, 0, 1); err == nil && len(h) > 0 {
			cs.DesiredVersion = h[0].Version
		}
	}
	return cs
}

// mountObserve adds the metrics and the dashboard to the admin mux:
//
//	GET /metrics              Prometheus metrics
//	GET /                     redirects to /ui/
//	GET /ui/                  the dashboard (index.html, app.js, style.css)
//	GET /ui/events            server-sent events: a Dashboard JSON on every change
//	GET /ui/api/snapshot      the Dashboard JSON now
//	POST, DELETE /ui/api/shifts  start or cancel a zonal shift (shifts.go)
func (s *Server) mountObserve(mux *http.ServeMux) {
	mux.Handle("GET /metrics", s.obs.metrics.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	files := http.StripPrefix("/ui/", http.FileServerFS(web.Files))
	mux.Handle("GET /ui/", uiHeaders(files))
	mux.HandleFunc("GET /ui/events", s.uiEvents)
	mux.HandleFunc("GET /ui/api/snapshot", s.uiSnapshot)
	mux.HandleFunc("POST /ui/api/shifts", s.startShift)
	mux.HandleFunc("DELETE /ui/api/shifts", s.cancelShift)
}

// uiHeaders forbids everything the dashboard does not need: it loads its
// own script and style and talks to its own origin only.
func uiHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// run keeps the dashboard's snapshot and timeline current until ctx ends:
// it records health transitions and what changed between views, and
// rebuilds the snapshot once per burst of changes.
func (o *observer) run(ctx context.Context) error {
	s := o.srv
	views := s.pub.Subscribe(ctx)
	events := s.health.Events(ctx)
	refresh := time.NewTicker(dashRefresh)
	defer refresh.Stop()
	coalesce := time.NewTimer(time.Hour)
	coalesce.Stop()
	defer coalesce.Stop()
	armed := false
	arm := func() {
		if !armed {
			coalesce.Reset(dashCoalesce)
			armed = true
		}
	}
	var last *view.View
	o.rebuild()
	for {
		select {
		case <-ctx.Done():
			return nil
		case v, ok := <-views:
			if !ok {
				return nil
			}
			o.noteView(ctx, last, v)
			last = v
			arm()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			o.addEvents(healthEvent(ev, s.now()))
			arm()
		case <-coalesce.C:
			armed = false
			o.rebuild()
		case <-refresh.C:
			if o.watchers.Load() > 0 {
				o.rebuild()
			}
		}
	}
}

// noteView adds to the timeline what changed from old to v.
func (o *observer) noteView(ctx context.Context, old, v *view.View) {
	summary := ""
	if old == nil || old.Version != v.Version {
		o.srv.mu.Lock()
		st := o.srv.store
		o.srv.mu.Unlock()
		if st != nil {
			if h, err := st.History(ctx, v.Version+1, 1); err == nil && len(h) == 1 && h[0].Version == v.Version {
				summary = h[0].Summary + " (" + h[0].Source + ")"
			}
		}
	}
	o.addEvents(diffViews(old, v, summary, o.srv.now())...)
}

func (o *observer) addEvents(evs ...DashEvent) {
	if len(evs) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, evs...)
	if n := len(o.events) - timelineLen; n > 0 {
		o.events = append(o.events[:0], o.events[n:]...)
	}
}

// dashboard builds the Dashboard now.
func (o *observer) dashboard() Dashboard {
	s := o.srv
	d := buildDashboard(s.pub.Load(), s.health)
	o.mu.Lock()
	for i := len(o.events) - 1; i >= 0; i-- {
		d.Events = append(d.Events, o.events[i])
	}
	o.mu.Unlock()
	s.mu.Lock()
	d.Config = DashConfig{OK: s.configErr == nil, Errors: errorLines(s.configErr)}
	s.mu.Unlock()
	d.Config.DesiredVersion = s.configStatus().DesiredVersion
	d.ShiftsWritable = s.shiftsWritable()
	return d
}

// rebuild renders the snapshot and, when it changed, wakes every event stream.
func (o *observer) rebuild() {
	b, err := json.Marshal(o.dashboard())
	if err != nil {
		o.srv.log.Error("dashboard snapshot", "err", err)
		return
	}
	o.mu.Lock()
	if bytes.Equal(b, o.snapshot) {
		o.mu.Unlock()
		return
	}
	o.snapshot = b
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

// current returns the latest snapshot and a channel closed when it is replaced.
func (o *observer) current() ([]byte, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.snapshot, o.changed
}

// closeStreams ends every event stream; the admin listener calls it on shutdown.
func (o *observer) closeStreams() { o.doneOnce.Do(func() { close(o.done) }) }

// uiSnapshot serves the snapshot the event streams send, built at most once
// here: rebuilding per request would let any unauthenticated client make the
// server take the health engine's lock for every target's detail.
func (s *Server) uiSnapshot(w http.ResponseWriter, r *http.Request) {
	data, _ := s.obs.current()
	if data == nil {
		s.obs.rebuild()
		data, _ = s.obs.current()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
}

// uiEvents streams the dashboard's snapshots as server-sent events: the
// current one at once, then each newer one. A slow reader skips to the
// newest; snapshots are whole, so nothing is lost by skipping.
func (s *Server) uiEvents(w http.ResponseWriter, r *http.Request) {
	o := s.obs
	defer o.watchers.Add(-1)
	if o.watchers.Add(1) > maxWatchers {
		http.Error(w, "too many dashboards are open", http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	data, changed := o.current()
	if data == nil {
		o.rebuild()
		data, changed = o.current()
	}
	keepalive := time.NewTicker(sseKeepalive)
	defer keepalive.Stop()
	send := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for {
		msg := make([]byte, 0, len(data)+32)
		msg = append(msg, "event: snapshot\ndata: "...)
		msg = append(append(msg, data...), "\n\n"...)
		if !send(msg) {
			return
		}
		for waiting := true; waiting; {
			select {
			case <-r.Context().Done():
				return
			case <-o.done:
				return
			case <-keepalive.C:
				if !send([]byte(": keepalive\n\n")) {
					return
				}
			case <-changed:
				data, changed = o.current()
				waiting = false
			}
		}
	}
}
