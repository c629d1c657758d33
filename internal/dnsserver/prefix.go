// This file holds prefixTable, the longest-prefix match over client
// networks that latency and IP-based routing use, with the ECS scope each
// match allows.

package dnsserver

import (
	"net/netip"
	"slices"
)

// prefixTable maps client networks to values by longest prefix. It is
// immutable after newPrefixTable.
type prefixTable struct {
	// fams holds IPv4 ([0]) and IPv6 ([1]) networks, by length, longest first.
	fams [2][]prefixLen
	// longest is the longest prefix length of each family.
	longest [2]int
}

type prefixLen struct {
	bits int
	m    map[netip.Prefix]prefixEntry
}

// prefixEntry is a network's value and its scope: the longest length among
// it and the networks inside it. Every client in the network whose first
// scope bits match shares the match (RFC 7871 §7.2.1's SCOPE PREFIX-LENGTH).
type prefixEntry struct {
	val, scope int
}

// newPrefixTable returns a table of ps whose values are their indexes in
// ps. When a network appears twice, the first wins.
func newPrefixTable(ps []netip.Prefix) prefixTable {
	var pt prefixTable
	norm := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		norm[i] = unmapPrefix(p)
	}
	for i, p := range norm {
		if !p.IsValid() {
			continue
		}
		f := family(p.Addr())
		scope := p.Bits()
		for _, q := range norm {
			if q.IsValid() && family(q.Addr()) == f && q.Bits() > scope && p.Contains(q.Addr()) {
				scope = q.Bits()
			}
		}
		pt.longest[f] = max(pt.longest[f], p.Bits())
		j := slices.IndexFunc(pt.fams[f], func(l prefixLen) bool { return l.bits == p.Bits() })
		if j < 0 {
			pt.fams[f] = append(pt.fams[f], prefixLen{bits: p.Bits(), m: map[netip.Prefix]prefixEntry{}})
			j = len(pt.fams[f]) - 1
		}
		if _, dup := pt.fams[f][j].m[p]; !dup {
			pt.fams[f][j].m[p] = prefixEntry{val: i, scope: scope}
		}
	}
	for f := range pt.fams {
		slices.SortFunc(pt.fams[f], func(a, b prefixLen) int { return b.bits - a.bits })
	}
	return pt
}

// remap replaces every value v with vals[v].
func (pt *prefixTable) remap(vals []int) {
	for _, fam := range pt.fams {
		for _, l := range fam {
			for p, e := range l.m {
				l.m[p] = prefixEntry{val: vals[e.val], scope: e.scope}
			}
		}
	}
}

// lookup returns the value of the longest network containing a among those
// no longer than bits (the client's known prefix: a network longer than
// what the client revealed cannot be said to contain it, as Route 53), and
// the scope of the answer: how many leading bits of a decided it. Without a
// match, scope is the longest network length of a's family (no network of
// that length or shorter contains a's block), at most bits.
func (pt *prefixTable) lookup(a netip.Addr, bits int) (val, scope int, ok bool) {
	f := family(a)
	for _, l := range pt.fams[f] {
		if l.bits > bits {
			continue
		}
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if e, found := l.m[p]; found {
			return e.val, min(e.scope, bits), true
		}
	}
	return -1, min(pt.longest[f], bits), false
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// unmapPrefix writes an IPv4-mapped IPv6 network in IPv4 form, masked.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}
