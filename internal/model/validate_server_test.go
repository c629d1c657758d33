package model

import (
	"net/netip"
	"testing"
)

// Settings added with the DNS server: listen addresses, the load balancer
// TTL, and the latency table.
func TestValidateDNSServerAndLatencyTable(t *testing.T) {
	region := func(d *Document) string { return d.Regions[0].Name }
	entry := func(d *Document, cidr string, lat map[string]Duration) {
		d.LatencyTable = append(d.LatencyTable, LatencyEntry{CIDR: netip.MustParsePrefix(cidr), Latency: lat})
	}
	runValidate(t, []validateCase{
		{name: "dns/listen-valid", mut: func(d *Document) { d.Server.DNS.Listen = []string{"127.0.0.1:5353", "[::1]:5353"} }},
		{name: "dns/listen-no-port", mut: func(d *Document) { d.Server.DNS.Listen = []string{"127.0.0.1"} },
			want: []wantErr{{"server.dns.listen[0]", `"127.0.0.1" is not an address and port`}}},
		{name: "dns/listen-twice", mut: func(d *Document) { d.Server.DNS.Listen = []string{"127.0.0.1:53", "127.0.0.1:53"} },
			want: []wantErr{{"server.dns.listen[1]", "127.0.0.1:53 is listed twice"}}},
		{name: "latency/valid", mut: func(d *Document) {
			entry(d, "192.0.2.0/24", map[string]Duration{region(d): dur("12ms")})
			entry(d, "::/0", map[string]Duration{region(d): dur("80ms")})
		}},
		{name: "latency/unknown-region", mut: func(d *Document) { entry(d, "192.0.2.0/24", map[string]Duration{"mars": dur("1s")}) },
			want: []wantErr{{"latency_table[0].latency[mars]", `region "mars" is not defined`}}},
		{name: "latency/host-bits", mut: func(d *Document) { entry(d, "192.0.2.1/24", map[string]Duration{region(d): dur("1ms")}) },
			want: []wantErr{{"latency_table[0].cidr", "192.0.2.1/24 has host bits set"}}},
		{name: "latency/duplicate", mut: func(d *Document) {
			entry(d, "192.0.2.0/24", map[string]Duration{region(d): dur("1ms")})
			entry(d, "192.0.2.0/24", map[string]Duration{region(d): dur("2ms")})
		}, want: []wantErr{{"latency_table[1].cidr", "192.0.2.0/24 is also at latency_table[0]"}}},
		{name: "latency/empty", mut: func(d *Document) { entry(d, "192.0.2.0/24", nil) },
			want: []wantErr{{"latency_table[0].latency", "is empty"}}},
	})
}
