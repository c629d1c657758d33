// Tests of the authoritative behaviour: SOA and NS, record types, NXDOMAIN
// and NODATA, wildcards, CNAME chains, delegations, REFUSED, ANY and 0x20.

package dnsserver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// staticDoc is a configuration with static zones for the authoritative tests.
const staticDoc = `
hosted_zones:
  - name: example.com
    name_servers: [ns1.example.com, ns2.example.net]
    soa: { ttl: 900s, negative_ttl: 60s }
    records:
      - { name: ns1.example.com, type: A, values: [192.0.2.53] }
      - { name: www.example.com, type: A, ttl: 300s, values: [192.0.2.1, 192.0.2.2] }
      - { name: www.example.com, type: AAAA, values: ["2001:db8::1"] }
      - { name: example.com, type: MX, ttl: 3600s, values: ["10 mail.example.com."] }
      - { name: example.com, type: TXT, values: ['"v=spf1 -all"'] }
      - { name: example.com, type: CAA, values: ['0 issue "letsencrypt.org"'] }
      - { name: _sip._udp.example.com, type: SRV, values: ["10 5 5060 sip.example.com."] }
      - { name: alias1.example.com, type: CNAME, values: [alias2.example.com.] }
      - { name: alias2.example.com, type: CNAME, values: [www.example.com.] }
      - { name: cross.example.com, type: CNAME, values: [host.other.test.] }
      - { name: out.example.com, type: CNAME, values: [www.example.org.] }
      - { name: dangling.example.com, type: CNAME, values: [nothing.example.com.] }
      - { name: loop1.example.com, type: CNAME, values: [loop2.example.com.] }
      - { name: loop2.example.com, type: CNAME, values: [loop1.example.com.] }
      - { name: dept.example.com, type: NS, ttl: 3600s, values: [ns1.dept.example.com., ns.example.net.] }
      - { name: dept.example.com, type: DS, values: ["12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE0A5D6A8E1A8E5D2F0C2E9A2B"] }
      - { name: ns1.dept.example.com, type: A, values: [192.0.2.54] }
  - name: other.test
    records:
      - { name: host.other.test, type: A, ttl: 60s, values: [198.51.100.7] }
  - name: wild.test
    soa: { ttl: 30s, negative_ttl: 120s }
    records:
      - { name: "*.wild.test", type: A, values: [192.0.2.10] }
      - { name: host.wild.test, type: TXT, values: ['"host"'] }
      - { name: x.ent.wild.test, type: A, values: [192.0.2.11] }
  - name: 2.0.192.in-addr.arpa
    records:
      - { name: 1.2.0.192.in-addr.arpa, type: PTR, values: [www.example.com.] }
`

func TestAuthoritative(t *testing.T) {
	hs := start(t, staticDoc, nil)
	const (
		soa     = "example.com. 60 SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 60"
		wildSOA = "wild.test. 30 SOA ns1.wild.test. hostmaster.wild.test. 1 7200 900 1209600 120"
	)
	type want struct {
		rcode  int
		aa     bool
		answer []string
		ns     []string
		extra  []string
	}
	for _, tt := range []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"apex/SOA", "example.com.", dns.TypeSOA, want{aa: true, answer: []string{
			"example.com. 900 SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 60"}}},
		{"apex/NS with glue", "example.com.", dns.TypeNS, want{aa: true,
			answer: []string{"example.com. 172800 NS ns1.example.com.", "example.com. 172800 NS ns2.example.net."},
			extra:  []string{"ns1.example.com. 300 A 192.0.2.53"}}},
		{"A/all values", "www.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"www.example.com. 300 A 192.0.2.1", "www.example.com. 300 A 192.0.2.2"}}},
		{"AAAA", "www.example.com.", dns.TypeAAAA, want{aa: true, answer: []string{"www.example.com. 300 AAAA 2001:db8::1"}}},
		{"MX", "example.com.", dns.TypeMX, want{aa: true, answer: []string{"example.com. 3600 MX 10 mail.example.com."}}},
		{"TXT", "example.com.", dns.TypeTXT, want{aa: true, answer: []string{`example.com. 300 TXT "v=spf1 -all"`}}},
		{"CAA", "example.com.", dns.TypeCAA, want{aa: true, answer: []string{`example.com. 300 CAA 0 issue "letsencrypt.org"`}}},
		{"SRV", "_sip._udp.example.com.", dns.TypeSRV, want{aa: true, answer: []string{"_sip._udp.example.com. 300 SRV 10 5 5060 sip.example.com."}}},
		{"PTR", "1.2.0.192.in-addr.arpa.", dns.TypePTR, want{aa: true, answer: []string{"1.2.0.192.in-addr.arpa. 300 PTR www.example.com."}}},
		{"0x20/owner as asked", "WwW.ExAmPlE.cOm.", dns.TypeAAAA, want{aa: true, answer: []string{"WwW.ExAmPlE.cOm. 300 AAAA 2001:db8::1"}}},

		{"NXDOMAIN/SOA with min TTL", "nope.example.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{soa}}},
		{"NXDOMAIN/below a leaf", "a.www.example.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{soa}}},
		{"NODATA/type missing", "www.example.com.", dns.TypeMX, want{aa: true, ns: []string{soa}}},
		{"NODATA/empty non-terminal", "_udp.example.com.", dns.TypeSRV, want{aa: true, ns: []string{soa}}},

		{"wildcard/match", "any.wild.test.", dns.TypeA, want{aa: true, answer: []string{"any.wild.test. 300 A 192.0.2.10"}}},
		{"wildcard/match two labels down", "a.b.wild.test.", dns.TypeA, want{aa: true, answer: []string{"a.b.wild.test. 300 A 192.0.2.10"}}},
		{"wildcard/0x20 owner", "AnY.WiLd.test.", dns.TypeA, want{aa: true, answer: []string{"AnY.WiLd.test. 300 A 192.0.2.10"}}},
		{"wildcard/NODATA for another type", "any.wild.test.", dns.TypeAAAA, want{aa: true, ns: []string{wildSOA}}},
		{"wildcard/not for an existing name", "host.wild.test.", dns.TypeA, want{aa: true, ns: []string{wildSOA}}},
		{"wildcard/not below an existing name", "y.host.wild.test.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{wildSOA}}},
		{"wildcard/not for an empty non-terminal", "ent.wild.test.", dns.TypeA, want{aa: true, ns: []string{wildSOA}}},
		{"wildcard/not below an empty non-terminal", "y.ent.wild.test.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{wildSOA}}},
		{"wildcard/asked literally", "*.wild.test.", dns.TypeA, want{aa: true, answer: []string{"*.wild.test. 300 A 192.0.2.10"}}},

		{"CNAME/chain in zone", "alias1.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"alias1.example.com. 300 CNAME alias2.example.com.", "alias2.example.com. 300 CNAME www.example.com.",
			"www.example.com. 300 A 192.0.2.1", "www.example.com. 300 A 192.0.2.2"}}},
		{"CNAME/asked for itself", "alias1.example.com.", dns.TypeCNAME, want{aa: true, answer: []string{
			"alias1.example.com. 300 CNAME alias2.example.com."}}},
		{"CNAME/into another of our zones", "cross.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"cross.example.com. 300 CNAME host.other.test.", "host.other.test. 60 A 198.51.100.7"}}},
		{"CNAME/out of our zones", "out.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"out.example.com. 300 CNAME www.example.org."}}},
		{"CNAME/to a missing name", "dangling.example.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true,
			answer: []string{"dangling.example.com. 300 CNAME nothing.example.com."}, ns: []string{soa}}},
		{"CNAME/loop", "loop1.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"loop1.example.com. 300 CNAME loop2.example.com.", "loop2.example.com. 300 CNAME loop1.example.com."}}},

		{"delegation/referral with glue", "www.dept.example.com.", dns.TypeA, want{
			ns:    []string{"dept.example.com. 3600 NS ns.example.net.", "dept.example.com. 3600 NS ns1.dept.example.com."},
			extra: []string{"ns1.dept.example.com. 300 A 192.0.2.54"}}},
		{"delegation/NS at the cut is a referral", "dept.example.com.", dns.TypeNS, want{
			ns:    []string{"dept.example.com. 3600 NS ns.example.net.", "dept.example.com. 3600 NS ns1.dept.example.com."},
			extra: []string{"ns1.dept.example.com. 300 A 192.0.2.54"}}},
		{"delegation/glue is not answered", "ns1.dept.example.com.", dns.TypeA, want{
			ns:    []string{"dept.example.com. 3600 NS ns.example.net.", "dept.example.com. 3600 NS ns1.dept.example.com."},
			extra: []string{"ns1.dept.example.com. 300 A 192.0.2.54"}}},
		{"delegation/DS from the parent", "dept.example.com.", dns.TypeDS, want{aa: true, answer: []string{
			"dept.example.com. 300 DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE0A5D6A8E1A8E5D2F0C2E9A2B"}}},

		{"REFUSED/outside our zones", "www.example.org.", dns.TypeA, want{rcode: dns.RcodeRefused}},
		{"REFUSED/above our zone", "com.", dns.TypeNS, want{rcode: dns.RcodeRefused}},
		{"REFUSED/root", ".", dns.TypeNS, want{rcode: dns.RcodeRefused}},

		{"ANY/one RRset", "www.example.com.", dns.TypeANY, want{aa: true, answer: []string{
			"www.example.com. 300 A 192.0.2.1", "www.example.com. 300 A 192.0.2.2"}}},
		{"ANY/CNAME not followed", "alias1.example.com.", dns.TypeANY, want{aa: true, answer: []string{
			"alias1.example.com. 300 CNAME alias2.example.com."}}},
		{"ANY/empty non-terminal", "ent.wild.test.", dns.TypeANY, want{aa: true, ns: []string{wildSOA}}},
		{"ANY/NXDOMAIN", "nope.example.com.", dns.TypeANY, want{rcode: dns.RcodeNameError, aa: true, ns: []string{soa}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.ask(t, tt.qname, tt.qtype)
			got := want{rcode: r.Rcode, aa: r.Authoritative, answer: rrStrings(r.Answer), ns: rrStrings(r.Ns), extra: rrStrings(r.Extra)}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s %s mismatch (-want +got):\n%s", tt.qname, dns.TypeToString[tt.qtype], diff)
			}
			if q := r.Question; len(q) != 1 || q[0].Name != tt.qname {
				t.Errorf("%s: question = %v, want the name as asked", tt.qname, q)
			}
			if r.RecursionAvailable {
				t.Errorf("%s: RA set; we never recurse", tt.qname)
			}
		})
	}
}

// TestAnswerOrderIsRandom checks that a simple record's values come in
// more than one order.
func TestAnswerOrderIsRandom(t *testing.T) {
	hs := start(t, staticDoc, nil)
	orders := map[string]bool{}
	for range 50 {
		r := hs.ask(t, "www.example.com.", dns.TypeA)
		var s string
		for _, rr := range r.Answer {
			s += rr.(*dns.A).A.String() + " "
		}
		orders[s] = true
	}
	if len(orders) != 2 {
		t.Errorf("orders of www.example.com A over 50 queries = %v, want both", orders)
	}
}
