// Tests of the routing policies through a real server: every row of the
// policy table with its unhealthy branches and fail-open, weighted shares,
// multivalue bounds, geolocation from a generated MaxMind database with
// Client Subnet, alias back-out, load balancer names, load shedding, and a
// health change reaching the very next answer.

package dnsserver

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/geoip"
	"github.com/switchboard/switchboard/internal/geoip/geoiptest"
)

// policyDoc has one record group per policy in zone p.test; each record
// with a health check has a check of its own, named in the comments.
var policyDoc = `
regions:
  - { name: eu, latitude: 50.11, longitude: 8.68 }    # Frankfurt
  - { name: us, latitude: 38.95, longitude: -77.45 }  # Virginia
  - { name: ap, latitude: 1.35, longitude: 103.82 }   # Singapore
health_checks:
` + checks("wa", "wb", "wz", "wy", "fp", "fs", "le", "lu", "la",
	"gsub", "gus", "gna", "gdef", "gde", "pe", "pu", "pa", "ib", "ip", "idef") + `
latency_table:
  - { cidr: 10.1.0.0/16, latency: { eu: 10ms, us: 90ms, ap: 200ms } }
  - { cidr: 10.1.2.0/24, latency: { eu: 150ms, us: 20ms, ap: 100ms } }
  - { cidr: 10.2.0.0/16, latency: { eu: 200ms, us: 150ms, ap: 5ms } }
  - { cidr: "2001:db8:1::/48", latency: { eu: 300ms, us: 200ms, ap: 1ms } }
cidr_collections:
  - name: offices
    locations:
      - { name: berlin, cidrs: [10.1.0.0/16] }
      - { name: paris, cidrs: [10.1.2.0/24, "2001:db8:1::/48"] }
hosted_zones:
  - name: p.test
    records:
      - { name: simple.p.test, type: A, values: [192.0.2.1, 192.0.2.2, 192.0.2.3] }

      - { name: w.p.test, type: A, set_identifier: a, weight: 1, health_check: wa, values: [192.0.2.11] }
      - { name: w.p.test, type: A, set_identifier: b, weight: 3, health_check: wb, values: [192.0.2.12] }
      - { name: w.p.test, type: A, set_identifier: z, weight: 0, health_check: wz, values: [192.0.2.10] }
      - { name: w0.p.test, type: A, set_identifier: y, weight: 0, health_check: wy, values: [192.0.2.13] }
      - { name: w0.p.test, type: A, set_identifier: x, weight: 0, values: [192.0.2.14] }

      - { name: f.p.test, type: A, set_identifier: p, failover: PRIMARY, health_check: fp, values: [192.0.2.21] }
      - { name: f.p.test, type: A, set_identifier: s, failover: SECONDARY, health_check: fs, values: [192.0.2.22] }
      - { name: f2.p.test, type: A, set_identifier: p, failover: PRIMARY, health_check: fp, values: [192.0.2.23] }
      - { name: f2.p.test, type: A, set_identifier: s, failover: SECONDARY, values: [192.0.2.24] }

      - { name: lat.p.test, type: A, set_identifier: eu, region: eu, health_check: le, values: [192.0.2.31] }
      - { name: lat.p.test, type: A, set_identifier: us, region: us, health_check: lu, values: [192.0.2.32] }
      - { name: lat.p.test, type: A, set_identifier: ap, region: ap, health_check: la, values: [192.0.2.33] }

      - { name: geo.p.test, type: A, set_identifier: us-ca, geolocation: { country: US, subdivision: CA }, health_check: gsub, values: [192.0.2.41] }
      - { name: geo.p.test, type: A, set_identifier: us, geolocation: { country: US }, health_check: gus, values: [192.0.2.42] }
      - { name: geo.p.test, type: A, set_identifier: na, geolocation: { continent: NA }, health_check: gna, values: [192.0.2.43] }
      - { name: geo.p.test, type: A, set_identifier: default, geolocation: { country: "*" }, health_check: gdef, values: [192.0.2.44] }
      - { name: geo.p.test, type: A, set_identifier: de, geolocation: { country: DE }, health_check: gde, values: [192.0.2.45] }
      - { name: geonodef.p.test, type: A, set_identifier: de, geolocation: { country: DE }, values: [192.0.2.46] }

      - { name: gp.p.test, type: A, set_identifier: eu, geoproximity: { region: eu }, health_check: pe, values: [192.0.2.51] }
      - { name: gp.p.test, type: A, set_identifier: us, geoproximity: { region: us }, health_check: pu, values: [192.0.2.52] }
      - { name: gp.p.test, type: A, set_identifier: ap, geoproximity: { latitude: 1.35, longitude: 103.82 }, health_check: pa, values: [192.0.2.53] }
      - { name: gpneg.p.test, type: A, set_identifier: eu, geoproximity: { region: eu, bias: -95 }, values: [192.0.2.54] }
      - { name: gpneg.p.test, type: A, set_identifier: us, geoproximity: { region: us }, values: [192.0.2.55] }
      - { name: gppos.p.test, type: A, set_identifier: eu, geoproximity: { region: eu }, values: [192.0.2.56] }
      - { name: gppos.p.test, type: A, set_identifier: ap, geoproximity: { region: ap, bias: 99 }, values: [192.0.2.57] }

      - { name: ip.p.test, type: A, set_identifier: berlin, cidr: { collection: offices, location: berlin }, health_check: ib, values: [192.0.2.61] }
      - { name: ip.p.test, type: A, set_identifier: paris, cidr: { collection: offices, location: paris }, health_check: ip, values: [192.0.2.62] }
      - { name: ip.p.test, type: A, set_identifier: default, cidr: { collection: offices, location: "*" }, health_check: idef, values: [192.0.2.63] }
      - { name: ipnodef.p.test, type: A, set_identifier: berlin, cidr: { collection: offices, location: berlin }, values: [192.0.2.64] }
`

// checks returns YAML for named TCP health checks; tests set their results.
func checks(names ...string) string {
	var b strings.Builder
	for i, n := range names {
		fmt.Fprintf(&b, "  - { name: %s, type: tcp, address: 192.0.2.%d, port: 80 }\n", n, 100+i)
	}
	return b.String()
}

// geoDB writes a small City database: where the test's client networks are.
func geoDB(t testing.TB) Locator {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.mmdb")
	err := geoiptest.Write(path, map[netip.Prefix]geoip.Location{
		netip.MustParsePrefix("10.10.0.0/16"):    {Continent: "NA", Country: "US", Subdivision: "CA", Latitude: 37.4, Longitude: -122.1, HasCoordinates: true},
		netip.MustParsePrefix("10.11.0.0/16"):    {Continent: "NA", Country: "US", Subdivision: "NY", Latitude: 40.7, Longitude: -74.0, HasCoordinates: true},
		netip.MustParsePrefix("10.12.0.0/16"):    {Continent: "NA", Country: "MX", Latitude: 19.4, Longitude: -99.1, HasCoordinates: true},
		netip.MustParsePrefix("10.13.0.0/16"):    {Continent: "EU", Country: "DE", Subdivision: "BE", Latitude: 52.52, Longitude: 13.40, HasCoordinates: true},
		netip.MustParsePrefix("10.14.0.0/16"):    {Continent: "EU", Country: "FR", Latitude: 48.86, Longitude: 2.35, HasCoordinates: true},
		netip.MustParsePrefix("10.15.0.0/16"):    {Continent: "AS", Country: "SG"}, // no coordinates
		netip.MustParsePrefix("127.0.0.0/8"):     {Continent: "EU", Country: "DE", Latitude: 52.52, Longitude: 13.40, HasCoordinates: true},
		netip.MustParsePrefix("2001:db8:2::/48"): {Continent: "NA", Country: "US", Subdivision: "CA", Latitude: 37.4, Longitude: -122.1, HasCoordinates: true},
	})
	if err != nil {
		t.Fatalf("geoiptest.Write: %v", err)
	}
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatalf("geoip.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var _ Locator = (*geoip.DB)(nil)

func withLocator(l Locator) func(*Config) { return func(c *Config) { c.Locator = l } }

// TestPolicies walks the policy table. Each case publishes a view with its
// checks down, then asks repeat times (default 1); every answer must be one
// of want (rdata sorted and joined by ","; "" is NODATA), and with
// repeat > 1 each of want must come at least once.
func TestPolicies(t *testing.T) {
	hs := start(t, policyDoc, nil, withLocator(geoDB(t)))
	const unchecked = -2
	for _, tt := range []struct {
		name      string
		qname     string
		down      []string
		ecs       string // client subnet, "" for the source address 127.0.0.1
		repeat    int
		want      []string
		wantScope int // ECS scope; unchecked, or checked when ecs is set
	}{
		{name: "simple/all values", qname: "simple", want: []string{"192.0.2.1,192.0.2.2,192.0.2.3"}},

		{name: "weighted/non-zero share", qname: "w", repeat: 40, want: []string{"192.0.2.11", "192.0.2.12"}},
		{name: "weighted/unhealthy left out", qname: "w", down: []string{"wa"}, repeat: 20, want: []string{"192.0.2.12"}},
		{name: "weighted/zero weight when non-zero all down", qname: "w", down: []string{"wa", "wb"}, repeat: 10, want: []string{"192.0.2.10"}},
		{name: "weighted/fail open by weight", qname: "w", down: []string{"wa", "wb", "wz"}, repeat: 40, want: []string{"192.0.2.11", "192.0.2.12"}},
		{name: "weighted/all zero equally", qname: "w0", repeat: 20, want: []string{"192.0.2.13", "192.0.2.14"}},
		{name: "weighted/all zero, unhealthy left out", qname: "w0", down: []string{"wy"}, repeat: 10, want: []string{"192.0.2.14"}},

		{name: "failover/primary healthy", qname: "f", want: []string{"192.0.2.21"}},
		{name: "failover/primary down", qname: "f", down: []string{"fp"}, want: []string{"192.0.2.22"}},
		{name: "failover/secondary down", qname: "f", down: []string{"fs"}, want: []string{"192.0.2.21"}},
		{name: "failover/both down answer primary", qname: "f", down: []string{"fp", "fs"}, want: []string{"192.0.2.21"}},
		{name: "failover/secondary without check", qname: "f2", down: []string{"fp"}, want: []string{"192.0.2.24"}},

		{name: "latency/best region", qname: "lat", ecs: "10.1.5.0/24", want: []string{"192.0.2.31"}, wantScope: 24},
		{name: "latency/most specific entry", qname: "lat", ecs: "10.1.2.0/24", want: []string{"192.0.2.32"}, wantScope: 24},
		{name: "latency/short ECS ignores longer entries", qname: "lat", ecs: "10.1.0.0/16", want: []string{"192.0.2.31"}, wantScope: 16},
		{name: "latency/best down, next best", qname: "lat", ecs: "10.1.5.0/24", down: []string{"le"}, want: []string{"192.0.2.32"}, wantScope: 24},
		{name: "latency/two down", qname: "lat", ecs: "10.1.5.0/24", down: []string{"le", "lu"}, want: []string{"192.0.2.33"}, wantScope: 24},
		{name: "latency/fail open to best", qname: "lat", ecs: "10.1.5.0/24", down: []string{"le", "lu", "la"}, want: []string{"192.0.2.31"}, wantScope: 24},
		{name: "latency/IPv6 client", qname: "lat", ecs: "2001:db8:1:ff00::/56", want: []string{"192.0.2.33"}, wantScope: 48},
		{name: "latency/no entry, healthy at random", qname: "lat", ecs: "10.99.0.0/24", repeat: 30, want: []string{"192.0.2.31", "192.0.2.32", "192.0.2.33"}, wantScope: 24},
		{name: "latency/no entry, unhealthy left out", qname: "lat", ecs: "10.99.0.0/24", down: []string{"le", "la"}, want: []string{"192.0.2.32"}, wantScope: 24},
		{name: "latency/source address, no entry", qname: "lat", down: []string{"le", "lu"}, want: []string{"192.0.2.33"}, wantScope: unchecked},

		{name: "geolocation/subdivision", qname: "geo", ecs: "10.10.1.0/24", want: []string{"192.0.2.41"}, wantScope: 24},
		{name: "geolocation/country", qname: "geo", ecs: "10.11.1.0/24", want: []string{"192.0.2.42"}, wantScope: 24},
		{name: "geolocation/continent", qname: "geo", ecs: "10.12.1.0/24", want: []string{"192.0.2.43"}, wantScope: 24},
		{name: "geolocation/country of another continent", qname: "geo", ecs: "10.13.1.0/24", want: []string{"192.0.2.45"}, wantScope: 24},
		{name: "geolocation/no match, default", qname: "geo", ecs: "10.14.1.0/24", want: []string{"192.0.2.44"}, wantScope: 24},
		{name: "geolocation/unknown address, default", qname: "geo", ecs: "10.99.1.0/24", want: []string{"192.0.2.44"}, wantScope: 24},
		{name: "geolocation/subdivision down, country", qname: "geo", ecs: "10.10.1.0/24", down: []string{"gsub"}, want: []string{"192.0.2.42"}, wantScope: 24},
		{name: "geolocation/country down too, continent", qname: "geo", ecs: "10.10.1.0/24", down: []string{"gsub", "gus"}, want: []string{"192.0.2.43"}, wantScope: 24},
		{name: "geolocation/continent down too, default", qname: "geo", ecs: "10.10.1.0/24", down: []string{"gsub", "gus", "gna"}, want: []string{"192.0.2.44"}, wantScope: 24},
		{name: "geolocation/whole walk down, most specific", qname: "geo", ecs: "10.10.1.0/24", down: []string{"gsub", "gus", "gna", "gdef"}, want: []string{"192.0.2.41"}, wantScope: 24},
		{name: "geolocation/all down fail open", qname: "geo", ecs: "10.13.1.0/24", down: []string{"gsub", "gus", "gna", "gdef", "gde"}, want: []string{"192.0.2.45"}, wantScope: 24},
		{name: "geolocation/no match no default NODATA", qname: "geonodef", ecs: "10.10.1.0/24", want: []string{""}, wantScope: 24},
		{name: "geolocation/no default, match", qname: "geonodef", ecs: "10.13.1.0/24", want: []string{"192.0.2.46"}, wantScope: 24},
		{name: "geolocation/source address", qname: "geo", want: []string{"192.0.2.45"}, wantScope: unchecked},
		{name: "geolocation/IPv6 ECS", qname: "geo", ecs: "2001:db8:2::/48", want: []string{"192.0.2.41"}, wantScope: 48},

		{name: "geoproximity/nearest", qname: "gp", ecs: "10.13.1.0/24", want: []string{"192.0.2.51"}, wantScope: 24},
		{name: "geoproximity/nearest by coordinates", qname: "gp", ecs: "10.11.1.0/24", want: []string{"192.0.2.52"}, wantScope: 24},
		{name: "geoproximity/nearest down, next nearest", qname: "gp", ecs: "10.13.1.0/24", down: []string{"pe"}, want: []string{"192.0.2.52"}, wantScope: 24},
		{name: "geoproximity/all down fail open", qname: "gp", ecs: "10.13.1.0/24", down: []string{"pe", "pu", "pa"}, want: []string{"192.0.2.51"}, wantScope: 24},
		{name: "geoproximity/negative bias shrinks", qname: "gpneg", ecs: "10.13.1.0/24", want: []string{"192.0.2.55"}, wantScope: 24},
		{name: "geoproximity/positive bias grows", qname: "gppos", ecs: "10.13.1.0/24", want: []string{"192.0.2.57"}, wantScope: 24},
		{name: "geoproximity/no coordinates, healthy at random", qname: "gp", ecs: "10.15.1.0/24", down: []string{"pe"}, repeat: 20, want: []string{"192.0.2.52", "192.0.2.53"}, wantScope: 24},

		{name: "cidr/location", qname: "ip", ecs: "10.1.5.0/24", want: []string{"192.0.2.61"}, wantScope: 24},
		{name: "cidr/longest prefix", qname: "ip", ecs: "10.1.2.0/24", want: []string{"192.0.2.62"}, wantScope: 24},
		{name: "cidr/ECS shorter than the block", qname: "ip", ecs: "10.1.2.0/23", want: []string{"192.0.2.61"}, wantScope: 23},
		{name: "cidr/IPv6 location", qname: "ip", ecs: "2001:db8:1:5500::/56", want: []string{"192.0.2.62"}, wantScope: 48},
		{name: "cidr/no location, default", qname: "ip", ecs: "10.9.0.0/24", want: []string{"192.0.2.63"}, wantScope: 24},
		{name: "cidr/location down, default", qname: "ip", ecs: "10.1.5.0/24", down: []string{"ib"}, want: []string{"192.0.2.63"}, wantScope: 24},
		{name: "cidr/location and default down, location", qname: "ip", ecs: "10.1.5.0/24", down: []string{"ib", "idef"}, want: []string{"192.0.2.61"}, wantScope: 24},
		{name: "cidr/all down fail open", qname: "ip", ecs: "10.1.2.0/24", down: []string{"ib", "ip", "idef"}, want: []string{"192.0.2.62"}, wantScope: 24},
		{name: "cidr/no location no default NODATA", qname: "ipnodef", ecs: "10.9.0.0/24", want: []string{""}, wantScope: 24},
		{name: "cidr/source address, default", qname: "ip", want: []string{"192.0.2.63"}, wantScope: unchecked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs.setHealth(t, down(tt.down...))
			var opts []msgOpt
			if tt.ecs != "" {
				opts = append(opts, withECS(tt.ecs))
			}
			seen := map[string]int{}
			for range max(tt.repeat, 1) {
				r := hs.ask(t, tt.qname+".p.test.", dns.TypeA, opts...)
				if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
					t.Fatalf("rcode %s AA %v, want NOERROR and AA", dns.RcodeToString[r.Rcode], r.Authoritative)
				}
				got := rdata(r)
				if !slices.Contains(tt.want, got) {
					t.Fatalf("%s.p.test A = %q, want one of %q", tt.qname, got, tt.want)
				}
				seen[got]++
				if tt.ecs != "" && tt.wantScope != unchecked {
					if s := ecsScope(r); s != tt.wantScope {
						t.Errorf("ECS scope = %d, want %d", s, tt.wantScope)
					}
				}
			}
			if tt.repeat > 1 && len(seen) != len(tt.want) {
				t.Errorf("answers over %d queries = %v, want each of %q", tt.repeat, seen, tt.want)
			}
		})
	}
}

// TestWeightedShares checks the weighted shares over 10,000 queries with a
// chi-square test, including a load-shedding record (0.0.0.0) that takes
// half of the traffic, and :: for AAAA.
func TestWeightedShares(t *testing.T) {
	const doc = `
hosted_zones:
  - name: s.test
    records:
      - { name: w.s.test, type: A, set_identifier: a, weight: 1, values: [192.0.2.1] }
      - { name: w.s.test, type: A, set_identifier: b, weight: 2, values: [192.0.2.2] }
      - { name: w.s.test, type: A, set_identifier: c, weight: 7, values: [192.0.2.3] }
      - { name: w.s.test, type: A, set_identifier: shed, weight: 10, values: [0.0.0.0] }
      - { name: w.s.test, type: AAAA, set_identifier: a, weight: 3, values: ["2001:db8::1"] }
      - { name: w.s.test, type: AAAA, set_identifier: shed, weight: 1, values: ["::"] }
`
	hs := start(t, doc, nil)
	for _, tt := range []struct {
		name   string
		qtype  uint16
		shares map[string]float64
	}{
		{"A with shedding", dns.TypeA, map[string]float64{"192.0.2.1": 0.05, "192.0.2.2": 0.10, "192.0.2.3": 0.35, "0.0.0.0": 0.50}},
		{"AAAA with shedding", dns.TypeAAAA, map[string]float64{"2001:db8::1": 0.75, "::": 0.25}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const n = 10000
			counts := map[string]int{}
			for range n {
				counts[rdata(hs.ask(t, "w.s.test.", tt.qtype))]++
			}
			chi2 := 0.0
			for v, p := range tt.shares {
				exp := p * n
				chi2 += (float64(counts[v]) - exp) * (float64(counts[v]) - exp) / exp
			}
			// Critical values of chi-square at p = 0.001.
			crit := map[int]float64{1: 10.83, 3: 16.27}[len(tt.shares)-1]
			if len(counts) != len(tt.shares) || chi2 > crit {
				t.Errorf("counts over %d queries = %v, want shares %v (chi-square %.2f, limit %.2f)", n, counts, tt.shares, chi2, crit)
			}
			t.Logf("counts %v, chi-square %.2f", counts, chi2)
		})
	}
}

// TestMultivalue checks that an answer never holds more than 8 records,
// only healthy ones while any is healthy, and up to 8 of all when none is.
func TestMultivalue(t *testing.T) {
	var names []string
	var recs strings.Builder
	for i := 1; i <= 12; i++ {
		names = append(names, fmt.Sprintf("m%d", i))
		fmt.Fprintf(&recs, "      - { name: mv.m.test, type: A, set_identifier: r%d, multivalue: true, health_check: m%d, values: [192.0.2.%d] }\n", i, i, i)
	}
	doc := "health_checks:\n" + checks(names...) + "hosted_zones:\n  - name: m.test\n    records:\n" + recs.String()
	hs := start(t, doc, nil)
	addr := func(i int) string { return fmt.Sprintf("192.0.2.%d", i) }
	for _, tt := range []struct {
		name      string
		down      []int
		wantCount int
	}{
		{"all healthy/8 of 12", nil, 8},
		{"3 down/8 of 9 healthy", []int{1, 2, 3}, 8},
		{"10 down/the 2 healthy", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2},
		{"all down/8 of all", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			for _, i := range tt.down {
				h = append(h, fmt.Sprintf("m%d", i))
			}
			hs.setHealth(t, down(h...))
			allDown := len(tt.down) == 12
			seen := map[string]bool{}
			for range 100 {
				r := hs.ask(t, "mv.m.test.", dns.TypeA)
				got := strings.Split(rdata(r), ",")
				if len(got) != tt.wantCount {
					t.Fatalf("answer has %d records %v, want %d", len(got), got, tt.wantCount)
				}
				if c := slices.Compact(slices.Clone(got)); len(c) != len(got) {
					t.Fatalf("answer repeats a record: %v", got)
				}
				for _, a := range got {
					seen[a] = true
					for _, d := range tt.down {
						if a == addr(d) && !allDown {
							t.Fatalf("answer %v holds unhealthy %s", got, a)
						}
					}
				}
			}
			if want := 12 - len(tt.down); !allDown && len(seen) != want {
				t.Errorf("records seen over 100 answers = %d, want all %d healthy ones", len(seen), want)
			}
		})
	}
}

// aliasDoc is a two-level tree: weighted aliases (top) to failover groups
// (eu, us); the same without evaluate-target-health (noeth); and a
// failover alias with its own health check (guarded).
const aliasDoc = `
health_checks:
  - { name: ep, type: tcp, address: 192.0.2.200, port: 80 }
  - { name: es, type: tcp, address: 192.0.2.201, port: 80 }
  - { name: up, type: tcp, address: 192.0.2.202, port: 80 }
  - { name: us2, type: tcp, address: 192.0.2.203, port: 80 }
  - { name: guard, type: tcp, address: 192.0.2.204, port: 80 }
hosted_zones:
  - name: a.test
    records:
      - { name: top.a.test, type: A, set_identifier: eu, weight: 1, alias: { record: eu.a.test, evaluate_target_health: true } }
      - { name: top.a.test, type: A, set_identifier: us, weight: 1, alias: { record: us.a.test, evaluate_target_health: true } }
      - { name: noeth.a.test, type: A, set_identifier: eu, weight: 1, alias: { record: eu.a.test } }
      - { name: noeth.a.test, type: A, set_identifier: us, weight: 1, alias: { record: us.a.test } }
      - { name: eu.a.test, type: A, set_identifier: p, failover: PRIMARY, health_check: ep, ttl: 30s, values: [192.0.2.71] }
      - { name: eu.a.test, type: A, set_identifier: s, failover: SECONDARY, health_check: es, ttl: 30s, values: [192.0.2.72] }
      - { name: us.a.test, type: A, set_identifier: p, failover: PRIMARY, health_check: up, ttl: 40s, values: [192.0.2.73] }
      - { name: us.a.test, type: A, set_identifier: s, failover: SECONDARY, health_check: us2, ttl: 40s, values: [192.0.2.74] }
      - { name: guarded.a.test, type: A, set_identifier: p, failover: PRIMARY, health_check: guard, alias: { record: eu.a.test, evaluate_target_health: true } }
      - { name: guarded.a.test, type: A, set_identifier: s, failover: SECONDARY, ttl: 10s, values: [192.0.2.79] }
`

func TestAliasBackOut(t *testing.T) {
	hs := start(t, aliasDoc, nil)
	for _, tt := range []struct {
		name  string
		qname string
		down  []string
		want  []string
	}{
		{"top/all healthy", "top", nil, []string{"192.0.2.71", "192.0.2.73"}},
		{"top/inner failover", "top", []string{"ep"}, []string{"192.0.2.72", "192.0.2.73"}},
		{"top/branch down, backed out", "top", []string{"ep", "es"}, []string{"192.0.2.73"}},
		{"top/other branch down, backed out", "top", []string{"up", "us2"}, []string{"192.0.2.71"}},
		{"top/all down, fail open at both levels", "top", []string{"ep", "es", "up", "us2"}, []string{"192.0.2.71", "192.0.2.73"}},
		{"noeth/branch down, stays in it", "noeth", []string{"ep", "es"}, []string{"192.0.2.71", "192.0.2.73"}},
		{"guarded/both pass", "guarded", nil, []string{"192.0.2.71"}},
		{"guarded/own check fails", "guarded", []string{"guard"}, []string{"192.0.2.79"}},
		{"guarded/target fails", "guarded", []string{"ep", "es"}, []string{"192.0.2.79"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs.setHealth(t, down(tt.down...))
			seen := map[string]bool{}
			for range 40 {
				r := hs.ask(t, tt.qname+".a.test.", dns.TypeA)
				got := rdata(r)
				if !slices.Contains(tt.want, got) {
					t.Fatalf("%s.a.test A = %q, want one of %q", tt.qname, got, tt.want)
				}
				seen[got] = true
				// An alias takes its target's TTL, and answers under its own name.
				wantTTL := map[string]uint32{"192.0.2.71": 30, "192.0.2.72": 30, "192.0.2.73": 40, "192.0.2.74": 40, "192.0.2.79": 10}[got]
				if h := r.Answer[0].Header(); h.Ttl != wantTTL || h.Name != tt.qname+".a.test." {
					t.Fatalf("answer %s, want owner %s.a.test. and TTL %d", r.Answer[0], tt.qname, wantTTL)
				}
			}
			if len(seen) != len(tt.want) {
				t.Errorf("answers seen = %v, want each of %q", seen, tt.want)
			}
		})
	}
}

// lbDoc has a load balancer with nodes in zones a and b, forwarding to a
// target group with cross-zone off, and records aliasing it.
const lbDoc = `
zones: [{ name: a }, { name: b }]
target_groups:
  - name: web
    protocol: http
    port: 8080
    cross_zone: false
    targets:
      - { address: 10.0.1.1, zone: a }
      - { address: 10.0.2.1, zone: b }
load_balancers:
  - name: pub
    dns_name: lb.example.com
    nodes:
      - { zone: a, addresses: [192.0.2.201, "2001:db8::201"] }
      - { zone: b, addresses: [192.0.2.202, "2001:db8::202"] }
    listeners:
      - { protocol: http, port: 80, default_action: { forward: { target_groups: [{ name: web }] } } }
hosted_zones:
  - name: example.com
    records:
      - { name: example.com, type: A, alias: { load_balancer: pub, evaluate_target_health: true } }
      - { name: example.com, type: AAAA, alias: { load_balancer: pub, evaluate_target_health: true } }
      - { name: app.example.com, type: A, set_identifier: p, failover: PRIMARY, alias: { load_balancer: pub, evaluate_target_health: true } }
      - { name: app.example.com, type: A, set_identifier: s, failover: SECONDARY, ttl: 20s, values: [198.51.100.9] }
`

func TestLoadBalancerNames(t *testing.T) {
	hs := start(t, lbDoc, nil, func(c *Config) { c.LoadBalancerTTL = 45 * time.Second })
	both4, both6 := "192.0.2.201,192.0.2.202", "2001:db8::201,2001:db8::202"
	for _, tt := range []struct {
		name  string
		down  health
		qname string
		qtype uint16
		want  string
		ttl   uint32
	}{
		{"name/both zones", nil, "lb.example.com.", dns.TypeA, both4, 45},
		{"name/both zones AAAA", nil, "lb.example.com.", dns.TypeAAAA, both6, 45},
		{"name/zone b loses its targets", health{targetDown("web", "10.0.2.1:8080")}, "lb.example.com.", dns.TypeA, "192.0.2.201", 45},
		{"name/zone b out, AAAA", health{targetDown("web", "10.0.2.1:8080")}, "lb.example.com.", dns.TypeAAAA, "2001:db8::201", 45},
		{"name/all zones out fail open", health{targetDown("web", "10.0.1.1:8080"), targetDown("web", "10.0.2.1:8080")}, "lb.example.com.", dns.TypeA, both4, 45},
		{"alias at apex/zone b out", health{targetDown("web", "10.0.2.1:8080")}, "example.com.", dns.TypeA, "192.0.2.201", 45},
		{"alias at apex/AAAA", nil, "example.com.", dns.TypeAAAA, both6, 45},
		{"failover alias/balancer healthy", health{targetDown("web", "10.0.2.1:8080")}, "app.example.com.", dns.TypeA, "192.0.2.201", 45},
		{"failover alias/balancer unhealthy, secondary", health{targetDown("web", "10.0.1.1:8080"), targetDown("web", "10.0.2.1:8080")}, "app.example.com.", dns.TypeA, "198.51.100.9", 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs.setHealth(t, tt.down)
			orders := map[string]bool{}
			for range 30 {
				r := hs.ask(t, tt.qname, tt.qtype)
				if got := rdata(r); got != tt.want {
					t.Fatalf("%s %s = %q, want %q", tt.qname, dns.TypeToString[tt.qtype], got, tt.want)
				}
				if r.Answer[0].Header().Ttl != tt.ttl {
					t.Fatalf("TTL = %d, want %d", r.Answer[0].Header().Ttl, tt.ttl)
				}
				var order []string
				for _, rr := range r.Answer {
					order = append(order, rr.String())
				}
				orders[strings.Join(order, " ")] = true
			}
			if strings.Contains(tt.want, ",") && len(orders) < 2 {
				t.Errorf("one order over 30 answers; want addresses in random order")
			}
		})
	}
}

// TestHealthChangeNextAnswer checks that the answer after a published
// health change reflects it, both ways.
func TestHealthChangeNextAnswer(t *testing.T) {
	hs := start(t, policyDoc, nil)
	for i, step := range []struct {
		down []string
		want string
	}{
		{nil, "192.0.2.21"},
		{[]string{"fp"}, "192.0.2.22"},
		{nil, "192.0.2.21"},
		{[]string{"fp", "fs"}, "192.0.2.21"},
		{[]string{"fp"}, "192.0.2.22"},
	} {
		hs.setHealth(t, down(step.down...))
		if got := rdata(hs.ask(t, "f.p.test.", dns.TypeA)); got != step.want {
			t.Errorf("step %d (%v down): f.p.test A = %s, want %s", i, step.down, got, step.want)
		}
		// Only f.p.test fails open, and only with both its records down.
		if got, want := hs.srv.Stats().FailingOpen, len(step.down)/2; got != want {
			t.Errorf("step %d (%v down): Stats().FailingOpen = %d, want %d", i, step.down, got, want)
		}
	}
	if got := hs.srv.Stats().Tables; got < 6 {
		t.Errorf("Stats().Tables = %d, want a table per view (6)", got)
	}
}

// TestDistance checks the haversine distance and the bias formula.
func TestDistance(t *testing.T) {
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	const earthKm = 6371.0
	d := distance(rad(50.11), rad(8.68), rad(52.52), rad(13.40)) * earthKm // Frankfurt–Berlin
	if d < 415 || d > 430 {
		t.Errorf("distance(Frankfurt, Berlin) = %.0f km, want about 423", d)
	}
	for _, tt := range []struct {
		bias, want float64
	}{{0, 100}, {50, 50}, {99, 1}, {-50, 200}, {-99, 10000}} {
		if got := biased(100, tt.bias); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("biased(100, %v) = %v, want %v", tt.bias, got, tt.want)
		}
	}
}
