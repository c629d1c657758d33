package dnsserver

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// slowOnly returns a server answering from doc with the fast path off: the
// reference the fast path must agree with.
func slowOnly(tb testing.TB, doc string, opts ...func(*Config)) *Server {
	s := inMemory(tb, doc, opts...)
	s.table.Load().fast = nil // this server's own table, before any query
	return s
}

func withDO(m *dns.Msg) { m.IsEdns0().SetDo() }

func withRD(m *dns.Msg) { m.RecursionDesired = true }

func withCookie(m *dns.Msg) {
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
}

func withLocal(m *dns.Msg) {
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}})
}

// parsed is what a test compares of an answer: header and every section.
type parsed struct {
	Hdr                              dns.MsgHdr
	Question                         []dns.Question
	Answer, Ns, Extra                []string
	AnswerCount, NsCount, ExtraCount int
}

func parse(t *testing.T, b []byte) parsed {
	t.Helper()
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		t.Fatalf("answer %x does not parse: %v", b, err)
	}
	return parsed{m.MsgHdr, m.Question, rrStrings(m.Answer), rrStrings(m.Ns), rrStrings(m.Extra), len(m.Answer), len(m.Ns), len(m.Extra)}
}

func TestFastPathMatchesSlowPath(t *testing.T) {
	fast := inMemory(t, fuzzDoc, withLocator(geoDB(t)), withRand)
	slow := slowOnly(t, fuzzDoc, withLocator(geoDB(t)), withRand)
	src := netip.MustParseAddr("192.0.2.99")
	for _, tt := range []struct {
		name  string
		qname string
		qtype uint16
		opts  []msgOpt
	}{
		{name: "A", qname: "ns1.example.com.", qtype: dns.TypeA},
		{name: "A/other zone", qname: "host.other.test.", qtype: dns.TypeA},
		{name: "AAAA", qname: "www.example.com.", qtype: dns.TypeAAAA},
		{name: "MX", qname: "example.com.", qtype: dns.TypeMX},
		{name: "TXT", qname: "example.com.", qtype: dns.TypeTXT},
		{name: "CAA", qname: "example.com.", qtype: dns.TypeCAA},
		{name: "SRV", qname: "_sip._udp.example.com.", qtype: dns.TypeSRV},
		{name: "PTR", qname: "1.2.0.192.in-addr.arpa.", qtype: dns.TypePTR},
		{name: "CNAME asked", qname: "alias1.example.com.", qtype: dns.TypeCNAME},
		{name: "apex/SOA", qname: "example.com.", qtype: dns.TypeSOA},
		{name: "apex/NS with glue", qname: "example.com.", qtype: dns.TypeNS},
		{name: "NXDOMAIN", qname: "nope.example.com.", qtype: dns.TypeA},
		{name: "NXDOMAIN/deep", qname: "a.b.c.nope.example.com.", qtype: dns.TypeAAAA},
		{name: "NXDOMAIN/under a name", qname: "x.www.example.com.", qtype: dns.TypeA},
		{name: "NXDOMAIN/other zone", qname: "nope.other.test.", qtype: dns.TypeMX},
		{name: "NODATA", qname: "www.example.com.", qtype: dns.TypeMX},
		{name: "NODATA/apex", qname: "example.com.", qtype: dns.TypeAAAA},
		{name: "NODATA/empty non-terminal", qname: "ent.wild.test.", qtype: dns.TypeA},
		{name: "0x20/A", qname: "Ns1.ExAmPlE.cOm.", qtype: dns.TypeA},
		{name: "0x20/MX", qname: "eXaMpLe.CoM.", qtype: dns.TypeMX},
		{name: "0x20/NS", qname: "EXAMPLE.com.", qtype: dns.TypeNS},
		{name: "0x20/NXDOMAIN", qname: "NoPe.ExAmPlE.CoM.", qtype: dns.TypeA},
		{name: "0x20/NODATA", qname: "WWW.example.COM.", qtype: dns.TypeTXT},
		{name: "RD", qname: "ns1.example.com.", qtype: dns.TypeA, opts: []msgOpt{withRD}},
		{name: "EDNS/A", qname: "ns1.example.com.", qtype: dns.TypeA, opts: []msgOpt{withEDNS(1232)}},
		{name: "EDNS/512", qname: "example.com.", qtype: dns.TypeNS, opts: []msgOpt{withEDNS(512)}},
		{name: "EDNS/4096 DO", qname: "example.com.", qtype: dns.TypeSOA, opts: []msgOpt{withEDNS(4096), withDO}},
		{name: "EDNS/DO NXDOMAIN", qname: "nOpE.example.com.", qtype: dns.TypeA, opts: []msgOpt{withEDNS(1232), withDO}},
		{name: "EDNS/NODATA", qname: "www.example.com.", qtype: dns.TypeMX, opts: []msgOpt{withEDNS(1232)}},
		{name: "EDNS/cookie", qname: "ns1.example.com.", qtype: dns.TypeA, opts: []msgOpt{withEDNS(1232), withCookie}},
		{name: "EDNS/unknown option", qname: "ns1.example.com.", qtype: dns.TypeA, opts: []msgOpt{withEDNS(1232), withLocal}},
		{name: "ECS/IPv4", qname: "ns1.example.com.", qtype: dns.TypeA, opts: []msgOpt{withECS("10.10.1.0/24")}},
		{name: "ECS/IPv4 /21 masked", qname: "ns1.example.com.", qtype: dns.TypeA, opts: []msgOpt{withECS("10.10.7.0/21")}},
		{name: "ECS/IPv4 /0", qname: "nope.example.com.", qtype: dns.TypeA, opts: []msgOpt{withECS("0.0.0.0/0"), withDO}},
		{name: "ECS/IPv6 /56", qname: "www.example.com.", qtype: dns.TypeMX, opts: []msgOpt{withECS("2001:db8:1:ff00::/56"), withCookie}},
		{name: "ECS/weighted", qname: "w.p.test.", qtype: dns.TypeA, opts: []msgOpt{withECS("10.1.5.0/24")}},
		{name: "simple/several values", qname: "www.example.com.", qtype: dns.TypeA},
		{name: "weighted", qname: "w.p.test.", qtype: dns.TypeA},
		{name: "weighted/all weights 0", qname: "w0.p.test.", qtype: dns.TypeA, opts: []msgOpt{withEDNS(1232)}},
		{name: "failover", qname: "F.p.test.", qtype: dns.TypeA},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkt, err := newQuery(tt.qname, tt.qtype, tt.opts...).Pack()
			if err != nil {
				t.Fatal(err)
			}
			for _, tcp := range []bool{false, true} {
				got, ok := fast.fast(pkt, src, tcp, make([]byte, 65535))
				if !ok {
					t.Fatalf("fast(%s %s, tcp %v) declined", tt.qname, dns.TypeToString[tt.qtype], tcp)
				}
				want := slow.handle(pkt, src, tcp, make([]byte, 65535))
				if diff := cmp.Diff(parseOrdered(t, want), parseOrdered(t, got)); diff != "" {
					t.Errorf("fast(%s %s, tcp %v) mismatch (-slow +fast):\n%s", tt.qname, dns.TypeToString[tt.qtype], tcp, diff)
				}
				// The question is echoed as received.
				if end := headerLen + len(tt.qname) + 1 + 4; !bytes.Equal(got[headerLen:end], pkt[headerLen:end]) {
					t.Errorf("fast(%s) question = %x, want %x", tt.qname, got[headerLen:end], pkt[headerLen:end])
				}
			}
		})
	}
}

func TestFastPathDeclines(t *testing.T) {
	s := inMemory(t, fuzzDoc, withLocator(geoDB(t)))
	src := netip.MustParseAddr("192.0.2.99")
	for _, tt := range []struct {
		name string
		m    *dns.Msg
	}{
		{"ECS with a scope", newQuery("ns1.example.com.", dns.TypeA, withECS("10.10.1.0/24"), func(m *dns.Msg) {
			m.IsEdns0().Option[0].(*dns.EDNS0_SUBNET).SourceScope = 24
		})},
		{"two ECS options", newQuery("ns1.example.com.", dns.TypeA, withECS("10.10.1.0/24"), withECS("10.10.2.0/24"))},
		{"ECS of a client-dependent answer", newQuery("geo.p.test.", dns.TypeA, withECS("10.10.1.0/24"))},
		{"ANY", newQuery("example.com.", dns.TypeANY)},
		{"AXFR", newQuery("example.com.", dns.TypeAXFR)},
		{"IXFR", newQuery("example.com.", dns.TypeIXFR)},
		{"DS", newQuery("dept.example.com.", dns.TypeDS)},
		{"geolocation", newQuery("geo.p.test.", dns.TypeA)},
		{"latency", newQuery("lat.p.test.", dns.TypeA)},
		{"IP-based", newQuery("ip.p.test.", dns.TypeA)},
		{"geoproximity", newQuery("gp.p.test.", dns.TypeA)},
		{"CNAME chain", newQuery("alias1.example.com.", dns.TypeA)},
		{"referral", newQuery("x.dept.example.com.", dns.TypeA)},
		{"delegation point", newQuery("dept.example.com.", dns.TypeNS)},
		{"wildcard", newQuery("a.b.wild.test.", dns.TypeA)},
		{"not ours", newQuery("www.elsewhere.test.", dns.TypeA)},
		{"EDNS version 1", newQuery("ns1.example.com.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) })},
		{"does not fit 512", newQuery("big.big.test.", dns.TypeTXT)},
		{"class CH", func() *dns.Msg {
			m := newQuery("ns1.example.com.", dns.TypeA)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}()},
		{"NOTIFY", func() *dns.Msg {
			m := newQuery("example.com.", dns.TypeSOA)
			m.Opcode = dns.OpcodeNotify
			return m
		}()},
		{"two questions", &dns.Msg{Question: []dns.Question{
			{Name: "ns1.example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}}},
		{"answer section", func() *dns.Msg {
			m := newQuery("ns1.example.com.", dns.TypeA)
			m.Answer = []dns.RR{aRR("ns1.example.com.", 1, netip.MustParseAddr("192.0.2.1"))}
			return m
		}()},
		{"TSIG", func() *dns.Msg {
			m := newQuery("ns1.example.com.", dns.TypeA)
			m.SetTsig("key.", dns.HmacSHA256, 300, 0)
			return m
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkt, err := tt.m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if out, ok := s.fast(pkt, src, false, make([]byte, 65535)); ok {
				t.Errorf("fast(%s) = %x, want it declined", tt.name, out)
			}
		})
	}
	// Trailing bytes and a compressed question name.
	pkt, _ := newQuery("ns1.example.com.", dns.TypeA).Pack()
	if _, ok := s.fast(append(pkt, 0), src, false, make([]byte, 65535)); ok {
		t.Error("fast(query with a trailing byte) answered, want it declined")
	}
	if _, ok := s.fast([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}, src, false, make([]byte, 65535)); ok {
		t.Error("fast(question with a pointer) answered, want it declined")
	}
	if _, ok := s.fast(pkt, src, false, make([]byte, 20)); ok {
		t.Error("fast(buffer too small) answered, want it declined")
	}
}

// TestFastPathRRL checks that rate limiting drops and slips the same
// answers whichever path makes them.
func TestFastPathRRL(t *testing.T) {
	rrl := func(c *Config) { c.RRL = RRLConfig{ResponsesPerSecond: 2, Slip: 2} }
	fast := inMemory(t, fuzzDoc, rrl, withRand)
	slow := slowOnly(t, fuzzDoc, rrl, withRand)
	src := netip.MustParseAddr("192.0.2.99")
	for _, q := range []*dns.Msg{
		newQuery("ns1.example.com.", dns.TypeA),
		newQuery("w.pick.test.", dns.TypeA, withEDNS(1232)),
		newQuery("mv12.pick.test.", dns.TypeA),
		newQuery("NS1.example.com.", dns.TypeA, withEDNS(1232), withDO),
		newQuery("nope1.example.com.", dns.TypeA),
		newQuery("nope2.example.com.", dns.TypeA, withEDNS(1232)),
		newQuery("www.example.com.", dns.TypeMX),
	} {
		pkt, _ := q.Pack()
		for i := range 8 {
			want := slow.handle(pkt, src, false, make([]byte, 65535))
			got := fast.handle(pkt, src, false, make([]byte, 65535))
			if (want == nil) != (got == nil) {
				t.Fatalf("query %d of %s: fast answer %x, slow answer %x", i, q.Question[0].Name, got, want)
			}
			if want == nil {
				continue
			}
			if diff := cmp.Diff(parse(t, want), parse(t, got)); diff != "" {
				t.Errorf("query %d of %s mismatch (-slow +fast):\n%s", i, q.Question[0].Name, diff)
			}
		}
	}
	f, sl := fast.Stats(), slow.Stats()
	if f.RRLDropped != sl.RRLDropped || f.RRLSlipped != sl.RRLSlipped || f.RRLDropped == 0 || f.RRLSlipped == 0 {
		t.Errorf("RRL dropped/slipped: fast %d/%d, slow %d/%d, want equal and non-zero", f.RRLDropped, f.RRLSlipped, sl.RRLDropped, sl.RRLSlipped)
	}
	for _, m := range []struct {
		name       string
		fast, slow map[string]uint64
	}{{"ByType", f.ByType, sl.ByType}, {"ByRcode", f.ByRcode, sl.ByRcode}, {"ByPolicy", f.ByPolicy, sl.ByPolicy}, {"ByRecordSet", f.ByRecordSet, sl.ByRecordSet}} {
		if diff := cmp.Diff(m.slow, m.fast); diff != "" {
			t.Errorf("%s mismatch (-slow +fast):\n%s", m.name, diff)
		}
	}
}

func TestFastPathAllocs(t *testing.T) {
	s := inMemory(t, fuzzDoc)
	src := netip.MustParseAddr("192.0.2.99")
	buf := make([]byte, 65535)
	for _, tt := range []struct {
		name string
		m    *dns.Msg
	}{
		{"A", newQuery("ns1.example.com.", dns.TypeA)},
		{"A/EDNS", newQuery("ns1.example.com.", dns.TypeA, withEDNS(1232))},
		{"A/ECS", newQuery("ns1.example.com.", dns.TypeA, withECS("10.10.7.0/21"))},
		{"NXDOMAIN", newQuery("nope.example.com.", dns.TypeA)},
		{"NODATA", newQuery("www.example.com.", dns.TypeMX)},
	} {
		pkt, _ := tt.m.Pack()
		if n := testing.AllocsPerRun(100, func() { s.handle(pkt, src, false, buf) }); n != 0 {
			t.Errorf("handle(%s) makes %v allocations, want 0", tt.name, n)
		}
	}
}

// FuzzFastPath checks that whatever the fast path answers, the slow path
// answers alike: the same header, question and sections, records in the
// same order (both servers draw the same random numbers).
func FuzzFastPath(f *testing.F) {
	// The same seed: random choices (fastpick.go) draw alike on both.
	fast := inMemory(f, fuzzDoc, withLocator(geoDB(f)), withRand)
	slow := slowOnly(f, fuzzDoc, withLocator(geoDB(f)), withRand)
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	src := netip.MustParseAddr("10.13.0.1")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) < headerLen || pkt[2]&0x80 != 0 {
			return
		}
		for _, tcp := range []bool{false, true} {
			got, ok := fast.fast(pkt, src, tcp, make([]byte, 65535))
			if !ok {
				continue
			}
			want := slow.handle(pkt, src, tcp, make([]byte, 65535))
			if diff := cmp.Diff(parseOrdered(t, want), parseOrdered(t, got)); diff != "" {
				t.Errorf("fast(%x, tcp %v) mismatch (-slow +fast):\n%s", pkt, tcp, diff)
			}
		}
	})
}
