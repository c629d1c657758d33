package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// metricLine is one sample of the Prometheus text format: name{labels} value.
var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrape reads /metrics through the admin listener into name{k="v",…} →
// value, labels sorted as the server writes them.
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	code, body := get(t, admin+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d\n%s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", sc.Text(), err)
		}
		out[m[1]+"{"+m[2]+"}"] = v
	}
	return out
}

// sample finds a series by name and the labels given (others ignored).
func sample(ms map[string]float64, name string, labels ...string) (float64, bool) {
	for k, v := range ms {
		n, rest, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		have := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(rest, -1) {
			have[p[1]] = p[2]
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
				break
			}
		}
		if match {
			return v, true
		}
	}
	return 0, false
}

// stoppableBackend is a real HTTP server on loopback; Close stops it, and
// then its health check fails with "connection refused".
func stoppableBackend(t *testing.T) (srv *httptest.Server, host, port string) {
	t.Helper()
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	host, port, _ = strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	return srv, host, port
}

// observeConfig is a target group with one real backend in each of zones a
// and b, probed every 200 ms, a load balancer in both zones, a failover
// record whose primary follows backend b, DNS on an ephemeral port, and a
// dashboard write token (none when token is empty).
func observeConfig(token, hostA, portA, hostB, portB string) string {
	return fmt.Sprintf(`server:
  admin: { listen: "127.0.0.1:0", ui_token: %q }
  dns: { listen: ["127.0.0.1:0"] }
  shutdown_timeout: 2s
zones:
  - { name: a }
  - { name: b }
health_checks:
  - { name: backend-b, type: http, address: %s, port: %s, path: /, interval: 200ms, timeout: 150ms, unhealthy_threshold: 2, healthy_threshold: 2 }
target_groups:
  - name: web
    protocol: http
    port: 80
    health_check: { path: /, interval: 200ms, timeout: 150ms, unhealthy_threshold: 2, healthy_threshold: 2 }
    targets:
      - { address: %s, port: %s, zone: a }
      - { address: %s, port: %s, zone: b }
load_balancers:
  - name: front
    dns_name: www.example.com
    nodes:
      - { zone: a, addresses: [192.0.2.1] }
      - { zone: b, addresses: [192.0.2.2] }
    listeners:
      - { protocol: http, port: 80, default_action: { forward: { target_groups: [{ name: web }] } } }
hosted_zones:
  - name: example.com
    records:
      - { name: app.example.com, type: A, set_identifier: primary, failover: PRIMARY, health_check: backend-b, values: [192.0.2.10] }
      - { name: app.example.com, type: A, set_identifier: secondary, failover: SECONDARY, values: [192.0.2.11] }
`, token, hostB, portB, hostA, portA, hostB, portB)
}

// TestMetricsFollowATargetFailure scrapes /metrics of the real binary while
// a real backend stops: the target counts, the check's status and the
// transitions move, and the configuration series say what runs.
func TestMetricsFollowATargetFailure(t *testing.T) {
	_, hostA, portA := stoppableBackend(t)
	backendB, hostB, portB := stoppableBackend(t)
	targetB := hostB + ":" + portB
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	writeFile(t, cfg, observeConfig("", hostA, portA, hostB, portB))
	p := start(t, cfg, filepath.Join(dir, "data"))

	var ms map[string]float64
	poll(t, "both targets observed healthy", func() bool {
		ms = scrape(t, p.admin)
		v, _ := sample(ms, "switchboard_health_checks", "status", "healthy")
		return v == 3 // two targets and the named check
	})
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"switchboard_target_group_targets", []string{"target_group", "web", "zone", "b"}, 1},
		{"switchboard_target_group_healthy_targets", []string{"target_group", "web", "zone", "b"}, 1},
		{"switchboard_target_group_unhealthy_targets", []string{"target_group", "web", "zone", "b"}, 0},
		{"switchboard_health_check_healthy", []string{"check", "target_groups/web", "target", targetB}, 1},
		{"switchboard_health_check_healthy", []string{"check", "backend-b"}, 1},
		{"switchboard_record_group_failing_open", []string{"name", "app.example.com."}, 0},
		{"switchboard_load_balancer_dns_addresses", []string{"load_balancer", "front"}, 2},
		{"switchboard_config_desired_version", nil, 1},
		{"switchboard_config_view_version", nil, 1},
		{"switchboard_config_last_reload_success", nil, 1},
	} {
		if got, ok := sample(ms, tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("before: %s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	downBefore, _ := sample(ms, "switchboard_health_transitions_total", "check", "target_groups/web", "to", "unhealthy")
	server := dnsServer(t, p)
	for range 3 {
		if got := lookupA(t, server, "app.example.com."); got != "192.0.2.10" {
			t.Errorf("before: app.example.com. A = %s, want the primary 192.0.2.10", got)
		}
	}
	if n, _ := sample(ms, "switchboard_health_probe_duration_seconds_count", "check", "target_groups/web", "checker", "local"); n == 0 {
		t.Error("before: no probe durations recorded for target_groups/web")
	}

	backendB.Close()
	poll(t, "zone b's target counted unhealthy", func() bool {
		ms = scrape(t, p.admin)
		v, _ := sample(ms, "switchboard_target_group_unhealthy_targets", "target_group", "web", "zone", "b")
		return v == 1
	})
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"switchboard_target_group_healthy_targets", []string{"target_group", "web", "zone", "b"}, 0},
		{"switchboard_target_group_healthy_targets", []string{"target_group", "web", "zone", "a"}, 1},
		{"switchboard_health_check_healthy", []string{"check", "target_groups/web", "target", targetB}, 0},
	} {
		if got, ok := sample(ms, tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("after: %s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	// At least one more: a loaded machine may also time a probe out.
	if got, _ := sample(ms, "switchboard_health_transitions_total", "check", "target_groups/web", "to", "unhealthy"); got < downBefore+1 {
		t.Errorf("after: transitions of target_groups/web to unhealthy = %v, want at least %v", got, downBefore+1)
	}
	if got, _ := sample(ms, "switchboard_health_probes_total", "check", "target_groups/web", "result", "unhealthy"); got < 2 {
		t.Errorf("after: unhealthy probes of target_groups/web = %v, want at least the threshold, 2", got)
	}
	poll(t, "the failover record's primary check unhealthy", func() bool {
		ms = scrape(t, p.admin)
		v, ok := sample(ms, "switchboard_health_check_healthy", "check", "backend-b")
		return ok && v == 0
	})
	if got, _ := sample(ms, "switchboard_record_group_healthy_records", "name", "app.example.com."); got != 1 {
		t.Errorf("after: healthy records of app.example.com. = %v, want 1 (the secondary)", got)
	}
	poll(t, "DNS answering the secondary", func() bool { return lookupA(t, server, "app.example.com.") == "192.0.2.11" })

	ms = scrape(t, p.admin)
	if got, _ := sample(ms, "switchboard_dns_requests_total"); got < 4 {
		t.Errorf("switchboard_dns_requests_total = %v, want at least the 4 queries sent", got)
	}
	// The per-type, policy and record-set counts exist once the DNS server
	// fills Stats' maps; check them when it does.
	if _, ok := sample(ms, "switchboard_dns_queries_total"); !ok {
		t.Log("the DNS server does not fill Stats.ByType yet: per-label DNS series not checked")
		return
	}
	for _, tt := range []struct {
		name   string
		labels []string
	}{
		{"switchboard_dns_queries_total", []string{"type", "A"}},
		{"switchboard_dns_responses_total", []string{"rcode", "NOERROR"}},
		{"switchboard_dns_policy_answers_total", []string{"policy", "failover"}},
		{"switchboard_dns_record_set_answers_total", []string{"name", "app.example.com.", "set_identifier", "secondary"}},
	} {
		if got, _ := sample(ms, tt.name, tt.labels...); got < 1 {
			t.Errorf("%s%v = %v, want at least 1", tt.name, tt.labels, got)
		}
	}
}

// dnsServer is the UDP address of p's DNS listener, from its log.
func dnsServer(t *testing.T, p *proc) string {
	t.Helper()
	var server string
	poll(t, "the DNS listener in the log", func() bool {
		if m := dnsAddr.FindStringSubmatch(p.logText()); m != nil {
			server = m[1]
		}
		return server != ""
	})
	return server
}

// lookupA asks server for name's A record and returns the one address
// answered, or a description of what came instead.
func lookupA(t *testing.T, server, name string) string {
	t.Helper()
	c := &dns.Client{Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	r, _, err := c.Exchange(q, server)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return fmt.Sprintf("bad answer %v %v", r, err)
	}
	return r.Answer[0].(*dns.A).A.String()
}
