package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// TestStatsCounters queries a real server over UDP and TCP, through both
// the fast and the general path, and checks Stats' maps: by question type,
// by rcode, by policy and by record set; that the counts survive a health
// change (a new table); and that a record set removed from the state
// leaves ByRecordSet.
func TestStatsCounters(t *testing.T) {
	hs := start(t, fuzzDoc, nil, withLocator(geoDB(t)))
	ask := func(n int, name string, qtype uint16, opts ...msgOpt) {
		t.Helper()
		for range n {
			hs.ask(t, name, qtype, opts...)
		}
	}
	ask(10, "w.p.test.", dns.TypeA)                          // weighted, fast path
	ask(3, "f.p.test.", dns.TypeA)                           // failover, fast path
	ask(2, "lat.p.test.", dns.TypeA, withECS("10.1.5.0/24")) // latency, general path: eu
	ask(1, "mv12.pick.test.", dns.TypeA)                     // multivalue: 8 of 12 records
	ask(1, "nope.p.test.", dns.TypeA)                        // NXDOMAIN
	ask(1, "w.p.test.", dns.TypeMX)                          // NODATA
	ask(1, "w.p.test.", 65280)                               // a type without a mnemonic
	ask(1, "www.elsewhere.test.", dns.TypeA)                 // REFUSED
	ask(1, "ns1.example.com.", dns.TypeA, func(m *dns.Msg) { // BADVERS
		withEDNS(1232)(m)
		m.IsEdns0().SetVersion(1)
	})
	hs.exchange(t, &dns.Msg{Question: []dns.Question{ // FORMERR: two questions, counted by the first's type
		{Name: "a.p.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET},
		{Name: "b.p.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET},
	}})
	hs.askTCP(t, newQuery("simple.p.test.", dns.TypeA)) // simple, over TCP
	hs.askTCP(t, newQuery("p.test.", dns.TypeAXFR))     // no secondaries: REFUSED

	st := hs.srv.Stats()
	if diff := cmp.Diff(map[string]uint64{"A": 21, "MX": 1, "TYPE65280": 1, "AXFR": 1}, st.ByType); diff != "" {
		t.Errorf("ByType mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]uint64{"NOERROR": 19, "NXDOMAIN": 1, "REFUSED": 2, "BADVERS": 1, "FORMERR": 1}, st.ByRcode); diff != "" {
		t.Errorf("ByRcode mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]uint64{"weighted": 10, "failover": 3, "latency": 2, "multivalue": 1, "simple": 1}, st.ByPolicy); diff != "" {
		t.Errorf("ByPolicy mismatch (-want +got):\n%s", diff)
	}
	rs := st.ByRecordSet
	if got := rs["w.p.test. A a"] + rs["w.p.test. A b"]; got != 10 || rs["w.p.test. A z"] != 0 {
		t.Errorf("ByRecordSet: w.p.test A a + b = %d, z = %d; want 10 and 0 (%v)", got, rs["w.p.test. A z"], rs)
	}
	if rs["f.p.test. A p"] != 3 || rs["lat.p.test. A eu"] != 2 || rs["simple.p.test. A "] != 1 {
		t.Errorf("ByRecordSet = %v, want f.p.test A p 3, lat.p.test A eu 2, simple.p.test A 1", rs)
	}
	mv := 0
	for k, n := range rs {
		if len(k) > 4 && k[:4] == "mv12" {
			mv += int(n)
		}
	}
	if mv != 8 {
		t.Errorf("ByRecordSet: multivalue records counted %d times, want 8 (one answer of 8 records)", mv)
	}

	// A health change compiles a new table; counts carry on from before.
	hs.setHealth(t, down("fp"))
	ask(2, "f.p.test.", dns.TypeA)
	st = hs.srv.Stats()
	if rs := st.ByRecordSet; rs["f.p.test. A p"] != 3 || rs["f.p.test. A s"] != 2 {
		t.Errorf("after the primary went down: f.p.test A p = %d, s = %d; want 3 and 2", rs["f.p.test. A p"], rs["f.p.test. A s"])
	}
	if st.ByPolicy["failover"] != 5 {
		t.Errorf("ByPolicy[failover] = %d, want 5", st.ByPolicy["failover"])
	}

	// A state without zone p.test: its record sets leave ByRecordSet; the
	// other maps keep their totals.
	hs.publish(t, staticDoc, nil)
	st = hs.srv.Stats()
	for k := range st.ByRecordSet {
		t.Errorf("ByRecordSet holds %q after its zone was removed", k)
	}
	if st.ByPolicy["weighted"] != 10 || st.ByType["A"] != 23 {
		t.Errorf("ByPolicy[weighted] = %d, ByType[A] = %d after a new state; want 10 and 23", st.ByPolicy["weighted"], st.ByType["A"])
	}
}

// TestStatsCountersRRL checks that an answer response rate limiting drops
// is not counted by rcode, and one it slips (sends truncated) is, on the
// fast path and the general one alike.
func TestStatsCountersRRL(t *testing.T) {
	rrl := func(c *Config) { c.RRL = RRLConfig{ResponsesPerSecond: 1, Slip: 2} }
	for _, tt := range []struct {
		name string
		s    *Server
	}{
		{"fast", inMemory(t, fuzzDoc, rrl)},
		{"slow", slowOnly(t, fuzzDoc, rrl)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkt, _ := newQuery("f.p.test.", dns.TypeA).Pack()
			sent := 0
			for range 10 {
				if tt.s.handle(pkt, netip.MustParseAddr("192.0.2.99"), false, make([]byte, 65535)) != nil {
					sent++
				}
			}
			st := tt.s.Stats()
			if sent == 10 || st.RRLDropped == 0 {
				t.Fatalf("%d of 10 answers sent, %d dropped; want some dropped", sent, st.RRLDropped)
			}
			if got := st.ByRcode["NOERROR"]; got != uint64(sent) {
				t.Errorf("ByRcode[NOERROR] = %d, want the %d answers sent", got, sent)
			}
			if got := st.ByType["A"]; got != 10 {
				t.Errorf("ByType[A] = %d, want every query (10)", got)
			}
		})
	}
}
