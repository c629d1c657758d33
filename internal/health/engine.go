package health

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// A snapshot copies every status, so the engine rests after publishing
// one: publishGapFactor times as long as the copy took, so that copying
// takes at most a fifth of its time however fast transitions come, and never
// more than maxPublishGap, which bounds how late a transition reaches the
// view. For a thousand targets the rest is a fraction of a millisecond; a
// fixed 5 ms rest made changes that came 4 ms apart wait for it.
const (
	publishGapFactor = 4
	maxPublishGap    = 5 * time.Millisecond
)

// EngineConfig is what an Engine needs. The zero value works.
type EngineConfig struct {
	// Logger receives transitions and problems.
	Logger *slog.Logger
	// Checker names this process as a vantage point. Default "local".
	Checker string
	// Metrics is the process's own registry, the local source of metric checks.
	Metrics *Metrics
	// HTTPClient queries Prometheus for metric checks that name a server.
	HTTPClient *http.Client
	// History is how many observations are kept per key. Default 16.
	History int
	// NewChecker builds the checker of a probe. Default NewChecker; tests of
	// the scheduler may pass a checker that needs no network.
	NewChecker func(*model.Probe) (Checker, error)
	// NewMetricChecker builds the checker of a metric check. Default NewMetricChecker.
	NewMetricChecker func(*model.HealthCheck, *Metrics, *http.Client) (Checker, error)
	// Observer, when set, is told of every probe result and transition
	// (observer.go). Optional.
	Observer Observer
}

// Engine runs every health check of the desired state and every target
// group's probe of each target, combines active results per vantage point,
// calculated checks and passive signals into one status per key, and
// publishes a Snapshot whenever a status changes.
//
// Probes run on a fixed schedule kept in one heap: the first probe of a key
// is offset within the interval by a hash of the key, so that thousands of
// checks spread evenly; each probe runs in a goroutine of its own while it
// runs, and never overlaps the next one of its key (a probe that runs past
// its next tick skips it, and Skipped counts it).
type Engine struct {
	// Immutable after NewEngine.
	cfg  EngineConfig
	log  *slog.Logger
	snap atomic.Pointer[state.Snapshot]
	// dirty (capacity 1) wakes the publisher after a change.
	dirty chan struct{}
	// wake (capacity 1) tells the publisher that an ejection started.
	wake chan struct{}
	// sched (capacity 1) tells the scheduler that a probe was queued.
	sched   chan struct{}
	skipped atomic.Uint64
	late    atomic.Uint64
	dropped atomic.Uint64
	// fast holds the passive records Report may read without mu; rebuilt
	// under mu by every Apply.
	fast atomic.Pointer[map[passiveKey]*passive]

	mu       sync.Mutex // guards the fields below
	runCtx   context.Context
	wg       sync.WaitGroup
	probes   map[state.Key]*probe
	calcs    []*calculated
	groups   map[string]*group
	statuses map[state.Key]state.Status
	version  uint64
	subs     map[chan *state.Snapshot]struct{}
	events   map[chan Event]struct{}
	queue    probeQueue   // every enabled probe, by its next time
	pending  *model.State // applied before Run
	// applied is the sequence number of the newest Apply that took effect;
	// an older one that comes late (the pending one at Run) is dropped.
	applied uint64
	stopped bool
	seq     atomic.Uint64 // numbers Apply calls in the order they are made
}

// Event is one status transition.
type Event struct {
	Key      state.Key
	Status   state.Status
	Previous state.Status
}

// Observation is one probe result as one checker saw it.
type Observation struct {
	Checker string
	Time    time.Time
	Healthy bool
	Reason  string
	Latency time.Duration
}

// NewEngine returns an engine with no checks. It does no I/O.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Checker == "" {
		cfg.Checker = "local"
	}
	if cfg.History <= 0 {
		cfg.History = 16
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.NewChecker == nil {
		cfg.NewChecker = NewChecker
	}
	if cfg.NewMetricChecker == nil {
		cfg.NewMetricChecker = func(hc *model.HealthCheck, m *Metrics, c *http.Client) (Checker, error) {
			return NewMetricChecker(hc, m, c)
		}
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger,
		dirty:    make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		sched:    make(chan struct{}, 1),
		probes:   map[state.Key]*probe{},
		groups:   map[string]*group{},
		statuses: map[state.Key]state.Status{},
		subs:     map[chan *state.Snapshot]struct{}{},
		events:   map[chan Event]struct{}{},
	}
	e.snap.Store(state.NewSnapshot(0, map[state.Key]state.Status{}))
	return e
}

// Snapshot returns the newest published statuses. It never blocks.
func (e *Engine) Snapshot() *state.Snapshot { return e.snap.Load() }

// Skipped counts probe ticks skipped because a probe ran past them.
func (e *Engine) Skipped() uint64 { return e.skipped.Load() }

// DroppedEvents counts events not delivered to a subscriber that fell behind.
func (e *Engine) DroppedEvents() uint64 { return e.dropped.Load() }

// Run starts the checks applied so far and publishes snapshots until ctx
// ends; it returns when every probe goroutine has stopped.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.runCtx != nil {
		e.mu.Unlock()
		return fmt.Errorf("health: engine already running")
	}
	e.runCtx = ctx
	pending, seq := e.pending, e.applied
	e.pending = nil
	e.mu.Unlock()
	if pending != nil {
		if err := e.apply(pending, seq); err != nil {
			return err
		}
	}
	e.publish()
	e.wg.Go(func() { e.schedule(ctx) })
	defer func() {
		e.mu.Lock()
		e.stopped = true
		for _, p := range e.probes {
			p.stop()
		}
		e.mu.Unlock()
		e.wg.Wait()
		e.closeSubscribers()
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.dirty:
			// A burst of transitions (ten thousand first results at start)
			// costs a few copies, not one each: see publishGapFactor.
			if gap := min(publishGapFactor*e.publish(), maxPublishGap); gap > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(gap):
				}
			}
		case <-e.wake:
		case <-timer.C:
		}
		// Ejections end on the publisher's clock, so no timer goroutine
		// outlives the engine.
		if next, ok := e.endEjections(time.Now()); ok {
			timer.Reset(next)
		} else {
			timer.Reset(time.Hour)
		}
	}
}

// Apply makes the engine check what s declares: probes that are new start,
// probes that are gone stop, probes that did not change keep their state.
// s must be valid and defaulted. Apply may be called before or during Run.
func (e *Engine) Apply(s *model.State) error { return e.apply(s, e.seq.Add(1)) }

// apply is Apply numbered seq; a call older than the newest applied is dropped.
func (e *Engine) apply(s *model.State, seq uint64) error {
	specs, calcs, groups, err := e.plan(s)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.stopped:
		return fmt.Errorf("health: engine stopped")
	case seq < e.applied:
		return nil // a newer state is already in force
	case e.runCtx == nil:
		e.pending, e.applied = s, seq
		return nil
	}
	e.applied = seq
	for k, p := range e.probes {
		if sp, ok := specs[k]; !ok || sp.identity != p.identity {
			p.stop()
			delete(e.probes, k)
			delete(e.statuses, k)
		}
	}
	for k, sp := range specs {
		if _, running := e.probes[k]; running {
			continue
		}
		ns := newProbe(k, sp.checker, sp.target, sp.probe, sp.hc, sp.identity)
		e.probes[k] = ns
		st := ns.status()
		st.Since = time.Now()
		e.statuses[k] = st
		if !ns.disabled {
			ns.ctx, ns.cancel = context.WithCancel(e.runCtx)
			ns.next = time.Now().Add(ns.offset)
			heap.Push(&e.queue, ns)
			e.wakeScheduler()
		}
	}
	// Passive state survives for targets that stay in their group.
	for name, g := range groups {
		old := e.groups[name]
		for k := range g.passive {
			if old != nil && old.passive[k] != nil {
				g.passive[k] = old.passive[k]
			} else {
				g.passive[k] = &passive{}
			}
		}
	}
	e.groups = groups
	e.setFastLocked()
	for k := range e.statuses {
		if _, ok := specs[k]; !ok && k.Target.IsValid() {
			delete(e.statuses, k)
		}
	}
	for _, c := range e.calcs {
		if !containsCalc(calcs, c.name) {
			delete(e.statuses, state.Key{Check: c.name})
		}
	}
	e.calcs = calcs
	for k := range e.statuses {
		e.combineLocked(k, time.Now())
	}
	e.recomputeCalculatedLocked(time.Now())
	e.markDirty()
	return nil
}

func containsCalc(cs []*calculated, name string) bool {
	for _, c := range cs {
		if c.name == name {
			return true
		}
	}
	return false
}

// plan turns s into the probes, calculated checks and passive groups it declares.
func (e *Engine) plan(s *model.State) (map[state.Key]probeSpec, []*calculated, map[string]*group, error) {
	n := len(s.HealthChecks)
	for i := range s.TargetGroups {
		n += len(s.TargetGroups[i].Targets)
	}
	specs := make(map[state.Key]probeSpec, n)
	var calcs []*calculated
	groups := map[string]*group{}
	for i := range s.HealthChecks {
		hc := &s.HealthChecks[i]
		k := state.Key{Check: hc.Name}
		switch hc.Type {
		case model.CheckCalculated:
			calcs = append(calcs, &calculated{name: hc.Name, children: hc.Children, threshold: hc.HealthThreshold, inverted: hc.Inverted, disabled: hc.Disabled})
			continue
		case model.CheckMetric:
			c, err := e.cfg.NewMetricChecker(hc, e.cfg.Metrics, e.cfg.HTTPClient)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("health: check %s: %w", hc.Name, err)
			}
			specs[k] = probeSpec{identity(hc), c, Target{}, &hc.Probe, hc}
		default:
			c, err := e.cfg.NewChecker(&hc.Probe)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("health: check %s: %w", hc.Name, err)
			}
			specs[k] = probeSpec{identity(hc), c, Target{Host: hc.Address, Port: hc.Port}, &hc.Probe, hc}
		}
	}
	for i := range s.TargetGroups {
		tg := &s.TargetGroups[i]
		pr := tg.HealthCheck
		if pr == nil {
			continue
		}
		c, err := e.cfg.NewChecker(pr)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("health: target group %s: %w", tg.Name, err)
		}
		g := &group{od: tg.OutlierDetection, passive: make(map[state.Key]*passive, len(tg.Targets))}
		groups[tg.Name] = g
		check := state.GroupCheck(tg.Name)
		probeID := identity(pr) // the probe once, not once per target
		for _, t := range tg.Targets {
			ap := netip.AddrPortFrom(t.Address, uint16(t.Port))
			k := state.Key{Check: check, Target: ap}
			port := pr.Port
			if port == 0 {
				port = t.Port
			}
			target := Target{Host: t.Address.String(), Port: port}
			specs[k] = probeSpec{probeID + " " + target.Host + " " + strconv.Itoa(port), c, target, pr, nil}
			g.passive[k] = nil // filled by apply, keeping a staying target's record
		}
	}
	return specs, calcs, groups, nil
}

// probeSpec is what plan decides about one probe: its identity, to compare
// with the running probe's, and what newProbe needs to make it when they
// differ. Most of a version's probes did not change, and making each anew
// only to drop it was most of the garbage of a commit.
type probeSpec struct {
	identity string
	checker  Checker
	target   Target
	probe    *model.Probe
	hc       *model.HealthCheck
}

// identity is what makes two probes the same: a change of any of it restarts the probe.
func identity(parts ...any) string {
	b, _ := json.Marshal(parts)
	return string(b)
}

// probe is one scheduled check of one key.
type probe struct {
	// Immutable after newProbe.
	key          state.Key
	identity     string
	checker      Checker
	target       Target
	interval     time.Duration
	timeout      time.Duration
	offset       time.Duration
	healthyTh    int
	unhealthyTh  int
	percent      int
	inverted     bool
	disabled     bool
	initial      bool
	insufficient model.InsufficientData
	// ctx ends when the probe is removed or the engine stops; set by Apply.
	ctx    context.Context
	cancel context.CancelFunc

	// Guarded by Engine.mu.
	next     time.Time // when the scheduler runs it next
	index    int       // in Engine.queue; -1 when not queued
	running  bool      // a probe is in flight
	removed  bool
	vantages map[string]*vantage
	history  []Observation // newest last, at most EngineConfig.History
	skips    uint64
}

// vantage is one checker's thresholded view of a key.
type vantage struct {
	healthy         bool
	okRun, failRun  int
	last            Observation
	observedAtLeast bool
}

func newProbe(k state.Key, c Checker, t Target, pr *model.Probe, hc *model.HealthCheck, id string) *probe {
	p := &probe{
		key: k, identity: id, checker: c, target: t,
		interval: pr.Interval.D(), timeout: pr.Timeout.D(),
		healthyTh: max(pr.HealthyThreshold, 1), unhealthyTh: max(pr.UnhealthyThreshold, 1),
		percent: model.DefaultHealthyCheckerPercent, initial: true,
		vantages: map[string]*vantage{},
	}
	if pr.HealthyCheckerPercent != nil {
		p.percent = *pr.HealthyCheckerPercent
	}
	if hc != nil {
		p.inverted, p.disabled = hc.Inverted, hc.Disabled
		p.initial = hc.InitialState != model.Unhealthy
		p.insufficient = hc.InsufficientData
	}
	if p.interval <= 0 {
		p.interval = model.DefaultInterval
	}
	if p.timeout <= 0 || p.timeout >= p.interval {
		p.timeout = p.interval / 2
	}
	p.offset = spread(k, p.interval)
	return p
}

// spread places a key's first probe within the interval by a hash of the
// key: deterministic, and even across many keys.
func spread(k state.Key, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(k.Check))
	b, _ := k.Target.MarshalBinary()
	h.Write(b)
	return time.Duration(h.Sum64() % uint64(interval))
}

// stop ends p: an in-flight probe is cancelled and p leaves the queue the
// next time the scheduler meets it. e.mu must be held.
func (p *probe) stop() {
	p.removed = true
	if p.cancel != nil {
		p.cancel()
	}
	if c, ok := p.checker.(interface{ Close() }); ok {
		c.Close()
	}
}

// schedule starts the probes that are due, each in a goroutine of its own
// for the length of one probe, until ctx ends. Probes wait as data in a heap
// ordered by their next time, not as parked goroutines: ten thousand checks
// cost ten thousand small structs, and a goroutine only while one runs.
func (e *Engine) schedule(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(e.startDue(time.Now()))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.sched:
		}
	}
}

// startDue starts every probe due at now and returns how long until the
// next one. A probe still running at its tick skips it (counted), so probes
// of one key never overlap.
func (e *Engine) startDue(now time.Time) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.queue) > 0 && !e.queue[0].next.After(now) {
		p := e.queue[0]
		if p.removed {
			heap.Pop(&e.queue)
			continue
		}
		if p.running {
			e.skipLocked(p, 1)
		} else {
			p.running = true
			due := p.next
			e.wg.Go(func() { e.probeOnce(p, due) })
		}
		p.next = p.next.Add(p.interval)
		if !p.next.After(now) { // the scheduler itself fell behind
			missed := uint64(now.Sub(p.next)/p.interval) + 1
			p.next = p.next.Add(time.Duration(missed) * p.interval)
			e.skipLocked(p, missed)
		}
		heap.Fix(&e.queue, 0)
	}
	if len(e.queue) == 0 {
		return time.Hour
	}
	return e.queue[0].next.Sub(now)
}

func (e *Engine) skipLocked(p *probe, n uint64) {
	p.skips += n
	e.skipped.Add(n)
}

// probeOnce runs one probe of p, due at due, and records its result. A
// failed probe that started more than half its timeout late is not held
// against the target: the lateness says this process is overloaded, and
// its timeouts would be ours, not the target's. It counts as a skip.
func (e *Engine) probeOnce(p *probe, due time.Time) {
	late := time.Since(due) > p.timeout/2
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	r := p.checker.Check(ctx, p.target)
	cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	p.running = false
	switch {
	case p.removed: // a probe replaced meanwhile must not speak for its successor
	case late && !r.Healthy:
		e.skipLocked(p, 1)
		e.late.Add(1)
	default:
		e.observeLocked(p, e.cfg.Checker, r, time.Now())
	}
}

// Late counts failed probes not held against their targets because they
// started too late: a sign that this process cannot keep up.
func (e *Engine) Late() uint64 { return e.late.Load() }

func (e *Engine) wakeScheduler() {
	select {
	case e.sched <- struct{}{}:
	default:
	}
}

// probeQueue is a min-heap of probes by their next time.
type probeQueue []*probe

func (q probeQueue) Len() int           { return len(q) }
func (q probeQueue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q probeQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *probeQueue) Push(x any) {
	p := x.(*probe)
	p.index = len(*q)
	*q = append(*q, p)
}
func (q *probeQueue) Pop() any {
	old := *q
	p := old[len(old)-1]
	old[len(old)-1] = nil
	p.index = -1
	*q = old[:len(old)-1]
	return p
}

// Observe records a result for key k as checker saw it at t. The local
// scheduler calls it for every probe; other nodes' results arrive here too,
// so that a cluster adds vantage points without changing the model.
func (e *Engine) Observe(k state.Key, checker string, r Result, t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.probes[k]; p != nil {
		e.observeLocked(p, checker, r, t)
	}
}

// observeLocked records r for p as checker saw it at t. e.mu must be held.
func (e *Engine) observeLocked(p *probe, checker string, r Result, t time.Time) {
	k := p.key
	v := p.vantages[checker]
	if v == nil {
		v = &vantage{healthy: p.initial}
		p.vantages[checker] = v
	}
	healthy := r.Healthy
	if IsNoData(r) {
		switch p.insufficient {
		case model.InsufficientUnhealthy:
			healthy = false
		case model.InsufficientLastKnown:
			healthy = v.healthy
		default:
			healthy = true
		}
	}
	obs := Observation{Checker: checker, Time: t, Healthy: healthy, Reason: r.Reason, Latency: r.Latency}
	if healthy {
		v.okRun, v.failRun = v.okRun+1, 0
		if !v.healthy && v.okRun >= p.healthyTh {
			v.healthy = true
		}
	} else {
		v.okRun, v.failRun = 0, v.failRun+1
		if v.healthy && v.failRun >= p.unhealthyTh {
			v.healthy = false
		}
	}
	v.last, v.observedAtLeast = obs, true
	if len(p.history) == e.cfg.History {
		copy(p.history, p.history[1:])
		p.history = p.history[:len(p.history)-1]
	}
	p.history = append(p.history, obs)
	if e.cfg.Observer != nil {
		e.cfg.Observer.Probed(k, obs)
	}
	// Calculated checks count named checks' health: recount only when one
	// of those changed, not on every probe of every target.
	if e.combineLocked(k, t) && !k.Target.IsValid() {
		e.recomputeCalculatedLocked(t)
	}
}

// status aggregates p's vantage points: healthy when more than percent of
// the checkers that reported say so; the initial state before any did.
func (p *probe) status() state.Status {
	if p.disabled {
		return state.Status{Healthy: true, Observed: true, Reason: "disabled"}
	}
	var seen, healthy int
	var last Observation
	for _, v := range p.vantages {
		if !v.observedAtLeast {
			continue
		}
		seen++
		if v.healthy {
			healthy++
		}
		if v.last.Time.After(last.Time) || seen == 1 {
			last = v.last
		}
	}
	st := state.Status{Healthy: p.initial, Reason: "no result yet"}
	if seen > 0 {
		st.Observed = true
		st.Healthy = healthy*100 > p.percent*seen
		st.Reason = last.Reason
		if seen > 1 {
			st.Reason = fmt.Sprintf("%d of %d checkers healthy (need more than %d%%); last: %s", healthy, seen, p.percent, last.Reason)
		}
	}
	if p.inverted {
		st.Healthy = !st.Healthy
		st.Reason = "inverted: " + st.Reason
	}
	return st
}

// lastRuns says whether any checker's latest probe of p failed or holds it
// unhealthy, and whether every checker that reported has passed at least
// healthy_threshold times in a row (and so holds it healthy).
func (p *probe) lastRuns() (failed, recovered bool) {
	recovered = true
	for _, v := range p.vantages {
		if !v.observedAtLeast {
			continue
		}
		if v.failRun > 0 || !v.healthy {
			failed = true
		}
		if v.okRun < p.healthyTh {
			recovered = false
		}
	}
	return failed, recovered
}

// combineLocked sets k's status from its active probe and its passive
// state, and reports whether that was a transition. e.mu must be held.
func (e *Engine) combineLocked(k state.Key, now time.Time) bool {
	p := e.probes[k]
	if p == nil {
		return false
	}
	st := p.status()
	if g := e.groupOf(k); g != nil {
		ps := g.passive[k]
		if ps != nil && st.Observed {
			failed, recovered := p.lastRuns()
			ps.activeSays(failed, recovered, now)
		}
		if ps != nil && ps.ejected(now) {
			st.Healthy, st.Ejected, st.Reason = false, true, ps.reason
		}
	}
	return e.setLocked(k, st, now)
}

// setLocked stores st for k; a change of health, observation or ejection
// is a transition: it is stamped, sent to event subscribers and published,
// and setLocked reports true.
func (e *Engine) setLocked(k state.Key, st state.Status, now time.Time) bool {
	prev, had := e.statuses[k]
	st.Since = prev.Since
	if !had || prev.Healthy != st.Healthy {
		st.Since = now
	}
	e.statuses[k] = st
	if had && prev.Healthy == st.Healthy && prev.Observed == st.Observed && prev.Ejected == st.Ejected {
		return false
	}
	if had && prev.Healthy != st.Healthy {
		e.log.Info("health transition", "check", k.Check, "target", targetString(k), "status", st.Word(), "reason", st.Reason)
	}
	ev := Event{Key: k, Status: st, Previous: prev}
	if e.cfg.Observer != nil {
		e.cfg.Observer.Transitioned(ev)
	}
	for ch := range e.events {
		select {
		case ch <- ev:
		default:
			e.dropped.Add(1)
		}
	}
	e.markDirty()
	return true
}

func targetString(k state.Key) string {
	if !k.Target.IsValid() {
		return ""
	}
	return k.Target.String()
}

func (e *Engine) markDirty() {
	select {
	case e.dirty <- struct{}{}:
	default:
	}
}

// publish makes the current statuses the snapshot and offers it to
// subscribers. It returns how long the copy took, not counting the wait
// for e.mu.
func (e *Engine) publish() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	m := make(map[state.Key]state.Status, len(e.statuses))
	for k, st := range e.statuses {
		m[k] = st
	}
	took := time.Since(start)
	e.version++
	snap := state.NewSnapshot(e.version, m)
	e.snap.Store(snap)
	for ch := range e.subs {
		offerSnapshot(ch, snap)
	}
	return took
}

// offerSnapshot puts s in ch (capacity 1), replacing one not yet taken.
func offerSnapshot(ch chan *state.Snapshot, s *state.Snapshot) {
	for {
		select {
		case ch <- s:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// Subscribe returns a channel that receives the current snapshot and then
// each newer one; a slow reader skips to the newest. It is closed when ctx
// ends or the engine stops.
func (e *Engine) Subscribe(ctx context.Context) <-chan *state.Snapshot {
	ch := make(chan *state.Snapshot, 1)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	ch <- e.snap.Load()
	e.mu.Unlock()
	context.AfterFunc(ctx, func() { e.unsubscribe(ch) })
	return ch
}

func (e *Engine) unsubscribe(ch chan *state.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.subs[ch]; ok {
		delete(e.subs, ch)
		close(ch)
	}
}

// Events returns a channel of transitions (capacity 256). A subscriber that
// falls behind loses events, counted by DroppedEvents; the snapshots never
// lose a state. It is closed when ctx ends or the engine stops.
func (e *Engine) Events(ctx context.Context) <-chan Event {
	ch := make(chan Event, 256)
	e.mu.Lock()
	e.events[ch] = struct{}{}
	e.mu.Unlock()
	context.AfterFunc(ctx, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if _, ok := e.events[ch]; ok {
			delete(e.events, ch)
			close(ch)
		}
	})
	return ch
}

func (e *Engine) closeSubscribers() {
	e.publish()
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs {
		delete(e.subs, ch)
		close(ch)
	}
	for ch := range e.events {
		delete(e.events, ch)
		close(ch)
	}
}

// Detail is everything the engine knows about one key, for status pages.
type Detail struct {
	Status state.Status
	// Checkers are each vantage point's latest observation.
	Checkers []Observation
	// History holds the latest observations, oldest first.
	History []Observation
	// Skipped counts this key's skipped ticks.
	Skipped uint64
}

// Detail returns what the engine knows about k.
func (e *Engine) Detail(k state.Key) (Detail, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.statuses[k]
	if !ok {
		return Detail{}, false
	}
	d := Detail{Status: st}
	if p := e.probes[k]; p != nil {
		for _, v := range p.vantages {
			d.Checkers = append(d.Checkers, v.last)
		}
		d.History = append([]Observation(nil), p.history...)
		d.Skipped = p.skips
	}
	return d, true
}
