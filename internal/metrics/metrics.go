// Package metrics is switchboard's Prometheus surface: every metric the
// process exports, documented where it is declared, on one registry served
// at /metrics.
//
// Two kinds live here. State that switchboard already holds (the view, the
// health snapshot, the DNS server's counters, the configuration's status) is
// read at scrape time by a Collector (state.go), so nothing is kept twice and
// a scrape always sees one published view. Events that happen on a hot path
// or in the health engine (probe results, transitions, proxied requests,
// data-plane applies) are counted as they happen, through handles that do not
// allocate (health.go, proxy.go, dataplane.go).
//
// Names follow Prometheus conventions: the switchboard_ prefix, base units
// (seconds, bytes), _total for counters, and labels for what varies
// (target_group, zone, check, …), never for what is unbounded in a request
// (client addresses, paths).
package metrics

import (
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one process's registry and its instruments. Create it with New;
// its methods are safe for concurrent use.
type Metrics struct {
	// Immutable after New.
	reg       *prometheus.Registry
	health    *Health
	proxy     *Proxy
	dataplane *Dataplane
}

// New returns a registry with the Go runtime and process collectors, the
// health, proxy and data-plane instruments, and, when src has any source,
// the state collector reading from src at scrape time.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:       reg,
		health:    newHealth(),
		proxy:     newProxy(),
		dataplane: newDataplane(),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.health, m.proxy, m.dataplane,
		newStateCollector(src),
	)
	return m
}

// Registry is the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text and OpenMetrics formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Health is the health engine's instruments; pass it as
// health.EngineConfig.Observer.
func (m *Metrics) Health() *Health { return m.health }

// Proxy is the L7 and L4 proxies' per-target instruments.
func (m *Metrics) Proxy() *Proxy { return m.proxy }

// Dataplane is the kernel data planes' instruments.
func (m *Metrics) Dataplane() *Dataplane { return m.dataplane }

// descs returns the Desc of every metric this package declares.
func descs() []*prometheus.Desc {
	m := New(Sources{})
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range []prometheus.Collector{m.health, m.proxy, m.dataplane, newStateCollector(Sources{}), NewVIPCollector(nil)} {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []*prometheus.Desc
	for d := range ch {
		out = append(out, d)
	}
	return out
}

// Names returns the name of every metric family this package declares
// (switchboard_*, without the Go runtime's and the process's), sorted. A
// histogram's family name is given once, without _bucket, _sum or _count.
func Names() []string {
	var names []string
	for _, d := range descs() {
		// Desc has no accessor for its name; its String form is stable:
		// Desc{fqName: "NAME", help: …}.
		s := d.String()
		if _, rest, ok := strings.Cut(s, `fqName: "`); ok {
			if name, _, ok := strings.Cut(rest, `"`); ok {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
