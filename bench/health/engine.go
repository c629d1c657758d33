package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// rampSteps is how many Applies -ramp spreads the checks over.
const rampSteps = 10

// passiveGroup is the target group whose targets the passive part ejects.
const passiveGroup = "passive"

// plan is the state under test and the keys it declares.
type plan struct {
	state *model.State
	// named are the http checks' keys, in order; addrOf is each one's target.
	named  []state.Key
	addrOf map[state.Key]string
	// passive are the passive group's keys.
	passive []state.Key
}

// buildPlan declares n named http checks spread round-robin over addrs,
// and a target group over addrs with the default outlier detection, except
// that every target may be ejected at once.
func buildPlan(addrs []string, cfg config) (*plan, error) {
	p := &plan{addrOf: map[state.Key]string{}}
	s := &model.State{Zones: []model.Zone{{Name: "a"}}}
	aps := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return nil, fmt.Errorf("backend target %q: %w", a, err)
		}
		aps[i] = ap
	}
	width := len(strconv.Itoa(cfg.n - 1))
	for i := range cfg.n {
		ap := aps[i%len(aps)]
		name := fmt.Sprintf("hc-%0*d", width, i)
		s.HealthChecks = append(s.HealthChecks, model.HealthCheck{
			Name:    name,
			Address: ap.Addr().String(),
			Probe: model.Probe{
				Type:      model.CheckHTTP,
				Port:      int(ap.Port()),
				Path:      "/healthz",
				Interval:  model.Duration(cfg.interval),
				KeepAlive: cfg.keepAlive,
			},
		})
		k := state.Key{Check: name}
		p.named = append(p.named, k)
		p.addrOf[k] = ap.String()
	}
	tg := model.TargetGroup{
		Name: passiveGroup, Protocol: model.ProtoHTTP, Port: int(aps[0].Port()),
		HealthCheck: &model.Probe{Path: "/healthz", Interval: model.Duration(cfg.interval), KeepAlive: cfg.keepAlive},
		// consecutive_failures stays at its default (5) and
		// consecutive_connect_failures at its (1): a refused connection
		// must eject on its own. All targets may be ejected, one each.
		OutlierDetection: &model.OutlierDetection{MaxEjectionPercent: new(100)},
	}
	for _, ap := range aps {
		tg.Targets = append(tg.Targets, model.Target{Address: ap.Addr(), Port: int(ap.Port()), Zone: "a"})
		p.passive = append(p.passive, state.Key{Check: state.GroupCheck(passiveGroup), Target: ap})
	}
	s.TargetGroups = append(s.TargetGroups, tg)
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p.state = s
	return p, nil
}

// recorder follows the engine's events: when each key last turned
// unhealthy, and how many healthy/unhealthy flips happened when.
type recorder struct {
	mu    sync.Mutex // guards the fields below
	down  map[state.Key]time.Time
	flips []time.Time
}

func (r *recorder) consume(events <-chan health.Event) {
	for ev := range events {
		if !ev.Status.Observed || !ev.Previous.Observed || ev.Status.Healthy == ev.Previous.Healthy {
			continue // a first result or an ejection flag, not a flip
		}
		r.mu.Lock()
		r.flips = append(r.flips, ev.Status.Since)
		if !ev.Status.Healthy {
			r.down[ev.Key] = ev.Status.Since
		}
		r.mu.Unlock()
	}
}

// downSince returns when k last turned unhealthy, if at or after t.
func (r *recorder) downSince(k state.Key, t time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.down[k]
	return d, ok && !d.Before(t)
}

func (r *recorder) flipsBetween(from, to time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.flips {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

// sample is what the window's two ends compare.
type sample struct {
	wall    time.Time
	cpu     float64
	backend stats
	skipped uint64
	version uint64 // of the snapshot
}

func takeSample(ctx context.Context, ctl *ctlClient, e *health.Engine) (sample, error) {
	s := sample{wall: time.Now(), cpu: cpuSeconds(), skipped: e.Skipped(), version: e.Snapshot().Version()}
	var err error
	s.backend, err = ctl.stats(ctx)
	return s, err
}

// runEngine runs the engine with cfg.n named http checks against the
// backend at cfg.ctl, measures it over the window, then stops two of the
// backend's listeners and times detection, then times passive ejection.
func runEngine(ctx context.Context, cfg config) error {
	ctl := newCtlClient(cfg.ctl)
	addrs, err := ctl.targets(ctx)
	if err != nil {
		return err
	}
	if len(addrs) < 3 {
		return fmt.Errorf("the backend has %d listeners; want at least 3", len(addrs))
	}
	p, err := buildPlan(addrs, cfg)
	if err != nil {
		return err
	}
	probe := p.state.HealthChecks[0].Probe

	// With -ramp, the checks arrive in rampSteps Applies: batch i holds
	// checks [i*per, (i+1)*per) and starts at starts[i].
	steps := 1
	if cfg.ramp > 0 {
		steps = rampSteps
	}
	per := (len(p.named) + steps - 1) / steps
	starts := make([]time.Time, steps)
	prefix := func(batches int) *model.State {
		s := *p.state
		s.HealthChecks = s.HealthChecks[:min(batches*per, len(s.HealthChecks))]
		return &s
	}

	e := health.NewEngine(health.EngineConfig{Metrics: health.NewMetrics(health.MetricsOptions{})})
	applyStart := time.Now()
	if err := e.Apply(prefix(1)); err != nil {
		return err
	}
	applyTook := time.Since(applyStart)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	rec := &recorder{down: map[state.Key]time.Time{}}
	var wg sync.WaitGroup
	events := e.Events(runCtx)
	wg.Go(func() { rec.consume(events) })
	var runErr, rampErr error
	start := time.Now()
	starts[0] = start
	wg.Go(func() { runErr = e.Run(runCtx) })
	rampDone := make(chan struct{})
	wg.Go(func() {
		defer close(rampDone)
		for i := 1; i < steps; i++ {
			if rampErr = sleep(runCtx, cfg.ramp/time.Duration(steps)); rampErr != nil {
				return
			}
			starts[i] = time.Now()
			if rampErr = e.Apply(prefix(i + 1)); rampErr != nil {
				return
			}
		}
	})
	// Stop the engine whatever happens; the report waits for it.
	defer func() {
		stop()
		wg.Wait()
	}()

	if err := sleep(ctx, cfg.warmup); err != nil {
		return err
	}
	<-rampDone // the warm-up is at least the ramp
	if rampErr != nil {
		return rampErr
	}
	first := readFirstProbes(e, p, probe.Interval.D(), func(i int) time.Time { return starts[i/per] })
	before, err := takeSample(ctx, ctl, e)
	if err != nil {
		return err
	}
	if cfg.profile != "" {
		f, err := os.Create(cfg.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if err := sleep(ctx, cfg.window); err != nil {
		return err
	}
	after, err := takeSample(ctx, ctl, e)
	if cfg.profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if cfg.heap != "" {
		if err := writeHeapProfile(cfg.heap); err != nil {
			return err
		}
	}
	mem, err := procMemory("self")
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goroutines := runtime.NumGoroutine()

	mode := "a new connection per probe (keep_alive false, the default, as ELB)"
	if cfg.keepAlive {
		mode = "keep-alive connections (keep_alive true)"
	}
	fmt.Printf("== switchboard health engine: %d http checks, interval %s, %s ==\n", cfg.n, cfg.interval, mode)
	fmt.Printf("process: GOMAXPROCS %d, CPUs in its affinity %d; the backend runs on another CPU\n", runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Printf("Apply (plan) of %d probes: %s; window %s after %s of warm-up\n",
		len(p.named)+len(p.passive), applyTook.Round(time.Millisecond), cfg.window, cfg.warmup)
	if steps > 1 {
		fmt.Printf("ramp: the checks were added in %d Applies of %d, %s apart, during the warm-up\n", steps, per, cfg.ramp/time.Duration(steps))
	}
	fmt.Println()

	wall := after.wall.Sub(before.wall).Seconds()
	cores := (after.cpu - before.cpu) / wall
	requests := after.backend.Requests - before.backend.Requests
	rate := float64(requests) / wall
	expected := float64(len(p.named)+len(p.passive)) / cfg.interval.Seconds()
	row("CPU of the checker process", fmt.Sprintf("%.3f cores", cores), verdict(cores < 0.5, "goal < 0.5 cores"))
	if rate > 0 {
		row("  CPU per probe", fmt.Sprintf("%.1f µs", cores/rate*1e6), "")
	}
	if cores > 0 {
		row("  probes/s one core would carry", fmt.Sprintf("%.0f", rate/cores), "at this CPU per probe")
	}
	row("peak RSS (VmHWM)", mib(mem.Peak), verdict(mem.Peak < 200<<20, "goal < 200 MiB"))
	row("RSS at window end", mib(mem.RSS), "")
	row("Go heap in use / alloc", mib(ms.HeapInuse)+" / "+mib(ms.HeapAlloc), "")
	row("goroutine stacks (StackInuse)", mib(ms.StackInuse), "")
	row("Go runtime total (Sys)", mib(ms.Sys), "")
	row("goroutines", strconv.Itoa(goroutines), "")
	row("GC cycles so far", fmt.Sprintf("%d (pause total %s)", ms.NumGC, time.Duration(ms.PauseTotalNs).Round(time.Microsecond)), "")
	row("probes/s (backend's count)", fmt.Sprintf("%.1f", rate), fmt.Sprintf("expected %.0f: %d checks + %d target-group probes", expected, len(p.named), len(p.passive)))
	row("skipped ticks", fmt.Sprintf("%d in window", after.skipped-before.skipped), fmt.Sprintf("%d since start", after.skipped))
	row("snapshots published", fmt.Sprintf("%d in warm-up, %d in window", before.version, after.version-before.version), "each one copies every status")
	row("health flips in window", strconv.Itoa(rec.flipsBetween(before.wall, after.wall)), "want 0: every target answers")
	if requests > 0 {
		row("backend CPU per 1k requests", fmt.Sprintf("%.2f ms", (after.backend.CPUSeconds-before.backend.CPUSeconds)/float64(requests)*1e6), "server side, on the other CPU")
	}
	first.print(len(p.named), probe.Interval.D())
	printPhases(e, p, probe.Interval.D(), start, before.wall, after.wall)

	// Passive first, while every target is still healthy.
	if err := measurePassive(e, p); err != nil {
		return err
	}
	if err := measureDetection(ctx, ctl, e, rec, p, probe, addrs); err != nil {
		return err
	}
	row("dropped events (our subscriber)", strconv.FormatUint(e.DroppedEvents(), 10), "")

	stopStart := time.Now()
	stop()
	wg.Wait()
	row("engine shutdown", time.Since(stopStart).Round(time.Millisecond).String(), "Run returned after cancel")
	fmt.Println()
	return runErr
}

// historyLen is the engine's default EngineConfig.History: how many
// observations Detail keeps per key.
const historyLen = 16

// firstProbes is when each named check's first probe started, relative to
// Run, in tenths of the interval; the last bucket holds those that started
// an interval or more after Run. Read before the history wraps.
type firstProbes struct {
	width   time.Duration
	buckets [11]int
	none    int // no observation yet
	wrapped int // the history is full: its oldest may not be the first
}

func readFirstProbes(e *health.Engine, p *plan, interval time.Duration, startOf func(int) time.Time) firstProbes {
	f := firstProbes{width: interval / 10}
	for i, k := range p.named {
		d, ok := e.Detail(k)
		switch {
		case !ok || len(d.History) == 0:
			f.none++
			continue
		case len(d.History) >= historyLen:
			f.wrapped++
			continue
		}
		h0 := d.History[0]
		off := h0.Time.Add(-h0.Latency).Sub(startOf(i))
		f.buckets[min(int(off/f.width), len(f.buckets)-1)]++
	}
	return f
}

func (f firstProbes) print(checks int, interval time.Duration) {
	fmt.Printf("\nfirst probe of each check: its start (observation time − latency) after Run (or the Apply that added it):\n")
	peak := slices.Max(f.buckets[:])
	scale := max(1, (peak+49)/50)
	last := len(f.buckets) - 1
	for i, n := range f.buckets {
		label := fmt.Sprintf("%4.1f–%.1fs", (time.Duration(i) * f.width).Seconds(), (time.Duration(i+1) * f.width).Seconds())
		if i == last {
			if n == 0 {
				continue
			}
			label = fmt.Sprintf("  ≥ %.1fs", interval.Seconds())
		}
		fmt.Printf("  %s %6d %s\n", label, n, bar(n, scale))
	}
	fmt.Printf("  (one # is %d checks; an even spread is %d a bucket", scale, checks/last)
	if f.none > 0 || f.wrapped > 0 {
		fmt.Printf("; %d without a result yet, %d with a full history", f.none, f.wrapped)
	}
	fmt.Println(")")
}

// printPhases shows how evenly the window's probes started within the
// interval, from the observations Detail still holds, and how many failed.
func printPhases(e *health.Engine, p *plan, interval time.Duration, start, from, to time.Time) {
	const slots = 100
	var phase [slots]int
	failed, probes := 0, 0
	reasons := map[string]int{}
	for _, k := range p.named {
		d, _ := e.Detail(k)
		for _, o := range d.History {
			if o.Time.Before(from) || !o.Time.Before(to) {
				continue
			}
			probes++
			ph := o.Time.Add(-o.Latency).Sub(start) % interval
			phase[int(ph*slots/interval)]++
			if !o.Healthy {
				failed++
				reasons[o.Reason]++
			}
		}
	}
	kept := min(to.Sub(from), historyLen*interval)
	fmt.Printf("steady state: the %d probes of the window's last %s (what Detail keeps), by start within the interval in %s slots: min %d, max %d, mean %.0f a slot\n",
		probes, kept.Round(time.Second), interval/slots, slices.Min(phase[:]), slices.Max(phase[:]), float64(probes)/slots)
	fmt.Printf("failed probes among them: %d", failed)
	rs := make([]string, 0, len(reasons))
	for r := range reasons {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b string) int { return reasons[b] - reasons[a] })
	for _, r := range rs {
		fmt.Printf("; %d× %q", reasons[r], r)
	}
	fmt.Println()
}

func bar(n, scale int) string {
	b := make([]byte, (n+scale/2)/scale)
	for i := range b {
		b[i] = '#'
	}
	return string(b)
}

// measurePassive reports one refused connection for each of the passive group's
// targets and times until the engine's Detail and Snapshot show it ejected.
func measurePassive(e *health.Engine, p *plan) error {
	var call, snap []time.Duration
	detailNow := 0
	for _, k := range p.passive {
		t0 := time.Now()
		e.Report(passiveGroup, k.Target, health.ConnectFailure, "connect "+k.Target.String()+": connection refused")
		call = append(call, time.Since(t0))
		if d, _ := e.Detail(k); d.Status.Ejected {
			detailNow++
		}
		for {
			if st, _ := e.Snapshot().Get(k); st.Ejected {
				break
			}
			if time.Since(t0) > 5*time.Second {
				return fmt.Errorf("passive: %v not ejected in the snapshot after 5s", k)
			}
			runtime.Gosched()
		}
		snap = append(snap, time.Since(t0))
	}
	fmt.Printf("\npassive: one Report(ConnectFailure, \"…: connection refused\") per target, %d targets; default outlier_detection (consecutive_connect_failures 1, consecutive_failures 5)\n", len(p.passive))
	row("  ejected in Detail on return", fmt.Sprintf("%d of %d", detailNow, len(p.passive)), verdict(detailNow == len(p.passive), "goal: on that very report"))
	row("  Report call", spread(call), "")
	row("  ejected in Snapshot after", spread(snap), "the published snapshot; the publisher runs after Report")
	return nil
}

// measureDetection makes one backend listener hang and another refuse
// connections, and times how long each of their checks takes to turn
// unhealthy, against interval × unhealthy_threshold + timeout. The time is
// the transition's, Status.Since, from the event; for a check whose event
// our subscriber lost (the engine drops events for a slow reader), from
// Detail.
func measureDetection(ctx context.Context, ctl *ctlClient, e *health.Engine, rec *recorder, p *plan, pr model.Probe, addrs []string) error {
	bound := time.Duration(pr.UnhealthyThreshold)*pr.Interval.D() + pr.Timeout.D()
	fmt.Printf("\ndetection: bound interval × unhealthy_threshold + timeout = %s × %d + %s = %s\n",
		pr.Interval.D(), pr.UnhealthyThreshold, pr.Timeout.D(), bound)
	type stopped struct {
		addr, how, what string
		at              time.Time
		keys            []state.Key
		already         int // unhealthy before the stop: nothing to time
	}
	stops := []*stopped{
		{addr: addrs[len(addrs)-1], how: "close", what: "refused (listener and its connections closed)"},
		{addr: addrs[len(addrs)-2], how: "hang", what: "hang (accepts, never answers)"},
	}
	for _, s := range stops {
		for _, k := range p.named {
			if p.addrOf[k] != s.addr {
				continue
			}
			if d, _ := e.Detail(k); d.Status.Observed && !d.Status.Healthy {
				s.already++
				continue
			}
			s.keys = append(s.keys, k)
		}
	}
	for _, s := range stops {
		// Stamped before the request, so that the latency is never flattered.
		s.at = time.Now()
		if err := ctl.stop(ctx, s.addr, s.how); err != nil {
			return err
		}
	}
	// downAt is when k turned unhealthy after t, and whether the event said so.
	downAt := func(k state.Key, t time.Time) (at time.Time, fromEvent, ok bool) {
		if at, ok := rec.downSince(k, t); ok {
			return at, true, true
		}
		d, _ := e.Detail(k)
		if d.Status.Observed && !d.Status.Healthy && !d.Status.Since.Before(t) {
			return d.Status.Since, false, true
		}
		return time.Time{}, false, false
	}
	deadline := time.Now().Add(bound + 2*time.Second)
	for {
		pending := 0
		for _, s := range stops {
			for _, k := range s.keys {
				if _, _, ok := downAt(k, s.at); !ok {
					pending++
				}
			}
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	for _, s := range stops {
		var lat []time.Duration
		missing, over, fromDetail := 0, 0, 0
		for _, k := range s.keys {
			at, fromEvent, ok := downAt(k, s.at)
			if !ok {
				missing++
				continue
			}
			if !fromEvent {
				fromDetail++
			}
			l := at.Sub(s.at)
			lat = append(lat, l)
			if l > bound {
				over++
			}
		}
		fmt.Printf("  %s, %s: %d checks\n", s.what, s.addr, len(s.keys)+s.already)
		row("    time to unhealthy", spread(lat), verdict(missing == 0 && over == 0 && s.already == 0,
			fmt.Sprintf("%d over the bound, %d not detected within %s", over, missing, bound+2*time.Second)))
		if s.already > 0 || fromDetail > 0 {
			row("", fmt.Sprintf("%d already unhealthy before the stop; %d timed from Detail (event dropped)", s.already, fromDetail), "")
		}
	}
	return nil
}

// spread is min, median, p99 and max of ds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	slices.Sort(ds)
	r := func(d time.Duration) string {
		switch {
		case d >= time.Second:
			return d.Round(time.Millisecond).String()
		case d >= time.Millisecond:
			return d.Round(10 * time.Microsecond).String()
		}
		return d.Round(100 * time.Nanosecond).String()
	}
	p99 := ds[max(0, (len(ds)*99+99)/100-1)]
	return fmt.Sprintf("min %s, median %s, p99 %s, max %s (n=%d)", r(ds[0]), r(ds[len(ds)/2]), r(p99), r(ds[len(ds)-1]), len(ds))
}

func row(name, value, note string) {
	if note != "" {
		note = "  " + note
	}
	fmt.Printf("%-34s %s%s\n", name, value, note)
}

func verdict(ok bool, goal string) string {
	if ok {
		return "PASS (" + goal + ")"
	}
	return "FAIL (" + goal + ")"
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
