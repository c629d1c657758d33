package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

var _ Checker = (*MetricChecker)(nil)

// MetricChecker evaluates a metric check: the check is unhealthy while its
// expression is true, as a CloudWatch alarm in ALARM makes a Route 53
// check unhealthy.
//
// Without a Prometheus source the expression is ours (ParseExpr) and is
// evaluated over the process's own Metrics.
//
// With a Prometheus source the expression is PromQL, evaluated by the
// server through its HTTP API (GET /api/v1/query at the probe's time).
// PromQL's comparisons filter series rather than return a truth value, so:
// a non-empty vector means true (some series passed the comparison, such
// as `histogram_quantile(0.99, …) > 0.25`), and an empty one false (the
// comparison filtered every series out, or there were none). A scalar
// result, such as `scalar(x) > bool 0.25`, is true when it is not zero.
// (A vector with the bool modifier is true whenever it has series, whatever
// their values: leave bool out for vectors.)
//
// When the outcome cannot be known, the Result's Reason starts with "no
// data" (IsNoData), and Healthy follows the check's insufficient_data as far
// as one result can: false for unhealthy, true otherwise. The engine
// applies insufficient_data itself, last_known included. That happens for
// missing data in the local registry, and for every failure to get an
// answer from Prometheus: a transport error, an HTTP error, an error
// status in the response, a result that is not an instant vector or a
// scalar, or a NaN scalar.
type MetricChecker struct {
	// Immutable after NewMetricChecker.
	text      string // the expression on one line, for reasons
	promQL    string // the expression as written, for Prometheus
	unhealthy bool   // insufficient_data: unhealthy
	now       func() time.Time

	// Local source.
	expr  *Expr
	local *Metrics

	// Prometheus source.
	client *http.Client
	query  *url.URL // …/api/v1/query without parameters
}

// maxPromResponse bounds the answer read from Prometheus: a condition that
// matches this much data is a mistake, and the probe must stay cheap.
const maxPromResponse = 8 << 20

// NewMetricChecker builds the checker of hc, a validated metric check.
// local is the process's registry, needed unless hc names a Prometheus
// server; the expression's windows must fit in its retention. httpClient
// queries Prometheus (nil: http.DefaultClient). It does no I/O.
func NewMetricChecker(hc *model.HealthCheck, local *Metrics, httpClient *http.Client) (*MetricChecker, error) {
	if hc == nil {
		return nil, errors.New("health: no metric check")
	}
	if hc.Type != model.CheckMetric {
		return nil, fmt.Errorf("health: check %q: %q is not a metric check", hc.Name, hc.Type)
	}
	if strings.TrimSpace(hc.Expression) == "" {
		return nil, fmt.Errorf("health: metric check %q: no expression", hc.Name)
	}
	c := &MetricChecker{
		text:      strings.Join(strings.Fields(hc.Expression), " "),
		unhealthy: hc.InsufficientData == model.InsufficientUnhealthy,
		now:       time.Now,
	}
	if hc.Prometheus != nil {
		u, err := url.Parse(hc.Prometheus.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("health: metric check %q: %q is not a Prometheus URL such as http://127.0.0.1:9090", hc.Name, hc.Prometheus.URL)
		}
		u.RawQuery, u.Fragment = "", ""
		c.query, c.promQL = u.JoinPath("api/v1/query"), hc.Expression
		c.client = httpClient
		if c.client == nil {
			c.client = http.DefaultClient
		}
		return c, nil
	}
	if local == nil {
		return nil, fmt.Errorf("health: metric check %q: no local metrics registry to evaluate it on", hc.Name)
	}
	e, err := ParseExpr(hc.Expression)
	if err != nil {
		return nil, fmt.Errorf("health: metric check %q: expression %w", hc.Name, err)
	}
	var long []string
	e.selectors(func(s *selector) {
		if s.window > local.Retention() {
			long = append(long, s.String())
		}
	})
	if long != nil {
		return nil, fmt.Errorf("health: metric check %q: window of %s is longer than the metrics retention %s", hc.Name, strings.Join(long, ", "), formatWindow(local.Retention()))
	}
	c.expr, c.local, c.now = e, local, local.now
	return c, nil
}

// Check evaluates the expression once; the target is not used. The
// Reason shows the comparisons with their values: "p99(…) > 0.25 is true:
// 0.31 > 0.25". It may be called concurrently.
func (c *MetricChecker) Check(ctx context.Context, _ Target) Result {
	start := time.Now()
	var r Result
	if c.expr != nil {
		r = c.checkLocal()
	} else {
		r = c.checkPrometheus(ctx)
	}
	r.Latency = time.Since(start)
	return r
}

// IsNoData reports whether r is a metric check's result without data, to
// which the check's insufficient_data applies.
func IsNoData(r Result) bool { return strings.HasPrefix(r.Reason, "no data") }

// noData is the result of an evaluation without an outcome.
func (c *MetricChecker) noData(why string) Result {
	return Result{Healthy: !c.unhealthy, Reason: "no data: " + why}
}

// outcome is the result of an evaluation: unhealthy while the expression is true.
func (c *MetricChecker) outcome(v bool, why string) Result {
	if v {
		return Result{Healthy: false, Reason: c.text + " is true: " + why}
	}
	return Result{Healthy: true, Reason: c.text + " is false: " + why}
}

func (c *MetricChecker) checkLocal() Result {
	v, why, err := c.expr.explain(c.local, c.now())
	if err != nil {
		var ee *evalError
		if errors.As(err, &ee) {
			return c.noData(ee.msg)
		}
		return c.noData(err.Error())
	}
	return c.outcome(v, why)
}

func (c *MetricChecker) checkPrometheus(ctx context.Context) Result {
	v, why, err := c.queryPrometheus(ctx)
	if err != nil {
		return c.noData("prometheus: " + err.Error())
	}
	return c.outcome(v, why)
}

// queryPrometheus runs the expression on the server as an instant query
// and reports whether it is true, and why.
func (c *MetricChecker) queryPrometheus(ctx context.Context) (bool, string, error) {
	now := c.now()
	params := url.Values{
		"query": {c.promQL},
		"time":  {strconv.FormatFloat(float64(now.UnixMilli())/1e3, 'f', 3, 64)},
	}
	if dl, ok := ctx.Deadline(); ok {
		// Let the server give up when we do, rather than compute for no one.
		if left := time.Until(dl); left > 0 {
			params.Set("timeout", strconv.FormatFloat(left.Seconds(), 'f', 3, 64))
		}
	}
	u := *c.query
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // not the whole URL with the query again
		}
		return false, "", fmt.Errorf("query %s: %w", c.query.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPromResponse+1))
	if err != nil {
		return false, "", fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxPromResponse {
		return false, "", fmt.Errorf("answer larger than %d MiB", maxPromResponse>>20)
	}
	return parsePromResponse(resp.StatusCode, body)
}

// promResponse is the envelope of every answer of Prometheus's HTTP API
// (https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview).
type promResponse struct {
	Status    string `json:"status"` // success or error
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      *struct {
		ResultType string          `json:"resultType"` // matrix, vector, scalar or string
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// promSample is one series of an instant vector. A native histogram
// sample has "histogram" instead of "value".
type promSample struct {
	Metric    map[string]string `json:"metric"`
	Value     *promPoint        `json:"value"`
	Histogram json.RawMessage   `json:"histogram"`
}

// promPoint is [<unix time>, "<value>"]; the value is a string so that NaN
// and ±Inf survive JSON.
type promPoint [2]json.RawMessage

func (p *promPoint) value() (float64, error) {
	var s string
	if err := json.Unmarshal(p[1], &s); err != nil {
		return 0, fmt.Errorf("sample value %s is not a string", p[1])
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q is not a number", s)
	}
	return v, nil
}

// parsePromResponse reads an instant query's answer: whether the condition
// is true, and why.
func parsePromResponse(status int, body []byte) (bool, string, error) {
	var pr promResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		if status/100 != 2 {
			return false, "", fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
		}
		return false, "", fmt.Errorf("answer is not JSON: %w", err)
	}
	switch {
	case pr.Status == "error":
		if pr.ErrorType != "" {
			return false, "", fmt.Errorf("%s: %s", pr.ErrorType, pr.Error)
		}
		return false, "", errors.New(pr.Error)
	case status/100 != 2:
		return false, "", fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
	case pr.Status != "success":
		return false, "", fmt.Errorf("answer has status %q", pr.Status)
	case pr.Data == nil:
		return false, "", errors.New("answer has no data")
	}
	switch pr.Data.ResultType {
	case "vector":
		var samples []promSample
		if err := json.Unmarshal(pr.Data.Result, &samples); err != nil {
			return false, "", fmt.Errorf("vector result: %w", err)
		}
		return len(samples) > 0, describeVector(samples), nil
	case "scalar":
		var p promPoint
		if err := json.Unmarshal(pr.Data.Result, &p); err != nil {
			return false, "", fmt.Errorf("scalar result: %w", err)
		}
		v, err := p.value()
		if err != nil {
			return false, "", fmt.Errorf("scalar result: %w", err)
		}
		if math.IsNaN(v) {
			return false, "", errors.New("the query returned NaN")
		}
		return v != 0, "scalar " + strconv.FormatFloat(v, 'g', 4, 64), nil
	}
	return false, "", fmt.Errorf("the query returned a %s; want an instant vector, such as x > 0.25, or a scalar", pr.Data.ResultType)
}

// describeVector says what a vector held: "no series", or "2 series:
// {job="web"} 0.31, {job="api"} 0.4" (at most three shown).
func describeVector(samples []promSample) string {
	if len(samples) == 0 {
		return "no series"
	}
	const shown = 3
	var parts []string
	for i, s := range samples {
		if i == shown {
			parts = append(parts, "…")
			break
		}
		v := "histogram"
		if s.Value != nil {
			if f, err := s.Value.value(); err == nil {
				v = strconv.FormatFloat(f, 'g', 4, 64)
			}
		}
		parts = append(parts, promLabels(s.Metric)+" "+v)
	}
	n := "1 series: "
	if len(samples) > 1 {
		n = strconv.Itoa(len(samples)) + " series: "
	}
	return n + strings.Join(parts, ", ")
}

// promLabels writes a series' labels as PromQL does: name{a="1",b="2"}.
func promLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(m["__name__"])
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}
