package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/view"
)

// TestTestAnswer asks the view, without packets, what clients in different
// networks get for a CIDR-routed name, and that a name outside our zones is
// refused as a query would be.
func TestTestAnswer(t *testing.T) {
	v := view.Build(1, parseState(t, `
cidr_collections:
  - name: offices
    locations:
      - { name: berlin, cidrs: [10.1.0.0/16] }
hosted_zones:
  - name: t.test
    records:
      - { name: www.t.test, type: A, set_identifier: b, cidr: { collection: offices, location: berlin }, values: [192.0.2.1] }
      - { name: www.t.test, type: A, set_identifier: d, cidr: { collection: offices, location: "*" }, values: [192.0.2.2] }
`), nil, epoch)
	for _, tt := range []struct {
		name, qname, from string
		rcode             int
		want              string
	}{
		{name: "berlin", qname: "www.t.test", from: "10.1.2.3/32", want: "192.0.2.1"},
		{name: "elsewhere", qname: "www.t.test.", from: "198.51.100.7/32", want: "192.0.2.2"},
		{name: "ecs-network", qname: "WWW.t.test", from: "10.1.0.0/16", want: "192.0.2.1"},
		{name: "not-ours", qname: "example.org", from: "10.1.2.3/32", rcode: dns.RcodeRefused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := TestAnswer(v, 0, nil, tt.qname, dns.TypeA, netip.MustParsePrefix(tt.from))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rcode != tt.rcode {
				t.Fatalf("TestAnswer(%s from %s) rcode = %s, want %s", tt.qname, tt.from, dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
			if tt.want == "" {
				return
			}
			if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != tt.want {
				t.Errorf("TestAnswer(%s from %s) = %v, want %s", tt.qname, tt.from, m.Answer, tt.want)
			}
		})
	}
}
