// This file is the fast path's answers that are a random choice: weighted
// and multivalue groups, and groups whose chosen record has several values
// (answered in random order). The choice depends on the records' health,
// which the table fixes, and on chance, never on the client: so each
// candidate record's values are prepared in wire format when the table is
// compiled, and a query draws as policy.go's eval would and copies bytes.
// Groups with an alias among their candidates, and policies that depend on
// the client's address (latency, geolocation, geoproximity, IP-based), are
// left to the slow path.

package dnsserver

import (
	"slices"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/model"
)

// maxFastRRs bounds the records of one fast answer, so that a query can
// shuffle their indexes in an array on its stack.
const maxFastRRs = 64

// fastPick chooses a group's answer section per query. Immutable.
type fastPick struct {
	// recs are the records the policy may choose from.
	recs []fastRec
	// wire holds every record's values, record after record, so that a
	// query's bytes lie together.
	wire []byte
	// draw is true for weighted groups: a record is drawn, by cum, or
	// uniformly when cum is nil. Otherwise there is one record.
	draw bool
	cum  []int
	// multi draws as multivalue does: up to maxMultivalue of recs; flat
	// holds every value of recs when they are no more than that.
	multi bool
	flat  [][]byte
}

// fastRec is one candidate record.
type fastRec struct {
	// rrs are its values, each a resource record in wire format whose
	// owner is a pointer to the question (offset 12) and whose rdata
	// names are written out in full, so that it reads the same wherever it
	// is placed in the answer section. Slices of fastPick.wire.
	rrs [][]byte
	hit *atomic.Uint64
}

// buildPick prepares the choice of group g at name and returns it with the
// most bytes an answer takes, or a size of 0 when its answer is not a
// choice the fast path can make (fastValues's fixed answers, aliases,
// client-dependent policies, types whose records hold more than one
// compressible name, too many records).
func buildPick(g *group, name string) (fastPick, int) {
	var p fastPick
	if g.static != nil || g.lb != nil {
		return p, 0
	}
	switch g.rtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeCAA, dns.TypeCNAME, dns.TypeMX, dns.TypePTR, dns.TypeSRV:
	default:
		return p, 0 // NS has glue; others may compress a name against another in the same record
	}
	var cand []int
	switch g.policy {
	case model.PolicySimple:
		if len(g.recs) != 1 {
			return p, 0
		}
		cand = []int{0}
	case model.PolicyFailover:
		i := failover(g)
		if i < 0 {
			return p, 0
		}
		cand = []int{i}
	case model.PolicyWeighted:
		cand, p.cum, p.draw = g.wCand, g.wCum, true
	case model.PolicyMultivalue:
		cand, p.multi = g.eligible, true
	default:
		return p, 0
	}
	if len(cand) == 0 {
		return p, 0 // the slow path answers NODATA or follows a CNAME
	}
	// Pack every value into wire, then cut wire into the records' values.
	var sizes, counts []int
	total := 0
	for _, i := range cand {
		r := &g.recs[i]
		if r.alias != nil || r.aliasLB != nil || len(r.rrs) == 0 || len(r.rrs) > maxFastRRs {
			return p, 0
		}
		start := len(p.wire)
		for _, rr := range r.rrs {
			b := packAnswerRR(name, rr)
			if b == nil {
				return p, 0
			}
			p.wire = append(p.wire, b...)
		}
		sizes = append(sizes, len(p.wire)-start)
		counts = append(counts, len(r.rrs))
		total += len(r.rrs)
	}
	p.wire = slices.Clip(p.wire)
	off := 0
	for k, i := range cand {
		r := &g.recs[i]
		fr := fastRec{hit: r.hits}
		for range counts[k] {
			n := rrLen(p.wire[off:])
			fr.rrs = append(fr.rrs, p.wire[off:off+n:off+n])
			off += n
		}
		p.recs = append(p.recs, fr)
	}
	size := 0
	switch {
	case p.multi && len(p.recs) <= maxMultivalue:
		if total > maxFastRRs {
			return p, 0
		}
		for _, r := range p.recs {
			p.flat = append(p.flat, r.rrs...)
		}
		size = len(p.wire)
	case p.multi:
		slices.Sort(sizes)
		for _, sz := range sizes[len(sizes)-maxMultivalue:] {
			size += sz
		}
	default:
		size = slices.Max(sizes)
	}
	return p, size
}

// rrLen returns the length of the resource record at the start of b, as
// packAnswerRR writes them: a 2-byte pointer as owner, then type, class,
// TTL, rdata length and rdata.
func rrLen(b []byte) int {
	return 2 + 8 + 2 + (int(b[10])<<8 | int(b[11]))
}

// packAnswerRR returns rr, owned by name, in wire format with its owner a
// pointer to a question at offset 12, or nil. Packed alone, its rdata name
// (the types buildPick allows have at most one) can only compress into the
// question, which prepare writes in upper case so that it does not.
func packAnswerRR(name string, rr dns.RR) []byte {
	a := prepare(name, []dns.RR{rr}, nil, nil, dns.RcodeSuccess, rrlAnswer, "")
	if a == nil || a.an != 1 || len(a.body) < 2 || a.body[0] != 0xC0 || a.body[1] != headerLen {
		return nil
	}
	return a.body
}

// appendPick appends the answer records p draws for one query to out, and
// returns out and how many records it appended. Each record chosen is
// counted. It does not allocate. It draws random numbers with the helpers eval in
// policy.go uses, in the same order, for the same group, so that two servers with the same
// Config.Rand seed answer alike whichever path answers (the differential
// tests rely on it).
func (s *Server) appendPick(out []byte, p *fastPick) ([]byte, uint16) {
	if p.multi {
		return s.appendMultivalue(out, p)
	}
	i := 0
	if p.draw {
		i = drawWeighted(s, len(p.recs), p.cum)
	}
	r := &p.recs[i]
	r.hit.Add(1)
	return s.appendShuffled(out, r.rrs), uint16(len(r.rrs))
}

// appendMultivalue appends what multivalue in policy.go answers: every
// record's values in random order when there are no more than
// maxMultivalue records, else maxMultivalue records drawn at random
// (Floyd's sampling), in random order, each with its values in random
// order.
func (s *Server) appendMultivalue(out []byte, p *fastPick) ([]byte, uint16) {
	n := len(p.recs)
	if n <= maxMultivalue {
		// Each record's values shuffled, then all of them: eval's draws.
		var idx [maxFastRRs]uint8
		order := idx[:len(p.flat)]
		for i := range order {
			order[i] = uint8(i)
		}
		off := 0
		for i := range p.recs {
			r := &p.recs[i]
			r.hit.Add(1)
			shuffle(s, order[off:off+len(r.rrs)])
			off += len(r.rrs)
		}
		shuffle(s, order)
		for _, k := range order {
			out = append(out, p.flat[k]...)
		}
		return out, uint16(len(order))
	}
	var buf [maxMultivalue]int
	var an uint16
	for _, k := range sample(s, n, &buf) {
		r := &p.recs[k]
		r.hit.Add(1)
		out = s.appendShuffled(out, r.rrs)
		an += uint16(len(r.rrs))
	}
	return out, an
}

// appendShuffled appends rrs (at most maxFastRRs) to out in random order.
func (s *Server) appendShuffled(out []byte, rrs [][]byte) []byte {
	if len(rrs) == 1 {
		return append(out, rrs[0]...)
	}
	var idx [maxFastRRs]uint8
	order := idx[:len(rrs)]
	for i := range order {
		order[i] = uint8(i)
	}
	shuffle(s, order)
	for _, k := range order {
		out = append(out, rrs[k]...)
	}
	return out
}
