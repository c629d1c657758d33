package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
)

// Health counts probe results and transitions as the engine records them.
// It implements health.Observer. Status per check and target is read at
// scrape time (state.go); only what happens between scrapes is counted here.
type Health struct {
	// probeDuration is switchboard_health_probe_duration_seconds: how long
	// each probe took, by check and checker (the vantage point: "local", or
	// another node's name). Target groups' probes are one check each,
	// "target_groups/<name>", over all their targets, which keeps the series
	// per check, not per target.
	probeDuration *prometheus.HistogramVec
	// probes is switchboard_health_probes_total: probe results by check,
	// checker and result (healthy, unhealthy), before thresholds.
	probes *prometheus.CounterVec
	// transitions is switchboard_health_transitions_total: status changes by
	// check and the status changed to (healthy, unhealthy, unknown), after
	// thresholds: a target that goes down counts once, not once per probe.
	transitions *prometheus.CounterVec
}

var _ health.Observer = (*Health)(nil)

func newHealth() *Health {
	return &Health{
		probeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_health_probe_duration_seconds",
			Help:    "How long health probes took, by check and checker (vantage point).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"check", "checker"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_health_probes_total",
			Help: "Health probe results by check, checker and result (healthy, unhealthy), before thresholds.",
		}, []string{"check", "checker", "result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_health_transitions_total",
			Help: "Health status changes by check and new status (healthy, unhealthy, unknown), after thresholds.",
		}, []string{"check", "to"}),
	}
}

// Probed records one probe result. Called by the health engine.
func (h *Health) Probed(k state.Key, o health.Observation) {
	h.probeDuration.WithLabelValues(k.Check, o.Checker).Observe(o.Latency.Seconds())
	result := "unhealthy"
	if o.Healthy {
		result = "healthy"
	}
	h.probes.WithLabelValues(k.Check, o.Checker, result).Inc()
}

// Transitioned records one transition. Called by the health engine.
func (h *Health) Transitioned(ev health.Event) {
	h.transitions.WithLabelValues(ev.Key.Check, ev.Status.Word()).Inc()
}

// Describe implements prometheus.Collector.
func (h *Health) Describe(ch chan<- *prometheus.Desc) {
	h.probeDuration.Describe(ch)
	h.probes.Describe(ch)
	h.transitions.Describe(ch)
}

// Collect implements prometheus.Collector.
func (h *Health) Collect(ch chan<- prometheus.Metric) {
	h.probeDuration.Collect(ch)
	h.probes.Collect(ch)
	h.transitions.Collect(ch)
}
