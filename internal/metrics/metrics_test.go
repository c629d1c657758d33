package metrics

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/view"
)

// series finds the value of one series in a gather: name and every label
// given must match (labels not given are ignored).
func series(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(m, labels[i]) != labels[i+1] {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func mustSeries(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := series(t, reg, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

const stateYAML = `zones: [{ name: a }, { name: b }]
health_checks:
  - { name: primary-up, type: tcp, address: 127.0.0.1, port: 9 }
target_groups:
  - name: web
    protocol: http
    port: 80
    health_check: { path: /healthz }
    targets:
      - { address: 10.0.1.1, zone: a }
      - { address: 10.0.1.2, zone: a }
      - { address: 10.0.2.1, zone: b }
load_balancers:
  - name: front
    nodes:
      - { zone: a, addresses: [192.0.2.1] }
      - { zone: b, addresses: [192.0.2.2] }
    listeners:
      - { protocol: http, port: 80, default_action: { forward: { target_groups: [{ name: web }] } } }
hosted_zones:
  - name: example.com
    records:
      - { name: www.example.com, type: A, set_identifier: one, failover: PRIMARY, health_check: primary-up, values: [192.0.2.10] }
      - { name: www.example.com, type: A, set_identifier: two, failover: SECONDARY, health_check: primary-up, values: [192.0.2.11] }
zonal_shifts:
  - { target_group: web, away_from: b, expires_at: "2026-03-01T13:00:00Z" }
`

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func tk(s string) state.Key {
	return state.Key{Check: state.GroupCheck("web"), Target: netip.MustParseAddrPort(s)}
}

// TestStateCollector builds a real view from a parsed configuration and a
// health snapshot, and checks what a scrape reports about it.
func TestStateCollector(t *testing.T) {
	doc, err := config.Parse("state.yaml", []byte(stateYAML))
	if err != nil {
		t.Fatal(err)
	}
	down := state.Status{Healthy: false, Observed: true, Reason: "status 503"}
	up := state.Status{Healthy: true, Observed: true}
	hs := state.NewSnapshot(7, map[state.Key]state.Status{
		tk("10.0.1.1:80"):     up,
		tk("10.0.1.2:80"):     down,
		tk("10.0.2.1:80"):     up,
		{Check: "primary-up"}: down,
	})
	pub := view.NewPublisher()
	pub.Publish(view.Build(3, &doc.State, hs, epoch))
	m := New(Sources{
		Views: pub,
		Config: func() ConfigStatus {
			return ConfigStatus{DesiredVersion: 4, LastReloadOK: false, LastReload: epoch, LastSuccess: epoch.Add(-time.Minute)}
		},
	})
	reg := m.Registry()
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"switchboard_target_group_targets", []string{"target_group", "web", "zone", "a"}, 2},
		{"switchboard_target_group_healthy_targets", []string{"target_group", "web", "zone", "a"}, 1},
		{"switchboard_target_group_unhealthy_targets", []string{"target_group", "web", "zone", "a"}, 1},
		{"switchboard_target_group_healthy_targets", []string{"target_group", "web", "zone", "b"}, 1},
		{"switchboard_target_group_zone_shifted", []string{"target_group", "web", "zone", "b"}, 1},
		{"switchboard_target_group_zone_shifted", []string{"target_group", "web", "zone", "a"}, 0},
		{"switchboard_target_group_failing_open", []string{"target_group", "web", "zone", "a"}, 0},
		{"switchboard_zonal_shift_active", []string{"resource", "target_group", "name", "web", "zone", "b"}, 1},
		{"switchboard_zonal_shift_expiry_timestamp_seconds", []string{"name", "web"}, float64(epoch.Add(time.Hour).Unix())},
		{"switchboard_load_balancer_nodes", []string{"load_balancer", "front", "zone", "a"}, 1},
		{"switchboard_load_balancer_dns_failing_open", []string{"load_balancer", "front"}, 0},
		{"switchboard_record_group_records", []string{"name", "www.example.com.", "policy", "failover"}, 2},
		{"switchboard_record_group_healthy_records", []string{"name", "www.example.com."}, 0},
		{"switchboard_record_group_failing_open", []string{"name", "www.example.com.", "type", "A"}, 1},
		{"switchboard_config_desired_version", nil, 4},
		{"switchboard_config_view_version", nil, 3},
		{"switchboard_config_last_reload_success", nil, 0},
		{"switchboard_config_last_reload_timestamp_seconds", nil, float64(epoch.Unix())},
	} {
		if got := mustSeries(t, reg, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	// Without a health engine or DNS server, none of their series exist.
	for _, name := range []string{"switchboard_health_check_healthy", "switchboard_dns_requests_total"} {
		if _, ok := series(t, reg, name); ok {
			t.Errorf("%s exported without its source", name)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("GatherAndLint = %v, %v; want no problems", problems, err)
	}
}

// TestStateCollectorEmpty scrapes before the first view and with no
// sources: it must not fail or panic.
func TestStateCollectorEmpty(t *testing.T) {
	m := New(Sources{Views: view.NewPublisher(), Health: health.NewEngine(health.EngineConfig{})})
	if _, err := m.Registry().Gather(); err != nil {
		t.Fatalf("Gather before the first view: %v", err)
	}
	if got := mustSeries(t, m.Registry(), "switchboard_health_checks", "status", "healthy"); got != 0 {
		t.Errorf("switchboard_health_checks{healthy} on an empty engine = %v, want 0", got)
	}
	if _, err := New(Sources{}).Registry().Gather(); err != nil {
		t.Fatalf("Gather with no sources: %v", err)
	}
}

// TestDNSNilMaps: the DNS server's per-label maps may be nil (no counts
// yet, or a server that does not fill them); the plain counters still export.
func TestDNSNilMaps(t *testing.T) {
	m := New(Sources{DNS: func() (dnsserver.Stats, bool) {
		return dnsserver.Stats{Queries: 12, Truncated: 1, FailingOpen: 2}, true
	}})
	reg := m.Registry()
	if got := mustSeries(t, reg, "switchboard_dns_requests_total"); got != 12 {
		t.Errorf("switchboard_dns_requests_total = %v, want 12", got)
	}
	if got := mustSeries(t, reg, "switchboard_dns_record_groups_failing_open"); got != 2 {
		t.Errorf("switchboard_dns_record_groups_failing_open = %v, want 2", got)
	}
	if _, ok := series(t, reg, "switchboard_dns_queries_total"); ok {
		t.Error("switchboard_dns_queries_total exported from a nil map")
	}
	off := New(Sources{DNS: func() (dnsserver.Stats, bool) { return dnsserver.Stats{}, false }})
	if _, ok := series(t, off.Registry(), "switchboard_dns_requests_total"); ok {
		t.Error("DNS series exported while no DNS server runs")
	}
}

// TestDNSLabelMaps checks the per-type, rcode, policy and record-set series
// when the DNS server fills its maps (given here as the server would).
func TestDNSLabelMaps(t *testing.T) {
	m := New(Sources{DNS: func() (dnsserver.Stats, bool) {
		return dnsserver.Stats{
			ByType:      map[string]uint64{"A": 5, "AAAA": 2},
			ByRcode:     map[string]uint64{"NOERROR": 6, "NXDOMAIN": 1},
			ByPolicy:    map[string]uint64{"failover": 4},
			ByRecordSet: map[string]uint64{"www.example.com. A primary one": 3, "api.example.com. A ": 1},
		}, true
	}})
	reg := m.Registry()
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"switchboard_dns_queries_total", []string{"type", "AAAA"}, 2},
		{"switchboard_dns_responses_total", []string{"rcode", "NXDOMAIN"}, 1},
		{"switchboard_dns_policy_answers_total", []string{"policy", "failover"}, 4},
		{"switchboard_dns_record_set_answers_total", []string{"name", "www.example.com.", "type", "A", "set_identifier", "primary one"}, 3},
		{"switchboard_dns_record_set_answers_total", []string{"name", "api.example.com.", "set_identifier", ""}, 1},
	} {
		if got := mustSeries(t, reg, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

// TestHealthObserver feeds the observer as the engine would.
func TestHealthObserver(t *testing.T) {
	m := New(Sources{})
	h := m.Health()
	k := tk("10.0.1.1:80")
	h.Probed(k, health.Observation{Checker: "local", Healthy: true, Latency: 3 * time.Millisecond})
	h.Probed(k, health.Observation{Checker: "local", Healthy: false, Latency: 2 * time.Second})
	h.Transitioned(health.Event{Key: k, Status: state.Status{Observed: true}})
	reg := m.Registry()
	check := state.GroupCheck("web")
	if got := mustSeries(t, reg, "switchboard_health_probe_duration_seconds", "check", check, "checker", "local"); got != 2 {
		t.Errorf("probe duration sample count = %v, want 2", got)
	}
	if got := mustSeries(t, reg, "switchboard_health_probes_total", "check", check, "result", "unhealthy"); got != 1 {
		t.Errorf("unhealthy probes = %v, want 1", got)
	}
	if got := mustSeries(t, reg, "switchboard_health_transitions_total", "check", check, "to", "unhealthy"); got != 1 {
		t.Errorf("transitions to unhealthy = %v, want 1", got)
	}
}

func TestDataplaneApplied(t *testing.T) {
	m := New(Sources{})
	d := m.Dataplane()
	d.Applied("nft", 5, 2*time.Millisecond, 1, nil)
	d.Applied("nft", 6, 3*time.Millisecond, 0, errors.New("netlink: busy"))
	reg := m.Registry()
	for _, tt := range []struct {
		name string
		want float64
	}{
		{"switchboard_dataplane_apply_duration_seconds", 2},
		{"switchboard_dataplane_apply_errors_total", 1},
		{"switchboard_dataplane_problems", 1},
		{"switchboard_dataplane_applied_version", 5}, // the failed apply programmed nothing
	} {
		if got := mustSeries(t, reg, tt.name, "backend", "nft"); got != tt.want {
			t.Errorf("%s{backend=nft} = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestProxyTarget checks the proxies' per-target handle: what it counts,
// that a nil handle is safe, and that Retain ends a deregistered target's series.
func TestProxyTarget(t *testing.T) {
	m := New(Sources{})
	p := m.Proxy()
	addr := netip.MustParseAddrPort("10.0.1.1:80")
	tg := p.Target("web", addr)
	if again := p.Target("web", addr); again != tg {
		t.Error("Target twice for one target = two handles, want one")
	}
	tg.Request()
	tg.Request()
	tg.Response(200, 10*time.Millisecond)
	tg.Response(503, 20*time.Millisecond)
	tg.Failed(time.Second)
	tg.Opened()
	tg.Opened()
	tg.Closed()
	var none *Target
	none.Request()
	none.Response(200, 0)
	none.Failed(0)
	none.Opened()
	none.Closed()

	reg := m.Registry()
	l := []string{"target_group", "web", "target", "10.0.1.1:80"}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"switchboard_target_requests_total", l, 2},
		{"switchboard_target_responses_total", append(l, "class", "2xx"), 1},
		{"switchboard_target_responses_total", append(l, "class", "5xx"), 1},
		{"switchboard_target_responses_total", append(l, "class", "error"), 1},
		{"switchboard_target_response_time_seconds", l, 3},
		{"switchboard_target_active_connections", l, 1},
		{"switchboard_target_connections_total", l, 2},
	} {
		if got := mustSeries(t, reg, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}

	doc, err := config.Parse("state.yaml", []byte(stateYAML))
	if err != nil {
		t.Fatal(err)
	}
	gone := p.Target("web", netip.MustParseAddrPort("10.9.9.9:80"))
	gone.Request()
	p.Retain(view.Build(1, &doc.State, nil, epoch))
	if _, ok := series(t, reg, "switchboard_target_requests_total", "target", "10.9.9.9:80"); ok {
		t.Error("a target no longer in the view still has series after Retain")
	}
	if _, ok := series(t, reg, "switchboard_target_requests_total", "target", "10.0.1.1:80"); !ok {
		t.Error("Retain removed a target that is still in the view")
	}
}

// TestProxyTargetNoAlloc: the per-request calls must not allocate.
func TestProxyTargetNoAlloc(t *testing.T) {
	tg := New(Sources{}).Proxy().Target("web", netip.MustParseAddrPort("10.0.1.1:80"))
	allocs := testing.AllocsPerRun(1000, func() {
		tg.Opened()
		tg.Request()
		tg.Response(204, time.Millisecond)
		tg.Failed(time.Millisecond)
		tg.Closed()
	})
	if allocs != 0 {
		t.Errorf("per-request calls allocate %v times, want 0", allocs)
	}
}

func BenchmarkTargetResponse(b *testing.B) {
	tg := New(Sources{}).Proxy().Target("web", netip.MustParseAddrPort("10.0.1.1:80"))
	b.ReportAllocs()
	for b.Loop() {
		tg.Request()
		tg.Response(200, time.Millisecond)
	}
}

// TestNamesFollowConventions checks every family this package exports:
// the switchboard_ prefix, non-empty help text, durations in _seconds, and
// _total on every counter that a registry with no sources already exposes.
func TestNamesFollowConventions(t *testing.T) {
	names := Names()
	if len(names) < 40 {
		t.Fatalf("Names() = %d names, want every metric (40+)", len(names))
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "switchboard_") {
			t.Errorf("%s lacks the switchboard_ prefix", n)
		}
		if strings.Contains(n, "latency") || strings.Contains(n, "_ms") || strings.HasSuffix(n, "_milliseconds") {
			t.Errorf("%s: durations are _seconds", n)
		}
	}

	// Help: every Desc's String form carries help: "…" (see Names).
	described := 0
	for _, d := range descs() {
		described++
		if s := d.String(); strings.Contains(s, `help: ""`) || !strings.Contains(s, `help: "`) {
			t.Errorf("%s has no help text", s)
		}
	}
	if described < len(names) {
		t.Errorf("described %d families, fewer than Names()' %d", described, len(names))
	}

	// Types: a Desc does not carry one, so check what a registry gathers.
	fams, err := New(Sources{}).Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	counters := 0
	for _, f := range fams {
		total := strings.HasSuffix(f.GetName(), "_total")
		if f.GetType() == dto.MetricType_COUNTER {
			counters++
			if !total {
				t.Errorf("counter %s lacks the _total suffix", f.GetName())
			}
		} else if total {
			t.Errorf("%s ends in _total but is a %v, not a counter", f.GetName(), f.GetType())
		}
	}
	if counters == 0 {
		t.Errorf("Gather found no counters among %d families; the _total check checked nothing", len(fams))
	}
}
