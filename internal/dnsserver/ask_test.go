package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// Exchange answers in-process as the wire does: the policy decided by the
// source address or the client subnet, and NXDOMAIN with the SOA.
func TestExchange(t *testing.T) {
	hs := start(t, `
cidr_collections:
  - name: offices
    locations:
      - { name: berlin, cidrs: [10.1.0.0/16] }
hosted_zones:
  - name: x.test
    records:
      - { name: ip.x.test, type: A, set_identifier: berlin, cidr: { collection: offices, location: berlin }, values: [192.0.2.61] }
      - { name: ip.x.test, type: A, set_identifier: rest, cidr: { collection: offices, location: "*" }, values: [192.0.2.62] }
`, nil)
	for _, tt := range []struct {
		name  string
		src   string
		opts  []msgOpt
		qname string
		rcode int
		want  string
	}{
		{name: "source-in-berlin", src: "10.1.2.3", qname: "ip.x.test.", want: "192.0.2.61"},
		{name: "source-elsewhere", src: "127.0.0.1", qname: "ip.x.test.", want: "192.0.2.62"},
		{name: "ecs-in-berlin", src: "127.0.0.1", opts: []msgOpt{withECS("10.1.0.0/24")}, qname: "ip.x.test.", want: "192.0.2.61"},
		{name: "nxdomain", src: "127.0.0.1", qname: "nope.x.test.", rcode: dns.RcodeNameError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := hs.srv.Exchange(newQuery(tt.qname, dns.TypeA, tt.opts...), netip.MustParseAddr(tt.src))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if r.Rcode != tt.rcode {
				t.Fatalf("Exchange(%s) rcode = %s, want %s", tt.qname, dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := rdata(r); tt.want != "" && got != tt.want {
				t.Errorf("Exchange(%s from %s) = %q, want %q", tt.qname, tt.src, got, tt.want)
			}
			if tt.rcode == dns.RcodeNameError && (len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA) {
				t.Errorf("NXDOMAIN authority = %v, want the SOA", r.Ns)
			}
		})
	}
}
