// Tests of the fast path's random choices (fastpick.go) against the slow
// path: two servers with the same seed draw the same numbers, so each
// answer must be the same, records in the same order.

package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// pickZone is a hosted zone (an item of hosted_zones) of choices the fast
// path makes: weighted groups of several types (validation allows one value
// per weighted or multivalue record), a weighted CNAME, a failover group
// whose primary has two values, multivalue groups of 5 and 12 records, a
// simple group of three values, a weighted group with an alias (slow
// path), and a multivalue TXT group whose answer exceeds 512 bytes. It
// reuses policyDoc's check names.
var pickZone = `
  - name: pick.test
    records:
      - { name: w.pick.test, type: A, set_identifier: a, weight: 2, health_check: wa, values: [192.0.2.1] }
      - { name: w.pick.test, type: A, set_identifier: b, weight: 1, health_check: wb, values: [192.0.2.4] }
      - { name: w.pick.test, type: A, set_identifier: z, weight: 0, health_check: wz, values: [192.0.2.5] }
      - { name: w.pick.test, type: MX, set_identifier: a, weight: 1, health_check: wa, values: ["10 mx1.pick.test."] }
      - { name: w.pick.test, type: MX, set_identifier: b, weight: 1, values: ["10 mx3.elsewhere.test."] }
      - { name: w.pick.test, type: TXT, set_identifier: a, weight: 1, values: ['"a"'] }
      - { name: w.pick.test, type: TXT, set_identifier: b, weight: 1, values: ['"b"'] }
      - { name: c.pick.test, type: CNAME, set_identifier: a, weight: 1, health_check: wa, values: [w.pick.test] }
      - { name: c.pick.test, type: CNAME, set_identifier: b, weight: 1, values: [x.pick.test] }
      - { name: f.pick.test, type: AAAA, set_identifier: p, failover: PRIMARY, health_check: fp, values: ["2001:db8::1", "2001:db8::2"] }
      - { name: f.pick.test, type: AAAA, set_identifier: s, failover: SECONDARY, health_check: fs, values: ["2001:db8::3"] }
      - { name: s.pick.test, type: TXT, values: ['"x"', '"y"', '"z"'] }
      - { name: al.pick.test, type: A, set_identifier: a, weight: 1, alias: { record: w.pick.test } }
      - { name: al.pick.test, type: A, set_identifier: b, weight: 1, values: [192.0.2.9] }
` + bigTXTRecords(8) + mvRecords("mv5", 5, "gsub", "gus", "gna", "gdef", "gde") + mvRecords("mv12", 12, "pe", "pu", "pa", "ib", "ip", "idef")

// bigTXTRecords returns n multivalue TXT records at big.pick.test, each of
// a 200-byte string: together over 512 bytes and over ednsPayload.
func bigTXTRecords(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "      - { name: big.pick.test, type: TXT, set_identifier: t%d, multivalue: true, values: ['\"%s\"'] }\n", i, strings.Repeat(string(rune('a'+i)), 200))
	}
	return b.String()
}

// mvRecords returns n multivalue records at name.pick.test, the first ones
// with the checks given.
func mvRecords(name string, n int, checks ...string) string {
	var b strings.Builder
	for i := range n {
		check := ""
		if i < len(checks) {
			check = ", health_check: " + checks[i]
		}
		vals := fmt.Sprintf("198.51.100.%d", i+1)
		fmt.Fprintf(&b, "      - { name: %s.pick.test, type: A, set_identifier: r%d, multivalue: true%s, values: [%s] }\n", name, i, check, vals)
	}
	return b.String()
}

func withRand(c *Config) { c.Rand = rand.NewPCG(7, 11) }

// ordered is an answer with its records in order, as the client gets them.
type ordered struct {
	Hdr                              dns.MsgHdr
	Question                         []dns.Question
	Answer, Ns, Extra                []string
	AnswerCount, NsCount, ExtraCount int
}

func parseOrdered(t *testing.T, b []byte) ordered {
	t.Helper()
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		t.Fatalf("answer %x does not parse: %v", b, err)
	}
	str := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			out = append(out, rr.String())
		}
		return out
	}
	return ordered{m.MsgHdr, m.Question, str(m.Answer), str(m.Ns), str(m.Extra), len(m.Answer), len(m.Ns), len(m.Extra)}
}

func TestFastPickMatchesSlowPath(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.99")
	for _, hc := range []struct {
		name string
		down []string
	}{
		{"all healthy", nil},
		{"weighted a down", []string{"wa"}},
		{"weighted non-zero down", []string{"wa", "wb"}},
		{"weighted all down, fail open", []string{"wa", "wb", "wz"}},
		{"failover primary down", []string{"fp"}},
		{"failover both down", []string{"fp", "fs"}},
		{"multivalue some down", []string{"gsub", "gna", "pe", "pu", "pa", "ib"}},
		{"multivalue all down, fail open", []string{"gsub", "gus", "gna", "gdef", "gde"}},
	} {
		t.Run(hc.name, func(t *testing.T) {
			fast := inMemoryHealth(t, fuzzDoc, down(hc.down...), withRand)
			slow := slowOnlyHealth(t, fuzzDoc, down(hc.down...), withRand)
			for _, q := range []struct {
				qname string
				qtype uint16
				opts  []msgOpt
			}{
				{"w.pick.test.", dns.TypeA, nil},
				{"W.PICK.test.", dns.TypeA, []msgOpt{withEDNS(1232), withDO}},
				{"w.pick.test.", dns.TypeMX, nil},
				{"w.pick.test.", dns.TypeTXT, []msgOpt{withEDNS(1232)}},
				{"c.pick.test.", dns.TypeCNAME, nil},
				{"f.pick.test.", dns.TypeAAAA, nil},
				{"mv5.pick.test.", dns.TypeA, nil},
				{"mv12.pick.test.", dns.TypeA, []msgOpt{withEDNS(1232)}},
				{"s.pick.test.", dns.TypeTXT, nil},
				{"w.p.test.", dns.TypeA, nil},
				{"f.p.test.", dns.TypeA, nil},
				{"f2.p.test.", dns.TypeA, nil},
				{"w0.p.test.", dns.TypeA, nil},
				{"simple.p.test.", dns.TypeA, nil},
			} {
				pkt, err := newQuery(q.qname, q.qtype, q.opts...).Pack()
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for i := range 30 {
					tcp := i%2 == 1
					got, ok := fast.fast(pkt, src, tcp, make([]byte, 65535))
					if !ok {
						t.Fatalf("fast(%s %s) declined", q.qname, dns.TypeToString[q.qtype])
					}
					want := slow.handle(pkt, src, tcp, make([]byte, 65535))
					g := parseOrdered(t, got)
					if diff := cmp.Diff(parseOrdered(t, want), g); diff != "" {
						t.Fatalf("query %d, fast(%s %s) mismatch (-slow +fast):\n%s", i, q.qname, dns.TypeToString[q.qtype], diff)
					}
					seen[strings.Join(g.Answer, " ")] = true
				}
				t.Logf("%s %s: %d different answers", q.qname, dns.TypeToString[q.qtype], len(seen))
			}
			// Both servers counted the same record sets.
			if diff := cmp.Diff(slow.Stats().ByRecordSet, fast.Stats().ByRecordSet); diff != "" {
				t.Errorf("ByRecordSet mismatch (-slow +fast):\n%s", diff)
			}
		})
	}
}

// slowOnlyHealth is slowOnly under health h.
func slowOnlyHealth(tb testing.TB, doc string, h health, opts ...func(*Config)) *Server {
	s := inMemoryHealth(tb, doc, h, opts...)
	s.table.Load().fast = nil
	return s
}

// TestFastPickDeclines checks what the fast path leaves to the slow one.
func TestFastPickDeclines(t *testing.T) {
	s := inMemory(t, fuzzDoc)
	src := netip.MustParseAddr("192.0.2.99")
	for _, q := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"alias among the candidates", "al.pick.test.", dns.TypeA},
		{"CNAME followed", "c.pick.test.", dns.TypeA},
	} {
		pkt, _ := newQuery(q.qname, q.qtype).Pack()
		if out, ok := s.fast(pkt, src, false, make([]byte, 65535)); ok {
			t.Errorf("fast(%s) = %x, want it declined", q.name, out)
		}
	}
	// An answer that fits the client's UDP size is answered: 8 A records
	// fit 512 bytes.
	pkt, _ := newQuery("mv12.pick.test.", dns.TypeA).Pack()
	if _, ok := s.fast(pkt, src, false, make([]byte, 65535)); !ok {
		t.Error("fast(mv12 A) declined, want it answered: 8 records fit 512 bytes")
	}
	// An answer larger than the client's UDP size goes to the slow path,
	// which truncates it (TC=1). Over TCP the fast path answers it whole.
	// (Over UDP it never fits: the server caps EDNS sizes at ednsPayload.)
	pkt, _ = newQuery("big.pick.test.", dns.TypeTXT).Pack()
	if out, ok := s.fast(pkt, src, false, make([]byte, 65535)); ok {
		t.Errorf("fast(big TXT over UDP/512) = %d bytes, want it declined", len(out))
	}
	var m dns.Msg
	if err := m.Unpack(s.handle(pkt, src, false, make([]byte, 65535))); err != nil {
		t.Fatalf("slow answer to big TXT does not parse: %v", err)
	}
	if !m.Truncated || len(m.Answer) == 8 {
		t.Errorf("slow answer to big TXT over UDP/512: TC=%v with %d records, want TC=1 and not all 8", m.Truncated, len(m.Answer))
	}
	out, ok := s.fast(pkt, src, true, make([]byte, 65535))
	if !ok {
		t.Fatal("fast(big TXT over TCP) declined, want it answered")
	}
	if err := m.Unpack(out); err != nil || m.Truncated || len(m.Answer) != 8 {
		t.Errorf("fast(big TXT over TCP): err %v, TC=%v, %d records, want 8 and no TC", err, m.Truncated, len(m.Answer))
	}
}

// TestFastPickAllocs checks that weighted, failover and multivalue answers
// allocate nothing.
func TestFastPickAllocs(t *testing.T) {
	s := inMemory(t, fuzzDoc)
	src := netip.MustParseAddr("192.0.2.99")
	buf := make([]byte, 65535)
	for _, tt := range []struct {
		name string
		m    *dns.Msg
	}{
		{"weighted", newQuery("w.p.test.", dns.TypeA)},
		{"weighted/three", newQuery("w.pick.test.", dns.TypeA)},
		{"weighted/EDNS", newQuery("w.pick.test.", dns.TypeMX, withEDNS(1232))},
		{"failover", newQuery("f.p.test.", dns.TypeA)},
		{"failover/two values", newQuery("f.pick.test.", dns.TypeAAAA)},
		{"multivalue/5", newQuery("mv5.pick.test.", dns.TypeA)},
		{"multivalue/12", newQuery("mv12.pick.test.", dns.TypeA)},
		{"simple/three values", newQuery("s.pick.test.", dns.TypeTXT)},
	} {
		pkt, _ := tt.m.Pack()
		if _, ok := s.fast(pkt, src, false, buf); !ok {
			t.Errorf("fast(%s) declined", tt.name)
			continue
		}
		if n := testing.AllocsPerRun(100, func() { s.handle(pkt, src, false, buf) }); n != 0 {
			t.Errorf("handle(%s) makes %v allocations, want 0", tt.name, n)
		}
	}
}
