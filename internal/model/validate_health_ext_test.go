package model

import "testing"

// Limits added with the health engine: vantage-point quorum, keep-alive,
// metric sources and outlier detection.
func TestValidateHealthEngineFields(t *testing.T) {
	metric := func(d *Document) *HealthCheck {
		d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: "m", Probe: Probe{Type: CheckMetric}, Expression: "rate(x[1m]) > 1"})
		return &d.HealthChecks[len(d.HealthChecks)-1]
	}
	const pM = "health_checks[m]"
	runValidate(t, []validateCase{
		{name: "checker-percent/0-valid", mut: func(d *Document) { hc(d).HealthyCheckerPercent = new(0) }},
		{name: "checker-percent/99-valid", mut: func(d *Document) { hc(d).HealthyCheckerPercent = new(99) }},
		{name: "checker-percent/100", mut: func(d *Document) { hc(d).HealthyCheckerPercent = new(100) },
			want: []wantErr{{pHC + ".healthy_checker_percent", "100 is out of range"}}},
		{name: "checker-percent/-1", mut: func(d *Document) { hc(d).HealthyCheckerPercent = new(-1) },
			want: []wantErr{{pHC + ".healthy_checker_percent", "-1 is out of range"}}},
		{name: "keep-alive/http-valid", mut: func(d *Document) { hc(d).KeepAlive = true }},
		{name: "keep-alive/tcp", mut: func(d *Document) {
			hc(d).Type, hc(d).Port, hc(d).Path, hc(d).Method, hc(d).ExpectedStatus, hc(d).KeepAlive = CheckTCP, 22, "", "", "", true
		},
			want: []wantErr{{pHC + ".keep_alive", "a tcp check has no keep_alive"}}},
		{name: "metric/defaults-valid", mut: func(d *Document) { metric(d) }},
		{name: "metric/prometheus-valid", mut: func(d *Document) {
			metric(d).Prometheus = &PrometheusSource{URL: "http://127.0.0.1:9090"}
		}},
		{name: "metric/prometheus-bad-url", mut: func(d *Document) { metric(d).Prometheus = &PrometheusSource{URL: "127.0.0.1:9090"} },
			want: []wantErr{{pM + ".prometheus.url", "is not a Prometheus URL"}}},
		{name: "metric/insufficient-data-bad", mut: func(d *Document) { metric(d).InsufficientData = "maybe" },
			want: []wantErr{{pM + ".insufficient_data", `"maybe" is not an insufficient-data state`}}},
		{name: "metric/interval-below-100ms", mut: func(d *Document) { metric(d).Interval = dur("50ms") },
			want: []wantErr{{pM + ".interval", "50ms is below the minimum 100ms"}}},
		{name: "metric-settings-on-http", mut: func(d *Document) { hc(d).InsufficientData = InsufficientLastKnown },
			want: []wantErr{{pHC, "an http check has metric settings"}}},
		{name: "outlier/defaults-valid", mut: func(d *Document) {}},
		{name: "outlier/1-valid", mut: func(d *Document) { tg(d).OutlierDetection = &OutlierDetection{ConsecutiveFailures: 1} }},
		{name: "outlier/1001", mut: func(d *Document) { tg(d).OutlierDetection = &OutlierDetection{ConsecutiveFailures: 1001} },
			want: []wantErr{{pTG + ".outlier_detection.consecutive_failures", "1001 is out of range"}}},
		{name: "outlier/max-below-base", mut: func(d *Document) {
			tg(d).OutlierDetection = &OutlierDetection{BaseEjection: dur("1m"), MaxEjection: dur("30s")}
		}, want: []wantErr{{pTG + ".outlier_detection.max_ejection", "30s is below the minimum 1m"}}},
		{name: "outlier/percent-101", mut: func(d *Document) { tg(d).OutlierDetection = &OutlierDetection{MaxEjectionPercent: new(101)} },
			want: []wantErr{{pTG + ".outlier_detection.max_ejection_percent", "101 is out of range"}}},
		{name: "outlier/disabled-skips-checks", mut: func(d *Document) {
			tg(d).OutlierDetection = &OutlierDetection{Disabled: true, ConsecutiveFailures: 5000}
		}},
	})
}
