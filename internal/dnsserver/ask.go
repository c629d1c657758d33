package dnsserver

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/miekg/dns"
)

// Exchange answers m in-process, as if it had come over TCP from src,
// from the table the server answers from now; EDNS options in m (client
// subnet) count as they would on the wire. It serves "what would the server
// answer" queries, such as the Route 53 API's TestDNSAnswer, and is safe
// for concurrent use. The query is counted in Stats like any other: it
// goes through the same handler and table, whose record counters are
// wired into the compiled records (TestAnswer, which compiles its own
// table, counts nothing).
func (s *Server) Exchange(m *dns.Msg, src netip.Addr) (*dns.Msg, error) {
	req, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("dnsserver: pack query: %w", err)
	}
	out := s.handle(req, src, true, make([]byte, dns.MaxMsgSize))
	if out == nil {
		return nil, errors.New("dnsserver: no answer to the query")
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		return nil, fmt.Errorf("dnsserver: unpack answer: %w", err)
	}
	return r, nil
}
