package metrics

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/view"
)

// Sources are what the state collector reads at scrape time. Every field
// is optional: a missing source exports none of its series.
type Sources struct {
	// Views holds the current routing view: target, load balancer, record
	// group and zonal shift series, and the view version.
	Views *view.Publisher
	// Health is the health engine: each check's status and the engine's
	// counters.
	Health *health.Engine
	// DNS returns the DNS server's counters, and false while no DNS server runs.
	DNS func() (dnsserver.Stats, bool)
	// Config returns the status of the configuration.
	Config func() ConfigStatus
}

// ConfigStatus is what the configuration series report.
type ConfigStatus struct {
	// DesiredVersion is the newest committed desired-state version.
	DesiredVersion uint64
	// LastReloadOK is whether the last load of the file succeeded.
	LastReloadOK bool
	// LastReload is when the file was last loaded or tried; LastSuccess
	// when it last loaded without error. Zero: never.
	LastReload, LastSuccess time.Time
}

// stateCollector exports what switchboard already holds, read at scrape
// time: one view, one health snapshot, one set of DNS counters per scrape.
// Each desc's Help is the metric's documentation.
type stateCollector struct {
	src Sources
	all []*prometheus.Desc

	tgTargets, tgHealthy, tgUnhealthy, tgRoutable, tgFailingOpen, tgShifted, tgDNSHealthy *prometheus.Desc
	lbFailingOpen, lbHealthy, lbNodes, lbDNSNodes, lbDNSAddrs                             *prometheus.Desc
	shiftActive, shiftExpiry                                                              *prometheus.Desc
	rgRecords, rgHealthy, rgFailingOpen                                                   *prometheus.Desc
	checkHealthy, checks, skipped, late, dropped                                          *prometheus.Desc
	dnsRequests, dnsDropped, dnsTruncated, dnsPanics, dnsTCPRejected, dnsRRL              *prometheus.Desc
	dnsTransfers, dnsNotifies, dnsTables, dnsTableErrors, dnsFailingOpen                  *prometheus.Desc
	dnsByType, dnsByRcode, dnsByPolicy, dnsByRecordSet                                    *prometheus.Desc
	desired, viewVersion, viewBuilt, reloadOK, reloadTime, reloadOKTime                   *prometheus.Desc
}

func newStateCollector(src Sources) *stateCollector {
	c := &stateCollector{src: src}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		desc := prometheus.NewDesc("switchboard_"+name, help, labels, nil)
		c.all = append(c.all, desc)
		return desc
	}
	tz := []string{"target_group", "zone"}
	c.tgTargets = d("target_group_targets", "Targets registered in a target group, by zone.", tz...)
	c.tgHealthy = d("target_group_healthy_targets", "Healthy targets of a target group, by zone (after thresholds; a target with no result yet counts healthy).", tz...)
	c.tgUnhealthy = d("target_group_unhealthy_targets", "Unhealthy targets of a target group, by zone.", tz...)
	c.tgRoutable = d("target_group_routable_targets", "Targets a node in the zone sends new traffic to, after cross-zone, zonal shifts, thresholds and fail-open.", tz...)
	c.tgFailingOpen = d("target_group_failing_open", "1 while the zone routes to unhealthy targets because healthy ones fell below the routing-failover threshold.", tz...)
	c.tgShifted = d("target_group_zone_shifted", "1 while a zonal shift moves the target group's traffic away from the zone.", tz...)
	c.tgDNSHealthy = d("target_group_dns_healthy", "1 while the zone passes the target group's DNS-failover threshold.", tz...)

	c.lbFailingOpen = d("load_balancer_dns_failing_open", "1 while no zone of the load balancer passes and DNS answers every unshifted node anyway.", "load_balancer")
	c.lbHealthy = d("load_balancer_healthy", "1 while every target group the load balancer forwards to that has targets has a healthy one (Route 53's evaluate target health).", "load_balancer")
	c.lbNodes = d("load_balancer_nodes", "Nodes of the load balancer, by zone.", "load_balancer", "zone")
	c.lbDNSNodes = d("load_balancer_dns_nodes", "Nodes of the load balancer DNS answers now, by zone.", "load_balancer", "zone")
	c.lbDNSAddrs = d("load_balancer_dns_addresses", "Addresses DNS hands out now for the load balancer's name.", "load_balancer")

	sh := []string{"resource", "name", "zone"}
	c.shiftActive = d("zonal_shift_active", "1 while a zonal shift moves a resource's traffic away from a zone; resource is load_balancer or target_group.", sh...)
	c.shiftExpiry = d("zonal_shift_expiry_timestamp_seconds", "When a zonal shift ends, as Unix time.", sh...)

	rg := []string{"zone", "name", "type", "policy"}
	c.rgRecords = d("record_group_records", "Records of a record group (a hosted zone's records of one name and type).", rg...)
	c.rgHealthy = d("record_group_healthy_records", "Healthy records of a record group.", rg...)
	c.rgFailingOpen = d("record_group_failing_open", "1 while no record of the group is healthy and DNS answers as if all were.", rg...)

	c.checkHealthy = d("health_check_healthy", "1 while a health check (and, for a target group's probe, its target) is healthy; a check with no result yet reports its initial state.", "check", "target")
	c.checks = d("health_checks", "Health statuses by status: healthy, unhealthy, unknown (no result yet).", "status")
	c.skipped = d("health_probes_skipped_total", "Probe ticks skipped because the previous probe of the key still ran, or the scheduler fell behind.")
	c.late = d("health_probes_late_total", "Failed probes not held against their targets because they started too late (this process is overloaded).")
	c.dropped = d("health_events_dropped_total", "Health events not delivered to a subscriber that fell behind (metrics never miss them).")

	c.dnsRequests = d("dns_requests_total", "DNS packets handled, over UDP and TCP.")
	c.dnsDropped = d("dns_dropped_total", "DNS packets given no answer: too short, or not a query.")
	c.dnsTruncated = d("dns_truncated_total", "UDP answers sent truncated (TC=1).")
	c.dnsPanics = d("dns_panics_total", "Queries whose handling panicked (answered SERVFAIL). Any non-zero value is a bug.")
	c.dnsTCPRejected = d("dns_tcp_rejected_total", "TCP connections closed at once because the connection limit was reached.")
	c.dnsRRL = d("dns_rrl_responses_total", "UDP answers response rate limiting held back, by action: dropped, or slipped (sent truncated).", "action")
	c.dnsTransfers = d("dns_transfers_total", "Zone transfer requests by outcome: full (AXFR or IXFR answered whole), incremental, refused.", "outcome")
	c.dnsNotifies = d("dns_notifies_total", "NOTIFY messages by event: sent (retries included), acked, failed (given up).", "event")
	c.dnsTables = d("dns_table_builds_total", "Views compiled into DNS answer tables.")
	c.dnsTableErrors = d("dns_table_errors_total", "Views that failed to compile; the previous table kept answering.")
	c.dnsFailingOpen = d("dns_record_groups_failing_open", "Record groups of the DNS server's current table with no healthy record, answered as if all were healthy.")
	c.dnsByType = d("dns_queries_total", "DNS queries by question type (A, AAAA, …).", "type")
	c.dnsByRcode = d("dns_responses_total", "DNS responses by rcode (NOERROR, NXDOMAIN, …).", "rcode")
	c.dnsByPolicy = d("dns_policy_answers_total", "Answers from record groups by routing policy (simple, weighted, failover, …).", "policy")
	c.dnsByRecordSet = d("dns_record_set_answers_total", "Answers by the record set answered: name, type and set identifier (empty for simple records).", "name", "type", "set_identifier")

	c.desired = d("config_desired_version", "Newest committed desired-state version.")
	c.viewVersion = d("config_view_version", "Desired-state version of the published routing view.")
	c.viewBuilt = d("config_view_built_timestamp_seconds", "When the published routing view was built, as Unix time.")
	c.reloadOK = d("config_last_reload_success", "1 if the last load of the configuration file succeeded, 0 if it was refused (the previous state keeps running).")
	c.reloadTime = d("config_last_reload_timestamp_seconds", "When the configuration file was last loaded or tried, as Unix time.")
	c.reloadOKTime = d("config_last_reload_success_timestamp_seconds", "When the configuration file last loaded without error, as Unix time.")
	return c
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.all {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	var v *view.View
	if c.src.Views != nil {
		v = c.src.Views.Load()
	}
	if v != nil {
		c.collectView(ch, v)
	}
	if c.src.Health != nil {
		c.collectHealth(ch, c.src.Health)
	}
	if c.src.DNS != nil {
		if s, ok := c.src.DNS(); ok {
			c.collectDNS(ch, &s)
		}
	}
	if c.src.Config != nil {
		cs := c.src.Config()
		gauge(ch, c.desired, float64(cs.DesiredVersion))
		gauge(ch, c.reloadOK, b2f(cs.LastReloadOK))
		if !cs.LastReload.IsZero() {
			gauge(ch, c.reloadTime, unix(cs.LastReload))
		}
		if !cs.LastSuccess.IsZero() {
			gauge(ch, c.reloadOKTime, unix(cs.LastSuccess))
		}
	}
	if v != nil {
		gauge(ch, c.viewVersion, float64(v.Version))
		gauge(ch, c.viewBuilt, unix(v.Built))
	}
}

func (c *stateCollector) collectView(ch chan<- prometheus.Metric, v *view.View) {
	for name, g := range v.TargetGroups {
		for zn, z := range g.Zones {
			gauge(ch, c.tgTargets, float64(len(z.Targets)), name, zn)
			gauge(ch, c.tgHealthy, float64(z.Healthy), name, zn)
			gauge(ch, c.tgUnhealthy, float64(len(z.Targets)-z.Healthy), name, zn)
			gauge(ch, c.tgRoutable, float64(len(z.Routable)), name, zn)
			gauge(ch, c.tgFailingOpen, b2f(z.FailingOpen), name, zn)
			gauge(ch, c.tgShifted, b2f(z.Shifted), name, zn)
			gauge(ch, c.tgDNSHealthy, b2f(z.DNSHealthy), name, zn)
		}
	}
	for name, lb := range v.LoadBalancers {
		gauge(ch, c.lbFailingOpen, b2f(lb.DNSFailingOpen), name)
		gauge(ch, c.lbHealthy, b2f(lb.Healthy), name)
		gauge(ch, c.lbDNSAddrs, float64(len(lb.DNSAddresses)), name)
		nodes, inDNS := map[string]int{}, map[string]int{}
		for _, n := range lb.Nodes {
			nodes[n.Zone]++
			if n.InDNS {
				inDNS[n.Zone]++
			}
		}
		for zn, n := range nodes {
			gauge(ch, c.lbNodes, float64(n), name, zn)
			gauge(ch, c.lbDNSNodes, float64(inDNS[zn]), name, zn)
		}
	}
	if v.State != nil {
		seen := map[[3]string]bool{}
		for _, s := range v.State.ZonalShifts {
			res, name := "load_balancer", s.LoadBalancer
			if name == "" {
				res, name = "target_group", s.TargetGroup
			}
			k := [3]string{res, name, s.AwayFrom}
			if seen[k] { // validation allows one per resource; never export a duplicate series
				continue
			}
			seen[k] = true
			gauge(ch, c.shiftActive, b2f(s.ExpiresAt.After(v.Built)), k[:]...)
			gauge(ch, c.shiftExpiry, unix(s.ExpiresAt), k[:]...)
		}
	}
	for k, g := range v.Records {
		healthy := 0
		for _, r := range g.Records {
			if r.Healthy {
				healthy++
			}
		}
		l := []string{k.Zone, k.Name, string(k.Type), string(g.Policy)}
		gauge(ch, c.rgRecords, float64(len(g.Records)), l...)
		gauge(ch, c.rgHealthy, float64(healthy), l...)
		gauge(ch, c.rgFailingOpen, b2f(g.FailingOpen()), l...)
	}
}

func (c *stateCollector) collectHealth(ch chan<- prometheus.Metric, e *health.Engine) {
	counts := map[string]int{"healthy": 0, "unhealthy": 0, "unknown": 0}
	e.Snapshot().Each(func(k state.Key, st state.Status) {
		target := ""
		if k.Target.IsValid() {
			target = k.Target.String()
		}
		gauge(ch, c.checkHealthy, b2f(st.Healthy), k.Check, target)
		counts[st.Word()]++
	})
	for w, n := range counts {
		gauge(ch, c.checks, float64(n), w)
	}
	counter(ch, c.skipped, float64(e.Skipped()))
	counter(ch, c.late, float64(e.Late()))
	counter(ch, c.dropped, float64(e.DroppedEvents()))
}

func (c *stateCollector) collectDNS(ch chan<- prometheus.Metric, s *dnsserver.Stats) {
	counter(ch, c.dnsRequests, float64(s.Queries))
	counter(ch, c.dnsDropped, float64(s.Dropped))
	counter(ch, c.dnsTruncated, float64(s.Truncated))
	counter(ch, c.dnsPanics, float64(s.Panics))
	counter(ch, c.dnsTCPRejected, float64(s.TCPRejected))
	counter(ch, c.dnsRRL, float64(s.RRLDropped), "dropped")
	counter(ch, c.dnsRRL, float64(s.RRLSlipped), "slipped")
	counter(ch, c.dnsTransfers, float64(s.FullTransfers), "full")
	counter(ch, c.dnsTransfers, float64(s.IncrementalTransfers), "incremental")
	counter(ch, c.dnsTransfers, float64(s.TransfersRefused), "refused")
	counter(ch, c.dnsNotifies, float64(s.NotifiesSent), "sent")
	counter(ch, c.dnsNotifies, float64(s.NotifiesAcked), "acked")
	counter(ch, c.dnsNotifies, float64(s.NotifiesFailed), "failed")
	counter(ch, c.dnsTables, float64(s.Tables))
	counter(ch, c.dnsTableErrors, float64(s.TableErrors))
	gauge(ch, c.dnsFailingOpen, float64(s.FailingOpen))
	// The per-label maps are nil until the server counts them.
	for k, n := range s.ByType {
		counter(ch, c.dnsByType, float64(n), k)
	}
	for k, n := range s.ByRcode {
		counter(ch, c.dnsByRcode, float64(n), k)
	}
	for k, n := range s.ByPolicy {
		counter(ch, c.dnsByPolicy, float64(n), k)
	}
	for k, n := range s.ByRecordSet {
		counter(ch, c.dnsByRecordSet, float64(n), recordSetLabels(k)...)
	}
}

// recordSetLabels splits a Stats.ByRecordSet key, "name type
// set-identifier", into its three labels. A set identifier may hold spaces;
// a key with fewer parts gets empty labels.
func recordSetLabels(k string) []string {
	parts := strings.SplitN(k, " ", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return slices.Clip(parts)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
