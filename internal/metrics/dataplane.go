package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Dataplane counts kernel data planes' applies (dataplane.Backend.Apply).
// The reconciler calls Applied after each one.
type Dataplane struct {
	// duration is switchboard_dataplane_apply_duration_seconds: how long
	// each Apply took, by backend (nft, ipvs, …), failed ones included.
	duration *prometheus.HistogramVec
	// errors is switchboard_dataplane_apply_errors_total: applies that
	// returned an error, by backend. The previous programming stays.
	errors *prometheus.CounterVec
	// problems is switchboard_dataplane_problems: how many things the last
	// apply could not do (dataplane.Report.Problems), by backend; 0 when it
	// did everything.
	problems *prometheus.GaugeVec
	// version is switchboard_dataplane_applied_version: the view version the
	// last successful apply programmed, by backend. Compare it with
	// switchboard_config_view_version to see a data plane falling behind.
	version *prometheus.GaugeVec
}

func newDataplane() *Dataplane {
	return &Dataplane{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_dataplane_apply_duration_seconds",
			Help:    "How long data-plane applies took, by backend.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"backend"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_dataplane_apply_errors_total",
			Help: "Data-plane applies that failed, by backend.",
		}, []string{"backend"}),
		problems: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_dataplane_problems",
			Help: "Things the last data-plane apply could not do, by backend.",
		}, []string{"backend"}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_dataplane_applied_version",
			Help: "View version the last successful data-plane apply programmed, by backend.",
		}, []string{"backend"}),
	}
}

// Applied records one Apply of backend: the view version, how long it took,
// how many problems its report listed, and its error. It is called once per
// view, not per packet, so it may allocate.
func (d *Dataplane) Applied(backend string, version uint64, took time.Duration, problems int, err error) {
	d.duration.WithLabelValues(backend).Observe(took.Seconds())
	d.errors.WithLabelValues(backend) // a zero series from the first apply on
	if err != nil {
		d.errors.WithLabelValues(backend).Inc()
		return
	}
	d.problems.WithLabelValues(backend).Set(float64(problems))
	d.version.WithLabelValues(backend).Set(float64(version))
}

// Describe implements prometheus.Collector.
func (d *Dataplane) Describe(ch chan<- *prometheus.Desc) {
	d.duration.Describe(ch)
	d.errors.Describe(ch)
	d.problems.Describe(ch)
	d.version.Describe(ch)
}

// Collect implements prometheus.Collector.
func (d *Dataplane) Collect(ch chan<- prometheus.Metric) {
	d.duration.Collect(ch)
	d.errors.Collect(ch)
	d.problems.Collect(ch)
	d.version.Collect(ch)
}
