// BenchmarkQuery measures the packet path (parse, answer, pack) without
// sockets. Every case but the last takes the fast path (fastpath.go, and
// fastpick.go for the random choices); geolocation with Client Subnet
// takes the general one.

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
		// One address, as bench/dns's static zone: the fast path.
		{"static-A", newQuery("ns1.example.com.", dns.TypeA)},
		{"static-A-EDNS", newQuery("ns1.example.com.", dns.TypeA, withEDNS(1232))},
		{"static-A-0x20-EDNS-DO", newQuery("nS1.ExAmPlE.cOm.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().SetDo() })},
		{"static-A-ECS", newQuery("ns1.example.com.", dns.TypeA, withECS("10.10.1.0/24"))},
		{"NXDOMAIN", newQuery("nope.example.com.", dns.TypeA)},
		{"NODATA", newQuery("www.example.com.", dns.TypeMX)},
		{"apex-NS", newQuery("example.com.", dns.TypeNS)},
		// Random choices and orders, from prepared records.
		{"simple-2-values-A", newQuery("www.example.com.", dns.TypeA)},
		{"weighted-A", newQuery("w.p.test.", dns.TypeA)},
		{"weighted-3-A", newQuery("w.pick.test.", dns.TypeA)},
		{"failover-A", newQuery("f.p.test.", dns.TypeA)},
		{"failover-2-values-AAAA", newQuery("f.pick.test.", dns.TypeAAAA)},
		{"multivalue-8-of-12-A", newQuery("mv12.pick.test.", dns.TypeA)},
		// Depends on the client: the general path.
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

// BenchmarkStats measures Stats: with the few query types a server sees
// (only their block of the type counters is read), and with a type counted
// in every block, which makes it read all 65,536 type counters.
func BenchmarkStats(b *testing.B) {
	for _, bb := range []struct {
		name  string
		types func(yield func(uint16) bool)
	}{
		{"few-types", func(yield func(uint16) bool) {
			for _, t := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS} {
				if !yield(t) {
					return
				}
			}
		}},
		{"every-type-block", func(yield func(uint16) bool) {
			for blk := range 1 << 8 {
				if !yield(uint16(blk<<8 | 1)) {
					return
				}
			}
		}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s := inMemory(b, fuzzDoc)
			src := netip.MustParseAddr("192.0.2.99")
			buf := make([]byte, 65535)
			for _, q := range []string{"w.pick.test.", "mv12.pick.test.", "nope.example.com.", "www.example.com."} {
				pkt, _ := newQuery(q, dns.TypeA).Pack()
				s.handle(pkt, src, false, buf)
			}
			for t := range bb.types {
				s.counts.countType(t)
			}
			b.ReportAllocs()
			for b.Loop() {
				if st := s.Stats(); len(st.ByType) == 0 {
					b.Fatal("no types counted")
				}
			}
		})
	}
}
