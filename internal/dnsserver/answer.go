// This file answers one question from the table: the zone, the name walk
// (delegations, closest encloser, wildcards per RFC 4592), CNAME chains,
// NXDOMAIN and NODATA with the SOA, and minimal ANY (RFC 8482).

package dnsserver

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/geoip"
)

// maxChain bounds the CNAMEs followed for one question.
const maxChain = 8

// client is what a query knows of the client's address.
type client struct {
	// addr is the ECS address (masked to its source prefix), or the
	// resolver's source address.
	addr netip.Addr
	// bits is how many leading bits of addr are known: the ECS source
	// prefix length, or the full length of a source address.
	bits int
}

// query is the state of answering one question.
type query struct {
	s  *Server
	t  *table
	cl client
	// scope is the longest client prefix any decision depended on: the ECS
	// scope of the answer (0: the same for every client).
	scope int
	// The client's place, looked up at most once.
	located, locOK bool
	loc            geoip.Location
	// rrs collects the data eval chooses.
	rrs []dns.RR
}

func (q *query) noteScope(bits int) { q.scope = max(q.scope, bits) }

// lookupResult says what a zone holds for a name.
type lookupResult int8

const (
	found    lookupResult = iota // the name, or a wildcard standing for it
	referral                     // the name is at or below a delegation
	nxdomain                     // no such name
)

// lookup finds lname (canonical, inside z) in z: walking down from the apex
// it stops at a delegation (unless lname is the delegation point and qtype
// is DS, which the parent side answers), and when lname does not exist it
// tries the wildcard at the closest encloser, the deepest existing ancestor
// (RFC 4592 §3.3.1: a wildcard never stands for a name that exists, nor for
// anything below an existing name, empty non-terminals included).
func (z *zone) lookup(lname string, qtype uint16) (*node, lookupResult) {
	below := len(lname) - len(z.apex) // lname[:below] is the part under the apex
	var starts [128]int               // label starts under the apex, left to right
	n := 0
	for off, end := 0, below <= 0; !end && off < below && n < len(starts); off, end = dns.NextLabel(lname, off) {
		starts[n] = off
		n++
	}
	encloser := z.nodes[z.apex]
	for k := n - 1; k >= 0; k-- {
		nd := z.nodes[lname[starts[k]:]]
		if nd == nil {
			break
		}
		if nd.cut && !(k == 0 && qtype == dns.TypeDS) {
			return nd, referral
		}
		if k == 0 {
			return nd, found
		}
		encloser = nd
	}
	if n == 0 {
		return encloser, found // the apex
	}
	if w := encloser.wildcard; w != nil {
		return w, found
	}
	return nil, nxdomain
}

// resolve answers the question (qname, qtype) into m: rcode, AA, and the
// answer, authority and additional sections. qname keeps the client's case:
// the first answer's owner is written as asked (0x20).
func (q *query) resolve(m *dns.Msg, qname string, qtype uint16) {
	lname := strings.ToLower(qname)
	z := q.t.zoneOf(lname)
	if z == nil {
		m.Rcode = dns.RcodeRefused // never recursive
		return
	}
	if qtype == dns.TypeDS && lname == z.apex {
		// DS lives on the parent side of a cut; answer from the parent
		// zone when it is ours too.
		if i, end := dns.NextLabel(lname, 0); !end {
			if p := q.t.zoneOf(lname[i:]); p != nil {
				z = p
			}
		}
	}
	m.Authoritative = true
	owner := qname
	var seen [maxChain]string
	for hop := 0; ; hop++ {
		n, res := z.lookup(lname, qtype)
		switch res {
		case referral:
			if hop == 0 {
				m.Authoritative = false
				m.Ns = append(m.Ns, n.referral...)
				m.Extra = append(m.Extra, n.glue...)
			}
			// A chain into a delegation ends there; the resolver follows
			// the last CNAME itself.
			return
		case nxdomain:
			m.Rcode = dns.RcodeNameError // RFC 6604: the rcode of the chain's last name
			m.Ns = append(m.Ns, z.negSOA)
			return
		}
		if qtype == dns.TypeANY {
			q.answerANY(m, z, n, owner)
			return
		}
		if g := n.group(qtype); g != nil && q.answerGroup(m, g, owner) {
			if qtype == dns.TypeNS && n.name == z.apex {
				m.Extra = append(m.Extra, z.nsGlue...)
			}
			return
		}
		g := n.group(dns.TypeCNAME)
		if g == nil || qtype == dns.TypeCNAME || !q.answerGroup(m, g, owner) {
			m.Ns = append(m.Ns, z.negSOA) // NODATA
			return
		}
		// Follow the chain inside our zones, once per name.
		cname, _ := m.Answer[len(m.Answer)-1].(*dns.CNAME)
		if cname == nil || hop+1 >= maxChain {
			return
		}
		seen[hop] = lname
		owner, lname = cname.Target, strings.ToLower(cname.Target)
		for _, s := range seen[:hop+1] {
			if s == lname {
				return // a loop: the resolver sees the chain so far
			}
		}
		if z = q.t.zoneOf(lname); z == nil {
			return // leaves our zones: the resolver follows it
		}
	}
}

// answerGroup appends g's answer for this query to m, owned by owner, and
// reports whether there was any.
func (q *query) answerGroup(m *dns.Msg, g *group, owner string) bool {
	q.rrs = q.rrs[:0]
	q.eval(g, 0)
	m.Answer = slices.Grow(m.Answer, len(q.rrs))
	for _, rr := range q.rrs {
		m.Answer = append(m.Answer, withOwner(rr, owner))
	}
	if len(q.rrs) == 0 {
		return false
	}
	if c := q.s.counts; c != nil { // nil for TestAnswer, which counts nothing
		c.byPolicy[g.pidx].Add(1)
	}
	return true
}

// answerANY answers a qtype ANY minimally (RFC 8482 §4.1): the first RRset
// of the name by type code that has an answer for this client; when the
// name has records but none answers this client, a synthesized HINFO
// "RFC8482"; an empty non-terminal gets NODATA.
func (q *query) answerANY(m *dns.Msg, z *zone, n *node, owner string) {
	for _, g := range n.groups {
		if q.answerGroup(m, g, owner) {
			return
		}
	}
	if len(n.groups) == 0 {
		m.Ns = append(m.Ns, z.negSOA)
		return
	}
	m.Answer = append(m.Answer, &dns.HINFO{
		Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: z.negSOA.Header().Ttl},
		Cpu: "RFC8482",
	})
}

// withOwner returns rr owned by owner: rr itself when it already is, else a
// shallow copy (the table's records are shared and never changed).
func withOwner(rr dns.RR, owner string) dns.RR {
	if rr.Header().Name == owner {
		return rr
	}
	var c dns.RR
	switch x := rr.(type) {
	case *dns.A:
		c = shallow(x)
	case *dns.AAAA:
		c = shallow(x)
	case *dns.CNAME:
		c = shallow(x)
	case *dns.MX:
		c = shallow(x)
	case *dns.TXT:
		c = shallow(x)
	case *dns.NS:
		c = shallow(x)
	case *dns.SRV:
		c = shallow(x)
	case *dns.CAA:
		c = shallow(x)
	case *dns.PTR:
		c = shallow(x)
	default:
		c = dns.Copy(rr)
	}
	c.Header().Name = owner
	return c
}

// shallow copies the record behind x; its rdata slices stay shared, which
// is fine for records that are never changed after the table is built.
func shallow[T any](x *T) *T {
	y := *x
	return &y
}
