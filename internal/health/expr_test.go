package health

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// The examples of the issue that asked for metric checks.
const (
	exampleP99   = `p99(target_response_seconds{target_group="web"}[1m]) > 0.25`
	exampleRatio = `rate(responses_total{target_group="web",code=~"5.."}[1m]) / rate(responses_total{target_group="web"}[1m]) > 0.05`
)

func TestParseExpr(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want string // canonical form; "" means the input
	}{
		{name: "example/p99", in: exampleP99},
		{name: "example/error-ratio", in: exampleRatio},
		{name: "functions", in: `rate(a[1m]) > 1 or increase(a[1m]) > 1 or avg(h[1m]) > 1 or min(h[1m]) > 1 or max(h[1m]) > 1 or count(h[1m]) > 1`},
		{name: "percentiles", in: `p1(h[1m]) < p50(h[1m]) and p99(h[1m]) <= p999(h[1m])`},
		{name: "matchers", in: `rate(x{a="1",b!="2",c=~"3|4",d!~"5.*"}[5m]) == 0`},
		{name: "matchers/quotes", in: "rate(x{a='w\"eb', b=`5..`, c=\"\\u00e9\\n\"}[5m]) != 0", want: `rate(x{a="w\"eb",b="5..",c="é\n"}[5m]) != 0`},
		{name: "matchers/trailing-comma", in: `rate(x{a="1",}[1m]) > 0`, want: `rate(x{a="1"}[1m]) > 0`},
		{name: "matchers/empty", in: `rate(x{}[1m]) > 0`, want: `rate(x[1m]) > 0`},
		{name: "names/colons-and-keywords", in: `rate(job:requests:rate5m{not="and"}[1m]) > 0 and rate(or[1m]) > 0`},
		{name: "window/go", in: `rate(x[1m30s]) > 0`},
		{name: "window/go-fraction", in: `rate(x[1.5h]) > 0`, want: `rate(x[1h30m]) > 0`},
		{name: "window/seconds", in: `rate(x[90s]) > 0`, want: `rate(x[1m30s]) > 0`},
		{name: "window/prometheus-days", in: `rate(x[1d]) > 0`, want: `rate(x[24h]) > 0`},
		{name: "window/prometheus-mixed", in: `rate(x[1w2d3h]) > 0`, want: `rate(x[219h]) > 0`},
		{name: "window/milliseconds", in: `rate(x[ 500ms ]) > 0`, want: `rate(x[500ms]) > 0`},
		{name: "precedence/product-first", in: `1 + 2 * 3 > 4`},
		{name: "precedence/parentheses-kept", in: `(1 + 2) * 3 > 4`},
		{name: "precedence/left-assoc", in: `1 - 2 - 3 > 0`},
		{name: "precedence/right-group", in: `1 - (2 - 3) > 0`},
		{name: "precedence/redundant", in: `((1) * (2)) > (3)`, want: `1 * 2 > 3`},
		{name: "unary", in: `-rate(x[1m]) < -1 and +1 > - -2`, want: `-rate(x[1m]) < -1 and +1 > --2`},
		{name: "numbers", in: `.5 + 1e3 + 2.5E-3 + 007 > 0`, want: `0.5 + 1000 + 0.0025 + 7 > 0`},
		{name: "logic/precedence", in: `1 > 0 or 2 > 0 and not 3 > 0`},
		{name: "logic/grouped", in: `(1 > 0 or 2 > 0) and not (3 > 0 and 4 > 0)`},
		{name: "logic/not-not", in: `not not 1 > 0`},
		{name: "logic/right-nested", in: `1 > 0 and (2 > 0 and 3 > 0)`},
		{name: "constant", in: `1 >= 1`},
		{name: "multiline", in: "p99(x[1m])\n  > 0.25", want: `p99(x[1m]) > 0.25`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(tt.in)
			if err != nil {
				t.Fatalf("ParseExpr(%q) = %v", tt.in, err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if got := e.String(); got != want {
				t.Errorf("ParseExpr(%q).String() = %s, want %s", tt.in, got, want)
			}
			if err := ValidateExpr(tt.in); err != nil {
				t.Errorf("ValidateExpr(%q) = %v", tt.in, err)
			}
		})
	}
}

func TestParseExprErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want string
	}{
		{"empty", ``, `at column 1: expected a number, a function or "(", found the end of the expression`},
		{"unclosed-call", `p99(target_response_seconds{target_group="web"}[1m] > 0.25`, `at column 53: expected ")", found ">"`},
		{"unclosed-paren", `(rate(x[1m]) > 1`, `at column 17: expected ")", found the end of the expression`},
		{"not-a-condition", `p99(x[1m])`, `at column 11: expected a comparison (>, >=, <, <=, == or !=), found the end of the expression`},
		{"not-a-condition/and", `rate(x[1m]) > 1 and 2`, `at column 22: expected a comparison (>, >=, <, <=, == or !=), found the end of the expression`},
		{"not-a-condition/or-left", `rate(x[1m]) or 1 > 0`, `at column 13: expected a comparison (>, >=, <, <=, == or !=), found "or"`},
		{"not-a-condition/not", `not rate(x[1m])`, `at column 16: expected a comparison (>, >=, <, <=, == or !=), found the end of the expression`},
		{"bare-selector", `x > 1`, `at column 1: x needs a function, such as rate(x[1m]) or p99(x[1m])`},
		{"bare-selector/labels", `x{a="b"}[1m] > 1`, `at column 1: x needs a function, such as rate(x[1m]) or p99(x[1m])`},
		{"unknown-function", `p100(x[1m]) > 1`, `at column 1: unknown function "p100"; want rate, increase, avg, min, max, count, p1 to p99 or p999`},
		{"unknown-function/p05", `p05(x[1m]) > 1`, `at column 1: unknown function "p05"; want rate, increase, avg, min, max, count, p1 to p99 or p999`},
		{"unknown-function/aggregation", `sum by (a) (rate(x[1m])) > 1`, `at column 1: unknown function "sum"; want rate, increase, avg, min, max, count, p1 to p99 or p999`},
		{"function-without-call", `rate > 1`, `at column 6: expected "(" after rate, found ">"`},
		{"no-window", `rate(x) > 1`, `at column 7: expected a window such as [1m], found ")"`},
		{"empty-window", `rate(x[]) > 1`, `at column 8: expected a window such as 1m, found "]"`},
		{"window/no-unit", `rate(x[5]) > 1`, `at column 8: "5" is not a window such as 30s, 5m or 1h`},
		{"window/zero", `rate(x[0s]) > 1`, `at column 8: window 0s is not positive`},
		{"window/sub-millisecond", `rate(x[1500us]) > 1`, `at column 8: window 1500us is not a whole number of milliseconds`},
		{"window/too-long", `rate(x[2y]) > 1`, `at column 8: window 2y is longer than a year`},
		{"window/unit-order", `rate(x[1h1d]) > 1`, `at column 8: "1h1d" is not a window such as 30s, 5m or 1h`},
		{"window/unclosed", `rate(x[1m) > 1`, `at column 10: expected "]", found ")"`},
		{"offset", `rate(x[1m] offset 5m) > 1`, `at column 12: expected ")", found "offset"`},
		{"regexp", `rate(x{a=~"("}[1m]) > 1`, "at column 11: invalid regular expression: missing closing ): `(`"},
		{"matcher/unclosed", `rate(x{a="b"[1m]) > 1`, `at column 13: expected "," or "}", found "["`},
		{"matcher/unquoted", `rate(x{a=b}[1m]) > 1`, `at column 10: expected a quoted string, found "b"`},
		{"matcher/bad-label", `rate(x{a:b="c"}[1m]) > 1`, `at column 8: "a:b" is not a label name`},
		{"matcher/no-operator", `rate(x{a}[1m]) > 1`, `at column 9: expected =, !=, =~ or !~, found "}"`},
		{"matcher/no-label", `rate(x{="a"}[1m]) > 1`, `at column 8: expected a label name, found "="`},
		{"string/unterminated", `rate(x{a="b}[1m]) > 1`, `at column 10: string not terminated`},
		{"string/bad-escape", `rate(x{a="\q"}[1m]) > 1`, `at column 11: invalid escape in string`},
		{"no-metric-name", `rate({a="b"}[1m]) > 1`, `at column 6: expected a metric name, found "{"`},
		{"chained-comparison", `rate(x[1m]) > 1 > 2`, `at column 17: comparisons do not chain; join them with and`},
		{"condition-in-arithmetic", `(rate(x[1m]) > 1) + 1 > 0`, `at column 2: + needs a number, found a condition`},
		{"condition-compared", `(1 > 0) == (2 > 0)`, `at column 2: == needs a number, found a condition`},
		{"condition-negated", `-(1 > 0) > 0`, `at column 3: - needs a number, found a condition`},
		{"dangling-or", `1 > 0 or`, `at column 9: expected a number, a function or "(", found the end of the expression`},
		{"string-operand", `rate(x[1m]) > "a"`, `at column 15: expected a number, a function or "(", found "\"a\""`},
		{"trailing", `1 > 0 1`, `at column 7: expected an operator or the end of the expression, found "1"`},
		{"character", `rate(x[1m]) > 1 # comment`, `at column 17: unexpected character '#'`},
		{"number/dots", `1.2.3 > 1`, `at column 1: "1.2.3" is not a number`},
		{"number/unit", `5m > 1`, `at column 1: "5m" is not a number`},
		{"number/overflow", `1e999 > 1`, `at column 1: "1e999" is not a number`},
		{"multiline", "p99(x[1m])\n  > ", `at line 2, column 5: expected a number, a function or "(", found the end of the expression`},
		{"columns-count-characters", `rate(x{a="é"}[1m]) > 1 >`, `at column 24: comparisons do not chain; join them with and`},
		{"too-deep", strings.Repeat("(", 70) + "1 > 0" + strings.Repeat(")", 70), `at column 65: expression nested deeper than 64`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseExpr(tt.in)
			if err == nil {
				t.Fatalf("ParseExpr(%q) = nil error, want %s", tt.in, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("ParseExpr(%q) = %s\nwant %s", tt.in, got, tt.want)
			}
			var ee *ExprError
			if !errors.As(ValidateExpr(tt.in), &ee) {
				t.Errorf("ValidateExpr(%q) is not an *ExprError", tt.in)
			} else if ee.Offset < 0 || ee.Offset > len(tt.in) {
				t.Errorf("ValidateExpr(%q): offset %d outside the input", tt.in, ee.Offset)
			}
		})
	}
}

// evalAt parses s and evaluates it over m at now.
func evalAt(t *testing.T, m *Metrics, now time.Time, s string) (bool, error) {
	t.Helper()
	e, err := ParseExpr(s)
	if err != nil {
		t.Fatalf("ParseExpr(%q) = %v", s, err)
	}
	return e.Eval(m, now)
}

// numberAt evaluates the number s (a function call) over m at now, through
// a comparison that shows it: the top comparison's left value.
func numberAt(t *testing.T, m *Metrics, now time.Time, s string) (float64, error) {
	t.Helper()
	e, err := ParseExpr(s + " > 0")
	if err != nil {
		t.Fatalf("ParseExpr(%q) = %v", s, err)
	}
	ev := &exprEval{src: m, now: now}
	return ev.number(e.root.(*binaryNode).l)
}

// TestEvalPercentiles records 1..1000 ms and checks the percentiles against
// the exact ones within the documented error, and the exact statistics.
func TestEvalPercentiles(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	for i := 1; i <= 1000; i++ {
		m.Observe("target_response_seconds", Labels{"target_group": "web"}, float64(i)/1000)
	}
	const bound = 1.0 / 64
	for _, tt := range []struct {
		expr  string
		want  float64
		exact bool
	}{
		{expr: `p99(target_response_seconds{target_group="web"}[1m])`, want: 0.990},
		{expr: `p50(target_response_seconds[1m])`, want: 0.500},
		{expr: `p1(target_response_seconds[1m])`, want: 0.010},
		{expr: `p999(target_response_seconds[1m])`, want: 0.999},
		{expr: `avg(target_response_seconds[1m])`, want: 0.5005, exact: true},
		{expr: `min(target_response_seconds[1m])`, want: 0.001, exact: true},
		{expr: `max(target_response_seconds[1m])`, want: 1, exact: true},
		{expr: `count(target_response_seconds[1m])`, want: 1000, exact: true},
		{expr: `increase(target_response_seconds[1m])`, want: 1000, exact: true},
		{expr: `rate(target_response_seconds[1m])`, want: 1000.0 / 60, exact: true},
	} {
		got, err := numberAt(t, m, clk.Now(), tt.expr)
		if err != nil {
			t.Errorf("%s = %v", tt.expr, err)
			continue
		}
		if rel := math.Abs(got-tt.want) / tt.want; rel > bound || tt.exact && rel > 1e-12 {
			t.Errorf("%s = %v, want %v (relative error %.4f)", tt.expr, got, tt.want, rel)
		}
	}
	if v, err := evalAt(t, m, clk.Now(), exampleP99); err != nil || !v {
		t.Errorf("Eval(%s) = %v, %v; want true (p99 ≈ 0.99)", exampleP99, v, err)
	}
}

// TestEvalErrorRatio is the second example over counters.
func TestEvalErrorRatio(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	record := func(code string, n int) {
		m.Add("responses_total", Labels{"target_group": "web", "code": code}, float64(n))
	}
	record("200", 1000)
	record("404", 100)                                                          // not an error of ours
	m.Add("responses_total", Labels{"target_group": "api", "code": "500"}, 500) // another group
	check := func(step string, want bool) {
		t.Helper()
		got, err := evalAt(t, m, clk.Now(), exampleRatio)
		if err != nil || got != want {
			t.Errorf("%s: Eval(error ratio) = %v, %v; want %v", step, got, err, want)
		}
	}
	check("no 5xx series yet", false)
	record("503", 50)
	check("50 of 1150 (4.3%)", false)
	record("500", 20)
	check("70 of 1170 (6.0%)", true)
	clk.Advance(2 * time.Minute)
	_, err := evalAt(t, m, clk.Now(), exampleRatio)
	if !errors.Is(err, ErrNoData) {
		t.Errorf("no traffic in the window: Eval(error ratio) error = %v, want ErrNoData (division by zero)", err)
	}
	record("200", 10)
	check("only successes in the window", false)
}

// TestEvalWindows checks that samples leave the window bucket by bucket.
func TestEvalWindows(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	m.Observe("lat", nil, 2) // a slow spell
	m.Add("req", nil, 60)
	clk.Advance(30 * time.Second)
	m.Observe("lat", nil, 0.1)
	m.Add("req", nil, 30)
	for _, tt := range []struct {
		after time.Duration // since the second sample
		expr  string
		want  float64
	}{
		{0, `max(lat[1m])`, 2},
		{0, `max(lat[30s])`, 0.1}, // the window is this bucket and the 29 before: the slow sample is 30 buckets old
		{0, `max(lat[31s])`, 2},
		{0, `increase(req[1m])`, 90},
		{0, `rate(req[1m])`, 1.5},
		{29 * time.Second, `max(lat[1m])`, 2},
		{29*time.Second + 999*time.Millisecond, `max(lat[1m])`, 2},
		{30 * time.Second, `max(lat[1m])`, 0.1},
		{30 * time.Second, `increase(req[1m])`, 30},
		{89 * time.Second, `increase(req[90s])`, 30},
		{90 * time.Second, `increase(req[90s])`, 0},
	} {
		now := clk.Now().Add(tt.after)
		got, err := numberAt(t, m, now, tt.expr)
		if err != nil || got != tt.want {
			t.Errorf("%s %v after = %v, %v; want %v", tt.expr, tt.after, got, err, tt.want)
		}
	}
	if _, err := numberAt(t, m, clk.Now().Add(time.Minute), `p99(lat[1m])`); !errors.Is(err, ErrNoData) {
		t.Errorf("p99 over an empty window: error = %v, want ErrNoData", err)
	}
	if _, err := numberAt(t, m, clk.Now(), `rate(req[11m])`); err == nil || errors.Is(err, ErrNoData) {
		t.Errorf("rate over a window longer than the retention: error = %v, want one that is not ErrNoData", err)
	}
}

// TestEvalMatchers checks label matching, and that matching series merge.
func TestEvalMatchers(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	for _, s := range []struct {
		labels Labels
		n      float64
	}{
		{Labels{"target_group": "web", "code": "200"}, 1},
		{Labels{"target_group": "web", "code": "503"}, 2},
		{Labels{"target_group": "web-canary", "code": "500"}, 4},
		{Labels{"target_group": "api", "code": "200"}, 8},
		{Labels{"code": "200"}, 16}, // no target_group
	} {
		m.Add("responses_total", s.labels, s.n)
	}
	for _, tt := range []struct {
		sel  string
		want float64
	}{
		{`responses_total`, 31},
		{`responses_total{}`, 31},
		{`responses_total{target_group="web"}`, 3},
		{`responses_total{target_group!="web"}`, 28},
		{`responses_total{target_group=~"web.*"}`, 7},
		{`responses_total{target_group=~"web"}`, 3}, // anchored
		{`responses_total{target_group=~"eb"}`, 0},
		{`responses_total{target_group!~"web.*"}`, 24},
		{`responses_total{target_group=""}`, 16}, // missing label
		{`responses_total{target_group!=""}`, 15},
		{`responses_total{code=~"5.."}`, 6},
		{`responses_total{code=~"5"}`, 0},
		{`responses_total{target_group="web",code!~"5.."}`, 1},
		{`responses_total{target_group="web",target_group="api"}`, 0},
		{`responses_total{target_group=~"web|api",code="200"}`, 9},
		{`responses_total{code=~"2..|5..",target_group=~".+"}`, 15},
	} {
		got, err := numberAt(t, m, clk.Now(), "increase("+tt.sel+"[1m])")
		if err != nil || got != tt.want {
			t.Errorf("increase(%s[1m]) = %v, %v; want %v", tt.sel, got, err, tt.want)
		}
	}
}

// TestEvalMergedHistograms checks that a percentile merges the samples of
// every matching series rather than combining their percentiles.
func TestEvalMergedHistograms(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	for range 90 {
		m.Observe("lat", Labels{"target": "a"}, 0.010)
	}
	for range 10 {
		m.Observe("lat", Labels{"target": "b"}, 1.000)
	}
	for _, tt := range []struct {
		expr string
		want float64
	}{
		{`p50(lat[1m])`, 0.010},
		{`p90(lat[1m])`, 0.010},
		{`p91(lat[1m])`, 1},
		{`p99(lat{target="a"}[1m])`, 0.010},
		{`count(lat[1m])`, 100},
		{`avg(lat[1m])`, 0.109},
	} {
		got, err := numberAt(t, m, clk.Now(), tt.expr)
		if err != nil || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
}

// TestEvalNoData checks when missing data decides, and when it does not.
func TestEvalNoData(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	m.Add("total", Labels{"code": "200"}, 10)
	m.Observe("lat", nil, 0.1)
	for _, tt := range []struct {
		expr string
		want bool
		err  error // ErrNoData, errOther or nil
	}{
		{`p99(missing[1m]) > 1`, false, ErrNoData},
		{`avg(missing[1m]) > 1`, false, ErrNoData},
		{`rate(missing[1m]) > 1`, false, ErrNoData},
		{`count(missing[1m]) > 1`, false, ErrNoData},
		{`rate(total{code="500"}[1m]) > 1`, false, nil}, // a known counter: 0
		{`count(lat{x="y"}[1m]) == 0`, true, nil},
		{`p99(lat{x="y"}[1m]) > 1`, false, ErrNoData},
		{`rate(total[1m]) / rate(total{code="500"}[1m]) > 1`, false, ErrNoData},
		{`1 / 0 > 1`, false, ErrNoData},
		{`p99(missing[1m]) > 1 or 1 > 0`, true, nil},
		{`1 > 0 or p99(missing[1m]) > 1`, true, nil},
		{`p99(missing[1m]) > 1 or 1 < 0`, false, ErrNoData},
		{`p99(missing[1m]) > 1 and 1 < 0`, false, nil},
		{`p99(missing[1m]) > 1 and 1 > 0`, false, ErrNoData},
		{`not p99(missing[1m]) > 1`, false, ErrNoData},
		{`not (p99(missing[1m]) > 1 and 1 < 0)`, true, nil},
		{`p99(total[1m]) > 1`, false, errOther},          // a counter
		{`p99(total[1m]) > 1 or 1 > 0`, false, errOther}, // errors are not missing data
		{`p99(missing[1m]) > 1 or p99(total[1m]) > 1`, false, errOther},
		{`rate(total[1h]) > 1`, false, errOther}, // longer than the retention
	} {
		got, err := evalAt(t, m, clk.Now(), tt.expr)
		switch {
		case tt.err == errOther && (err == nil || errors.Is(err, ErrNoData)):
			t.Errorf("Eval(%s) = %v, %v; want an error that is not ErrNoData", tt.expr, got, err)
		case tt.err != errOther && !errors.Is(err, tt.err):
			t.Errorf("Eval(%s) = %v, %v; want error %v", tt.expr, got, err, tt.err)
		case got != tt.want:
			t.Errorf("Eval(%s) = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
}

var errOther = errors.New("an error other than ErrNoData")

// TestEvalExplain checks the values that a check's reason shows.
func TestEvalExplain(t *testing.T) {
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Now: clk.Now})
	m.Observe("lat", nil, 0.31)
	for _, tt := range []struct {
		expr string
		want string
	}{
		{`p99(lat[1m]) > 0.25`, `0.31 > 0.25`},
		{`p99(lat[1m]) * 1000 > 250`, `310 > 250`},
		{`p99(lat[1m]) > 0.30999999`, `0.31 > 0.30999999`},
		{`p99(lat[1m]) > 0.25 and not max(lat[1m]) > 1`, `0.31 > 0.25 and not 0.31 > 1`},
		{`p99(missing[1m]) > 1 or (1 > 0 and 2 > 1)`, `no data > 1 or 1 > 0 and 2 > 1`},
		{`not (1 > 0 or 2 > 1)`, `not (1 > 0 or 2 > 1)`},
	} {
		e, err := ParseExpr(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := e.explain(m, clk.Now())
		if err != nil && !errors.Is(err, ErrNoData) {
			t.Errorf("explain(%s) error = %v", tt.expr, err)
		}
		if got != tt.want {
			t.Errorf("explain(%s) = %s, want %s", tt.expr, got, tt.want)
		}
	}
}

// FuzzParseExpr checks that the parser never panics, that what it accepts
// prints to a canonical form that parses to itself, and that evaluating it
// does not panic either.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{
		exampleP99,
		exampleRatio,
		`rate(x[5m]) > 1 and not (p999(y{a!~"b|c"}[30s]) >= 2 or count(y[1h]) < 10)`,
		`-(1 + 2) * 3 / 4 - -5 != 0`,
		"rate(x{a='w\"eb', b=`5..`, c=\"\\u00e9\"}[1w2d]) == 0",
		`p99(x[1m]`,
		`((((1 > 0))))`,
		`1e-3 >= .5`,
	} {
		f.Add(s)
	}
	clk := newTestClock()
	m := NewMetrics(MetricsOptions{Retention: time.Hour, Now: clk.Now})
	m.Observe("y", Labels{"a": "d"}, 1)
	m.Add("x", Labels{"a": "b"}, 1)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			var ee *ExprError
			if !errors.As(err, &ee) || ee.Offset < 0 || ee.Offset > len(s) || ee.Line < 1 || ee.Column < 1 {
				t.Fatalf("ParseExpr(%q) = %#v, want an *ExprError within the input", s, err)
			}
			return
		}
		canon := e.String()
		e2, err := ParseExpr(canon)
		if err != nil {
			t.Fatalf("ParseExpr(%q) = %v; its canonical form %q does not parse", s, err, canon)
		}
		if got := e2.String(); got != canon {
			t.Fatalf("canonical form of %q is %q, which prints as %q", s, canon, got)
		}
		_, _ = e.Eval(m, clk.Now())
	})
}
