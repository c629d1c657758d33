// FuzzQuery feeds arbitrary packets to the packet path: whatever comes in,
// the answer is nothing, a FORMERR, or a well-formed answer that fits the
// client's UDP size; never a panic or a hang.

package dnsserver

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/view"
)

// fuzzDoc holds every zone of the tests but the alias and LB ones.
var fuzzDoc = policyDoc + strings.TrimPrefix(bigDoc, "\nhosted_zones:\n") + pickZone

// inMemory returns a server answering from doc without sockets: handle is
// called directly.
func inMemory(tb testing.TB, doc string, opts ...func(*Config)) *Server {
	tb.Helper()
	return inMemoryHealth(tb, doc, nil, opts...)
}

// inMemoryHealth is inMemory under health h.
func inMemoryHealth(tb testing.TB, doc string, h health, opts ...func(*Config)) *Server {
	tb.Helper()
	pub := view.NewPublisher()
	v := view.Build(1, parseState(tb, doc), h.snapshot(1), epoch)
	pub.Publish(v)
	cfg := Config{Listen: []string{"127.0.0.1:0"}, Views: pub}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.install(v)
	if s.table.Load() == nil {
		tb.Fatal("view did not compile")
	}
	return s
}

// fuzzSeeds are real query packets: ordinary ones, EDNS and Client Subnet
// variants, and broken ones.
func fuzzSeeds() [][]byte {
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		return b
	}
	var seeds [][]byte
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"www.example.com.", dns.TypeA}, {"WwW.ExAmPlE.cOm.", dns.TypeAAAA}, {"example.com.", dns.TypeANY},
		{"example.com.", dns.TypeNS}, {"example.com.", dns.TypeSOA}, {"nope.example.com.", dns.TypeA},
		{"a.b.wild.test.", dns.TypeA}, {"y.ent.wild.test.", dns.TypeA}, {"alias1.example.com.", dns.TypeA},
		{"loop1.example.com.", dns.TypeA}, {"www.dept.example.com.", dns.TypeA}, {"dept.example.com.", dns.TypeDS},
		{"big.big.test.", dns.TypeTXT}, {"www.example.org.", dns.TypeA}, {"example.com.", dns.TypeAXFR},
		{"w.p.test.", dns.TypeA}, {"mv.p.test.", dns.TypeA}, {"lat.p.test.", dns.TypeA}, {"ip.p.test.", dns.TypeA},
		{"w.pick.test.", dns.TypeA}, {"W.Pick.test.", dns.TypeMX}, {"w.pick.test.", dns.TypeTXT}, {"c.pick.test.", dns.TypeCNAME},
		{"f.pick.test.", dns.TypeAAAA}, {"mv5.pick.test.", dns.TypeA}, {"mv12.pick.test.", dns.TypeA}, {"al.pick.test.", dns.TypeA},
		{"s.pick.test.", dns.TypeTXT},
	} {
		seeds = append(seeds, pack(newQuery(q.name, q.qtype)))
	}
	seeds = append(seeds,
		pack(newQuery("geo.p.test.", dns.TypeA, withECS("10.10.1.0/24"))),
		pack(newQuery("gp.p.test.", dns.TypeA, withECS("2001:db8:2::/48"))),
		pack(newQuery("big.big.test.", dns.TypeTXT, withEDNS(4096))),
		pack(newQuery("www.example.com.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) })),
		pack(newQuery("www.example.com.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		})),
		pack(&dns.Msg{MsgHdr: dns.MsgHdr{Id: 1}, Question: []dns.Question{{Name: "a.", Qtype: 1, Qclass: 1}, {Name: "b.", Qtype: 1, Qclass: 1}}}),
		[]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1},                                                      // a name pointing at itself
		[]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 8, 0, 8, 0, 4, 0, 1, 33, 0}, // ECS prefix 33 for IPv4
		[]byte{0, 1, 0x80},
		pack(newQuery("ns1.example.com.", dns.TypeA, withECS("10.10.7.0/21"))),
		pack(newQuery("w.p.test.", dns.TypeA, withECS("2001:db8:1:ff00::/56"))),
		// ECS family 0 with a 0 prefix, as dig's +subnet=0 sends it.
		[]byte{0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
			0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 8, 0, 8, 0, 4, 0, 0, 0, 0},
	)
	return seeds
}

func FuzzQuery(f *testing.F) {
	s := inMemory(f, fuzzDoc, withLocator(geoDB(f)))
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	src := netip.MustParseAddr("10.13.0.1")
	buf := make([]byte, 65535)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, tcp := range []bool{false, true} {
			panics := s.stats.panics.Load() // not Stats(), which builds maps
			resp := s.handle(pkt, src, tcp, buf)
			if s.stats.panics.Load() != panics {
				t.Fatalf("handle(%x, tcp %v) panicked", pkt, tcp)
			}
			if resp == nil {
				if len(pkt) >= 12 && pkt[2]&0x80 == 0 {
					t.Fatalf("handle(%x, tcp %v) = nothing for a query with a header", pkt, tcp)
				}
				continue
			}
			if len(resp) < 12 || resp[2]&0x80 == 0 || binary.BigEndian.Uint16(resp) != binary.BigEndian.Uint16(pkt) {
				t.Fatalf("handle(%x, tcp %v) = %x, want an answer with the query's ID", pkt, tcp, resp)
			}
			r := new(dns.Msg)
			if err := r.Unpack(resp); err != nil {
				t.Fatalf("handle(%x, tcp %v) = %x, which does not parse: %v", pkt, tcp, resp, err)
			}
			limit := 512
			if r.IsEdns0() != nil {
				limit = ednsPayload
			}
			if !tcp && len(resp) > limit {
				t.Fatalf("handle(%x) = %d bytes over UDP, above %d", pkt, len(resp), limit)
			}
		}
	})
}

// TestFuzzSeedsOverTheNetwork sends the fuzz seeds through a real socket.
func TestFuzzSeedsOverTheNetwork(t *testing.T) {
	hs := start(t, fuzzDoc, nil, withLocator(geoDB(t)))
	c, err := net.Dial("udp", hs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, seed := range fuzzSeeds() {
		if len(seed) < 12 {
			continue // dropped: no answer to wait for
		}
		if _, err := c.Write(seed); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 65535)
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("no answer to %x: %v", seed, err)
		}
		if binary.BigEndian.Uint16(b[:n]) != binary.BigEndian.Uint16(seed) {
			t.Errorf("answer to %x has another ID", seed)
		}
	}
}
