package route53

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/model"
)

// testDNSAnswer asks the DNS server, in-process, what it would answer now
// to a resolver at resolverip (default 127.0.0.1) with an optional EDNS
// client subnet: the live view's answer, every routing policy and health
// state included.
func (h *Handler) testDNSAnswer(rq *request) error {
	q := rq.r.URL.Query()
	name, typ := q.Get("recordname"), strings.ToUpper(q.Get("recordtype"))
	if name == "" || typ == "" || q.Get("hostedzoneid") == "" {
		return invalidInput("hostedzoneid, recordname and recordtype are required")
	}
	qtype, ok := dns.StringToType[typ]
	if !ok {
		return invalidInput("recordtype %q is not a record type", typ)
	}
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	zi := findZone(head.State, q.Get("hostedzoneid"))
	if zi < 0 {
		return noSuchZone(q.Get("hostedzoneid"))
	}
	if h.dns == nil {
		return invalidInput("this switchboard runs no DNS server (server.dns.listen is empty)")
	}
	src := netip.MustParseAddr("127.0.0.1")
	if s := q.Get("resolverip"); s != "" {
		if src, err = netip.ParseAddr(s); err != nil {
			return invalidInput("resolverip %q is not an IP address", s)
		}
	}
	m := new(dns.Msg)
	m.SetQuestion(model.CanonicalName(unescapeName(name)), qtype)
	if s := q.Get("edns0clientsubnetip"); s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return invalidInput("edns0clientsubnetip %q is not an IP address", s)
		}
		bits, family := 24, uint16(1)
		if ip.Is6() && !ip.Is4In6() {
			bits, family = 64, 2
		}
		if s := q.Get("edns0clientsubnetmask"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > ip.BitLen() {
				return invalidInput("edns0clientsubnetmask %q is not a prefix length for %s", s, ip)
			}
			bits = n
		}
		pfx, _ := ip.Unmap().Prefix(bits)
		m.SetEdns0(1232, false)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(bits), Address: pfx.Addr().AsSlice(),
		})
	} else if q.Get("edns0clientsubnetmask") != "" {
		return invalidInput("edns0clientsubnetmask needs edns0clientsubnetip")
	}
	r, err := h.dns.Exchange(m, src)
	if err != nil {
		return err
	}
	z := &head.State.HostedZones[zi]
	out := testDNSAnswerResponse{
		Nameserver:   strings.TrimSuffix(model.CanonicalName(firstOr(first(z.NameServers), "ns1."+z.Name)), "."),
		RecordName:   name,
		RecordType:   typ,
		RecordData:   []string{},
		ResponseCode: dns.RcodeToString[r.Rcode],
		Protocol:     "UDP",
	}
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != qtype {
			continue // the CNAMEs of a chain
		}
		out.RecordData = append(out.RecordData, strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	return rq.reply(http.StatusOK, out)
}
