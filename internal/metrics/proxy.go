package metrics

import (
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/internal/view"
)

// Response classes, the values of the class label of
// switchboard_target_responses_total.
const (
	class1xx   = iota // informational, counted when it is the final status (101 Switching Protocols)
	class2xx          // success
	class3xx          // redirection
	class4xx          // client error
	class5xx          // server error
	classError        // no response: connect refused, reset, timeout
	numClasses
)

var classNames = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"}

// Proxy holds the per-target instruments of the L7 and L4 proxies. A proxy
// resolves one *Target per target when it builds its routing from a view
// (Target), then counts through it on every request or connection without
// a map lookup, a lock or an allocation.
type Proxy struct {
	// requests is switchboard_target_requests_total: HTTP requests sent to
	// a target, by target group and target (address:port), counted when
	// the proxy picks the target, before it answers.
	requests *prometheus.CounterVec
	// responses is switchboard_target_responses_total: what came back, by
	// target group, target and class (1xx … 5xx, or error when the target
	// gave no response: refused, reset, timed out). For L4 connections,
	// error counts connects that failed.
	responses *prometheus.CounterVec
	// responseTime is switchboard_target_response_time_seconds: from
	// sending the request to the target to its response headers (L7), or
	// the connect time (L4), by target group and target. Buckets follow
	// ALB's TargetResponseTime range.
	responseTime *prometheus.HistogramVec
	// active is switchboard_target_active_connections: connections open to
	// a target now, by target group and target.
	active *prometheus.GaugeVec
	// connections is switchboard_target_connections_total: connections
	// opened to a target, by target group and target.
	connections *prometheus.CounterVec

	mu      sync.Mutex // guards targets
	targets map[targetKey]*Target
}

type targetKey struct {
	group string
	addr  netip.AddrPort
}

// Target is the instruments of one target of one target group. Its methods
// do not allocate, take no lock and are safe for concurrent use; a nil
// *Target counts nothing, so a proxy without metrics passes nil.
type Target struct {
	// Immutable after Proxy.Target.
	requests     prometheus.Counter
	responses    [numClasses]prometheus.Counter
	responseTime prometheus.Observer
	active       prometheus.Gauge
	connections  prometheus.Counter
}

func newProxy() *Proxy {
	labels := []string{"target_group", "target"}
	return &Proxy{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_target_requests_total",
			Help: "HTTP requests sent to a target, by target group and target.",
		}, labels),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_target_responses_total",
			Help: "Target responses by target group, target and class (1xx-5xx, or error for none).",
		}, append(labels, "class")),
		responseTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_target_response_time_seconds",
			Help:    "Time from sending a request to a target to its response headers (L7) or connect time (L4).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, labels),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_target_active_connections",
			Help: "Connections open to a target now, by target group and target.",
		}, labels),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_target_connections_total",
			Help: "Connections opened to a target, by target group and target.",
		}, labels),
		targets: map[targetKey]*Target{},
	}
}

// Target returns the instruments of addr in group, creating its series on
// first use. Call it when building routing from a view, not per request:
// it takes a lock and may allocate.
func (p *Proxy) Target(group string, addr netip.AddrPort) *Target {
	k := targetKey{group, addr}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.targets[k]; t != nil {
		return t
	}
	a := addr.String()
	t := &Target{
		requests:     p.requests.WithLabelValues(group, a),
		responseTime: p.responseTime.WithLabelValues(group, a),
		active:       p.active.WithLabelValues(group, a),
		connections:  p.connections.WithLabelValues(group, a),
	}
	for i, c := range classNames {
		t.responses[i] = p.responses.WithLabelValues(group, a, c)
	}
	p.targets[k] = t
	return t
}

// Retain deletes the series of every target that v no longer has, so that
// a deregistered target's series end. Call it with the view just built
// from, after resolving that view's handles; an older view would delete the
// series of targets that are new. A handle of a deleted target still works
// but counts into series no scrape sees; a proxy drops it with the view it
// came from. Targets draining after deregistration keep counting into their
// series until the next Retain.
func (p *Proxy) Retain(v *view.View) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.targets) == 0 {
		return
	}
	keep := make(map[targetKey]bool, len(p.targets))
	if v != nil {
		for name, g := range v.TargetGroups {
			for _, z := range g.Zones {
				for _, t := range z.Targets {
					keep[targetKey{name, t.Addr}] = true
				}
			}
		}
	}
	for k := range p.targets {
		if keep[k] {
			continue
		}
		delete(p.targets, k)
		a := k.addr.String()
		p.requests.DeleteLabelValues(k.group, a)
		p.responseTime.DeleteLabelValues(k.group, a)
		p.active.DeleteLabelValues(k.group, a)
		p.connections.DeleteLabelValues(k.group, a)
		for _, c := range classNames {
			p.responses.DeleteLabelValues(k.group, a, c)
		}
	}
}

// Request counts one HTTP request sent to the target.
func (t *Target) Request() {
	if t != nil {
		t.requests.Inc()
	}
}

// Response records the target's response: its HTTP status (or, for L4, 0
// after a successful connect, which records the time only) and the time to
// its headers.
func (t *Target) Response(status int, took time.Duration) {
	if t == nil {
		return
	}
	t.responseTime.Observe(took.Seconds())
	if c := status/100 - 1; c >= class1xx && c <= class5xx {
		t.responses[c].Inc()
	}
}

// Failed records that the target gave no response (refused, reset, timed
// out), after took.
func (t *Target) Failed(took time.Duration) {
	if t == nil {
		return
	}
	t.responseTime.Observe(took.Seconds())
	t.responses[classError].Inc()
}

// Opened counts a connection opened to the target; call Closed when it closes.
func (t *Target) Opened() {
	if t != nil {
		t.connections.Inc()
		t.active.Inc()
	}
}

// Closed counts a connection to the target closed.
func (t *Target) Closed() {
	if t != nil {
		t.active.Dec()
	}
}

// Describe implements prometheus.Collector.
func (p *Proxy) Describe(ch chan<- *prometheus.Desc) {
	p.requests.Describe(ch)
	p.responses.Describe(ch)
	p.responseTime.Describe(ch)
	p.active.Describe(ch)
	p.connections.Describe(ch)
}

// Collect implements prometheus.Collector.
func (p *Proxy) Collect(ch chan<- prometheus.Metric) {
	p.requests.Collect(ch)
	p.responses.Collect(ch)
	p.responseTime.Collect(ch)
	p.active.Collect(ch)
	p.connections.Collect(ch)
}
