// This file turns an answer table into what zone transfers carry: each
// zone's static content (the records a secondary can serve without us, per
// the rules in doc.go), in canonical order, and the changes between
// versions that IXFR sends. It runs once per desired-state version, off the
// query path.

package dnsserver

import (
	"cmp"
	"slices"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/model"
)

// transfers is what zone transfers serve: every zone's content at one
// desired-state version and its recent changes. Nothing in it changes
// after nextTransfers returns; a new version replaces it whole.
type transfers struct {
	version uint64
	zones   map[string]*xfrZone // by canonical apex
}

// xfrZone is one zone's content at one serial.
type xfrZone struct {
	soa *dns.SOA
	// rrs are every record but the SOA, in canonical order (RFC 4034 §6.1).
	rrs []dns.RR
	// history are the changes that led here, oldest first: each delta's
	// to is the next one's from, and the last one's to is soa.
	history []xfrDelta
	// historyRRs counts the records history's IXFR would send.
	historyRRs int
}

// xfrDelta is the change from one serial of a zone to the next.
type xfrDelta struct {
	from, to *dns.SOA
	del, add []dns.RR
}

func (d *xfrDelta) size() int { return len(d.del) + len(d.add) + 2 }

// nextTransfers returns the transfers of table t, which holds a newer
// version than prev (nil at first): each zone's content, and its history
// from prev with the change to t appended. A zone keeps at most keep
// changes, and only as many as add up to its size: an IXFR from further
// back would be larger than the zone, so the whole zone goes instead
// (BIND's max-ixfr-ratio of 100%). When a serial does not increase
// (RFC 1982), the history starts again.
func nextTransfers(prev *transfers, t *table, keep int) *transfers {
	next := &transfers{version: t.view.Version, zones: make(map[string]*xfrZone, len(t.zones))}
	for apex, z := range t.zones {
		xz := &xfrZone{soa: z.nodes[apex].group(dns.TypeSOA).static[0].(*dns.SOA), rrs: staticZone(z)}
		var old *xfrZone
		if prev != nil {
			old = prev.zones[apex]
		}
		if old != nil && serialNewer(xz.soa.Serial, old.soa.Serial) {
			del, add := diffRRs(old.rrs, xz.rrs)
			xz.history = append(slices.Clip(old.history), xfrDelta{from: old.soa, to: xz.soa, del: del, add: add})
			xz.historyRRs = old.historyRRs + xz.history[len(xz.history)-1].size()
			for len(xz.history) > 0 && (len(xz.history) > keep || xz.historyRRs > len(xz.rrs)+2) {
				xz.historyRRs -= xz.history[0].size()
				xz.history = xz.history[1:]
			}
		}
		next.zones[apex] = xz
	}
	return next
}

// serialNewer reports whether serial a is after b in RFC 1982 arithmetic.
func serialNewer(a, b uint32) bool {
	return a != b && a-b < 1<<31
}

// diffRRs returns the records of old that are not in cur, and those of cur
// not in old, each in its slice's order. A changed TTL is a change.
func diffRRs(old, cur []dns.RR) (del, add []dns.RR) {
	in := make(map[string]bool, len(old))
	for _, rr := range old {
		in[rr.String()] = true
	}
	now := make(map[string]bool, len(cur))
	for _, rr := range cur {
		k := rr.String()
		now[k] = true
		if !in[k] {
			add = append(add, rr)
		}
	}
	for _, rr := range old {
		if !now[rr.String()] {
			del = append(del, rr)
		}
	}
	return del, add
}

// staticZone returns every record of z but the SOA, names in canonical
// order, types in numeric order at each name.
func staticZone(z *zone) []dns.RR {
	type named struct {
		n      *node
		labels []string // reversed, lower case
	}
	nodes := make([]named, 0, len(z.nodes))
	for name, n := range z.nodes {
		labels := dns.SplitDomainName(name)
		slices.Reverse(labels)
		nodes = append(nodes, named{n, labels})
	}
	slices.SortFunc(nodes, func(a, b named) int { return slices.Compare(a.labels, b.labels) })
	var out []dns.RR
	for _, nn := range nodes {
		n := nn.n
		occluded := z.belowCut(n.name)
		for _, g := range n.groups {
			var rrs []dns.RR
			switch {
			case g.rtype == dns.TypeSOA && n.name == z.apex:
				continue
			case g.rtype == dns.TypeNS, occluded, n.cut && g.rtype != dns.TypeDS:
				// Delegations and glue carry every value, as referrals do.
				rrs = allValues(g)
			default:
				rrs = staticValues(g, 0)
			}
			out = append(out, rrset(n.name, rrs)...)
		}
	}
	return out
}

// belowCut reports whether name (in z) is below a delegation point of z.
func (z *zone) belowCut(name string) bool {
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		p := name[off:]
		if len(p) <= len(z.apex) {
			return false
		}
		if n := z.nodes[p]; n != nil && n.cut {
			return true
		}
	}
	return false
}

// staticValues returns the values of g that a client with no location
// information would get when every record is healthy, and the union of
// the possible answers where that answer is a random choice (doc.go):
// an alias stands for its target's static values.
func staticValues(g *group, depth int) []dns.RR {
	switch {
	case depth > maxAliasDepth:
		return nil
	case g.static != nil:
		return g.static
	case g.lb != nil:
		return g.lb.static(g.rtype)
	}
	var pick []int
	switch g.policy {
	case model.PolicyWeighted:
		for i, r := range g.recs {
			if r.weight > 0 {
				pick = append(pick, i)
			}
		}
	case model.PolicyFailover:
		pick = []int{cmp.Or(g.primary+1, g.secondary+1) - 1}
	case model.PolicyGeolocation:
		pick = []int{g.geoDefault}
	case model.PolicyCIDR:
		pick = []int{g.cidrDefault}
	}
	if pick == nil {
		// Simple, latency, geoproximity, multivalue, and weighted with
		// every weight 0: any record may answer.
		for i := range g.recs {
			pick = append(pick, i)
		}
	}
	pick = slices.DeleteFunc(pick, func(i int) bool { return i < 0 })
	if g.rtype == dns.TypeCNAME && len(pick) > 1 {
		// A name holds one CNAME: the heaviest (weighted), else the first.
		best := pick[0]
		for _, i := range pick {
			if g.recs[i].weight > g.recs[best].weight {
				best = i
			}
		}
		pick = []int{best}
	}
	var out []dns.RR
	for _, i := range pick {
		r := &g.recs[i]
		switch {
		case r.alias != nil:
			out = append(out, staticValues(r.alias, depth+1)...)
		case r.aliasLB != nil:
			out = append(out, r.aliasLB.static(g.rtype)...)
		default:
			out = append(out, r.rrs...)
		}
	}
	if g.policy == model.PolicyMultivalue {
		out = dedupe(out)
		out = out[:min(len(out), maxMultivalue)]
	}
	return out
}

// static returns every node's address of type t, for transfers.
func (b *balancer) static(t uint16) []dns.RR {
	switch t {
	case dns.TypeA:
		return b.all4
	case dns.TypeAAAA:
		return b.all6
	}
	return nil
}

// rrset returns rrs as one RRset owned by owner: duplicates removed and
// every TTL the lowest among them (RFC 2181 §5.2). Records of the table
// are copied, never changed.
func rrset(owner string, rrs []dns.RR) []dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	ttl := rrs[0].Header().Ttl
	for _, rr := range rrs {
		ttl = min(ttl, rr.Header().Ttl)
	}
	out := make([]dns.RR, 0, len(rrs))
	for _, rr := range rrs {
		if h := rr.Header(); h.Name != owner || h.Ttl != ttl {
			rr = dns.Copy(rr)
			rr.Header().Name, rr.Header().Ttl = owner, ttl
		}
		out = append(out, rr)
	}
	return dedupe(out)
}

// dedupe removes records that repeat an earlier one's owner, type and
// data (dns.IsDuplicate: names compared without case, TTLs ignored).
func dedupe(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if !slices.ContainsFunc(out, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) }) {
			out = append(out, rr)
		}
	}
	return out
}
