// validate_test.go tests SetDefaults+Validate on a small valid document
// (base), one mutation per case, asserting the exact set of error paths and
// a piece of each message. Every limit has an accepted edge case and a
// refused case just past it.

package model

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// base returns a small valid document: two regions, two zones, an http
// health check, a hosted zone with a simple A record, a weighted pair and a
// failover pair, a CIDR collection, an http target group with a target in
// each zone, a load balancer with a node in each zone and an http listener
// forwarding to the group, and a zonal shift.
func base() *Document {
	return &Document{State: State{
		Regions: []Region{
			{Name: "eu-west-1", Latitude: ptr(53.35), Longitude: ptr(-6.26)},
			{Name: "us-east-1", Latitude: ptr(38.9), Longitude: ptr(-77.0)},
		},
		Zones: []Zone{
			{Name: "euw1-az1", Region: "eu-west-1"},
			{Name: "euw1-az2", Region: "eu-west-1"},
		},
		HealthChecks: []HealthCheck{
			{Name: "web", Probe: Probe{Type: CheckHTTP, Path: "/healthz"}, Address: "192.0.2.10"},
		},
		CIDRCollections: []CIDRCollection{{
			Name: "offices",
			Locations: []CIDRLocation{
				{Name: "berlin", CIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/48")}},
				{Name: "paris", CIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
			},
		}},
		HostedZones: []HostedZone{{
			Name: "example.com",
			Records: []RecordSet{
				{Name: "www.example.com", Type: "A", Values: []string{"192.0.2.1"}},
				{Name: "api.example.com", Type: "A", Values: []string{"192.0.2.2"}, SetIdentifier: "blue", Weight: ptr(1)},
				{Name: "api.example.com", Type: "A", Values: []string{"192.0.2.3"}, SetIdentifier: "green", Weight: ptr(1)},
				{Name: "app.example.com", Type: "A", Values: []string{"192.0.2.4"}, SetIdentifier: "main", Failover: Primary, HealthCheck: "web"},
				{Name: "app.example.com", Type: "A", Alias: &Alias{LoadBalancer: "edge", EvaluateTargetHealth: true}, SetIdentifier: "backup", Failover: Secondary},
			},
		}},
		TargetGroups: []TargetGroup{{
			Name:     "web",
			Protocol: ProtoHTTP,
			Port:     8080,
			Targets: []Target{
				{Address: netip.MustParseAddr("10.0.1.10"), Zone: "euw1-az1"},
				{Address: netip.MustParseAddr("10.0.2.10"), Zone: "euw1-az2"},
			},
		}},
		LoadBalancers: []LoadBalancer{{
			Name:    "edge",
			DNSName: "edge.example.com",
			Nodes: []Node{
				{Zone: "euw1-az1", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.101")}},
				{Zone: "euw1-az2", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.102")}},
			},
			Listeners: []Listener{{
				Protocol:      ProtoHTTP,
				Port:          80,
				DefaultAction: Action{Forward: &Forward{TargetGroups: []WeightedTargetGroup{{Name: "web"}}}},
			}},
		}},
		ZonalShifts: []ZonalShift{{
			LoadBalancer: "edge",
			AwayFrom:     "euw1-az2",
			ExpiresAt:    time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
			Comment:      "bad deploy in az2",
		}},
	}}
}

// Indexes of base's records.
const (
	recWWW = iota
	recBlue
	recGreen
	recMain
	recBackup
)

// Paths of base's resources, as Path.String renders them.
const (
	pHC    = "health_checks[web]"
	pZone  = "hosted_zones[example.com]"
	pTG    = "target_groups[web]"
	pLB    = "load_balancers[edge]"
	pL0    = pLB + ".listeners[0]"
	pShift = "zonal_shifts[0]"
	pColl  = "cidr_collections[offices]"
)

func pRec(name string) string { return pZone + ".records[" + name + "]" }

func rec(d *Document, i int) *RecordSet { return &d.HostedZones[0].Records[i] }
func addRecords(d *Document, rs ...RecordSet) {
	d.HostedZones[0].Records = append(d.HostedZones[0].Records, rs...)
}
func hc(d *Document) *HealthCheck  { return &d.HealthChecks[0] }
func tg(d *Document) *TargetGroup  { return &d.TargetGroups[0] }
func lb(d *Document) *LoadBalancer { return &d.LoadBalancers[0] }
func lis(d *Document) *Listener    { return &d.LoadBalancers[0].Listeners[0] }

// tcpGroup is a valid tcp target group with a target in each zone.
func tcpGroup(name string) TargetGroup {
	return TargetGroup{Name: name, Protocol: ProtoTCP, Port: 5432, Targets: []Target{
		{Address: netip.MustParseAddr("10.0.1.20"), Zone: "euw1-az1"},
		{Address: netip.MustParseAddr("10.0.2.20"), Zone: "euw1-az2"},
	}}
}

// forwardTo is a forward action to the named target groups.
func forwardTo(names ...string) Action {
	f := &Forward{}
	for _, n := range names {
		f.TargetGroups = append(f.TargetGroups, WeightedTargetGroup{Name: n})
	}
	return Action{Forward: f}
}

// dur parses a Go duration written in a test case.
func dur(s string) Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return Duration(d)
}

// calc is a calculated health check counting children.
func calc(name string, threshold int, children ...string) HealthCheck {
	return HealthCheck{Name: name, Probe: Probe{Type: CheckCalculated}, HealthThreshold: threshold, Children: children}
}

// aliasTo is an A record named name aliasing the record group target.
func aliasTo(name, target string) RecordSet {
	return RecordSet{Name: name, Type: "A", Alias: &Alias{Record: target}}
}

// wantErr is one expected FieldError: its path and a piece of its message.
type wantErr struct{ path, msg string }

type validateCase struct {
	name string
	mut  func(d *Document)
	want []wantErr // nil: the document is valid
}

// runValidate runs SetDefaults and Validate on base() changed by each case's
// mutation and checks the exact set of error paths and each message.
func runValidate(t *testing.T, cases []validateCase) {
	t.Helper()
	names := map[string]bool{}
	for _, tt := range cases {
		if names[tt.name] {
			t.Fatalf("case name %q is used twice", tt.name)
		}
		names[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			d := base()
			if tt.mut != nil {
				tt.mut(d)
			}
			d.SetDefaults()
			err := d.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			got, ok := AsErrors(err)
			if !ok {
				t.Fatalf("Validate() = %v (%T), want model.Errors", err, err)
			}
			var gotPaths, wantPaths []string
			for _, e := range got {
				gotPaths = append(gotPaths, e.Path.String())
			}
			for _, w := range tt.want {
				wantPaths = append(wantPaths, w.path)
			}
			slices.Sort(gotPaths)
			slices.Sort(wantPaths)
			if diff := cmp.Diff(wantPaths, gotPaths); diff != "" {
				t.Errorf("Validate() error paths mismatch (-want +got):\n%s\nerrors:\n%v", diff, err)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(got, func(e *FieldError) bool {
					return e.Path.String() == w.path && strings.Contains(e.Msg, w.msg)
				}) {
					t.Errorf("Validate() has no error at %s with message containing %q; errors:\n%v", w.path, w.msg, err)
				}
			}
		})
	}
}

func TestValidateBaseAndPlaces(t *testing.T) {
	runValidate(t, []validateCase{
		{name: "base/valid"},
		{name: "base/server-settings-valid", mut: func(d *Document) {
			d.Server.Admin.Listen = "[::1]:9090"
			d.Server.ShutdownTimeout = dur("1h")
		}},
		{name: "server/shutdown-timeout-above-1h", mut: func(d *Document) {
			d.Server.ShutdownTimeout = dur("1h0m1s")
		}, want: []wantErr{{"server.shutdown_timeout", "1h0m1s is above the maximum 1h"}}},
		{name: "server/shutdown-timeout-negative", mut: func(d *Document) {
			d.Server.ShutdownTimeout = dur("-1s")
		}, want: []wantErr{{"server.shutdown_timeout", "-1s is below the minimum 0s"}}},

		{name: "regions/without-coordinates-valid", mut: func(d *Document) {
			d.Regions = append(d.Regions, Region{Name: "ap-south-1"})
		}},
		{name: "regions/coordinate-edges-valid", mut: func(d *Document) {
			d.Regions[0].Latitude, d.Regions[0].Longitude = ptr(-90.0), ptr(180.0)
			d.Regions[1].Latitude, d.Regions[1].Longitude = ptr(90.0), ptr(-180.0)
		}},
		{name: "regions/latitude-above-90", mut: func(d *Document) {
			d.Regions[0].Latitude = ptr(90.5)
		}, want: []wantErr{{"regions[eu-west-1].latitude", "90.5 is out of range"}}},
		{name: "regions/longitude-below-minus-180", mut: func(d *Document) {
			d.Regions[0].Longitude = ptr(-180.5)
		}, want: []wantErr{{"regions[eu-west-1].longitude", "-180.5 is out of range"}}},
		{name: "regions/latitude-without-longitude", mut: func(d *Document) {
			d.Regions[0].Longitude = nil
		}, want: []wantErr{{"regions[eu-west-1]", "has only one of latitude and longitude"}}},
		{name: "regions/duplicate-name", mut: func(d *Document) {
			d.Regions = append(d.Regions, Region{Name: "eu-west-1"})
		}, want: []wantErr{{"regions[eu-west-1].name", `duplicate region name "eu-west-1"`}}},
		{name: "regions/invalid-name", mut: func(d *Document) {
			d.Regions = append(d.Regions, Region{Name: "eu west"})
		}, want: []wantErr{{"regions[eu west].name", `"eu west" is not a valid region name`}}},
		{name: "regions/empty-name", mut: func(d *Document) {
			d.Regions = append(d.Regions, Region{})
		}, want: []wantErr{{"regions[2].name", "a region needs a name"}}},

		{name: "zones/without-region-valid", mut: func(d *Document) {
			d.Zones = append(d.Zones, Zone{Name: "edge-1"})
		}},
		{name: "zones/undefined-region", mut: func(d *Document) {
			d.Zones[0].Region = "mars-1"
		}, want: []wantErr{{"zones[euw1-az1].region", `region "mars-1" is not defined`}}},
		{name: "zones/duplicate-name", mut: func(d *Document) {
			d.Zones = append(d.Zones, Zone{Name: "euw1-az1"})
		}, want: []wantErr{{"zones[euw1-az1].name", `duplicate zone name "euw1-az1"`}}},

		{name: "names/63-chars-valid", mut: func(d *Document) {
			name := strings.Repeat("g", 63)
			d.TargetGroups = append(d.TargetGroups, tcpGroup(name))
		}},
		{name: "names/64-chars", mut: func(d *Document) {
			d.TargetGroups = append(d.TargetGroups, tcpGroup(strings.Repeat("g", 64)))
		}, want: []wantErr{{"target_groups[" + strings.Repeat("g", 64) + "].name", "is not a valid target group name"}}},
		{name: "names/starts-with-dash", mut: func(d *Document) {
			d.TargetGroups = append(d.TargetGroups, tcpGroup("-db"))
		}, want: []wantErr{{"target_groups[-db].name", `"-db" is not a valid target group name`}}},
	})
}

func TestValidateHealthChecks(t *testing.T) {
	// Enough tcp checks to be the children of one calculated check.
	manyChecks := func(d *Document, n int) []string {
		var names []string
		for i := range n {
			name := fmt.Sprintf("c%d", i)
			names = append(names, name)
			d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: name, Probe: Probe{Type: CheckTCP, Port: 22}, Address: "192.0.2.20"})
		}
		return names
	}
	runValidate(t, []validateCase{
		// Interval 100ms–300s.
		{name: "interval/100ms-valid", mut: func(d *Document) { hc(d).Interval = dur("100ms") }},
		{name: "interval/300s-valid", mut: func(d *Document) { hc(d).Interval = dur("300s") }},
		{name: "interval/99ms", mut: func(d *Document) { hc(d).Interval = dur("99ms") },
			want: []wantErr{{pHC + ".interval", "99ms is below the minimum 100ms"}}},
		{name: "interval/300.001s", mut: func(d *Document) { hc(d).Interval = dur("300.001s") },
			want: []wantErr{{pHC + ".interval", "5m0.001s is above the maximum 5m"}}},
		{name: "interval/default-timeout-is-half-a-short-interval", mut: func(d *Document) {
			hc(d).Interval = dur("1s")
		}},

		// Timeout shorter than the interval; connect timeout up to the timeout.
		{name: "timeout/just-below-interval-valid", mut: func(d *Document) {
			hc(d).Interval, hc(d).Timeout = dur("1s"), dur("999ms")
		}},
		{name: "timeout/equals-interval", mut: func(d *Document) {
			hc(d).Interval, hc(d).Timeout = dur("1s"), dur("1s")
		}, want: []wantErr{{pHC + ".timeout", "1s is not shorter than the interval"}}},
		{name: "timeout/above-interval", mut: func(d *Document) {
			hc(d).Interval, hc(d).Timeout, hc(d).ConnectTimeout = dur("1s"), dur("2s"), dur("1s")
		}, want: []wantErr{{pHC + ".timeout", "2s is not shorter than the interval"}}},
		{name: "timeout/negative", mut: func(d *Document) {
			hc(d).Timeout = dur("-1s")
		}, want: []wantErr{
			{pHC + ".timeout", "-1s is not positive"},
			{pHC + ".connect_timeout", "-1s is out of range"}, // defaults to the timeout
		}},
		{name: "connect-timeout/equals-timeout-valid", mut: func(d *Document) {
			hc(d).Timeout, hc(d).ConnectTimeout = dur("2s"), dur("2s")
		}},
		{name: "connect-timeout/above-timeout", mut: func(d *Document) {
			hc(d).Timeout, hc(d).ConnectTimeout = dur("2s"), dur("2.001s")
		}, want: []wantErr{{pHC + ".connect_timeout", "2.001s is out of range"}}},

		// Thresholds 1–10.
		{name: "thresholds/1-and-10-valid", mut: func(d *Document) {
			hc(d).HealthyThreshold, hc(d).UnhealthyThreshold = 1, 10
		}},
		{name: "thresholds/healthy-11", mut: func(d *Document) { hc(d).HealthyThreshold = 11 },
			want: []wantErr{{pHC + ".healthy_threshold", "11 is out of range"}}},
		{name: "thresholds/unhealthy-negative", mut: func(d *Document) { hc(d).UnhealthyThreshold = -1 },
			want: []wantErr{{pHC + ".unhealthy_threshold", "-1 is out of range"}}},

		// Port 1–65535.
		{name: "port/1-valid", mut: func(d *Document) { hc(d).Port = 1 }},
		{name: "port/65535-valid", mut: func(d *Document) { hc(d).Port = 65535 }},
		{name: "port/65536", mut: func(d *Document) { hc(d).Port = 65536 },
			want: []wantErr{{pHC + ".port", "65536 is out of range"}}},
		{name: "port/negative", mut: func(d *Document) { hc(d).Port = -1 },
			want: []wantErr{{pHC + ".port", "-1 is out of range"}}},
		{name: "port/tcp-needs-one", mut: func(d *Document) { hc(d).Probe = Probe{Type: CheckTCP} },
			want: []wantErr{{pHC + ".port", "a tcp check needs a port"}}},
		{name: "port/grpc-needs-one", mut: func(d *Document) { hc(d).Probe = Probe{Type: CheckGRPC} },
			want: []wantErr{{pHC + ".port", "a grpc check needs a port"}}},

		// HTTP fields.
		{name: "path/1024-chars-valid", mut: func(d *Document) { hc(d).Path = "/" + strings.Repeat("p", 1023) }},
		{name: "path/1025-chars", mut: func(d *Document) { hc(d).Path = "/" + strings.Repeat("p", 1024) },
			want: []wantErr{{pHC + ".path", "is not a request path"}}},
		{name: "path/without-slash", mut: func(d *Document) { hc(d).Path = "healthz" },
			want: []wantErr{{pHC + ".path", `"healthz" is not a request path`}}},
		{name: "path/with-query-valid", mut: func(d *Document) { hc(d).Path = "/healthz?deep=1" }},
		{name: "method/head-valid", mut: func(d *Document) { hc(d).Method = "HEAD" }},
		{name: "method/lower-case", mut: func(d *Document) { hc(d).Method = "get" },
			want: []wantErr{{pHC + ".method", `"get" is not an HTTP method`}}},
		{name: "expected-status/list-valid", mut: func(d *Document) { hc(d).ExpectedStatus = "200-299, 301,404" }},
		{name: "expected-status/600", mut: func(d *Document) { hc(d).ExpectedStatus = "200,600" },
			want: []wantErr{{pHC + ".expected_status", `"600" is not a status code 100–599`}}},
		{name: "expected-status/backwards-range", mut: func(d *Document) { hc(d).ExpectedStatus = "399-200" },
			want: []wantErr{{pHC + ".expected_status", `range "399-200" ends before it starts`}}},
		{name: "search-string/255-chars-valid", mut: func(d *Document) { hc(d).SearchString = strings.Repeat("s", 255) }},
		{name: "search-string/256-chars", mut: func(d *Document) { hc(d).SearchString = strings.Repeat("s", 256) },
			want: []wantErr{{pHC + ".search_string", "is 256 chars long"}}},
		{name: "host/with-port-valid", mut: func(d *Document) { hc(d).Host = "www.example.com:8080" }},
		{name: "host/invalid", mut: func(d *Document) { hc(d).Host = "www example com" },
			want: []wantErr{{pHC + ".host", `"www example com" is not a host name`}}},
		{name: "https/sni-and-verify-valid", mut: func(d *Document) {
			hc(d).Type, hc(d).SNI, hc(d).VerifyTLS = CheckHTTPS, "www.example.com", true
		}},
		{name: "grpc/service-and-sni-valid", mut: func(d *Document) {
			hc(d).Probe = Probe{Type: CheckGRPC, Port: 50051, Service: "helloworld.Greeter", SNI: "grpc.example.com"}
		}},

		// Address.
		{name: "address/host-name-valid", mut: func(d *Document) { hc(d).Address = "origin.example.net" }},
		{name: "address/ipv6-valid", mut: func(d *Document) { hc(d).Address = "2001:db8::10" }},
		{name: "address/missing", mut: func(d *Document) { hc(d).Address = "" },
			want: []wantErr{{pHC + ".address", "http check needs an address"}}},
		{name: "address/invalid", mut: func(d *Document) { hc(d).Address = "origin..example.net" },
			want: []wantErr{{pHC + ".address", `"origin..example.net" is neither an IP address nor a host name: it has an empty label`}}},

		// Type and state.
		{name: "type/missing", mut: func(d *Document) { hc(d).Type = "" },
			want: []wantErr{{pHC + ".type", "is required"}}},
		{name: "type/not-canonical", mut: func(d *Document) { hc(d).Type = "HTTP" },
			want: []wantErr{{pHC + ".type", `"HTTP" cannot probe a target`}}},
		{name: "initial-state/unhealthy-valid", mut: func(d *Document) { hc(d).InitialState = Unhealthy }},
		{name: "initial-state/unknown", mut: func(d *Document) { hc(d).InitialState = "sick" },
			want: []wantErr{{pHC + ".initial_state", `"sick" is not a health state`}}},
		{name: "names/duplicate", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: "web", Probe: Probe{Type: CheckTCP, Port: 22}, Address: "192.0.2.11"})
		}, want: []wantErr{{pHC + ".name", `duplicate health check name "web"`}}},
		{name: "names/missing", mut: func(d *Document) { hc(d).Name = "" },
			want: []wantErr{
				{"health_checks[0].name", "a health check needs a name"},
				{pRec("app.example.com") + ".health_check", `health check "web" is not defined`},
			}},

		// Fields that do not apply to the check's type.
		{name: "not-applicable/tcp-with-http-and-tls-fields", mut: func(d *Document) {
			hc(d).Probe = Probe{Type: CheckTCP, Port: 22, Path: "/x", Method: "GET", ExpectedStatus: "200", SearchString: "ok", Host: "example.com", SNI: "example.com", VerifyTLS: true, Service: "svc"}
		}, want: []wantErr{
			{pHC + ".path", "a tcp check has no path"},
			{pHC + ".method", "a tcp check has no method"},
			{pHC + ".expected_status", "a tcp check has no expected_status"},
			{pHC + ".search_string", "a tcp check has no search_string"},
			{pHC + ".host", "a tcp check has no host"},
			{pHC + ".sni", "a tcp check sends no SNI"},
			{pHC + ".verify_tls", "a tcp check has no certificate to verify"},
			{pHC + ".service", "a tcp check has no gRPC service"},
		}},
		{name: "not-applicable/http-with-sni", mut: func(d *Document) { hc(d).SNI = "www.example.com" },
			want: []wantErr{{pHC + ".sni", "an http check sends no SNI"}}},
		{name: "not-applicable/https-with-service", mut: func(d *Document) {
			hc(d).Type, hc(d).Service = CheckHTTPS, "svc"
		}, want: []wantErr{{pHC + ".service", "an https check has no gRPC service"}}},
		{name: "not-applicable/http-with-children", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: "db", Probe: Probe{Type: CheckTCP, Port: 5432}, Address: "192.0.2.20"})
			hc(d).Children = []string{"db"}
		}, want: []wantErr{{pHC + ".children", "an http check has children"}}},
		{name: "not-applicable/http-with-expression", mut: func(d *Document) { hc(d).Expression = "up == 0" },
			want: []wantErr{{pHC + ".expression", "an http check has an expression"}}},
		{name: "not-applicable/http-with-health-threshold", mut: func(d *Document) { hc(d).HealthThreshold = 1 },
			want: []wantErr{{pHC + ".health_threshold", "an http check has no health_threshold"}}},
		{name: "not-applicable/calculated-with-address-and-port", mut: func(d *Document) {
			c := calc("all", 1, "web")
			c.Address, c.Port = "192.0.2.1", 80
			d.HealthChecks = append(d.HealthChecks, c)
		}, want: []wantErr{
			{"health_checks[all].address", "a calculated check has no address"},
			{"health_checks[all].port", "a calculated check has no port"},
		}},
		{name: "not-applicable/calculated-with-expression", mut: func(d *Document) {
			c := calc("all", 1, "web")
			c.Expression = "up == 0"
			d.HealthChecks = append(d.HealthChecks, c)
		}, want: []wantErr{{"health_checks[all].expression", "a calculated check has no expression"}}},
		{name: "not-applicable/metric-with-children-and-threshold", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: "slow", Probe: Probe{Type: CheckMetric}, Expression: "p99 > 0.25", Children: []string{"web"}, HealthThreshold: 1})
		}, want: []wantErr{
			{"health_checks[slow].children", "a metric check has no children"},
			{"health_checks[slow].health_threshold", "a metric check has no health_threshold"},
		}},
		{name: "not-applicable/metric-with-address", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: "slow", Probe: Probe{Type: CheckMetric}, Expression: "p99 > 0.25", Address: "192.0.2.1"})
		}, want: []wantErr{{"health_checks[slow].address", "a metric check has no address"}}},

		// Metric checks.
		{name: "metric/valid", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: "slow", Probe: Probe{Type: CheckMetric}, Expression: `p99(target_response_seconds{target_group="web"}[1m]) > 0.25`})
		}},
		{name: "metric/without-expression", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, HealthCheck{Name: "slow", Probe: Probe{Type: CheckMetric}})
		}, want: []wantErr{{"health_checks[slow].expression", "a metric check needs an expression"}}},

		// Calculated checks: threshold 0–256, at most 256 children, no cycles.
		{name: "calculated/valid", mut: func(d *Document) { d.HealthChecks = append(d.HealthChecks, calc("all", 1, "web")) }},
		{name: "calculated/threshold-0-valid", mut: func(d *Document) { d.HealthChecks = append(d.HealthChecks, calc("all", 0, "web")) }},
		{name: "calculated/threshold-256-valid", mut: func(d *Document) { d.HealthChecks = append(d.HealthChecks, calc("all", 256, "web")) }},
		{name: "calculated/threshold-257", mut: func(d *Document) { d.HealthChecks = append(d.HealthChecks, calc("all", 257, "web")) },
			want: []wantErr{{"health_checks[all].health_threshold", "257 is out of range"}}},
		{name: "calculated/threshold-negative", mut: func(d *Document) { d.HealthChecks = append(d.HealthChecks, calc("all", -1, "web")) },
			want: []wantErr{{"health_checks[all].health_threshold", "-1 is out of range"}}},
		{name: "calculated/256-children-valid", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("all", 1, manyChecks(d, 256)...))
		}},
		{name: "calculated/257-children", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("all", 1, manyChecks(d, 257)...))
		}, want: []wantErr{{"health_checks[all].children", "has 257 children"}}},
		{name: "calculated/undefined-child", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("all", 1, "web", "nope"))
		}, want: []wantErr{{"health_checks[all].children[1]", `health check "nope" is not defined`}}},
		{name: "calculated/child-twice", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("all", 1, "web", "web"))
		}, want: []wantErr{{"health_checks[all].children[1]", `"web" is listed twice`}}},
		{name: "calculated/self-reference", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("all", 1, "web", "all"))
		}, want: []wantErr{{"health_checks[all].children[1]", "a calculated check cannot count itself"}}},
		{name: "calculated/nested-without-cycle-valid", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("a", 1, "b"), calc("b", 1, "web"))
		}},
		{name: "calculated/diamond-valid", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("a", 2, "b", "c"), calc("b", 1, "web"), calc("c", 1, "web"))
		}},
		{name: "calculated/cycle-of-2", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("a", 1, "b"), calc("b", 1, "a"))
		}, want: []wantErr{
			{"health_checks[a].children", `health check "a" depends on itself`},
			{"health_checks[b].children", `health check "b" depends on itself`},
		}},
		{name: "calculated/cycle-of-3", mut: func(d *Document) {
			d.HealthChecks = append(d.HealthChecks, calc("a", 1, "b"), calc("b", 1, "c"), calc("c", 1, "web", "a"))
		}, want: []wantErr{
			{"health_checks[a].children", `health check "a" depends on itself`},
			{"health_checks[b].children", `health check "b" depends on itself`},
			{"health_checks[c].children", `health check "c" depends on itself`},
		}},
		{name: "calculated/leading-into-a-cycle", mut: func(d *Document) {
			// a is not on the cycle b→c→b; only b and c depend on themselves.
			d.HealthChecks = append(d.HealthChecks, calc("a", 1, "b"), calc("b", 1, "c"), calc("c", 1, "b"))
		}, want: []wantErr{
			{"health_checks[b].children", `health check "b" depends on itself`},
			{"health_checks[c].children", `health check "c" depends on itself`},
		}},

		// References from records.
		{name: "reference/undefined-health-check", mut: func(d *Document) { rec(d, recMain).HealthCheck = "nope" },
			want: []wantErr{{pRec("app.example.com") + ".health_check", `health check "nope" is not defined`}}},
	})
}

func TestValidateCIDRCollections(t *testing.T) {
	setCIDR := func(s string) func(d *Document) {
		return func(d *Document) { d.CIDRCollections[0].Locations[0].CIDRs = []netip.Prefix{netip.MustParsePrefix(s)} }
	}
	pCIDR := pColl + ".locations[berlin].cidrs[0]"
	runValidate(t, []validateCase{
		{name: "ipv4/slash-1-valid", mut: setCIDR("128.0.0.0/1")},
		{name: "ipv4/slash-24-valid", mut: setCIDR("192.0.2.0/24")},
		{name: "ipv4/slash-0", mut: setCIDR("0.0.0.0/0"),
			want: []wantErr{{pCIDR, "prefix length /0 is out of range"}}},
		{name: "ipv4/slash-25", mut: setCIDR("192.0.2.0/25"),
			want: []wantErr{{pCIDR, "prefix length /25 is out of range"}}},
		{name: "ipv6/slash-1-valid", mut: setCIDR("8000::/1")},
		{name: "ipv6/slash-48-valid", mut: setCIDR("2001:db8:1::/48")},
		{name: "ipv6/slash-0", mut: setCIDR("::/0"),
			want: []wantErr{{pCIDR, "prefix length /0 is out of range"}}},
		{name: "ipv6/slash-49", mut: setCIDR("2001:db8:1::/49"),
			want: []wantErr{{pCIDR, "prefix length /49 is out of range"}}},
		{name: "host-bits-set", mut: setCIDR("192.0.2.1/24"),
			want: []wantErr{{pCIDR, "192.0.2.1/24 has host bits set"}}},
		{name: "location/16-chars-valid", mut: func(d *Document) {
			d.CIDRCollections[0].Locations[1].Name = strings.Repeat("l", 16)
		}},
		{name: "location/17-chars", mut: func(d *Document) {
			d.CIDRCollections[0].Locations[1].Name = strings.Repeat("l", 17)
		}, want: []wantErr{{pColl + ".locations[" + strings.Repeat("l", 17) + "].name", "is not a location name"}}},
		{name: "location/star", mut: func(d *Document) { d.CIDRCollections[0].Locations[1].Name = "*" },
			want: []wantErr{{pColl + ".locations[*].name", `"*" is not a location name`}}},
		{name: "location/duplicate", mut: func(d *Document) { d.CIDRCollections[0].Locations[1].Name = "berlin" },
			want: []wantErr{{pColl + ".locations[berlin].name", `duplicate location "berlin"`}}},
		{name: "collection/duplicate-name", mut: func(d *Document) {
			d.CIDRCollections = append(d.CIDRCollections, CIDRCollection{Name: "offices"})
		}, want: []wantErr{{pColl + ".name", `duplicate CIDR collection name "offices"`}}},
	})
}

func TestValidateHostedZonesAndRecords(t *testing.T) {
	// name253 is a name of exactly 253 characters in example.com.
	name253 := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 49) + ".example.com"
	name254 := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 50) + ".example.com"
	setValue := func(typ RecordType, vals ...string) func(d *Document) {
		return func(d *Document) { rec(d, recWWW).Type, rec(d, recWWW).Values = typ, vals }
	}
	pWWW := pRec("www.example.com")
	manyAddrs := func(n int) []string {
		var vs []string
		a := netip.MustParseAddr("10.0.0.1")
		for range n {
			vs = append(vs, a.String())
			a = a.Next()
		}
		return vs
	}
	runValidate(t, []validateCase{
		// Zones.
		{name: "zone/second-zone-valid", mut: func(d *Document) {
			d.HostedZones = append(d.HostedZones, HostedZone{Name: "example.org.", Records: []RecordSet{{Name: "example.org.", Type: "A", Values: []string{"192.0.2.9"}}}})
		}},
		{name: "zone/invalid-name", mut: func(d *Document) { d.HostedZones[0].Name = "example..com" },
			want: []wantErr{{"hosted_zones[example..com].name", `"example..com" is not a valid zone name: it has an empty label`}}},
		{name: "zone/duplicate-name-other-spelling", mut: func(d *Document) {
			d.HostedZones = append(d.HostedZones, HostedZone{Name: "EXAMPLE.COM."})
		}, want: []wantErr{{"hosted_zones[EXAMPLE.COM.].name", `duplicate hosted zone "EXAMPLE.COM."`}}},
		{name: "zone/invalid-name-server", mut: func(d *Document) {
			d.HostedZones[0].NameServers = []string{"ns1.example.com.", "ns 2.example.com."}
		}, want: []wantErr{{pZone + ".name_servers[1]", `"ns 2.example.com." is not a host name`}}},
		{name: "zone/soa-1s-valid", mut: func(d *Document) { d.HostedZones[0].SOA.Retry = dur("1s") }},
		{name: "zone/soa-below-1s", mut: func(d *Document) { d.HostedZones[0].SOA.Refresh = dur("999ms") },
			want: []wantErr{{pZone + ".soa.refresh", "999ms is below the minimum 1s"}}},
		{name: "zone/soa-rname-invalid", mut: func(d *Document) { d.HostedZones[0].SOA.RName = "host master.example.com." },
			want: []wantErr{{pZone + ".soa.rname", "is not a domain name"}}},

		// Record names.
		{name: "name/apex-valid", mut: func(d *Document) { rec(d, recWWW).Name = "example.com." }},
		{name: "name/wildcard-valid", mut: func(d *Document) { rec(d, recWWW).Name = "*.example.com" }},
		{name: "name/mixed-case-groups-with-lower", mut: func(d *Document) {
			rec(d, recGreen).Name = "API.Example.Com."
		}},
		{name: "name/wildcard-not-first", mut: func(d *Document) { rec(d, recWWW).Name = "www.*.example.com" },
			want: []wantErr{{pRec("www.*.example.com") + ".name", `has "*" where only a first label of a record name may have it`}}},
		{name: "name/253-chars-valid", mut: func(d *Document) { rec(d, recWWW).Name = name253 }},
		{name: "name/254-chars", mut: func(d *Document) { rec(d, recWWW).Name = name254 },
			want: []wantErr{{pRec(name254) + ".name", "is 254 characters long, above the maximum 253"}}},
		{name: "name/label-63-chars-valid", mut: func(d *Document) { rec(d, recWWW).Name = strings.Repeat("l", 63) + ".example.com" }},
		{name: "name/label-64-chars", mut: func(d *Document) { rec(d, recWWW).Name = strings.Repeat("l", 64) + ".example.com" },
			want: []wantErr{{pRec(strings.Repeat("l", 64)+".example.com") + ".name", "has a label of 64 characters, above the maximum 63"}}},
		{name: "name/bad-character", mut: func(d *Document) { rec(d, recWWW).Name = "w w.example.com" },
			want: []wantErr{{pRec("w w.example.com") + ".name", `has ' ' in label "w w"`}}},
		{name: "name/outside-zone", mut: func(d *Document) { rec(d, recWWW).Name = "www.example.org" },
			want: []wantErr{{pRec("www.example.org") + ".name", `"www.example.org" is not inside hosted zone example.com.`}}},
		{name: "name/suffix-but-not-inside-zone", mut: func(d *Document) { rec(d, recWWW).Name = "www.badexample.com" },
			want: []wantErr{{pRec("www.badexample.com") + ".name", "is not inside hosted zone example.com."}}},

		// Types and values.
		{name: "type/missing", mut: func(d *Document) { rec(d, recWWW).Type = "" },
			want: []wantErr{{pWWW + ".type", "is required"}}},
		{name: "type/not-canonical", mut: func(d *Document) { rec(d, recWWW).Type = "a" },
			want: []wantErr{{pWWW + ".type", `"a" is not a record type`}}},
		{name: "values/missing", mut: setValue("A"),
			want: []wantErr{{pWWW + ".values", "a record needs values"}}},
		{name: "values/bad-A", mut: setValue("A", "192.0.2.1", "192.0.2.256"),
			want: []wantErr{{pWWW + ".values[1]", `"192.0.2.256" is not valid A data: not an IPv4 address`}}},
		{name: "values/A-given-IPv6", mut: setValue("A", "2001:db8::1"),
			want: []wantErr{{pWWW + ".values[0]", "not an IPv4 address"}}},
		{name: "values/AAAA-valid", mut: setValue("AAAA", "2001:db8::1")},
		{name: "values/AAAA-given-IPv4", mut: setValue("AAAA", "192.0.2.1"),
			want: []wantErr{{pWWW + ".values[0]", `"192.0.2.1" is not valid AAAA data: not an IPv6 address`}}},
		{name: "values/AAAA-given-IPv4-mapped", mut: setValue("AAAA", "::ffff:192.0.2.1"),
			want: []wantErr{{pWWW + ".values[0]", "not an IPv6 address"}}},
		{name: "values/MX-valid", mut: setValue("MX", "10 mail.example.com.")},
		{name: "values/MX-without-preference", mut: setValue("MX", "mail.example.com."),
			want: []wantErr{{pWWW + ".values[0]", `"mail.example.com." is not valid MX data`}}},
		{name: "values/other-types-valid", mut: func(d *Document) {
			addRecords(d,
				RecordSet{Name: "example.com", Type: "TXT", Values: []string{`"v=spf1 -all"`}},
				RecordSet{Name: "example.com", Type: "CAA", Values: []string{`0 issue "letsencrypt.org"`}},
				RecordSet{Name: "_sip._tcp.example.com", Type: "SRV", Values: []string{"10 5 5060 sip.example.com."}},
				RecordSet{Name: "blog.example.com", Type: "CNAME", Values: []string{"www.example.com."}},
			)
		}},
		{name: "values/400-valid", mut: setValue("A", manyAddrs(400)...)},
		{name: "values/401", mut: setValue("A", manyAddrs(401)...),
			want: []wantErr{{pWWW + ".values", "has 401 values"}}},

		// TTL 0s–68 years; none on aliases.
		{name: "ttl/0s-valid", mut: func(d *Document) { rec(d, recWWW).TTL = ptr(dur("0s")) }},
		{name: "ttl/max-valid", mut: func(d *Document) { rec(d, recWWW).TTL = ptr(Duration(2147483647 * time.Second)) }},
		{name: "ttl/above-max", mut: func(d *Document) { rec(d, recWWW).TTL = ptr(Duration(2147483648 * time.Second)) },
			want: []wantErr{{pWWW + ".ttl", "is above the maximum"}}},
		{name: "ttl/negative", mut: func(d *Document) { rec(d, recWWW).TTL = ptr(dur("-1s")) },
			want: []wantErr{{pWWW + ".ttl", "-1s is below the minimum 0s"}}},
		{name: "ttl/on-alias", mut: func(d *Document) { rec(d, recBackup).TTL = ptr(dur("60s")) },
			want: []wantErr{{pRec("app.example.com") + ".ttl", "an alias record has no TTL"}}},

		// CNAME.
		{name: "cname/at-apex", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "example.com", Type: "CNAME", Values: []string{"www.example.com."}})
		}, want: []wantErr{{pRec("example.com") + ".type", "a CNAME cannot be at the zone apex"}}},
		{name: "cname/beside-other-data", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "www.example.com.", Type: "CNAME", Values: []string{"api.example.com."}})
		}, want: []wantErr{{pRec("www.example.com.") + ".type", "www.example.com. also has A records"}}},
		{name: "cname/beside-alias", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "app.example.com", Type: "CNAME", Values: []string{"api.example.com."}})
		}, want: []wantErr{{pRec("app.example.com") + ".type", "app.example.com. also has A records"}}},
		{name: "cname/two-values", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "blog.example.com", Type: "CNAME", Values: []string{"a.example.net.", "b.example.net."}})
		}, want: []wantErr{{pRec("blog.example.com") + ".values", "a CNAME has 2 values"}}},
	})
}

func TestValidateRoutingPolicies(t *testing.T) {
	// many returns n records of many.example.com made by f, with distinct set identifiers.
	many := func(n int, f func(i int) RecordSet) []RecordSet {
		var rs []RecordSet
		for i := range n {
			r := f(i)
			r.Name, r.Type, r.SetIdentifier = "many.example.com", "A", fmt.Sprintf("r%d", i)
			rs = append(rs, r)
		}
		return rs
	}
	weightedRec := func(i int) RecordSet { return RecordSet{Values: []string{"192.0.2.80"}, Weight: ptr(1)} }
	proxRec := func(i int) RecordSet {
		return RecordSet{Values: []string{"192.0.2.80"}, Geoproximity: &Geoproximity{Latitude: ptr(float64(i)), Longitude: ptr(0.0)}}
	}
	pAPI := pRec("api.example.com")
	pApp := pRec("app.example.com")
	pGeo := pRec("geo.example.com")
	pProx := pRec("near.example.com")
	pMV := pRec("mv.example.com")
	pOff := pRec("office.example.com")
	pLat := pRec("lat.example.com")
	latency := func(id, region string) RecordSet {
		return RecordSet{Name: "lat.example.com", Type: "A", Values: []string{"192.0.2.30"}, SetIdentifier: id, Region: region}
	}
	geo := func(id string, g Geolocation) RecordSet {
		return RecordSet{Name: "geo.example.com", Type: "A", Values: []string{"192.0.2.40"}, SetIdentifier: id, Geolocation: &g}
	}
	prox := func(id string, g Geoproximity) RecordSet {
		return RecordSet{Name: "near.example.com", Type: "A", Values: []string{"192.0.2.50"}, SetIdentifier: id, Geoproximity: &g}
	}
	mv := func(id string) RecordSet {
		return RecordSet{Name: "mv.example.com", Type: "A", Values: []string{"192.0.2.60"}, SetIdentifier: id, Multivalue: true}
	}
	cidr := func(id, coll, loc string) RecordSet {
		return RecordSet{Name: "office.example.com", Type: "A", Values: []string{"192.0.2.70"}, SetIdentifier: id, CIDR: &CIDRRouting{Collection: coll, Location: loc}}
	}
	runValidate(t, []validateCase{
		// Mixed policies in one group.
		{name: "mixed/weighted-then-latency", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "api.example.com", Type: "A", Values: []string{"192.0.2.9"}, SetIdentifier: "eu", Region: "eu-west-1"})
		}, want: []wantErr{{pAPI, "routing policy latency differs from weighted"}}},
		{name: "mixed/failover-then-weighted", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "app.example.com", Type: "A", Values: []string{"192.0.2.9"}, SetIdentifier: "w", Weight: ptr(1)})
		}, want: []wantErr{{pApp, "routing policy weighted differs from failover"}}},
		{name: "mixed/geolocation-then-weighted", mut: func(d *Document) {
			addRecords(d, geo("de", Geolocation{Country: "DE"}),
				RecordSet{Name: "geo.example.com", Type: "A", Values: []string{"192.0.2.9"}, SetIdentifier: "w", Weight: ptr(1)})
		}, want: []wantErr{{pGeo, "routing policy weighted differs from geolocation"}}},
		{name: "mixed/geoproximity-then-simple", mut: func(d *Document) {
			addRecords(d, prox("eu", Geoproximity{Region: "eu-west-1"}),
				RecordSet{Name: "near.example.com", Type: "A", Values: []string{"192.0.2.9"}})
		}, want: []wantErr{{pProx, "routing policy simple differs from geoproximity"}}},
		{name: "mixed/cidr-then-multivalue", mut: func(d *Document) {
			addRecords(d, cidr("berlin", "offices", "berlin"), mv("x"))
			rec(d, len(d.HostedZones[0].Records)-1).Name = "office.example.com"
		}, want: []wantErr{{pOff, "routing policy multivalue differs from cidr"}}},
		{name: "mixed/simple-then-weighted", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "www.example.com", Type: "A", Values: []string{"192.0.2.9"}, SetIdentifier: "w", Weight: ptr(1)})
		}, want: []wantErr{{pRec("www.example.com"), "routing policy weighted differs from simple"}}},
		{name: "mixed/two-policies-in-one-record", mut: func(d *Document) {
			rec(d, recGreen).Region = "eu-west-1"
		}, want: []wantErr{{pAPI, "sets fields of several routing policies: weighted, latency"}}},
		{name: "mixed/same-name-other-type-valid", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "api.example.com", Type: "AAAA", Values: []string{"2001:db8::2"}})
		}},

		// Simple.
		{name: "simple/two-records", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "WWW.example.com.", Type: "A", Values: []string{"192.0.2.9"}})
		}, want: []wantErr{{pRec("WWW.example.com."), "second simple record for www.example.com. A"}}},
		{name: "simple/health-check", mut: func(d *Document) { rec(d, recWWW).HealthCheck = "web" },
			want: []wantErr{{pRec("www.example.com") + ".health_check", "a simple record cannot have a health check"}}},
		{name: "simple/set-identifier", mut: func(d *Document) { rec(d, recWWW).SetIdentifier = "x" },
			want: []wantErr{{pRec("www.example.com") + ".set_identifier", "a simple record has no set identifier"}}},
		{name: "simple/alias-valid", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "example.com", Type: "A", Alias: &Alias{LoadBalancer: "edge"}})
		}},

		// Set identifiers: 1–128 chars, unique in the group.
		{name: "set-identifier/missing", mut: func(d *Document) { rec(d, recBlue).SetIdentifier = "" },
			want: []wantErr{{pAPI + ".set_identifier", "a weighted record needs a set identifier"}}},
		{name: "set-identifier/duplicate", mut: func(d *Document) { rec(d, recGreen).SetIdentifier = "blue" },
			want: []wantErr{{pAPI + ".set_identifier", `duplicate set identifier "blue"`}}},
		{name: "set-identifier/128-chars-valid", mut: func(d *Document) { rec(d, recGreen).SetIdentifier = strings.Repeat("s", 128) }},
		{name: "set-identifier/129-chars", mut: func(d *Document) { rec(d, recGreen).SetIdentifier = strings.Repeat("s", 129) },
			want: []wantErr{{pAPI + ".set_identifier", "is 129 chars long"}}},
		{name: "set-identifier/same-in-other-group-valid", mut: func(d *Document) { rec(d, recMain).SetIdentifier = "blue" }},

		// Weighted: weight 0–255, one TTL, one value.
		{name: "weighted/weight-0-valid", mut: func(d *Document) { rec(d, recBlue).Weight = ptr(0) }},
		{name: "weighted/weight-255-valid", mut: func(d *Document) { rec(d, recBlue).Weight = ptr(255) }},
		{name: "weighted/weight-256", mut: func(d *Document) { rec(d, recBlue).Weight = ptr(256) },
			want: []wantErr{{pAPI + ".weight", "256 is out of range"}}},
		{name: "weighted/weight-negative", mut: func(d *Document) { rec(d, recBlue).Weight = ptr(-1) },
			want: []wantErr{{pAPI + ".weight", "-1 is out of range"}}},
		{name: "weighted/ttl-mismatch", mut: func(d *Document) { rec(d, recGreen).TTL = ptr(dur("60s")) },
			want: []wantErr{{pAPI + ".ttl", "1m0s differs from the group's 5m0s"}}},
		{name: "weighted/same-explicit-ttl-valid", mut: func(d *Document) {
			rec(d, recBlue).TTL, rec(d, recGreen).TTL = ptr(dur("60s")), ptr(dur("1m"))
		}},
		{name: "weighted/alias-beside-values-valid", mut: func(d *Document) {
			*rec(d, recGreen) = RecordSet{Name: "api.example.com", Type: "A", Alias: &Alias{LoadBalancer: "edge"}, SetIdentifier: "green", Weight: ptr(1)}
		}},
		{name: "weighted/two-values", mut: func(d *Document) { rec(d, recBlue).Values = []string{"192.0.2.2", "192.0.2.5"} },
			want: []wantErr{{pAPI + ".values", "has 2 values"}}},

		// Failover.
		{name: "failover/second-primary", mut: func(d *Document) { rec(d, recBackup).Failover = Primary },
			want: []wantErr{{pApp + ".failover", "second PRIMARY for app.example.com. A"}}},
		{name: "failover/second-secondary", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "app.example.com", Type: "A", Values: []string{"192.0.2.9"}, SetIdentifier: "third", Failover: Secondary})
		}, want: []wantErr{{pApp + ".failover", "second SECONDARY for app.example.com. A"}}},
		{name: "failover/primary-without-health-check", mut: func(d *Document) { rec(d, recMain).HealthCheck = "" },
			want: []wantErr{{pApp + ".health_check", "a non-alias PRIMARY record needs a health check"}}},
		{name: "failover/alias-primary-without-health-check-valid", mut: func(d *Document) {
			rec(d, recMain).Failover, rec(d, recBackup).Failover = Secondary, Primary
		}},
		{name: "failover/secondary-without-health-check-valid", mut: func(d *Document) {
			*rec(d, recBackup) = RecordSet{Name: "app.example.com", Type: "A", Values: []string{"192.0.2.5"}, SetIdentifier: "backup", Failover: Secondary}
		}},
		{name: "failover/alias-without-evaluate-target-health", mut: func(d *Document) { rec(d, recBackup).Alias.EvaluateTargetHealth = false },
			want: []wantErr{{pApp + ".alias.evaluate_target_health", "a failover alias must evaluate target health"}}},
		{name: "failover/role-not-canonical", mut: func(d *Document) {
			rec(d, recMain).Failover = "primary"
			rec(d, recMain).HealthCheck = ""
		}, want: []wantErr{{pApp + ".failover", `"primary" is not a failover role`}}},
		{name: "failover/multiple-values-valid", mut: func(d *Document) { rec(d, recMain).Values = []string{"192.0.2.4", "192.0.2.5"} }},

		// Latency.
		{name: "latency/valid", mut: func(d *Document) { addRecords(d, latency("eu", "eu-west-1"), latency("us", "us-east-1")) }},
		{name: "latency/duplicate-region", mut: func(d *Document) { addRecords(d, latency("eu", "eu-west-1"), latency("eu2", "eu-west-1")) },
			want: []wantErr{{pLat + ".region", "region eu-west-1 is also served"}}},
		{name: "latency/undefined-region", mut: func(d *Document) { addRecords(d, latency("eu", "eu-west-1"), latency("ap", "ap-south-1")) },
			want: []wantErr{{pLat + ".region", `region "ap-south-1" is not defined`}}},
		{name: "latency/two-values", mut: func(d *Document) {
			r := latency("eu", "eu-west-1")
			r.Values = []string{"192.0.2.30", "192.0.2.31"}
			addRecords(d, r)
		}, want: []wantErr{{pLat + ".values", "has 2 values"}}},

		// Geolocation.
		{name: "geolocation/valid", mut: func(d *Document) {
			addRecords(d,
				geo("eu", Geolocation{Continent: "EU"}),
				geo("de", Geolocation{Country: "DE"}),
				geo("us-ca", Geolocation{Country: "US", Subdivision: "CA"}),
				geo("us", Geolocation{Country: "US"}),
				geo("default", Geolocation{Country: "*"}),
			)
		}},
		{name: "geolocation/unknown-continent", mut: func(d *Document) { addRecords(d, geo("x", Geolocation{Continent: "XX"})) },
			want: []wantErr{{pGeo + ".geolocation.continent", `"XX" is not a continent code`}}},
		{name: "geolocation/continent-and-country", mut: func(d *Document) {
			addRecords(d, geo("x", Geolocation{Continent: "EU", Country: "DE"}))
		}, want: []wantErr{{pGeo + ".geolocation", "sets both a continent and a country"}}},
		{name: "geolocation/lower-case-country", mut: func(d *Document) { addRecords(d, geo("x", Geolocation{Country: "de"})) },
			want: []wantErr{{pGeo + ".geolocation.country", `"de" is not a country code`}}},
		{name: "geolocation/three-letter-country", mut: func(d *Document) { addRecords(d, geo("x", Geolocation{Country: "DEU"})) },
			want: []wantErr{{pGeo + ".geolocation.country", `"DEU" is not a country code`}}},
		{name: "geolocation/bad-subdivision", mut: func(d *Document) {
			addRecords(d, geo("x", Geolocation{Country: "US", Subdivision: "CALI"}))
		}, want: []wantErr{{pGeo + ".geolocation.subdivision", `"CALI" is not a subdivision code`}}},
		{name: "geolocation/default-with-subdivision", mut: func(d *Document) {
			addRecords(d, geo("x", Geolocation{Country: "*", Subdivision: "CA"}))
		}, want: []wantErr{{pGeo + ".geolocation.subdivision", "the default location has no subdivision"}}},
		{name: "geolocation/subdivision-without-country", mut: func(d *Document) {
			addRecords(d, geo("x", Geolocation{Subdivision: "CA"}))
		}, want: []wantErr{{pGeo + ".geolocation", "names no location"}}},
		{name: "geolocation/no-location", mut: func(d *Document) { addRecords(d, geo("x", Geolocation{})) },
			want: []wantErr{{pGeo + ".geolocation", "names no location"}}},
		{name: "geolocation/duplicate-country", mut: func(d *Document) {
			addRecords(d, geo("a", Geolocation{Country: "DE"}), geo("b", Geolocation{Country: "DE"}))
		}, want: []wantErr{{pGeo + ".geolocation", "geolocation DE is also served"}}},
		{name: "geolocation/duplicate-continent", mut: func(d *Document) {
			addRecords(d, geo("a", Geolocation{Continent: "EU"}), geo("b", Geolocation{Continent: "EU"}))
		}, want: []wantErr{{pGeo + ".geolocation", "geolocation continent EU is also served"}}},
		{name: "geolocation/duplicate-subdivision", mut: func(d *Document) {
			addRecords(d, geo("a", Geolocation{Country: "US", Subdivision: "CA"}), geo("b", Geolocation{Country: "US", Subdivision: "CA"}))
		}, want: []wantErr{{pGeo + ".geolocation", "geolocation US-CA is also served"}}},
		{name: "geolocation/duplicate-default", mut: func(d *Document) {
			addRecords(d, geo("a", Geolocation{Country: "*"}), geo("b", Geolocation{Country: "*"}))
		}, want: []wantErr{{pGeo + ".geolocation", "geolocation * is also served"}}},

		// Geoproximity: a region with coordinates or coordinates; bias −99…99.
		{name: "geoproximity/valid", mut: func(d *Document) {
			addRecords(d,
				prox("eu", Geoproximity{Region: "eu-west-1", Bias: -99}),
				prox("us", Geoproximity{Region: "us-east-1", Bias: 99}),
				prox("pt", Geoproximity{Latitude: ptr(-90.0), Longitude: ptr(180.0)}),
				prox("pt2", Geoproximity{Latitude: ptr(90.0), Longitude: ptr(-180.0)}),
			)
		}},
		{name: "geoproximity/bias-100", mut: func(d *Document) { addRecords(d, prox("eu", Geoproximity{Region: "eu-west-1", Bias: 100})) },
			want: []wantErr{{pProx + ".geoproximity.bias", "100 is out of range"}}},
		{name: "geoproximity/bias-minus-100", mut: func(d *Document) { addRecords(d, prox("eu", Geoproximity{Region: "eu-west-1", Bias: -100})) },
			want: []wantErr{{pProx + ".geoproximity.bias", "-100 is out of range"}}},
		{name: "geoproximity/region-without-coordinates", mut: func(d *Document) {
			d.Regions = append(d.Regions, Region{Name: "ap-south-1"})
			addRecords(d, prox("ap", Geoproximity{Region: "ap-south-1"}))
		}, want: []wantErr{{pProx + ".geoproximity.region", `region "ap-south-1" has no coordinates`}}},
		{name: "geoproximity/undefined-region", mut: func(d *Document) { addRecords(d, prox("ap", Geoproximity{Region: "ap-south-1"})) },
			want: []wantErr{{pProx + ".geoproximity.region", `region "ap-south-1" is not defined`}}},
		{name: "geoproximity/region-and-coordinates", mut: func(d *Document) {
			addRecords(d, prox("eu", Geoproximity{Region: "eu-west-1", Latitude: ptr(1.0), Longitude: ptr(2.0)}))
		}, want: []wantErr{{pProx + ".geoproximity", "sets both a region and coordinates"}}},
		{name: "geoproximity/only-latitude", mut: func(d *Document) { addRecords(d, prox("x", Geoproximity{Latitude: ptr(1.0)})) },
			want: []wantErr{{pProx + ".geoproximity", "needs a location"}}},
		{name: "geoproximity/latitude-out-of-range", mut: func(d *Document) {
			addRecords(d, prox("x", Geoproximity{Latitude: ptr(-90.5), Longitude: ptr(180.5)}))
		}, want: []wantErr{
			{pProx + ".geoproximity.latitude", "-90.5 is out of range"},
			{pProx + ".geoproximity.longitude", "180.5 is out of range"},
		}},

		// Multivalue.
		{name: "multivalue/valid", mut: func(d *Document) {
			r := mv("b")
			r.HealthCheck = "web"
			addRecords(d, mv("a"), r)
		}},
		{name: "multivalue/wrong-type", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "mv.example.com", Type: "CNAME", Values: []string{"www.example.com."}, SetIdentifier: "a", Multivalue: true})
		}, want: []wantErr{{pMV + ".type", "type CNAME cannot be a multivalue answer"}}},
		{name: "multivalue/alias", mut: func(d *Document) {
			addRecords(d, mv("a"), RecordSet{Name: "mv.example.com", Type: "A", Alias: &Alias{LoadBalancer: "edge"}, SetIdentifier: "b", Multivalue: true})
		}, want: []wantErr{{pMV + ".alias", "a multivalue record cannot be an alias"}}},
		{name: "multivalue/two-values", mut: func(d *Document) {
			r := mv("a")
			r.Values = []string{"192.0.2.60", "192.0.2.61"}
			addRecords(d, r)
		}, want: []wantErr{{pMV + ".values", "has 2 values"}}},

		// Records per group: 100, 30 for geoproximity.
		{name: "limits/100-weighted-valid", mut: func(d *Document) { addRecords(d, many(100, weightedRec)...) }},
		{name: "limits/101-weighted", mut: func(d *Document) { addRecords(d, many(101, weightedRec)...) },
			want: []wantErr{{pRec("many.example.com"), "group many.example.com. A has 101 records"}}},
		{name: "limits/30-geoproximity-valid", mut: func(d *Document) { addRecords(d, many(30, proxRec)...) }},
		{name: "limits/31-geoproximity", mut: func(d *Document) { addRecords(d, many(31, proxRec)...) },
			want: []wantErr{{pRec("many.example.com"), "group many.example.com. A has 31 records"}}},

		// IP-based (CIDR).
		{name: "cidr/valid", mut: func(d *Document) {
			addRecords(d, cidr("berlin", "offices", "berlin"), cidr("paris", "offices", "paris"), cidr("rest", "offices", "*"))
		}},
		{name: "cidr/collection-mismatch", mut: func(d *Document) {
			d.CIDRCollections = append(d.CIDRCollections, CIDRCollection{Name: "dcs", Locations: []CIDRLocation{{Name: "fra", CIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}}})
			addRecords(d, cidr("berlin", "offices", "berlin"), cidr("fra", "dcs", "fra"))
		}, want: []wantErr{{pOff + ".cidr.collection", `collection "dcs" differs from "offices"`}}},
		{name: "cidr/undefined-collection", mut: func(d *Document) { addRecords(d, cidr("x", "nope", "berlin")) },
			want: []wantErr{{pOff + ".cidr.collection", `CIDR collection "nope" is not defined`}}},
		{name: "cidr/unknown-location", mut: func(d *Document) { addRecords(d, cidr("x", "offices", "rome")) },
			want: []wantErr{{pOff + ".cidr.location", `location "rome" is not in collection "offices"`}}},
		{name: "cidr/duplicate-location", mut: func(d *Document) {
			addRecords(d, cidr("a", "offices", "berlin"), cidr("b", "offices", "berlin"))
		}, want: []wantErr{{pOff + ".cidr.location", `location "berlin" is also served`}}},
	})
}

func TestValidateAliases(t *testing.T) {
	runValidate(t, []validateCase{
		{name: "record/valid", mut: func(d *Document) { addRecords(d, aliasTo("w2.example.com", "www.example.com")) }},
		{name: "record/chain-valid", mut: func(d *Document) {
			addRecords(d, aliasTo("a.example.com", "b.example.com"), aliasTo("b.example.com", "WWW.example.com."))
		}},
		{name: "record/to-weighted-group-valid", mut: func(d *Document) {
			r := aliasTo("w2.example.com", "api.example.com")
			r.Alias.EvaluateTargetHealth = true
			addRecords(d, r)
		}},
		{name: "record/nonexistent", mut: func(d *Document) { addRecords(d, aliasTo("a.example.com", "nope.example.com")) },
			want: []wantErr{{pRec("a.example.com") + ".alias.record", "no A records named nope.example.com."}}},
		{name: "record/other-type", mut: func(d *Document) {
			r := aliasTo("a.example.com", "www.example.com")
			r.Type = "AAAA"
			addRecords(d, r)
		}, want: []wantErr{{pRec("a.example.com") + ".alias.record", "no AAAA records named www.example.com."}}},
		{name: "record/invalid-name", mut: func(d *Document) { addRecords(d, aliasTo("a.example.com", "no such.example.com")) },
			want: []wantErr{{pRec("a.example.com") + ".alias.record", `"no such.example.com" is not a record name`}}},
		{name: "record/to-itself", mut: func(d *Document) { addRecords(d, aliasTo("a.example.com", "a.example.com")) },
			want: []wantErr{{pRec("a.example.com") + ".alias.record", "alias chain from a.example.com. A comes back to itself"}}},
		{name: "record/cycle-of-2", mut: func(d *Document) {
			addRecords(d, aliasTo("a.example.com", "b.example.com"), aliasTo("b.example.com", "a.example.com"))
		}, want: []wantErr{
			{pRec("a.example.com") + ".alias.record", "alias chain from a.example.com. A comes back to itself"},
			{pRec("b.example.com") + ".alias.record", "alias chain from b.example.com. A comes back to itself"},
		}},
		{name: "record/cycle-of-3", mut: func(d *Document) {
			addRecords(d, aliasTo("a.example.com", "b.example.com"), aliasTo("b.example.com", "c.example.com"), aliasTo("c.example.com", "a.example.com"))
		}, want: []wantErr{
			{pRec("a.example.com") + ".alias.record", "comes back to itself"},
			{pRec("b.example.com") + ".alias.record", "comes back to itself"},
			{pRec("c.example.com") + ".alias.record", "comes back to itself"},
		}},
		{name: "record/leading-into-a-cycle", mut: func(d *Document) {
			// x is not on the cycle a→b→a; only a and b come back to themselves.
			addRecords(d, aliasTo("x.example.com", "a.example.com"), aliasTo("a.example.com", "b.example.com"), aliasTo("b.example.com", "a.example.com"))
		}, want: []wantErr{
			{pRec("a.example.com") + ".alias.record", "comes back to itself"},
			{pRec("b.example.com") + ".alias.record", "comes back to itself"},
		}},
		{name: "record/cycle-through-weighted-group", mut: func(d *Document) {
			// api's green record aliases a, which aliases api.
			*rec(d, recGreen) = RecordSet{Name: "api.example.com", Type: "A", Alias: &Alias{Record: "a.example.com"}, SetIdentifier: "green", Weight: ptr(1)}
			addRecords(d, aliasTo("a.example.com", "api.example.com"))
		}, want: []wantErr{
			{pRec("api.example.com") + ".alias.record", "comes back to itself"},
			{pRec("a.example.com") + ".alias.record", "comes back to itself"},
		}},
		{name: "load-balancer/AAAA-valid", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "edge6.example.com", Type: "AAAA", Alias: &Alias{LoadBalancer: "edge"}})
		}},
		{name: "load-balancer/type-TXT", mut: func(d *Document) {
			addRecords(d, RecordSet{Name: "t.example.com", Type: "TXT", Alias: &Alias{LoadBalancer: "edge"}})
		}, want: []wantErr{{pRec("t.example.com") + ".type", "an alias to a load balancer cannot be of type TXT"}}},
		{name: "load-balancer/undefined", mut: func(d *Document) { rec(d, recBackup).Alias.LoadBalancer = "nope" },
			want: []wantErr{{pRec("app.example.com") + ".alias.load_balancer", `load balancer "nope" is not defined`}}},
		{name: "target/none", mut: func(d *Document) { rec(d, recBackup).Alias.LoadBalancer = "" },
			want: []wantErr{{pRec("app.example.com") + ".alias", "names no target"}}},
		{name: "target/two", mut: func(d *Document) { rec(d, recBackup).Alias.Record = "www.example.com" },
			want: []wantErr{{pRec("app.example.com") + ".alias", "names two targets"}}},
		{name: "values-beside-alias", mut: func(d *Document) { rec(d, recBackup).Values = []string{"192.0.2.9"} },
			want: []wantErr{{pRec("app.example.com") + ".values", "an alias record has no values"}}},
	})
}

func TestValidateTargetGroups(t *testing.T) {
	addTCP := func(d *Document) *TargetGroup {
		d.TargetGroups = append(d.TargetGroups, tcpGroup("db"))
		return &d.TargetGroups[len(d.TargetGroups)-1]
	}
	pT0 := pTG + ".targets[0]"
	runValidate(t, []validateCase{
		{name: "names/duplicate", mut: func(d *Document) {
			g := tcpGroup("web")
			d.TargetGroups = append(d.TargetGroups, g)
		}, want: []wantErr{{pTG + ".name", `duplicate target group name "web"`}}},
		{name: "protocol/missing", mut: func(d *Document) { tg(d).Protocol = "" },
			want: []wantErr{{pTG + ".protocol", "is required"}}},
		{name: "protocol/tls-passthrough", mut: func(d *Document) { addTCP(d).Protocol = ProtoTLSPassthrough },
			want: []wantErr{{"target_groups[db].protocol", "tls_passthrough is a listener protocol"}}},
		{name: "protocol/l4-groups-valid", mut: func(d *Document) {
			g := addTCP(d)
			g.Protocol, g.ProxyProtocol = ProtoTLS, ProxyV2
			u := tcpGroup("dns")
			u.Protocol, u.Port = ProtoUDP, 53
			d.TargetGroups = append(d.TargetGroups, u)
		}},

		// L4 connection handling.
		{name: "l4/connection-handling-valid", mut: func(d *Document) {
			g := addTCP(d)
			g.ConnectionTermination, g.UnhealthyDraining, g.MaxConnectionsPerTarget = ptr(false), ptr(Duration(0)), 1_000_000
		}},
		{name: "l4/unhealthy-draining-out-of-range", mut: func(d *Document) {
			addTCP(d).UnhealthyDraining = ptr(Duration(101 * time.Hour))
		}, want: []wantErr{{"target_groups[db].unhealthy_draining", "101h0m0s is above the maximum"}}},
		{name: "l4/unhealthy-draining-negative", mut: func(d *Document) {
			addTCP(d).UnhealthyDraining = ptr(Duration(-time.Second))
		}, want: []wantErr{{"target_groups[db].unhealthy_draining", "is below the minimum"}}},
		{name: "l4/max-connections-per-target-negative", mut: func(d *Document) { addTCP(d).MaxConnectionsPerTarget = -1 },
			want: []wantErr{{"target_groups[db].max_connections_per_target", "-1 is out of range"}}},
		{name: "l4/connection-termination-on-http", mut: func(d *Document) { tg(d).ConnectionTermination = ptr(true) },
			want: []wantErr{{pTG + ".connection_termination", "drains requests, not connections"}}},
		{name: "l4/unhealthy-draining-on-http", mut: func(d *Document) { tg(d).UnhealthyDraining = ptr(Duration(time.Second)) },
			want: []wantErr{{pTG + ".unhealthy_draining", "drains requests, not connections"}}},

		// Ports.
		{name: "port/1-and-65535-valid", mut: func(d *Document) {
			tg(d).Port = 1
			tg(d).Targets[1].Port = 65535
		}},
		{name: "port/group-65536", mut: func(d *Document) {
			tg(d).Port = 65536
			tg(d).Targets[0].Port, tg(d).Targets[1].Port = 8080, 8080
		}, want: []wantErr{{pTG + ".port", "65536 is out of range"}}},
		{name: "port/target-65536", mut: func(d *Document) { tg(d).Targets[0].Port = 65536 },
			want: []wantErr{{pT0 + ".port", "65536 is out of range"}}},
		{name: "port/target-negative", mut: func(d *Document) { tg(d).Targets[0].Port = -1 },
			want: []wantErr{{pT0 + ".port", "-1 is out of range"}}},
		{name: "port/none", mut: func(d *Document) { tg(d).Port = 0 },
			want: []wantErr{
				{pT0 + ".port", "target has no port"},
				{pTG + ".targets[1].port", "target has no port"},
			}},

		// Targets.
		{name: "target/missing-address", mut: func(d *Document) { tg(d).Targets[0].Address = netip.Addr{} },
			want: []wantErr{{pT0 + ".address", "is required"}}},
		{name: "target/undefined-zone", mut: func(d *Document) { tg(d).Targets[0].Zone = "euw1-az9" },
			want: []wantErr{{pT0 + ".zone", `zone "euw1-az9" is not defined`}}},
		{name: "target/no-zone", mut: func(d *Document) { tg(d).Targets[0].Zone = "" },
			want: []wantErr{{pT0 + ".zone", "is required"}}},
		{name: "target/weight-0-and-1000-valid", mut: func(d *Document) {
			tg(d).Targets[0].Weight, tg(d).Targets[1].Weight = ptr(0), ptr(1000)
		}},
		{name: "target/weight-1001", mut: func(d *Document) { tg(d).Targets[0].Weight = ptr(1001) },
			want: []wantErr{{pT0 + ".weight", "1001 is out of range"}}},
		{name: "target/weight-negative", mut: func(d *Document) { tg(d).Targets[0].Weight = ptr(-1) },
			want: []wantErr{{pT0 + ".weight", "-1 is out of range"}}},
		{name: "target/duplicate", mut: func(d *Document) { tg(d).Targets[1].Address = tg(d).Targets[0].Address },
			want: []wantErr{{pTG + ".targets[1]", "target 10.0.1.10:8080 is also at " + pT0}}},
		{name: "target/same-address-other-port-valid", mut: func(d *Document) {
			tg(d).Targets[1].Address, tg(d).Targets[1].Port = tg(d).Targets[0].Address, 8081
		}},

		// Health check of the targets.
		{name: "health-check/valid", mut: func(d *Document) {
			tg(d).HealthCheck = &Probe{Type: CheckHTTP, Path: "/ready", Interval: dur("5s"), Timeout: dur("2s"), HealthyThreshold: 2, ExpectedStatus: "200"}
		}},
		{name: "health-check/interval-100ms-valid", mut: func(d *Document) { tg(d).HealthCheck = &Probe{Interval: dur("100ms")} }},
		{name: "health-check/interval-99ms", mut: func(d *Document) { tg(d).HealthCheck = &Probe{Interval: dur("99ms")} },
			want: []wantErr{{pTG + ".health_check.interval", "99ms is below the minimum 100ms"}}},
		{name: "health-check/calculated", mut: func(d *Document) { tg(d).HealthCheck = &Probe{Type: CheckCalculated} },
			want: []wantErr{{pTG + ".health_check.type", `"calculated" cannot probe a target`}}},
		{name: "health-check/path-on-tcp-group", mut: func(d *Document) { addTCP(d).HealthCheck = &Probe{Path: "/"} },
			want: []wantErr{{"target_groups[db].health_check.path", "a tcp check has no path"}}},

		// Algorithm and hashing.
		{name: "algorithm/unknown", mut: func(d *Document) { tg(d).Algorithm = "fastest" },
			want: []wantErr{{pTG + ".algorithm", `"fastest" is not an algorithm`}}},
		{name: "consistent-hash/valid", mut: func(d *Document) {
			tg(d).Algorithm, tg(d).HashOn = ConsistentHash, &HashKey{Header: "X-User"}
		}},
		{name: "consistent-hash/without-hash-on", mut: func(d *Document) { tg(d).Algorithm = ConsistentHash },
			want: []wantErr{{pTG + ".hash_on", "consistent_hash needs a key to hash"}}},
		{name: "consistent-hash/two-keys", mut: func(d *Document) {
			tg(d).Algorithm, tg(d).HashOn = ConsistentHash, &HashKey{Header: "X-User", SourceIP: true}
		}, want: []wantErr{{pTG + ".hash_on", "sets 2 keys"}}},
		{name: "consistent-hash/cookie-on-tcp", mut: func(d *Document) {
			g := addTCP(d)
			g.Algorithm, g.HashOn = ConsistentHash, &HashKey{Cookie: "session"}
		}, want: []wantErr{{"target_groups[db].hash_on", "headers and cookies exist only in HTTP"}}},
		{name: "consistent-hash/source-ip-on-tcp-valid", mut: func(d *Document) {
			g := addTCP(d)
			g.Algorithm, g.HashOn = ConsistentHash, &HashKey{SourceIP: true}
		}},
		{name: "hash-on/without-consistent-hash", mut: func(d *Document) { tg(d).HashOn = &HashKey{SourceIP: true} },
			want: []wantErr{{pTG + ".hash_on", "is set for round_robin"}}},

		// DNS failover ≥ routing failover.
		{name: "failover-threshold/count-equal-valid", mut: func(d *Document) {
			tg(d).DNSFailover, tg(d).RoutingFailover = &Threshold{Count: 2}, &Threshold{Count: 2}
		}},
		{name: "failover-threshold/count-below-routing", mut: func(d *Document) {
			tg(d).DNSFailover, tg(d).RoutingFailover = &Threshold{Count: 1}, &Threshold{Count: 2}
		}, want: []wantErr{{pTG + ".dns_failover.count", "1 is below routing_failover.count 2"}}},
		{name: "failover-threshold/percent-equal-valid", mut: func(d *Document) {
			tg(d).DNSFailover, tg(d).RoutingFailover = &Threshold{Count: 1, Percent: 50}, &Threshold{Count: 1, Percent: 50}
		}},
		{name: "failover-threshold/percent-below-routing", mut: func(d *Document) {
			tg(d).DNSFailover, tg(d).RoutingFailover = &Threshold{Count: 1, Percent: 49}, &Threshold{Count: 1, Percent: 50}
		}, want: []wantErr{{pTG + ".dns_failover.percent", "49 is below routing_failover.percent 50"}}},
		{name: "failover-threshold/percent-100-valid", mut: func(d *Document) { tg(d).DNSFailover = &Threshold{Percent: 100} }},
		{name: "failover-threshold/percent-101", mut: func(d *Document) { tg(d).DNSFailover = &Threshold{Percent: 101} },
			want: []wantErr{{pTG + ".dns_failover.percent", "101 is out of range"}}},
		{name: "failover-threshold/count-negative", mut: func(d *Document) { tg(d).RoutingFailover = &Threshold{Count: -1} },
			want: []wantErr{{pTG + ".routing_failover.count", "-1 is negative"}}},

		// Deregistration delay 0s–3600s.
		{name: "deregistration/0s-valid", mut: func(d *Document) { tg(d).DeregistrationDelay = ptr(dur("0s")) }},
		{name: "deregistration/3600s-valid", mut: func(d *Document) { tg(d).DeregistrationDelay = ptr(dur("3600s")) }},
		{name: "deregistration/3601s", mut: func(d *Document) { tg(d).DeregistrationDelay = ptr(dur("3601s")) },
			want: []wantErr{{pTG + ".deregistration_delay", "1h0m1s is above the maximum 1h"}}},
		{name: "deregistration/negative", mut: func(d *Document) { tg(d).DeregistrationDelay = ptr(dur("-1s")) },
			want: []wantErr{{pTG + ".deregistration_delay", "-1s is below the minimum 0s"}}},

		// Slow start 30s–900s, not with least_outstanding_requests.
		{name: "slow-start/30s-valid", mut: func(d *Document) { tg(d).SlowStart = dur("30s") }},
		{name: "slow-start/900s-valid", mut: func(d *Document) { tg(d).SlowStart = dur("900s") }},
		{name: "slow-start/29s", mut: func(d *Document) { tg(d).SlowStart = dur("29s") },
			want: []wantErr{{pTG + ".slow_start", "29s is below the minimum 30s"}}},
		{name: "slow-start/901s", mut: func(d *Document) { tg(d).SlowStart = dur("901s") },
			want: []wantErr{{pTG + ".slow_start", "15m1s is above the maximum 15m"}}},
		{name: "slow-start/least-outstanding-requests", mut: func(d *Document) {
			tg(d).SlowStart, tg(d).Algorithm = dur("60s"), LeastOutstandingRequests
		}, want: []wantErr{{pTG + ".slow_start", "slow start does not work with least_outstanding_requests"}}},
		{name: "slow-start/weighted-random-valid", mut: func(d *Document) {
			tg(d).SlowStart, tg(d).Algorithm = dur("60s"), WeightedRandom
		}},

		// Stickiness 1s–168h; cookies only on HTTP groups.
		{name: "stickiness/default-duration-valid", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{Type: StickyLBCookie} }},
		{name: "stickiness/1s-valid", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{Type: StickyLBCookie, Duration: dur("1s")} }},
		{name: "stickiness/168h-valid", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{Type: StickyLBCookie, Duration: dur("168h")} }},
		{name: "stickiness/999ms", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{Type: StickyLBCookie, Duration: dur("999ms")} },
			want: []wantErr{{pTG + ".stickiness.duration", "999ms is below the minimum 1s"}}},
		{name: "stickiness/168h0m1s", mut: func(d *Document) {
			tg(d).Stickiness = &Stickiness{Type: StickyAppCookie, CookieName: "session", Duration: dur("168h0m1s")}
		}, want: []wantErr{{pTG + ".stickiness.duration", "168h0m1s is above the maximum 168h"}}},
		{name: "stickiness/app-cookie-without-name", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{Type: StickyAppCookie} },
			want: []wantErr{{pTG + ".stickiness.cookie_name", "app_cookie stickiness needs a cookie name"}}},
		{name: "stickiness/cookie-on-tcp", mut: func(d *Document) { addTCP(d).Stickiness = &Stickiness{Type: StickyLBCookie} },
			want: []wantErr{{"target_groups[db].stickiness.type", "cookies exist only in HTTP"}}},
		{name: "stickiness/source-ip-on-tcp-valid", mut: func(d *Document) { addTCP(d).Stickiness = &Stickiness{Type: StickySourceIP} }},
		{name: "stickiness/source-ip-on-http", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{Type: StickySourceIP} },
			want: []wantErr{{pTG + ".stickiness.type", "source_ip stickiness is for L4 groups"}}},
		{name: "stickiness/missing-type", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{} },
			want: []wantErr{{pTG + ".stickiness.type", "is required"}}},
		{name: "stickiness/unknown-type", mut: func(d *Document) { tg(d).Stickiness = &Stickiness{Type: "sticky"} },
			want: []wantErr{{pTG + ".stickiness.type", `"sticky" is not a stickiness type`}}},

		// PROXY protocol.
		{name: "proxy-protocol/on-http", mut: func(d *Document) { tg(d).ProxyProtocol = ProxyV1 },
			want: []wantErr{{pTG + ".proxy_protocol", "an http target group gets X-Forwarded-For"}}},
		{name: "proxy-protocol/unknown-version", mut: func(d *Document) { addTCP(d).ProxyProtocol = "v3" },
			want: []wantErr{{"target_groups[db].proxy_protocol", `"v3" is not a PROXY protocol version`}}},
	})
}

func TestValidateLoadBalancers(t *testing.T) {
	// addL4 adds the tcp target group db and a tcp listener on 5432 forwarding to it.
	addL4 := func(d *Document) *Listener {
		d.TargetGroups = append(d.TargetGroups, tcpGroup("db"))
		lb(d).Listeners = append(lb(d).Listeners, Listener{Protocol: ProtoTCP, Port: 5432, DefaultAction: forwardTo("db")})
		return &lb(d).Listeners[len(lb(d).Listeners)-1]
	}
	addRule := func(d *Document, r Rule) { lis(d).Rules = append(lis(d).Rules, r) }
	pathRule := func(prio int, a Action) Rule {
		return Rule{Priority: prio, Conditions: Conditions{Path: []string{"/api/*"}}, Action: a}
	}
	fixed := func(status int, body string) Action {
		return Action{FixedResponse: &FixedResponse{Status: status, Body: body}}
	}
	redirect := func(r Redirect) func(d *Document) {
		return func(d *Document) { lis(d).DefaultAction = Action{Redirect: &r} }
	}
	pDA := pL0 + ".default_action"
	pL1 := pLB + ".listeners[1]"
	pR0 := pL0 + ".rules[0]"
	cert := []Certificate{{CertFile: "/etc/sb/edge.pem", KeyFile: "/etc/sb/edge.key"}}
	runValidate(t, []validateCase{
		// L4 limits.
		{name: "limits/max-connections-valid", mut: func(d *Document) { addL4(d).MaxConnections = 10_000_000 }},
		{name: "limits/max-connections-too-many", mut: func(d *Document) { addL4(d).MaxConnections = 10_000_001 },
			want: []wantErr{{pLB + ".listeners[1].max_connections", "10000001 is out of range"}}},
		{name: "limits/max-connections-on-http", mut: func(d *Document) { lis(d).MaxConnections = 10 },
			want: []wantErr{{pL0 + ".max_connections", "listeners do not cap connections here"}}},
		{name: "limits/max-flows-on-tcp", mut: func(d *Document) { addL4(d).MaxFlows = 10 },
			want: []wantErr{{pLB + ".listeners[1].max_flows", "tcp listeners have no flow table"}}},
		{name: "limits/max-flows-negative", mut: func(d *Document) {
			d.TargetGroups = append(d.TargetGroups, tcpGroup("dns"))
			d.TargetGroups[len(d.TargetGroups)-1].Protocol = ProtoUDP
			lb(d).Listeners = append(lb(d).Listeners, Listener{Protocol: ProtoUDP, Port: 53, MaxFlows: -1, DefaultAction: forwardTo("dns")})
		}, want: []wantErr{{pLB + ".listeners[1].max_flows", "-1 is out of range"}}},

		// Balancer and nodes.
		{name: "names/duplicate", mut: func(d *Document) {
			d.LoadBalancers = append(d.LoadBalancers, LoadBalancer{Name: "edge"})
		}, want: []wantErr{{pLB + ".name", `duplicate load balancer name "edge"`}}},
		{name: "dns-name/invalid", mut: func(d *Document) { lb(d).DNSName = "edge..example.com" },
			want: []wantErr{{pLB + ".dns_name", `"edge..example.com" is not a domain name`}}},
		{name: "node/undefined-zone", mut: func(d *Document) { lb(d).Nodes[0].Zone = "euw1-az9" },
			want: []wantErr{{pLB + ".nodes[0].zone", `zone "euw1-az9" is not defined`}}},
		{name: "node/moved-out-of-shifted-zone", mut: func(d *Document) { lb(d).Nodes[1].Zone = "euw1-az1" },
			want: []wantErr{{pShift + ".away_from", `load balancer edge has nothing in zone "euw1-az2"`}}},
		{name: "node/no-address", mut: func(d *Document) { lb(d).Nodes[1].Addresses = nil },
			want: []wantErr{{pLB + ".nodes[1].addresses", "a node needs an address"}}},
		{name: "node/duplicate-address", mut: func(d *Document) { lb(d).Nodes[1].Addresses = lb(d).Nodes[0].Addresses },
			want: []wantErr{{pLB + ".nodes[1].addresses[0]", "192.0.2.101 is also at " + pLB + ".nodes[0].addresses[0]"}}},

		// Listener ports and protocols.
		{name: "port/1-valid", mut: func(d *Document) { lis(d).Port = 1 }},
		{name: "port/65535-valid", mut: func(d *Document) { lis(d).Port = 65535 }},
		{name: "port/0", mut: func(d *Document) { lis(d).Port = 0 },
			want: []wantErr{{pL0 + ".port", "0 is out of range"}}},
		{name: "port/65536", mut: func(d *Document) { lis(d).Port = 65536 },
			want: []wantErr{{pL0 + ".port", "65536 is out of range"}}},
		{name: "port/duplicate", mut: func(d *Document) {
			lb(d).Listeners = append(lb(d).Listeners, Listener{Protocol: ProtoHTTPS, Port: 80, Certificates: cert, DefaultAction: forwardTo("web")})
		}, want: []wantErr{{pL1 + ".port", "tcp port 80 is also used at " + pL0}}},
		{name: "port/udp-beside-tcp-valid", mut: func(d *Document) {
			u := tcpGroup("dns")
			u.Protocol, u.Port = ProtoUDP, 53
			d.TargetGroups = append(d.TargetGroups, u)
			lb(d).Listeners = append(lb(d).Listeners, Listener{Protocol: ProtoUDP, Port: 80, DefaultAction: forwardTo("dns")})
		}},
		{name: "protocol/missing", mut: func(d *Document) { lis(d).Protocol = "" },
			want: []wantErr{{pL0 + ".protocol", "is required"}}},
		{name: "protocol/grpc", mut: func(d *Document) { lis(d).Protocol = ProtoGRPC },
			want: []wantErr{
				{pL0 + ".protocol", "grpc is a target group protocol"},
				// No listener protocol suits a grpc listener, so its forward is refused too.
				{pDA + ".forward.target_groups[web].name", `target group "web" speaks http`},
			}},
		{name: "https/valid", mut: func(d *Document) { lis(d).Protocol, lis(d).Port, lis(d).Certificates = ProtoHTTPS, 443, cert }},
		{name: "https/without-certificate", mut: func(d *Document) { lis(d).Protocol = ProtoHTTPS },
			want: []wantErr{{pL0 + ".certificates", "an https listener needs a certificate"}}},
		{name: "tls/without-certificate", mut: func(d *Document) { addL4(d).Protocol = ProtoTLS },
			want: []wantErr{{pL1 + ".certificates", "tls listener needs a certificate"}}},
		{name: "http/with-certificate", mut: func(d *Document) { lis(d).Certificates = cert },
			want: []wantErr{{pL0 + ".certificates", "an http listener does not terminate TLS"}}},
		{name: "https/certificate-without-key", mut: func(d *Document) {
			lis(d).Protocol, lis(d).Certificates = ProtoHTTPS, []Certificate{{CertFile: "/etc/sb/edge.pem"}}
		}, want: []wantErr{{pL0 + ".certificates[0].key_file", "is required"}}},
		{name: "proxy-protocol/accepted-on-tcp-valid", mut: func(d *Document) { addL4(d).AcceptProxyProtocol = true }},
		{name: "proxy-protocol/accepted-on-http", mut: func(d *Document) { lis(d).AcceptProxyProtocol = true },
			want: []wantErr{{pL0 + ".accept_proxy_protocol", "http listeners do not read PROXY protocol"}}},
		{name: "idle-timeout/negative", mut: func(d *Document) { lis(d).IdleTimeout = dur("-1s") },
			want: []wantErr{{pL0 + ".idle_timeout", "-1s is negative"}}},

		// Forward actions.
		{name: "forward/undefined-target-group", mut: func(d *Document) { lis(d).DefaultAction = forwardTo("nope") },
			want: []wantErr{{pDA + ".forward.target_groups[nope].name", `target group "nope" is not defined`}}},
		{name: "forward/http-to-tcp-group", mut: func(d *Document) {
			d.TargetGroups = append(d.TargetGroups, tcpGroup("db"))
			lis(d).DefaultAction = forwardTo("db")
		}, want: []wantErr{{pDA + ".forward.target_groups[db].name", `target group "db" speaks tcp`}}},
		{name: "forward/tcp-to-http-group", mut: func(d *Document) { addL4(d).DefaultAction = forwardTo("web") },
			want: []wantErr{{pL1 + ".default_action.forward.target_groups[web].name", `target group "web" speaks http`}}},
		{name: "forward/l4-to-two-groups", mut: func(d *Document) {
			d.TargetGroups = append(d.TargetGroups, tcpGroup("db2"))
			addL4(d).DefaultAction = forwardTo("db", "db2")
		}, want: []wantErr{{pL1 + ".default_action.forward.target_groups", "names 2"}}},
		{name: "forward/http-to-five-groups-valid", mut: func(d *Document) {
			lis(d).DefaultAction = forwardTo("web", "web", "web", "web", "web")
		}},
		{name: "forward/http-to-six-groups", mut: func(d *Document) {
			lis(d).DefaultAction = forwardTo("web", "web", "web", "web", "web", "web")
		}, want: []wantErr{{pDA + ".forward.target_groups", "names 6"}}},
		{name: "forward/no-groups", mut: func(d *Document) { lis(d).DefaultAction = Action{Forward: &Forward{}} },
			want: []wantErr{{pDA + ".forward.target_groups", "names 0"}}},
		{name: "forward/weight-0-and-999-valid", mut: func(d *Document) {
			lis(d).DefaultAction = forwardTo("web", "web")
			lis(d).DefaultAction.Forward.TargetGroups[0].Weight = ptr(0)
			lis(d).DefaultAction.Forward.TargetGroups[1].Weight = ptr(999)
		}},
		{name: "forward/weight-1000", mut: func(d *Document) { lis(d).DefaultAction.Forward.TargetGroups[0].Weight = ptr(1000) },
			want: []wantErr{{pDA + ".forward.target_groups[web].weight", "1000 is out of range"}}},
		{name: "forward/stickiness-1s-valid", mut: func(d *Document) { lis(d).DefaultAction.Forward.Stickiness = dur("1s") }},
		{name: "forward/stickiness-168h-valid", mut: func(d *Document) { lis(d).DefaultAction.Forward.Stickiness = dur("168h") }},
		{name: "forward/stickiness-168h0m1s", mut: func(d *Document) { lis(d).DefaultAction.Forward.Stickiness = dur("168h0m1s") },
			want: []wantErr{{pDA + ".forward.stickiness", "168h0m1s is above the maximum 168h"}}},
		{name: "forward/stickiness-999ms", mut: func(d *Document) { lis(d).DefaultAction.Forward.Stickiness = dur("999ms") },
			want: []wantErr{{pDA + ".forward.stickiness", "999ms is below the minimum 1s"}}},

		// Actions.
		{name: "action/none", mut: func(d *Document) { lis(d).DefaultAction = Action{} },
			want: []wantErr{{pDA, "sets 0 actions"}}},
		{name: "action/two", mut: func(d *Document) { lis(d).DefaultAction.FixedResponse = &FixedResponse{Status: 404} },
			want: []wantErr{{pDA, "sets 2 actions"}}},
		{name: "action/l4-redirect", mut: func(d *Document) {
			addL4(d).DefaultAction = Action{Redirect: &Redirect{Protocol: "https"}}
		}, want: []wantErr{{pL1 + ".default_action", "a tcp listener can only forward"}}},
		{name: "fixed-response/body-1024-valid", mut: func(d *Document) { lis(d).DefaultAction = fixed(200, strings.Repeat("b", 1024)) }},
		{name: "fixed-response/body-1025", mut: func(d *Document) { lis(d).DefaultAction = fixed(200, strings.Repeat("b", 1025)) },
			want: []wantErr{{pDA + ".fixed_response.body", "is 1025 bytes"}}},
		{name: "fixed-response/status-599-valid", mut: func(d *Document) { lis(d).DefaultAction = fixed(599, "") }},
		{name: "fixed-response/status-199", mut: func(d *Document) { lis(d).DefaultAction = fixed(199, "") },
			want: []wantErr{{pDA + ".fixed_response.status", "199 is out of range"}}},
		{name: "fixed-response/status-600", mut: func(d *Document) { lis(d).DefaultAction = fixed(600, "") },
			want: []wantErr{{pDA + ".fixed_response.status", "600 is out of range"}}},
		{name: "fixed-response/unknown-content-type", mut: func(d *Document) {
			lis(d).DefaultAction = Action{FixedResponse: &FixedResponse{Status: 200, ContentType: "text/xml"}}
		}, want: []wantErr{{pDA + ".fixed_response.content_type", `"text/xml" is not a content type`}}},

		// Redirects.
		{name: "redirect/to-https-valid", mut: redirect(Redirect{Protocol: "https", Port: "443"})},
		{name: "redirect/empty-query-valid", mut: redirect(Redirect{Query: ptr("")})},
		{name: "redirect/changes-nothing", mut: redirect(Redirect{}),
			want: []wantErr{{pDA + ".redirect", "a redirect to the same URL would loop"}}},
		{name: "redirect/only-placeholders", mut: redirect(Redirect{Protocol: "#{protocol}", Host: "#{host}", Port: "#{port}", Path: "/#{path}", Query: ptr("#{query}")}),
			want: []wantErr{{pDA + ".redirect", "a redirect to the same URL would loop"}}},
		{name: "redirect/status-307", mut: redirect(Redirect{Status: 307, Protocol: "https"}),
			want: []wantErr{{pDA + ".redirect.status", "307 is not a redirect status"}}},
		{name: "redirect/bad-protocol", mut: redirect(Redirect{Protocol: "ftp"}),
			want: []wantErr{{pDA + ".redirect.protocol", `"ftp" is not a protocol`}}},
		{name: "redirect/port-65535-valid", mut: redirect(Redirect{Port: "65535"})},
		{name: "redirect/port-65536", mut: redirect(Redirect{Port: "65536"}),
			want: []wantErr{{pDA + ".redirect.port", `"65536" is not a port`}}},
		{name: "redirect/path-without-slash", mut: redirect(Redirect{Path: "new"}),
			want: []wantErr{{pDA + ".redirect.path", `"new" is not a path`}}},
		{name: "redirect/path-128-valid", mut: redirect(Redirect{Path: "/" + strings.Repeat("p", 127)})},
		{name: "redirect/path-129", mut: redirect(Redirect{Path: "/" + strings.Repeat("p", 128)}),
			want: []wantErr{{pDA + ".redirect.path", "is not a path"}}},
		{name: "redirect/host-128-valid", mut: redirect(Redirect{Host: strings.Repeat("h", 128)})},
		{name: "redirect/host-129", mut: redirect(Redirect{Host: strings.Repeat("h", 129)}),
			want: []wantErr{{pDA + ".redirect.host", "is 129 chars"}}},
		{name: "redirect/query-129", mut: redirect(Redirect{Query: ptr(strings.Repeat("q", 129))}),
			want: []wantErr{{pDA + ".redirect.query", "is 129 chars"}}},

		// Rules.
		{name: "rules/priority-1-and-50000-valid", mut: func(d *Document) {
			addRule(d, pathRule(1, fixed(404, "")))
			addRule(d, pathRule(50000, forwardTo("web")))
		}},
		{name: "rules/priority-0", mut: func(d *Document) { addRule(d, pathRule(0, fixed(404, ""))) },
			want: []wantErr{{pR0 + ".priority", "0 is out of range"}}},
		{name: "rules/priority-50001", mut: func(d *Document) { addRule(d, pathRule(50001, fixed(404, ""))) },
			want: []wantErr{{pR0 + ".priority", "50001 is out of range"}}},
		{name: "rules/duplicate-priority", mut: func(d *Document) {
			addRule(d, pathRule(10, fixed(404, "")))
			addRule(d, pathRule(10, fixed(404, "")))
		}, want: []wantErr{{pL0 + ".rules[1].priority", "priority 10 is also used at " + pR0}}},
		{name: "rules/on-tcp-listener", mut: func(d *Document) {
			addL4(d).Rules = []Rule{{Priority: 1, Conditions: Conditions{SourceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, Action: forwardTo("db")}}
		}, want: []wantErr{{pL1 + ".rules", "a tcp listener has only a default action"}}},
		{name: "rules/on-tls-passthrough-valid", mut: func(d *Document) {
			l := addL4(d)
			l.Protocol, l.Port = ProtoTLSPassthrough, 443
			l.Rules = []Rule{{Priority: 1, Conditions: Conditions{Host: []string{"*.example.com"}}, Action: forwardTo("db")}}
		}},
		{name: "rules/http-condition-on-tls-passthrough", mut: func(d *Document) {
			l := addL4(d)
			l.Protocol, l.Port = ProtoTLSPassthrough, 443
			l.Rules = []Rule{{Priority: 1, Conditions: Conditions{Path: []string{"/x"}}, Action: forwardTo("db")}}
		}, want: []wantErr{{pL1 + ".rules[0].conditions", "a tls_passthrough listener sees no HTTP request"}}},
		{name: "rules/no-condition", mut: func(d *Document) { addRule(d, Rule{Priority: 1, Action: fixed(404, "")}) },
			want: []wantErr{{pR0 + ".conditions", "a rule needs a condition"}}},
		{name: "conditions/all-kinds-valid", mut: func(d *Document) {
			addRule(d, Rule{Priority: 1, Action: forwardTo("web"), Conditions: Conditions{
				Host:        []string{"*.example.com", "api.example.com"},
				Path:        []string{"/api/*", "*.png"},
				Headers:     []HeaderMatch{{Name: "X-Canary", Values: []string{"yes"}}},
				Methods:     []string{"GET", "POST"},
				Query:       []QueryMatch{{Key: "v", Value: "2"}},
				SourceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
				GRPC:        &GRPCMatch{Service: "helloworld.Greeter"},
			}})
		}},
		{name: "conditions/128-chars-valid", mut: func(d *Document) {
			addRule(d, Rule{Priority: 1, Action: fixed(404, ""), Conditions: Conditions{
				Host: []string{strings.Repeat("h", 128)},
				Path: []string{"/" + strings.Repeat("p", 127)},
			}})
		}},
		{name: "conditions/129-chars", mut: func(d *Document) {
			addRule(d, Rule{Priority: 1, Action: fixed(404, ""), Conditions: Conditions{
				Host: []string{strings.Repeat("h", 129)},
				Path: []string{"/" + strings.Repeat("p", 128)},
			}})
		}, want: []wantErr{
			{pR0 + ".conditions.host[0]", "is not a host pattern"},
			{pR0 + ".conditions.path[0]", "is not a path pattern"},
		}},
		{name: "conditions/5-wildcards-valid", mut: func(d *Document) {
			addRule(d, Rule{Priority: 1, Action: fixed(404, ""), Conditions: Conditions{Host: []string{"*.a.com", "*.b.com"}, Path: []string{"/*/*/?"}}})
		}},
		{name: "conditions/6-wildcards", mut: func(d *Document) {
			addRule(d, Rule{Priority: 1, Action: fixed(404, ""), Conditions: Conditions{Host: []string{"*.a.com", "*.b.com"}, Path: []string{"/*/*/??"}}})
		}, want: []wantErr{{pR0 + ".conditions", "has 6 wildcards"}}},
		{name: "conditions/bad-values", mut: func(d *Document) {
			addRule(d, Rule{Priority: 1, Action: fixed(404, ""), Conditions: Conditions{
				Host:    []string{"exa mple.com"},
				Path:    []string{"api"},
				Headers: []HeaderMatch{{Name: "X Bad"}},
				Methods: []string{"get"},
				Query:   []QueryMatch{{Key: "v"}},
				GRPC:    &GRPCMatch{},
			}})
		}, want: []wantErr{
			{pR0 + ".conditions.host[0]", `"exa mple.com" is not a host pattern`},
			{pR0 + ".conditions.path[0]", `"api" is not a path pattern`},
			{pR0 + ".conditions.headers[X Bad].name", `"X Bad" is not a header name`},
			{pR0 + ".conditions.headers[X Bad].values", "is empty"},
			{pR0 + ".conditions.methods[0]", `"get" is not an HTTP method`},
			{pR0 + ".conditions.query[0].value", "is required"},
			{pR0 + ".conditions.grpc.service", "is required"},
		}},
	})
}

func TestValidateZonalShifts(t *testing.T) {
	runValidate(t, []validateCase{
		{name: "target-group-valid", mut: func(d *Document) {
			d.ZonalShifts[0] = ZonalShift{TargetGroup: "web", AwayFrom: "euw1-az1", ExpiresAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
		}},
		{name: "load-balancer-not-in-zone", mut: func(d *Document) {
			d.Zones = append(d.Zones, Zone{Name: "euw1-az3", Region: "eu-west-1"})
			d.ZonalShifts[0].AwayFrom = "euw1-az3"
		}, want: []wantErr{{pShift + ".away_from", `load balancer edge has nothing in zone "euw1-az3"`}}},
		{name: "target-group-not-in-zone", mut: func(d *Document) {
			tg(d).Targets = tg(d).Targets[:1]
			d.ZonalShifts[0] = ZonalShift{TargetGroup: "web", AwayFrom: "euw1-az2", ExpiresAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
		}, want: []wantErr{{pShift + ".away_from", `target group web has nothing in zone "euw1-az2"`}}},
		{name: "undefined-zone", mut: func(d *Document) { d.ZonalShifts[0].AwayFrom = "euw1-az9" },
			want: []wantErr{{pShift + ".away_from", `zone "euw1-az9" is not defined`}}},
		{name: "no-zone", mut: func(d *Document) { d.ZonalShifts[0].AwayFrom = "" },
			want: []wantErr{{pShift + ".away_from", "is required"}}},
		{name: "undefined-load-balancer", mut: func(d *Document) { d.ZonalShifts[0].LoadBalancer = "nope" },
			want: []wantErr{{pShift + ".load_balancer", `load balancer "nope" is not defined`}}},
		{name: "undefined-target-group", mut: func(d *Document) {
			d.ZonalShifts[0].LoadBalancer, d.ZonalShifts[0].TargetGroup = "", "nope"
		}, want: []wantErr{{pShift + ".target_group", `target group "nope" is not defined`}}},
		{name: "two-resources", mut: func(d *Document) { d.ZonalShifts[0].TargetGroup = "web" },
			want: []wantErr{{pShift, "a zonal shift moves one resource"}}},
		{name: "no-resource", mut: func(d *Document) { d.ZonalShifts[0].LoadBalancer = "" },
			want: []wantErr{{pShift, "a zonal shift moves one resource"}}},
		{name: "second-shift-of-same-resource", mut: func(d *Document) {
			s := d.ZonalShifts[0]
			s.AwayFrom = "euw1-az1"
			d.ZonalShifts = append(d.ZonalShifts, s)
		}, want: []wantErr{{"zonal_shifts[1]", "load balancer edge is already shifted at " + pShift}}},
		{name: "no-expiry", mut: func(d *Document) { d.ZonalShifts[0].ExpiresAt = time.Time{} },
			want: []wantErr{{pShift + ".expires_at", "is required"}}},
	})
}

// TestValidateStateMatchesDocument checks that State.Validate reports the
// state's problems as Document.Validate does, without the server's.
func TestValidateStateMatchesDocument(t *testing.T) {
	d := base()
	d.Server.ShutdownTimeout = dur("2h")
	rec(d, recBlue).Weight = ptr(256)
	d.SetDefaults()
	docErrs, _ := AsErrors(d.Validate())
	stateErrs, _ := AsErrors(d.State.Validate())
	var want []string
	for _, e := range docErrs {
		if !strings.HasPrefix(e.Path.String(), "server.") {
			want = append(want, e.Error())
		}
	}
	var got []string
	for _, e := range stateErrs {
		got = append(got, e.Error())
	}
	if len(want) != 1 {
		t.Fatalf("Document.Validate() state errors = %q, want one", want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("State.Validate() mismatch with Document.Validate() (-want +got):\n%s", diff)
	}
}

// TestSetDefaultsKeepsValues checks that SetDefaults fills unset fields and
// leaves set ones alone, so validation still sees every mistake.
func TestSetDefaultsKeepsValues(t *testing.T) {
	d := base()
	hc(d).Interval = dur("1s")
	hc(d).Port = 8080
	tg(d).DeregistrationDelay = ptr(dur("0s"))
	tg(d).Targets[1].Port = 9090
	d.SetDefaults()
	type got struct {
		Listen                  string
		Shutdown                Duration
		Interval, Timeout, Conn Duration
		Port                    int
		Path, Method, Expected  string
		InitialState            HealthState
		RecordTTL               *Duration
		AliasTTL                *Duration
		Dereg                   Duration
		TargetPorts             [2]int
		TGProbe                 CheckType
		TGProbePort             int
		IdleTimeout             Duration
		ForwardWeight           int
		NameServers             []string
		RName                   string
	}
	g := got{
		Listen: d.Server.Admin.Listen, Shutdown: d.Server.ShutdownTimeout,
		Interval: hc(d).Interval, Timeout: hc(d).Timeout, Conn: hc(d).ConnectTimeout,
		Port: hc(d).Port, Path: hc(d).Path, Method: hc(d).Method, Expected: hc(d).ExpectedStatus,
		InitialState: hc(d).InitialState,
		RecordTTL:    rec(d, recWWW).TTL, AliasTTL: rec(d, recBackup).TTL,
		Dereg:       *tg(d).DeregistrationDelay,
		TargetPorts: [2]int{tg(d).Targets[0].Port, tg(d).Targets[1].Port},
		TGProbe:     tg(d).HealthCheck.Type, TGProbePort: tg(d).HealthCheck.Port,
		IdleTimeout:   lis(d).IdleTimeout,
		ForwardWeight: *lis(d).DefaultAction.Forward.TargetGroups[0].Weight,
		NameServers:   d.HostedZones[0].NameServers, RName: d.HostedZones[0].SOA.RName,
	}
	want := got{
		Listen: DefaultAdminListen, Shutdown: Duration(DefaultShutdownTimeout),
		Interval: dur("1s"), Timeout: dur("500ms"), Conn: dur("500ms"),
		Port: 8080, Path: "/healthz", Method: "GET", Expected: "200-399",
		InitialState: Healthy,
		RecordTTL:    ptr(Duration(DefaultRecordTTL)), AliasTTL: nil,
		Dereg:       0,
		TargetPorts: [2]int{8080, 9090},
		TGProbe:     CheckHTTP, TGProbePort: 0,
		IdleTimeout:   dur("60s"),
		ForwardWeight: 1,
		NameServers:   []string{"ns1.example.com."}, RName: "hostmaster.example.com.",
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("SetDefaults() mismatch (-want +got):\n%s", diff)
	}
}

func TestRecordPolicies(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    RecordSet
		want []Policy
	}{
		{"simple", RecordSet{}, []Policy{PolicySimple}},
		{"weighted-0", RecordSet{Weight: ptr(0)}, []Policy{PolicyWeighted}},
		{"failover", RecordSet{Failover: Secondary}, []Policy{PolicyFailover}},
		{"latency", RecordSet{Region: "eu-west-1"}, []Policy{PolicyLatency}},
		{"geolocation", RecordSet{Geolocation: &Geolocation{Country: "*"}}, []Policy{PolicyGeolocation}},
		{"geoproximity", RecordSet{Geoproximity: &Geoproximity{Region: "eu-west-1"}}, []Policy{PolicyGeoproximity}},
		{"multivalue", RecordSet{Multivalue: true}, []Policy{PolicyMultivalue}},
		{"cidr", RecordSet{CIDR: &CIDRRouting{Collection: "c", Location: "*"}}, []Policy{PolicyCIDR}},
		{"two", RecordSet{Region: "eu-west-1", Weight: ptr(1)}, []Policy{PolicyWeighted, PolicyLatency}},
	} {
		if diff := cmp.Diff(tt.want, tt.r.Policies()); diff != "" {
			t.Errorf("RecordSet(%s).Policies() mismatch (-want +got):\n%s", tt.name, diff)
		}
		if got := tt.r.Policy(); got != tt.want[0] {
			t.Errorf("RecordSet(%s).Policy() = %s, want %s", tt.name, got, tt.want[0])
		}
	}
}

func TestCanonicalNameAndInZone(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Example.COM", "example.com."},
		{"example.com.", "example.com."},
		{".", "."},
	} {
		if got := CanonicalName(tt.in); got != tt.want {
			t.Errorf("CanonicalName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		name, zone string
		want       bool
	}{
		{"example.com.", "example.com.", true},
		{"www.example.com.", "example.com.", true},
		{"a.b.example.com.", "example.com.", true},
		{"badexample.com.", "example.com.", false},
		{"example.org.", "example.com.", false},
		{"com.", "example.com.", false},
		{"anything.", ".", true},
	} {
		if got := InZone(tt.name, tt.zone); got != tt.want {
			t.Errorf("InZone(%q, %q) = %t, want %t", tt.name, tt.zone, got, tt.want)
		}
	}
}
