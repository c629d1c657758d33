// This file answers a question without a packet, for the API's "what would
// happen" query (Route 53's TestDNSAnswer).

package dnsserver

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/view"
)

// TestAnswer returns the answer a server with this load balancer TTL and
// locator (nil: none) would give to the question name/qtype from a client
// in the network from (a single address, or the network an EDNS Client
// Subnet option would carry), answering from v. It compiles v for this one
// question, sends nothing and counts nothing; random choices (weighted,
// multivalue) are drawn as a live query's are. An error means v cannot be
// compiled. Safe for concurrent use.
//
// Unlike (*Server).Exchange, which answers from the live server and is
// counted in its Stats, TestAnswer is not: it has no server to count in.
func TestAnswer(v *view.View, lbTTL time.Duration, loc Locator, name string, qtype uint16, from netip.Prefix) (*dns.Msg, error) {
	t, _, err := compile(v, uint32(lbTTL/time.Second), &recordHits{}) // counted here, then dropped
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: Config{Locator: loc}} // nil counts: the answer code counts nothing
	m := &dns.Msg{Compress: true}
	m.Response = true
	m.Question = []dns.Question{{Name: dns.Fqdn(name), Qtype: qtype, Qclass: dns.ClassINET}}
	p := from.Masked()
	q := query{s: s, t: t, cl: client{addr: p.Addr(), bits: p.Bits()}}
	q.resolve(m, m.Question[0].Name, qtype)
	return m, nil
}
