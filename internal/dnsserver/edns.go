// This file reads a query's EDNS(0) OPT record (RFC 6891) and its Client
// Subnet option (RFC 7871), and writes the OPT record of the answer.

package dnsserver

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// ednsPayload is the UDP payload size we advertise, and the most we send
// over UDP whatever the client advertises: 1232 bytes fit the IPv6 minimum
// MTU without fragmentation (DNS Flag Day 2020).
const ednsPayload = 1232

// edns is what a query's OPT record asks for.
type edns struct {
	present bool
	version uint8
	do      bool
	// size is the client's UDP payload size (at least 512).
	size int
	// ecs is the query's Client Subnet option, or nil.
	ecs *dns.EDNS0_SUBNET
}

// readEDNS returns the query's EDNS parameters, or false when the OPT
// record is malformed (FORMERR): more than one, one outside the additional
// section, or not owned by the root; or when it has a second Client Subnet
// option, or one with a non-zero scope or a prefix longer than its family
// (RFC 7871 §7.1.2), in which case present is still true. Unknown options
// are ignored.
func readEDNS(m *dns.Msg) (edns, bool) {
	var e edns
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == dns.TypeOPT {
			return e, false
		}
	}
	for _, rr := range m.Ns {
		if rr.Header().Rrtype == dns.TypeOPT {
			return e, false
		}
	}
	var opt *dns.OPT
	for _, rr := range m.Extra {
		o, ok := rr.(*dns.OPT)
		if !ok {
			continue
		}
		if opt != nil || o.Hdr.Name != "." {
			return e, false
		}
		opt = o
	}
	if opt == nil {
		return e, true
	}
	e.present = true
	e.version = opt.Version()
	e.do = opt.Do()
	e.size = max(int(opt.UDPSize()), dns.MinMsgSize)
	for _, o := range opt.Option {
		s, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		if e.ecs != nil || s.SourceScope != 0 ||
			s.Family == 1 && s.SourceNetmask > 32 || s.Family == 2 && s.SourceNetmask > 128 {
			e.ecs = nil
			return e, false
		}
		e.ecs = s
	}
	return e, true
}

// clientOf returns the client a query speaks for: the ECS network when the
// query has one (its address masked to the source prefix, as RFC 7871 asks
// servers to use no more than that), else the resolver's address.
func clientOf(e edns, src netip.Addr) client {
	if e.ecs == nil {
		return client{addr: src, bits: src.BitLen()}
	}
	var a netip.Addr
	switch e.ecs.Family {
	case 2:
		if ip := e.ecs.Address.To16(); ip != nil {
			a = netip.AddrFrom16([16]byte(ip))
		} else {
			a = netip.IPv6Unspecified()
		}
	default: // 1, or 0 with a 0 prefix (dig's "+subnet=0")
		if ip := e.ecs.Address.To4(); ip != nil {
			a = netip.AddrFrom4([4]byte(ip))
		} else {
			a = netip.IPv4Unspecified()
		}
	}
	bits := min(int(e.ecs.SourceNetmask), a.BitLen())
	p, _ := a.Prefix(bits)
	return client{addr: p.Addr(), bits: bits}
}

// replyOPT returns the answer's OPT record: our payload size, version 0,
// DO copied (RFC 3225), and the Client Subnet option echoed with scope
// (the client prefix length the answer depended on) when the query had one.
func replyOPT(e edns, cl client, scope int) *dns.OPT {
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(ednsPayload)
	if e.do {
		opt.SetDo()
	}
	if e.ecs != nil {
		addr := net.IP(cl.addr.AsSlice())
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
			Code:          dns.EDNS0SUBNET,
			Family:        e.ecs.Family,
			SourceNetmask: e.ecs.SourceNetmask,
			SourceScope:   uint8(min(scope, cl.addr.BitLen())),
			Address:       addr,
		})
	}
	return opt
}
