package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/dataplane/ipvs"
	"github.com/switchboard/switchboard/internal/dataplane/nft"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// kernelBackends are the kernel data planes this build can run: why one
// cannot run here, and how to make one.
var kernelBackends = map[model.DataPlaneBackend]struct {
	unavailable func() error
	start       func(log *slog.Logger, serves func(*model.LoadBalancer) bool) (dataplane.Backend, error)
}{
	model.BackendNft: {
		unavailable: func() error { return nft.Available("") },
		start: func(log *slog.Logger, serves func(*model.LoadBalancer) bool) (dataplane.Backend, error) {
			return nft.New(nft.Config{Logger: log, Serves: serves})
		},
	},
	model.BackendIPVS: {
		unavailable: func() error {
			if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
				return fmt.Errorf("%w: the kernel has no IPVS (/proc/net/ip_vs is missing: modprobe ip_vs)", dataplane.ErrUnavailable)
			}
			return nil
		},
		start: func(log *slog.Logger, serves func(*model.LoadBalancer) bool) (dataplane.Backend, error) {
			return ipvs.New(ipvs.Config{Logger: log, Serves: serves, ModeFromModel: true})
		},
	},
}

// dataPlanes runs the kernel data planes that the load balancers ask for
// and that can run here, applying every published view to them.
type dataPlanes struct {
	// Immutable after newDataPlanes.
	log      *slog.Logger
	backends map[model.DataPlaneBackend]dataplane.Backend
	probe    func(model.DataPlaneBackend) error

	// applied, when set before Run, hears every Apply's outcome (metrics).
	applied func(backend string, version uint64, took time.Duration, problems int, err error)

	mu      sync.Mutex // guards the fields below
	reports map[model.DataPlaneBackend]dataplane.Report
	told    map[string]string // per load balancer, the choice last logged
}

// newDataPlanes decides the backend of every load balancer of st. A kernel
// backend that cannot run is reported with its reason; the balancer then
// falls back to userspace if its data_plane says so, and otherwise serve
// refuses to start (the error).
func newDataPlanes(log *slog.Logger, st *model.State) (*dataPlanes, error) {
	d := &dataPlanes{
		log:      log,
		backends: map[model.DataPlaneBackend]dataplane.Backend{},
		reports:  map[model.DataPlaneBackend]dataplane.Report{},
		told:     map[string]string{},
	}
	// Each backend is probed once; probe is safe for concurrent use.
	var probeMu sync.Mutex
	results := map[model.DataPlaneBackend]error{}
	d.probe = func(b model.DataPlaneBackend) error {
		probeMu.Lock()
		defer probeMu.Unlock()
		if err, ok := results[b]; ok {
			return err
		}
		kb, ok := kernelBackends[b]
		err := fmt.Errorf("%w: unknown backend %s", dataplane.ErrUnavailable, b)
		if ok {
			err = kb.unavailable()
		}
		results[b] = err
		return err
	}
	choices, err := dataplane.Choose(st, d.probe)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	d.logChoices(choices)
	// Start every backend that can run, so that balancers added later by a
	// reload find it; with no balancer asking for it, it programs nothing.
	for b, kb := range kernelBackends {
		used := false
		for _, c := range choices {
			used = used || c.Use == b
		}
		if !used {
			continue
		}
		be, err := kb.start(log.With("backend", string(b)), serves(b))
		if err != nil {
			return nil, fmt.Errorf("server: data plane %s: %w", b, err)
		}
		d.backends[b] = be
	}
	return d, nil
}

// serves picks the balancers backend b programs: those asking for it. A
// backend is started only once its probe passed, and probes are cached, so
// no balancer asking for a running backend has fallen back to userspace.
func serves(b model.DataPlaneBackend) func(*model.LoadBalancer) bool {
	return func(lb *model.LoadBalancer) bool { return lb.BackendOf() == b }
}

// logChoices logs each balancer's backend when it is a kernel one or a
// fallback, once per change.
func (d *dataPlanes) logChoices(choices []dataplane.Choice) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range choices {
		key := string(c.Use) + "|" + c.Reason
		if d.told[c.LoadBalancer] == key {
			continue
		}
		d.told[c.LoadBalancer] = key
		switch {
		case c.Reason != "":
			d.log.Warn("data plane fallback", "load_balancer", c.LoadBalancer, "asked", c.Asked, "using", c.Use, "reason", c.Reason)
		case c.Use.Kernel():
			d.log.Info("data plane", "load_balancer", c.LoadBalancer, "backend", c.Use)
		}
	}
}

// Run applies every view published on pub to the running backends until
// ctx ends, then closes them, which removes what they programmed.
func (d *dataPlanes) Run(ctx context.Context, pub *view.Publisher) error {
	defer d.close()
	if len(d.backends) == 0 {
		return nil
	}
	for v := range pub.Subscribe(ctx) {
		d.apply(ctx, v)
	}
	return nil
}

func (d *dataPlanes) apply(ctx context.Context, v *view.View) {
	choices, err := dataplane.Choose(v.State, d.probe)
	if err != nil {
		// The state changed since start to ask for a backend that cannot
		// run, without a fallback. Starting is long past: say so loudly.
		d.log.Error("data plane cannot serve a load balancer; its kernel listeners are not programmed", "err", err)
	}
	d.logChoices(choices)
	for b, be := range d.backends {
		rep, err := be.Apply(ctx, v)
		if d.applied != nil && !errors.Is(err, context.Canceled) {
			d.applied(string(b), v.Version, rep.Took, len(rep.Problems), err)
		}
		d.mu.Lock()
		d.reports[b] = rep
		d.mu.Unlock()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				d.log.Error("data plane apply failed", "backend", b, "version", v.Version, "err", err, "problems", rep.Problems)
			}
			continue
		}
		d.log.Debug("data plane applied", "backend", b, "version", v.Version, "added", rep.Added, "updated", rep.Updated, "removed", rep.Removed, "took_seconds", rep.Took.Seconds())
		for _, p := range rep.Problems {
			d.log.Warn("data plane problem", "backend", b, "version", v.Version, "problem", p)
		}
	}
}

// Reports returns the last report of each running kernel backend, for
// /status, sorted by backend.
func (d *dataPlanes) Reports() []dataplane.Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Collect(maps.Values(d.reports))
	slices.SortFunc(out, func(a, b dataplane.Report) int { return strings.Compare(a.Backend, b.Backend) })
	return out
}

func (d *dataPlanes) close() {
	for b, be := range d.backends {
		if err := be.Close(); err != nil {
			d.log.Error("data plane close failed", "backend", b, "err", err)
		}
	}
}

// newDataPlanes chooses the data planes for the state Run serves (the head
// of st), refusing to start when a balancer's kernel backend cannot run
// and it has no fallback.
func (s *Server) newDataPlanes(ctx context.Context, st store.Store) (*dataPlanes, error) {
	head, err := st.Head(ctx)
	if err != nil {
		return nil, err
	}
	dp, err := newDataPlanes(s.log.With("component", "dataplane"), head.State)
	if err != nil {
		return nil, err
	}
	dp.applied = s.obs.metrics.Dataplane().Applied
	s.mu.Lock()
	s.dataplane = dp
	s.mu.Unlock()
	return dp, nil
}

// InKernel reports whether a kernel backend forwards lb's listeners, so
// that the userspace L4 proxy leaves them alone; false for a balancer that
// fell back to userspace, whose backend could not start (backends holds
// only kernel backends that started, see serves).
func (d *dataPlanes) InKernel(lb *model.LoadBalancer) bool {
	return d.backends[lb.BackendOf()] != nil
}
