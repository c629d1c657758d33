// BenchmarkQuery measures the packet path (parse, answer, pack) without
// sockets.

package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func BenchmarkQuery(b *testing.B) {
	s := inMemory(b, fuzzDoc, withLocator(geoDB(b)))
	for _, bb := range []struct {
		name string
		q    *dns.Msg
	}{
		{"static-A", newQuery("www.example.com.", dns.TypeA)},
		{"static-A-EDNS", newQuery("www.example.com.", dns.TypeA, withEDNS(1232))},
		{"NXDOMAIN", newQuery("nope.example.com.", dns.TypeA)},
		{"weighted-A", newQuery("w.p.test.", dns.TypeA)},
		{"failover-A", newQuery("f.p.test.", dns.TypeA)},
		{"geolocation-ECS", newQuery("geo.p.test.", dns.TypeA, withECS("10.10.1.0/24"))},
	} {
		b.Run(bb.name, func(b *testing.B) {
			pkt, err := bb.q.Pack()
			if err != nil {
				b.Fatal(err)
			}
			src := netip.MustParseAddr("192.0.2.99")
			buf := make([]byte, 65535)
			b.ReportAllocs()
			for b.Loop() {
				if s.handle(pkt, src, false, buf) == nil {
					b.Fatal("no answer")
				}
			}
		})
	}
}
