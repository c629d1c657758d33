// This file compiles a view into the immutable answer table that queries
// read: zones by apex, nodes by name (with empty non-terminals, wildcards
// and delegations marked), record groups by type with each record's data
// parsed and its health and policy inputs precomputed.

package dnsserver

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// table is the answer table of one view. Nothing in it changes after
// compile returns; any number of queries read it at once.
type table struct {
	view  *view.View
	zones map[string]*zone // by canonical apex
	// latency is the latency table: entries index latencies.
	latency   prefixTable
	latencies []map[string]time.Duration
	// failingOpen counts record groups with no healthy record.
	failingOpen int
	// fast holds the answers that are the same for every client, in wire
	// format (fastpath.go).
	fast *fastTable
}

// zone is one hosted zone.
type zone struct {
	apex  string
	nodes map[string]*node // by canonical name; holds the apex and every empty non-terminal
	// negSOA is the SOA for authority sections of negative answers, with
	// TTL min(SOA TTL, negative TTL) (RFC 2308 §5).
	negSOA dns.RR
	// nsGlue are addresses of apex name servers inside the zone, for the
	// additional section of an NS answer.
	nsGlue []dns.RR
}

// node is a name that exists in a zone: it owns records, or it is an empty
// non-terminal (a name with no records but names below it, RFC 4592 §2.2.2).
type node struct {
	name   string
	groups []*group // sorted by type
	// wildcard is the node "*.<name>", the source of synthesis when this
	// node is the closest encloser of a query name.
	wildcard *node
	// cut is true for a delegation point: NS records below the apex.
	// referral and glue are what a referral carries.
	cut      bool
	referral []dns.RR
	glue     []dns.RR
}

// group returns the node's group of type t, or nil.
func (n *node) group(t uint16) *group {
	for _, g := range n.groups {
		if g.rtype == t {
			return g
		}
	}
	return nil
}

// group is a record group (the records of one name and type, one policy),
// or a synthesized RRset: the apex SOA and NS, or a load balancer's name.
type group struct {
	name   string
	rtype  uint16
	policy model.Policy // "" for static and lb groups
	pidx   policyIndex  // policy's counter
	// static are answered whole and in order (SOA, apex NS).
	static []dns.RR
	// lb answers a load balancer's addresses of this group's family.
	lb *balancer
	// recs are the group's records in the zone's order.
	recs []record
	// failOpen is true when no record is healthy: the group answers as if
	// all were (Route 53's "if no record is healthy, all are").
	failOpen bool

	// eligible are the records a policy may choose from: the healthy ones,
	// or all of them when failing open.
	eligible []int
	// weighted: candidates and cumulative weights (nil cum: choose
	// uniformly among candidates, all weights being 0).
	wCand []int
	wCum  []int
	// failover: record indexes, -1 when absent.
	primary, secondary int
	// geolocation: record by place, and the default ("*") record or -1.
	geo        map[geoKey]int
	geoDefault int
	// cidr: the collection's networks, the record by location, the
	// default ("*") record or -1.
	cidr        *prefixTable
	cidrLocs    []string // the collection's location names, indexed by cidr values
	cidrRecord  map[string]int
	cidrDefault int
}

// record is one record of a group.
type record struct {
	healthy bool
	ttl     uint32
	// hits counts the answers this record set took part in (Stats.ByRecordSet).
	hits *atomic.Uint64
	// rrs are the record's values, owned by the group's name.
	rrs []dns.RR
	// alias is the target group of an alias to a record; aliasLB the
	// balancer of an alias to a load balancer.
	alias   *group
	aliasLB *balancer
	// Policy inputs.
	weight int
	region string
	// lat and lon in radians and the bias, for geoproximity.
	lat, lon, bias float64
}

// balancer is a load balancer's DNS answer: the addresses DNS hands out
// now, per family, owned by its DNS name (or by its name when it has none).
type balancer struct {
	v4, v6 []dns.RR
	// all4 and all6 are the addresses of every node, whatever its health
	// or shift: what zone transfers carry (static.go).
	all4, all6 []dns.RR
}

// geoKey is a geolocation record's place: one of continent, country, or
// country and subdivision.
type geoKey struct {
	continent, country, subdivision string
}

// compile builds the answer table of v. lbTTL is the TTL of load balancer
// answers; hits holds the record sets' counters, which the table's records
// point at; recordSets are the ByRecordSet keys of every record set in the
// table, for hits.retain. An error means v holds data the DNS cannot serve;
// the state's validation should have refused it.
func compile(v *view.View, lbTTL uint32, hits *recordHits) (t *table, recordSets map[string]bool, err error) {
	c := compiler{
		t:          &table{view: v, zones: map[string]*zone{}},
		lbTTL:      lbTTL,
		lbs:        map[string]*balancer{},
		groups:     map[view.RecordKey]*group{},
		hits:       hits,
		recordSets: map[string]bool{},
	}
	if err := c.run(); err != nil {
		return nil, nil, fmt.Errorf("view version %d: %w", v.Version, err)
	}
	return c.t, c.recordSets, nil
}

type compiler struct {
	t          *table
	lbTTL      uint32
	lbs        map[string]*balancer
	groups     map[view.RecordKey]*group
	hits       *recordHits
	recordSets map[string]bool
	// cidr holds each CIDR collection's networks and location names.
	cidr map[string]*cidrCollection
}

type cidrCollection struct {
	table prefixTable
	locs  []string
}

func (c *compiler) run() error {
	v := c.t.view
	s := v.State
	c.balancers()
	c.latencyTable(s.LatencyTable)
	c.cidrCollections(s.CIDRCollections)
	regions := map[string]model.Region{}
	for _, r := range s.Regions {
		regions[r.Name] = r
	}
	for i := range s.HostedZones {
		if err := c.zone(&s.HostedZones[i]); err != nil {
			return err
		}
	}
	// Record groups, in a stable order so that errors are too.
	keys := slices.SortedFunc(func(yield func(view.RecordKey) bool) {
		for k := range v.Records {
			if !yield(k) {
				return
			}
		}
	}, func(a, b view.RecordKey) int {
		return cmp.Or(cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type))
	})
	for _, k := range keys {
		z := c.t.zones[k.Zone]
		if z == nil {
			return fmt.Errorf("record group %s %s: hosted zone %s is not in the state", k.Name, k.Type, k.Zone)
		}
		g, err := c.group(v.Records[k], regions)
		if err != nil {
			return err
		}
		c.groups[k] = g
		if g.failOpen {
			c.t.failingOpen++
		}
		n := c.node(z, k.Name)
		// An NS group at the apex replaces the one built from name_servers.
		n.groups = slices.DeleteFunc(n.groups, func(o *group) bool { return o.rtype == g.rtype })
		n.groups = append(n.groups, g)
	}
	// Aliases to records, now that every group exists.
	for k, g := range c.groups {
		for i := range g.recs {
			r := &g.recs[i]
			a := v.Records[k].Records[i].Spec.Alias
			if a == nil || a.Record == "" {
				continue
			}
			r.alias = c.groups[view.RecordKey{Zone: k.Zone, Name: model.CanonicalName(a.Record), Type: k.Type}]
		}
	}
	c.balancerNames()
	for _, z := range c.t.zones {
		c.finishZone(z)
	}
	c.t.fast = buildFast(c.t)
	return nil
}

// balancers builds every load balancer's answer.
func (c *compiler) balancers() {
	for name, lb := range c.t.view.LoadBalancers {
		owner := model.CanonicalName(lb.Spec.DNSName)
		if lb.Spec.DNSName == "" {
			owner = model.CanonicalName(name)
		}
		b := &balancer{}
		for _, a := range lb.DNSAddresses {
			a = a.Unmap()
			if a.Is4() {
				b.v4 = append(b.v4, aRR(owner, c.lbTTL, a))
			} else {
				b.v6 = append(b.v6, aRR(owner, c.lbTTL, a))
			}
		}
		for _, n := range lb.Spec.Nodes {
			for _, a := range n.Addresses {
				a = a.Unmap()
				if a.Is4() {
					b.all4 = append(b.all4, aRR(owner, c.lbTTL, a))
				} else {
					b.all6 = append(b.all6, aRR(owner, c.lbTTL, a))
				}
			}
		}
		c.lbs[name] = b
	}
}

// balancerNames adds each load balancer's DNS name, when it is inside one
// of our zones, as A and AAAA groups. A record group of the same name and
// type in the zone wins, and a name that holds a CNAME gets none.
func (c *compiler) balancerNames() {
	for name, lb := range c.t.view.LoadBalancers {
		if lb.Spec.DNSName == "" {
			continue
		}
		owner := model.CanonicalName(lb.Spec.DNSName)
		z := c.t.zoneOf(owner)
		if z == nil {
			continue
		}
		n := c.node(z, owner)
		if n.group(dns.TypeCNAME) != nil {
			continue
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if n.group(t) == nil {
				n.groups = append(n.groups, &group{name: owner, rtype: t, lb: c.lbs[name]})
			}
		}
	}
}

// zone adds hosted zone hz with its SOA and apex NS.
func (c *compiler) zone(hz *model.HostedZone) error {
	apex := model.CanonicalName(hz.Name)
	soa := hz.SOA
	soaTTL := seconds(soa.TTL.D())
	neg := seconds(soa.NegativeTTL.D())
	rr := &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
		Ns:      model.CanonicalName(cmp.Or(soa.MName, firstOr(hz.NameServers, "ns1."+apex))),
		Mbox:    model.CanonicalName(cmp.Or(soa.RName, "hostmaster."+apex)),
		Serial:  uint32(c.t.view.Version), // RFC 1982 arithmetic wraps
		Refresh: seconds(soa.Refresh.D()),
		Retry:   seconds(soa.Retry.D()),
		Expire:  seconds(soa.Expire.D()),
		Minttl:  neg,
	}
	negSOA := *rr
	negSOA.Hdr.Ttl = min(soaTTL, neg)
	z := &zone{apex: apex, nodes: map[string]*node{}, negSOA: &negSOA}
	c.t.zones[apex] = z
	n := c.node(z, apex)
	n.groups = append(n.groups, &group{name: apex, rtype: dns.TypeSOA, static: []dns.RR{rr}})
	ns := &group{name: apex, rtype: dns.TypeNS}
	for _, name := range hz.NameServers {
		ns.static = append(ns.static, &dns.NS{
			Hdr: dns.RR_Header{Name: apex, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL},
			Ns:  model.CanonicalName(name),
		})
	}
	if len(ns.static) > 0 {
		n.groups = append(n.groups, ns)
	}
	return nil
}

// nsTTL is the TTL of the apex NS records built from name_servers: two
// days, as Route 53's.
const nsTTL = 172800

// finishZone marks wildcards and delegations, collects glue and sorts each
// node's groups.
func (c *compiler) finishZone(z *zone) {
	for name, n := range z.nodes {
		slices.SortFunc(n.groups, func(a, b *group) int { return cmp.Compare(a.rtype, b.rtype) })
		if strings.HasPrefix(name, "*.") {
			if p := z.nodes[name[2:]]; p != nil {
				p.wildcard = n
			}
		}
		if name == z.apex {
			continue
		}
		ns := n.group(dns.TypeNS)
		if ns == nil {
			continue
		}
		n.cut = true
		for _, rr := range allValues(ns) {
			if slices.ContainsFunc(n.referral, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) }) {
				continue
			}
			n.referral = append(n.referral, rr)
			n.glue = append(n.glue, z.addresses(rr.(*dns.NS).Ns)...)
		}
	}
	if ns := z.nodes[z.apex].group(dns.TypeNS); ns != nil {
		for _, rr := range allValues(ns) {
			z.nsGlue = append(z.nsGlue, z.addresses(rr.(*dns.NS).Ns)...)
		}
	}
}

// allValues returns the data of every record of g that has values (or of
// its static set): referrals and glue are the same for every client.
func allValues(g *group) []dns.RR {
	if g.static != nil {
		return g.static
	}
	var out []dns.RR
	for _, r := range g.recs {
		out = append(out, r.rrs...)
	}
	return out
}

// addresses returns the A and AAAA data at name when name is inside z
// (including below a delegation, where glue lives).
func (z *zone) addresses(name string) []dns.RR {
	name = model.CanonicalName(name)
	if !model.InZone(name, z.apex) {
		return nil
	}
	n := z.nodes[name]
	if n == nil {
		return nil
	}
	var out []dns.RR
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if g := n.group(t); g != nil {
			out = append(out, allValues(g)...)
		}
	}
	return out
}

// node returns the node name of z, adding it and any missing ancestors
// (empty non-terminals) up to the apex.
func (c *compiler) node(z *zone, name string) *node {
	n := z.nodes[name]
	if n != nil {
		return n
	}
	n = &node{name: name}
	z.nodes[name] = n
	if name != z.apex {
		if i, end := dns.NextLabel(name, 0); !end {
			c.node(z, name[i:])
		}
	}
	return n
}

// zoneOf returns the most specific of our zones that name (canonical) is in.
func (t *table) zoneOf(name string) *zone {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if z := t.zones[name[off:]]; z != nil {
			return z
		}
	}
	return t.zones["."]
}

// group compiles a record group: values parsed, health and policy inputs.
func (c *compiler) group(vg *view.RecordGroup, regions map[string]model.Region) (*group, error) {
	k := vg.Key
	rtype, ok := dns.StringToType[string(k.Type)]
	if !ok {
		return nil, fmt.Errorf("record group %s: unknown type %s", k.Name, k.Type)
	}
	g := &group{name: k.Name, rtype: rtype, policy: vg.Policy, pidx: indexOf(vg.Policy), failOpen: vg.FailingOpen(), primary: -1, secondary: -1, geoDefault: -1, cidrDefault: -1}
	for i, vr := range vg.Records {
		spec := vr.Spec
		r := record{healthy: vr.Healthy, ttl: uint32(model.DefaultRecordTTL / time.Second)}
		key := recordSetKey(k.Name, k.Type, spec.SetIdentifier)
		c.recordSets[key] = true
		r.hits = c.hits.counter(key)
		if spec.TTL != nil {
			r.ttl = seconds(spec.TTL.D())
		}
		for _, val := range spec.Values {
			rr, err := parseRR(k.Name, rtype, r.ttl, val)
			if err != nil {
				return nil, fmt.Errorf("record %s %s %q: %w", k.Name, k.Type, val, err)
			}
			r.rrs = append(r.rrs, rr)
		}
		if a := spec.Alias; a != nil && a.LoadBalancer != "" {
			r.aliasLB = c.lbs[a.LoadBalancer]
		}
		if spec.Weight != nil {
			r.weight = *spec.Weight
		}
		r.region = spec.Region
		if gp := spec.Geoproximity; gp != nil {
			lat, lon := gp.Latitude, gp.Longitude
			if gp.Region != "" {
				lat, lon = regions[gp.Region].Latitude, regions[gp.Region].Longitude
			}
			if lat != nil && lon != nil {
				r.lat, r.lon = *lat*math.Pi/180, *lon*math.Pi/180
			} else {
				r.lat = math.NaN() // no place: never nearest
			}
			r.bias = float64(gp.Bias)
		}
		g.recs = append(g.recs, r)
		switch {
		case spec.Failover == model.Primary:
			g.primary = i
		case spec.Failover == model.Secondary:
			g.secondary = i
		case spec.Geolocation != nil:
			gl := spec.Geolocation
			if gl.Country == "*" {
				g.geoDefault = i
				break
			}
			if g.geo == nil {
				g.geo = map[geoKey]int{}
			}
			g.geo[geoKey{continent: gl.Continent, country: gl.Country, subdivision: gl.Subdivision}] = i
		case spec.CIDR != nil:
			if spec.CIDR.Location == "*" {
				g.cidrDefault = i
				break
			}
			if g.cidrRecord == nil {
				g.cidrRecord = map[string]int{}
			}
			g.cidrRecord[spec.CIDR.Location] = i
			if coll := c.cidr[spec.CIDR.Collection]; coll != nil {
				g.cidr, g.cidrLocs = &coll.table, coll.locs
			}
		}
	}
	for i, r := range g.recs {
		if r.healthy || g.failOpen {
			g.eligible = append(g.eligible, i)
		}
	}
	if g.policy == model.PolicyWeighted {
		total := 0
		for _, i := range g.eligible {
			if w := g.recs[i].weight; w > 0 {
				total += w
				g.wCand = append(g.wCand, i)
				g.wCum = append(g.wCum, total)
			}
		}
		if total == 0 {
			// Every eligible record weighs 0: they answer equally.
			g.wCand, g.wCum = g.eligible, nil
		}
	}
	return g, nil
}

// parseRR parses one value of type t in zone-file syntax, owned by name.
func parseRR(name string, t uint16, ttl uint32, val string) (dns.RR, error) {
	switch t {
	case dns.TypeA, dns.TypeAAAA:
		a, err := netip.ParseAddr(val)
		if err != nil || a.Is4() != (t == dns.TypeA) {
			return nil, fmt.Errorf("not an IPv%s address", map[bool]string{true: "4", false: "6"}[t == dns.TypeA])
		}
		return aRR(name, ttl, a), nil
	}
	rr, err := dns.NewRR(name + " " + strconv.FormatUint(uint64(ttl), 10) + " IN " + dns.TypeToString[t] + " " + val)
	if err != nil {
		return nil, err
	}
	if rr == nil {
		return nil, fmt.Errorf("empty")
	}
	return rr, nil
}

// aRR returns an A or AAAA record for a.
func aRR(name string, ttl uint32, a netip.Addr) dns.RR {
	if a.Is4() {
		b := a.As4()
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: b[:]}
	}
	b := a.As16()
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: b[:]}
}

// latencyTable compiles the configured latencies by client network.
func (c *compiler) latencyTable(entries []model.LatencyEntry) {
	var ps []netip.Prefix
	for _, e := range entries {
		m := make(map[string]time.Duration, len(e.Latency))
		for region, d := range e.Latency {
			m[region] = d.D()
		}
		ps = append(ps, e.CIDR)
		c.t.latencies = append(c.t.latencies, m)
	}
	c.t.latency = newPrefixTable(ps)
}

// cidrCollections compiles each collection's networks.
func (c *compiler) cidrCollections(colls []model.CIDRCollection) {
	c.cidr = map[string]*cidrCollection{}
	for _, coll := range colls {
		cc := &cidrCollection{}
		var ps []netip.Prefix
		var vals []int
		for _, loc := range coll.Locations {
			for _, p := range loc.CIDRs {
				ps = append(ps, p)
				vals = append(vals, len(cc.locs))
			}
			cc.locs = append(cc.locs, loc.Name)
		}
		cc.table = newPrefixTable(ps)
		// newPrefixTable values are indexes into ps; map them to locations.
		cc.table.remap(vals)
		c.cidr[coll.Name] = cc
	}
}

func seconds(d time.Duration) uint32 {
	return uint32(min(max(d/time.Second, 0), math.MaxInt32))
}

func firstOr(ss []string, def string) string {
	if len(ss) > 0 {
		return ss[0]
	}
	return def
}
