package health

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

func metricCheck(expr string, mut ...func(*model.HealthCheck)) *model.HealthCheck {
	hc := &model.HealthCheck{Name: "m", Probe: model.Probe{Type: model.CheckMetric}, Expression: expr}
	for _, f := range mut {
		f(hc)
	}
	return hc
}

// TestMetricCheckerLocal runs the two examples on the local
// registry, unhealthy and healthy, and checks the reasons.
func TestMetricCheckerLocal(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	p99, err := NewMetricChecker(metricCheck(exampleP99), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ratio, err := NewMetricChecker(metricCheck("rate(responses_total{target_group=\"web\",code=~\"5..\"}[1m])\n  / rate(responses_total{target_group=\"web\"}[1m]) > 0.05"), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, c *MetricChecker, wantHealthy bool, wantReason string) {
		t.Helper()
		r := c.Check(t.Context(), Target{})
		if r.Healthy != wantHealthy || r.Reason != wantReason {
			t.Errorf("%s: Check() = %v %q\nwant %v %q", step, r.Healthy, r.Reason, wantHealthy, wantReason)
		}
		if IsNoData(r) != strings.HasPrefix(wantReason, "no data") {
			t.Errorf("%s: IsNoData(%q) = %v", step, r.Reason, IsNoData(r))
		}
	}
	web := Labels{"target_group": "web"}

	check("p99/no samples", p99, true, `no data: p99(target_response_seconds{target_group="web"}[1m]) has no samples in the last 1m`)
	for range 100 {
		m.Observe("target_response_seconds", web, 0.31)
	}
	check("p99/slow", p99, false, exampleP99+" is true: 0.31 > 0.25")
	clk.Advance(time.Minute)
	for range 100 {
		m.Observe("target_response_seconds", web, 0.12)
	}
	check("p99/fast again", p99, true, exampleP99+" is false: 0.12 > 0.25")

	ratioText := exampleRatio // the checker shows the expression on one line
	check("ratio/no counter", ratio, true, "no data: no series named responses_total")
	m.Add("responses_total", Labels{"target_group": "web", "code": "200"}, 940)
	check("ratio/no errors", ratio, true, ratioText+" is false: 0 > 0.05")
	m.Add("responses_total", Labels{"target_group": "web", "code": "503"}, 60)
	check("ratio/6% errors", ratio, false, ratioText+" is true: 0.06 > 0.05")
	clk.Advance(time.Minute)
	check("ratio/no traffic", ratio, true, `no data: rate(responses_total{target_group="web"}[1m]) is 0, and the expression divides by it`)
}

// TestMetricCheckerNoData checks that a result without data follows
// insufficient_data as far as one result can (the engine does the rest).
func TestMetricCheckerNoData(t *testing.T) {
	m := NewMetrics(MetricsOptions{})
	for _, tt := range []struct {
		mode model.InsufficientData
		want bool
	}{
		{"", true},
		{model.InsufficientHealthy, true},
		{model.InsufficientUnhealthy, false},
		{model.InsufficientLastKnown, true},
	} {
		c, err := NewMetricChecker(metricCheck(`p99(x[1m]) > 1`, func(hc *model.HealthCheck) { hc.InsufficientData = tt.mode }), m, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := c.Check(t.Context(), Target{})
		if !IsNoData(r) || r.Healthy != tt.want {
			t.Errorf("insufficient_data %q: Check() = %+v, want no data and healthy %v", tt.mode, r, tt.want)
		}
	}
	// An expression that cannot be evaluated is no data too, with the reason.
	m.Add("c", nil, 1)
	c, err := NewMetricChecker(metricCheck(`p99(c[1m]) > 1`), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "no data: p99(c[1m]): c is a counter; p99 needs a histogram (samples recorded with Observe)"
	if r := c.Check(t.Context(), Target{}); r.Reason != want {
		t.Errorf("p99 of a counter: Check().Reason = %q, want %q", r.Reason, want)
	}
	if IsNoData(Result{Reason: "status 503"}) {
		t.Errorf("IsNoData(status 503) = true")
	}
}

func TestNewMetricCheckerErrors(t *testing.T) {
	m := NewMetrics(MetricsOptions{Retention: 5 * time.Minute})
	prom := func(u string) func(*model.HealthCheck) {
		return func(hc *model.HealthCheck) { hc.Prometheus = &model.PrometheusSource{URL: u} }
	}
	for _, tt := range []struct {
		name  string
		hc    *model.HealthCheck
		local *Metrics
		want  string
	}{
		{"nil", nil, m, `health: no metric check`},
		{"type", metricCheck("1 > 0", func(hc *model.HealthCheck) { hc.Type = model.CheckHTTP }), m, `health: check "m": "http" is not a metric check`},
		{"no-expression", metricCheck(" "), m, `health: metric check "m": no expression`},
		{"syntax", metricCheck("p99(x[1m] > 1"), m, `health: metric check "m": expression at column 11: expected ")", found ">"`},
		{"retention", metricCheck("rate(x[10m]) > 1 or rate(y[1m]) > 1 or p99(z[6m]) > 1"), m, `health: metric check "m": window of x[10m], z[6m] is longer than the metrics retention 5m`},
		{"no-registry", metricCheck("1 > 0"), nil, `health: metric check "m": no local metrics registry to evaluate it on`},
		{"prometheus-url", metricCheck("up == 0", prom("127.0.0.1:9090")), nil, `health: metric check "m": "127.0.0.1:9090" is not a Prometheus URL such as http://127.0.0.1:9090`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMetricChecker(tt.hc, tt.local, nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewMetricChecker() = %v\nwant %s", err, tt.want)
			}
		})
	}
	// PromQL is the server's to parse: no registry needed, no local syntax.
	if _, err := NewMetricChecker(metricCheck(`sum by (job) (rate(x[5m])) > 1`, prom("http://127.0.0.1:9090/prom/")), nil, nil); err != nil {
		t.Errorf("NewMetricChecker(PromQL on a server) = %v", err)
	}
}

// TestMetricCheckerPrometheusResponses checks our parsing of the documented
// format of Prometheus's query API
// (https://prometheus.io/docs/prometheus/latest/querying/api/), with
// canned answers from an httptest server; the integration with a real
// server is TestMetricCheckerPrometheusServer.
func TestMetricCheckerPrometheusResponses(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	answers := map[string]answer{
		`empty > 1`:  {200, `{"status":"success","data":{"resultType":"vector","result":[]}}`},
		`one > 0.25`: {200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"lat","job":"web","instance":"a:1"},"value":[1717243200.5,"0.31"]}]}}`},
		`many > 0`: {200, `{"status":"success","data":{"resultType":"vector","result":[` +
			`{"metric":{"i":"1"},"value":[1,"1"]},{"metric":{"i":"2"},"value":[1,"+Inf"]},{"metric":{"i":"3"},"histogram":[1,{"count":"2","sum":"1"}]},{"metric":{"i":"4"},"value":[1,"4"]}]}}`},
		`scalar true`:  {200, `{"status":"success","data":{"resultType":"scalar","result":[1717243200,"1"]}}`},
		`scalar false`: {200, `{"status":"success","data":{"resultType":"scalar","result":[1717243200,"0"]}}`},
		`scalar nan`:   {200, `{"status":"success","data":{"resultType":"scalar","result":[1717243200,"NaN"]}}`},
		`matrix`:       {200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}`},
		`string`:       {200, `{"status":"success","data":{"resultType":"string","result":[1,"a"]}}`},
		`bad syntax`:   {400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected identifier"}`},
		`timeout`:      {503, `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`},
		`proxy error`:  {502, `<html>Bad Gateway</html>`},
		`not json`:     {200, `up 1`},
		`no data`:      {200, `{"status":"success"}`},
		`bad value`:    {200, `{"status":"success","data":{"resultType":"scalar","result":[1,2]}}`},
		`bad vector`:   {200, `{"status":"success","data":{"resultType":"vector","result":{}}}`},
	}
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		if r.URL.Path != "/prom/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		a, ok := answers[r.URL.Query().Get("query")]
		if !ok {
			a = answer{400, `{"status":"error","errorType":"bad_data","error":"unknown test query"}`}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	defer srv.Close()

	for _, tt := range []struct {
		query   string
		healthy bool
		reason  string
	}{
		{`empty > 1`, true, `empty > 1 is false: no series`},
		{`one > 0.25`, false, `one > 0.25 is true: 1 series: lat{instance="a:1",job="web"} 0.31`},
		{`many > 0`, false, `many > 0 is true: 4 series: {i="1"} 1, {i="2"} +Inf, {i="3"} histogram, …`},
		{`scalar true`, false, `scalar true is true: scalar 1`},
		{`scalar false`, true, `scalar false is false: scalar 0`},
		{`scalar nan`, true, `no data: prometheus: the query returned NaN`},
		{`matrix`, true, `no data: prometheus: the query returned a matrix; want an instant vector, such as x > 0.25, or a scalar`},
		{`string`, true, `no data: prometheus: the query returned a string; want an instant vector, such as x > 0.25, or a scalar`},
		{`bad syntax`, true, `no data: prometheus: bad_data: invalid parameter "query": 1:5: parse error: unexpected identifier`},
		{`timeout`, true, `no data: prometheus: timeout: query timed out in expression evaluation`},
		{`proxy error`, true, `no data: prometheus: HTTP 502 Bad Gateway`},
		{`not json`, true, `no data: prometheus: answer is not JSON: invalid character 'u' looking for beginning of value`},
		{`no data`, true, `no data: prometheus: answer has no data`},
		{`bad value`, true, `no data: prometheus: scalar result: sample value 2 is not a string`},
		{`bad vector`, true, `no data: prometheus: vector result: json: cannot unmarshal object into Go value of type []health.promSample`},
	} {
		t.Run(tt.query, func(t *testing.T) {
			c, err := NewMetricChecker(metricCheck(tt.query, func(hc *model.HealthCheck) {
				hc.Prometheus = &model.PrometheusSource{URL: srv.URL + "/prom/"}
			}), nil, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			r := c.Check(ctx, Target{})
			if r.Healthy != tt.healthy || r.Reason != tt.reason {
				t.Errorf("Check() = %v %q\nwant %v %q", r.Healthy, r.Reason, tt.healthy, tt.reason)
			}
		})
	}

	// The requests: GET, the expression as PromQL, our time, and a timeout
	// that lets the server stop when we do.
	mu.Lock()
	defer mu.Unlock()
	r := got[0]
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("query") != "empty > 1" {
		t.Errorf("request = %s %s, want GET with query=empty > 1", r.Method, r.URL)
	}
	sec, err := strconv.ParseFloat(q.Get("time"), 64)
	if when := time.UnixMilli(int64(sec * 1000)); err != nil || time.Since(when).Abs() > time.Minute {
		t.Errorf("request time=%q, want about now", q.Get("time"))
	}
	if d, err := strconv.ParseFloat(q.Get("timeout"), 64); err != nil || d <= 0 || d > 5 {
		t.Errorf("request timeout=%q, want the seconds left of the probe's 5", q.Get("timeout"))
	}
}

// TestMetricCheckerPrometheusDown checks that an unreachable server is no data.
func TestMetricCheckerPrometheusDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := NewMetricChecker(metricCheck("up == 0", func(hc *model.HealthCheck) {
		hc.Prometheus = &model.PrometheusSource{URL: "http://" + addr}
	}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Check(t.Context(), Target{})
	want := "no data: prometheus: query http://" + addr + "/api/v1/query: dial tcp " + addr + ": connect: connection refused"
	if r.Reason != want || !r.Healthy {
		t.Errorf("Check() = %v %q\nwant true %q", r.Healthy, r.Reason, want)
	}
}

// TestMetricCheckerPrometheusServer runs checks on a real Prometheus
// server that scrapes an exporter the test controls, both on 127.0.0.1.
func TestMetricCheckerPrometheusServer(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus; CI installs it): skipping the test against a real server")
	}
	if testing.Short() {
		t.Skip("starts a Prometheus server: not in -short")
	}

	// The exporter: one gauge whose value the test sets.
	var latency atomic.Uint64
	setLatency := func(v float64) { latency.Store(math.Float64bits(v)) }
	setLatency(0.31)
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP switchboard_test_latency_seconds A latency the test sets.\n"+
			"# TYPE switchboard_test_latency_seconds gauge\n"+
			"switchboard_test_latency_seconds{target_group=\"web\"} %g\n", math.Float64frombits(latency.Load()))
	}))
	defer exporter.Close()

	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	err = os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(exporter.URL, "http://")), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	var out lockedBuffer
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	}()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	checker := func(expr string) *MetricChecker {
		t.Helper()
		c, err := NewMetricChecker(metricCheck(expr, func(hc *model.HealthCheck) {
			hc.Prometheus = &model.PrometheusSource{URL: "http://" + addr}
		}), nil, &http.Client{Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// waitFor probes c until it reports healthy == want, for at most 30 s:
	// the server starts, then scrapes every second.
	waitFor := func(step string, c *MetricChecker, want bool, reason string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var r Result
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			r = c.Check(ctx, Target{})
			cancel()
			if r.Healthy == want && !IsNoData(r) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 30s, Check() = %v %q; want healthy %v", step, r.Healthy, r.Reason, want)
			}
			<-time.After(200 * time.Millisecond) // the next poll; bounded by the deadline above
		}
		if !strings.HasPrefix(r.Reason, reason) {
			t.Errorf("%s: Check().Reason = %q, want it to start with %q", step, r.Reason, reason)
		}
	}

	slow := checker(`switchboard_test_latency_seconds{target_group="web"} > 0.25`)
	waitFor("exposed 0.31", slow, false,
		`switchboard_test_latency_seconds{target_group="web"} > 0.25 is true: 1 series: switchboard_test_latency_seconds{instance="`+strings.TrimPrefix(exporter.URL, "http://")+`",job="exporter",target_group="web"} 0.31`)

	scalar := checker(`scalar(switchboard_test_latency_seconds) > bool 0.25`)
	if r := scalar.Check(t.Context(), Target{}); r.Healthy || r.Reason != `scalar(switchboard_test_latency_seconds) > bool 0.25 is true: scalar 1` {
		t.Errorf("scalar check with 0.31 = %v %q, want unhealthy", r.Healthy, r.Reason)
	}

	setLatency(0.1)
	waitFor("exposed 0.1", slow, true, `switchboard_test_latency_seconds{target_group="web"} > 0.25 is false: no series`)
	if r := scalar.Check(t.Context(), Target{}); !r.Healthy || r.Reason != `scalar(switchboard_test_latency_seconds) > bool 0.25 is false: scalar 0` {
		t.Errorf("scalar check with 0.1 = %v %q, want healthy", r.Healthy, r.Reason)
	}

	for _, tt := range []struct {
		expr, reason string
	}{
		{`rate(switchboard_test_latency_seconds[1m] > 1`, `no data: prometheus: bad_data: invalid parameter "query": `},
		{`switchboard_test_latency_seconds[1m]`, `no data: prometheus: the query returned a matrix`},
	} {
		if r := checker(tt.expr).Check(t.Context(), Target{}); !strings.HasPrefix(r.Reason, tt.reason) {
			t.Errorf("Check(%s).Reason = %q, want it to start with %q", tt.expr, r.Reason, tt.reason)
		}
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago, for a server that cannot be handed a listener.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects a child process's output safely.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
