// This file is the fast path: answers that do not depend on the client's
// address, precomputed in wire format when a table is compiled, and written
// out without miekg/dns and without allocating. A plain QUERY of class IN
// with one question and at most a simple OPT record (a Client Subnet option
// is echoed with scope 0) is parsed by hand; when its name and type have a
// precomputed answer (a record group whose answer is fixed, such as a
// simple group of one value or a failover group; the apex SOA and NS;
// NODATA at a name that exists; NXDOMAIN below a name without a wildcard),
// the answer is the header, the question as received (0x20 case kept) and
// the prepared sections. Weighted,
// multivalue and several-valued groups without aliases have a precomputed
// choice instead (fastpick.go): the query draws the records and copies
// their prepared bytes. Anything else, or anything unusual, declines and
// goes the slow path in handle, which stays the one place for truncation,
// errors, aliases and policies that depend on the client.

package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/model"
)

// fastTable holds a table's precomputed answers. Immutable after build.
type fastTable struct {
	// answers are keyed by the lower-case wire name followed by the qtype
	// (big endian).
	answers map[string]*fastAnswer
	// names are keyed by the lower-case wire name; they hold every name a
	// query can find in the table (each in its most specific zone).
	names map[string]*fastName
}

// fastAnswer is a response less its header ID, RD/CD bits, question and OPT.
type fastAnswer struct {
	flags      uint16 // QR, AA and rcode
	an, ns, ar uint16
	// body is the answer, authority and additional sections, compressed
	// against a question at offset 12 of the same length as the query's.
	// Names in rdata never point into the question: the slow path writes
	// them as the table has them (lower case), whatever case was asked.
	body []byte
	// When picked, pick chooses the answer section per query, and body,
	// an, ns and ar are unused: the answer has nothing else. It is held
	// here, not behind a pointer, to spare a query a cache miss.
	picked bool
	pick   fastPick
	// size is the most bytes the sections take: len(body), or the largest
	// answer pick can choose.
	size int
	// RRL classification of the response (rrlClassify's result).
	rrlKind rrlKind
	rrlName string
	// Counters: the record group's policy, and the record set answered
	// (nil for none, or when pick chooses it).
	policy policyIndex
	hit    *atomic.Uint64
}

// fastName is a name that exists in a zone.
type fastName struct {
	// nodata answers a qtype not in types, nil when such queries take the
	// slow path (a CNAME, a delegation).
	nodata *fastAnswer
	types  []uint16
	// nx answers names below this one that do not exist, when this name
	// is their closest encloser; nil when that takes the slow path (a
	// wildcard, a delegation).
	nx *fastAnswer
}

// buildFast precomputes the answers of t that do not depend on the client.
// A record it cannot prepare is left to the slow path.
func buildFast(t *table) *fastTable {
	ft := &fastTable{answers: map[string]*fastAnswer{}, names: map[string]*fastName{}}
	for _, z := range t.zones {
		nx := nxAnswer(z)
		for name, n := range z.nodes {
			if t.zoneOf(name) != z {
				continue // hidden by a more specific zone of ours
			}
			key, ok := lowerWire(name)
			if !ok {
				continue
			}
			fn := &fastName{}
			ft.names[string(key)] = fn
			if z.cutAbove(name) {
				continue // at or below a delegation: referrals take the slow path
			}
			for _, g := range n.groups {
				fn.types = append(fn.types, g.rtype)
			}
			if n.wildcard == nil {
				fn.nx = nx
			}
			pres := presentation(key)
			if n.group(dns.TypeCNAME) == nil {
				fn.nodata = prepare(name, nil, []dns.RR{z.negSOA}, nil, dns.RcodeSuccess, rrlNoData, pres)
			}
			for _, g := range n.groups {
				if g.rtype == dns.TypeDS {
					continue
				}
				var a *fastAnswer
				if rrs, hit := fastValues(g); rrs != nil {
					var extra []dns.RR
					if g.rtype == dns.TypeNS && name == z.apex {
						extra = z.nsGlue
					}
					if a = prepare(name, rrs, nil, extra, dns.RcodeSuccess, rrlAnswer, pres); a != nil {
						a.hit = hit
					}
				} else if p, size := buildPick(g, name); size > 0 {
					a = &fastAnswer{flags: 0x8000 | 0x0400, picked: true, pick: p, size: size, rrlKind: rrlAnswer, rrlName: pres}
				}
				if a != nil {
					a.policy = g.pidx
					ft.answers[string(binary.BigEndian.AppendUint16(key, g.rtype))] = a
				}
			}
		}
	}
	return ft
}

// cutAbove reports whether name (a node of z) is at or below a delegation
// point of z.
func (z *zone) cutAbove(name string) bool {
	for off, end := 0, false; !end && len(name)-off > len(z.apex); off, end = dns.NextLabel(name, off) {
		if n := z.nodes[name[off:]]; n != nil && n.cut {
			return true
		}
	}
	return false
}

// fastValues returns the records that answer g for every client in a fixed
// order, and the counter of the record set they are (nil for none), or nil
// when the answer is a choice: static groups (the apex SOA and NS), simple
// groups of one value, and failover groups whose chosen record has one
// value; never aliases.
func fastValues(g *group) ([]dns.RR, *atomic.Uint64) {
	var i int
	switch {
	case g.static != nil:
		return g.static, nil
	case g.lb != nil:
		return nil, nil
	case g.policy == "" || g.policy == model.PolicySimple:
		if len(g.recs) != 1 {
			return nil, nil // validation allows one
		}
	case g.policy == model.PolicyFailover:
		// The choice depends on health alone, which the table fixes.
		if i = failover(g); i < 0 {
			return nil, nil
		}
	default:
		return nil, nil
	}
	r := &g.recs[i]
	if r.alias != nil || r.aliasLB != nil || len(r.rrs) != 1 {
		return nil, nil // an alias, none, or several in random order
	}
	return r.rrs, r.hits
}

// prepare packs a response to qname (canonical) with the given sections and
// returns it as a fastAnswer, or nil when it cannot be packed. Answer
// records are owned by the question's name.
func prepare(qname string, ans, ns, extra []dns.RR, rcode int, kind rrlKind, rrlName string) *fastAnswer {
	// The question is written in upper case so that no lower-case name in
	// the sections compresses into it: the query's question replaces it,
	// in whatever case the client chose. Owners of answers are the
	// question's name, and point at it.
	upper := upperName(qname)
	m := &dns.Msg{Compress: true}
	m.Rcode = rcode
	m.Question = []dns.Question{{Name: upper, Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	for _, rr := range ans {
		m.Answer = append(m.Answer, withOwner(rr, upper))
	}
	m.Ns, m.Extra = ns, extra
	b, err := m.Pack()
	if err != nil {
		return nil
	}
	qlen := 0
	if qlen, err = dns.PackDomainName(upper, make([]byte, 256), 0, nil, false); err != nil {
		return nil
	}
	body := b[headerLen+qlen+4:]
	if len(body) > 0xffff {
		return nil
	}
	const qr, aa = 0x8000, 0x0400
	return &fastAnswer{
		flags:   qr | aa | uint16(rcode),
		an:      uint16(len(m.Answer)),
		ns:      uint16(len(m.Ns)),
		ar:      uint16(len(m.Extra)),
		body:    body,
		size:    len(body),
		rrlKind: kind,
		rrlName: rrlName,
	}
}

// nxAnswer prepares z's NXDOMAIN, shared by every name below any of its
// names without a wildcard: its negative SOA, uncompressed, since where the
// apex sits in the question varies, and the question holds the client's
// case, not the table's (the slow path writes the SOA's owner in lower case).
func nxAnswer(z *zone) *fastAnswer {
	b := make([]byte, 512)
	off, err := dns.PackRR(z.negSOA, b, 0, nil, false)
	if err != nil {
		return nil
	}
	return &fastAnswer{
		flags:   0x8000 | 0x0400 | dns.RcodeNameError,
		ns:      1,
		body:    b[:off:off],
		size:    off,
		rrlKind: rrlNXDomain,
		rrlName: z.negSOA.Header().Name,
	}
}

// lowerWire returns name (presentation format) in wire format with A–Z
// folded to lower case.
func lowerWire(name string) ([]byte, bool) {
	b := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), b, 0, nil, false)
	if err != nil {
		return nil, false
	}
	b = b[:n]
	lowerLabels(b)
	return b, true
}

// lowerLabels folds A–Z to lower case in the labels of the uncompressed wire
// name b, leaving length bytes alone.
func lowerLabels(b []byte) {
	for i := 0; i < len(b) && b[i] != 0; i += int(b[i]) + 1 {
		for j := i + 1; j <= i+int(b[i]) && j < len(b); j++ {
			if c := b[j]; 'A' <= c && c <= 'Z' {
				b[j] = c + 'a' - 'A'
			}
		}
	}
}

// presentation returns wire name b as miekg/dns unpacks it (the name the
// slow path charges RRL with, up to case, which RRL folds).
func presentation(b []byte) string {
	s, _, err := dns.UnpackDomainName(b, 0)
	if err != nil {
		return ""
	}
	return s
}

// upperName returns name with a–z in upper case, escapes left alone.
func upperName(name string) string {
	b := []byte(name)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\\':
			i++ // the escaped byte, or the first of \DDD, which are digits
		case 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// fastOptLen is the size of the OPT record the fast path appends.
const fastOptLen = 11

// fast answers req from the precomputed answers of the current table when
// it can, and reports false when the query must take the slow path. It
// applies RRL as handle does, and never allocates.
func (s *Server) fast(req []byte, src netip.Addr, tcp bool, buf []byte) (resp []byte, ok bool) {
	// Header: QUERY, one question, nothing else but perhaps one OPT.
	flags := binary.BigEndian.Uint16(req[2:4])
	if flags&0x7800 != 0 || // opcode
		binary.BigEndian.Uint16(req[4:6]) != 1 ||
		binary.BigEndian.Uint16(req[6:8]) != 0 ||
		binary.BigEndian.Uint16(req[8:10]) != 0 {
		return nil, false
	}
	arcount := binary.BigEndian.Uint16(req[10:12])
	if arcount > 1 {
		return nil, false
	}
	t := s.table.Load()
	if t == nil || t.fast == nil {
		return nil, false
	}
	// The question name, folded to lower case into key.
	var key [255 + 2]byte
	off := headerLen
	n := 0
	for {
		if off >= len(req) {
			return nil, false
		}
		l := int(req[off])
		if l&0xC0 != 0 || n+1+l > 255 || off+1+l > len(req) {
			return nil, false // a pointer, an extended label, too long
		}
		key[n] = byte(l)
		copy(key[n+1:], req[off+1:off+1+l])
		n += 1 + l
		off += 1 + l
		if l == 0 {
			break
		}
	}
	lowerLabels(key[:n])
	if off+4 > len(req) {
		return nil, false
	}
	qtype := binary.BigEndian.Uint16(req[off:])
	if binary.BigEndian.Uint16(req[off+2:]) != dns.ClassINET {
		return nil, false
	}
	switch qtype {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeOPT,
		dns.TypeDS, dns.TypeTSIG, dns.TypeTKEY, dns.TypeNone:
		return nil, false
	}
	qend := off + 4
	// EDNS: one OPT owned by the root, version 0, perhaps a Client Subnet
	// option, which the answer echoes with scope 0: fast answers are the
	// same for every client.
	limit := dns.MinMsgSize
	if tcp {
		limit = dns.MaxMsgSize
	}
	var opt, do bool
	var ecs []byte
	if arcount == 1 {
		o := qend
		if o+11 > len(req) || req[o] != 0 || binary.BigEndian.Uint16(req[o+1:]) != dns.TypeOPT || req[o+6] != 0 {
			return nil, false
		}
		size := int(binary.BigEndian.Uint16(req[o+3:]))
		do = req[o+7]&0x80 != 0
		rdlen := int(binary.BigEndian.Uint16(req[o+9:]))
		o += 11
		if o+rdlen != len(req) {
			return nil, false
		}
		var ok bool
		if ecs, ok = plainOptions(req[o:]); !ok {
			return nil, false
		}
		opt = true
		if !tcp {
			limit = min(max(size, dns.MinMsgSize), ednsPayload)
		}
	} else if qend != len(req) {
		return nil, false
	}

	k := binary.BigEndian.AppendUint16(key[:n], qtype) // in key: no allocation
	a := t.fast.answers[string(k)]
	if a == nil {
		a = t.fast.negative(key[:n], qtype)
		if a == nil {
			return nil, false
		}
	}
	size := qend + a.size
	if opt {
		size += fastOptLen + ecsEchoLen(ecs)
	}
	if size > limit || size > len(buf) {
		return nil, false // truncation is the slow path's
	}

	rflags := a.flags | flags&0x0110 // RD, CD
	s.counts.countType(qtype)
	// The answer is chosen, and counted, before rate limiting decides
	// whether it goes out, as on the slow path: both draw the same random
	// numbers and count the same policies and record sets.
	out := buf[:qend]
	copy(out, req[:qend]) // ID and question as asked
	binary.BigEndian.PutUint16(out[2:], rflags)
	an, ns, ar := a.an, a.ns, a.ar
	if a.picked {
		out, an = s.appendPick(out, &a.pick)
	} else {
		out = append(out, a.body...)
		if a.hit != nil {
			a.hit.Add(1)
		}
	}
	s.counts.byPolicy[a.policy].Add(1)
	if opt {
		ar++
		out = appendOPT(out, do, ecs)
	}
	binary.BigEndian.PutUint16(out[6:], an)
	binary.BigEndian.PutUint16(out[8:], ns)
	binary.BigEndian.PutUint16(out[10:], ar)

	if !tcp && s.rrl != nil {
		name := a.rrlName
		var rt uint16
		if a.rrlKind != rrlNXDomain {
			rt = qtype
		}
		switch s.rrl.check(src, a.rrlKind, name, rt) {
		case rrlDrop:
			s.stats.rrlDropped.Add(1)
			return nil, true
		case rrlSlip:
			// A bare header and question (and OPT) with TC, over the answer.
			s.stats.rrlSlipped.Add(1)
			out = buf[:qend]
			binary.BigEndian.PutUint16(out[2:], rflags|0x0200) // TC
			binary.BigEndian.PutUint16(out[6:], 0)
			binary.BigEndian.PutUint16(out[8:], 0)
			binary.BigEndian.PutUint16(out[10:], 0)
			if opt {
				out[11] = 1
				out = appendOPT(out, do, ecs)
			}
			return out, true
		}
	}
	return out, true
}

// negative returns the NODATA or NXDOMAIN answer for lname (lower-case
// wire) and qtype, or nil when the slow path must decide.
func (ft *fastTable) negative(lname []byte, qtype uint16) *fastAnswer {
	for off := 0; off < len(lname); off += int(lname[off]) + 1 {
		fn := ft.names[string(lname[off:])]
		if fn == nil {
			continue
		}
		if off == 0 {
			if slices.Contains(fn.types, qtype) {
				return nil
			}
			return fn.nodata // nil at a CNAME or a delegation
		}
		// fn is the closest encloser; nx is nil when it has a wildcard or
		// is at or below a delegation.
		return fn.nx
	}
	return nil
}

// plainOptions reports whether b is a well-formed list of EDNS options that
// the slow path would read without error and that change nothing but the
// Client Subnet echo: none that miekg/dns may refuse to unpack, and at most
// one Client Subnet, which plainSubnet accepts. It returns that option's
// data, or nil.
func plainOptions(b []byte) (ecs []byte, ok bool) {
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, false
		}
		code := binary.BigEndian.Uint16(b)
		l := int(binary.BigEndian.Uint16(b[2:]))
		if 4+l > len(b) {
			return nil, false
		}
		switch code {
		case dns.EDNS0SUBNET:
			if ecs != nil || !plainSubnet(b[4:4+l]) {
				return nil, false // two are FORMERR, as is a bad one
			}
			ecs = b[4 : 4+l]
		case dns.EDNS0LLQ, dns.EDNS0UL, dns.EDNS0EXPIRE, dns.EDNS0TCPKEEPALIVE,
			dns.EDNS0EDE, dns.EDNS0ESU, dns.EDNS0REPORTING, dns.EDNS0ZONEVERSION:
			return nil, false
		}
		b = b[4+l:]
	}
	return ecs, true
}

// plainSubnet reports whether d, a Client Subnet option's data, is one that
// miekg/dns unpacks and readEDNS accepts: scope 0, and family 0 with a
// prefix of 0 (dig's "+subnet=0"), family 1 with at most 32 bits or family
// 2 with at most 128. Address bytes beyond 4 (16) are ignored, missing ones
// are zero, as miekg/dns reads them.
func plainSubnet(d []byte) bool {
	if len(d) < 4 || d[3] != 0 {
		return false
	}
	switch fam, bits := binary.BigEndian.Uint16(d), d[2]; fam {
	case 0:
		return bits == 0
	case 1:
		return bits <= 32
	case 2:
		return bits <= 128
	}
	return false
}

// ecsEchoLen is the size of the Client Subnet option echoing ecs (the
// query's option data, nil for none).
func ecsEchoLen(ecs []byte) int {
	if ecs == nil {
		return 0
	}
	return 4 + 4 + (int(ecs[2])+7)/8
}

// appendOPT appends our OPT record: payload size ednsPayload, version 0,
// DO as asked, and the query's Client Subnet option (ecs, its data) echoed
// with scope 0 and its address masked to its prefix, as replyOPT writes it.
func appendOPT(b []byte, do bool, ecs []byte) []byte {
	var ttl byte
	if do {
		ttl = 0x80
	}
	rdlen := ecsEchoLen(ecs)
	b = append(b, 0, byte(dns.TypeOPT>>8), byte(dns.TypeOPT), byte(ednsPayload>>8), byte(ednsPayload&0xff), 0, 0, ttl, 0, byte(rdlen>>8), byte(rdlen))
	if ecs == nil {
		return b
	}
	bits := int(ecs[2])
	n := (bits + 7) / 8
	b = append(b, byte(dns.EDNS0SUBNET>>8), byte(dns.EDNS0SUBNET), 0, byte(4+n), ecs[0], ecs[1], byte(bits), 0)
	addr := ecs[4:]
	for i := range n {
		var c byte
		if i < len(addr) {
			c = addr[i]
		}
		if rest := bits - 8*i; rest < 8 {
			c &= byte(0xff << (8 - rest))
		}
		b = append(b, c)
	}
	return b
}
