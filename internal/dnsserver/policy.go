// This file applies Route 53's routing policies to a record group for one
// query: which records answer, given their health (decided by the view) and
// the client's address. Aliases recurse into their target's policy.

package dnsserver

import (
	"math"
	"net/netip"
	"slices"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/geoip"
	"github.com/switchboard/switchboard/internal/model"
)

// Locator says where a client address is, for geolocation and geoproximity
// records. *geoip.DB implements it. Lookup is called concurrently, on the
// query path; it reports false when the address is not in its data.
type Locator interface {
	Lookup(netip.Addr) (geoip.Location, bool)
}

// maxMultivalue is how many records a multivalue answer holds at most, as Route 53.
const maxMultivalue = 8

// maxAliasDepth bounds alias recursion. Validation refuses alias cycles;
// this guards a view that has one anyway.
const maxAliasDepth = 16

// eval appends the answer data of g for this query to q.rrs.
func (q *query) eval(g *group, depth int) {
	if depth > maxAliasDepth {
		return
	}
	switch {
	case g.static != nil:
		q.rrs = append(q.rrs, g.static...)
		return
	case g.lb != nil:
		q.emitBalancer(g.lb, g.rtype)
		return
	}
	switch g.policy {
	case model.PolicyWeighted:
		q.emit(g, q.weighted(g), depth)
	case model.PolicyFailover:
		q.emit(g, failover(g), depth)
	case model.PolicyLatency:
		q.emit(g, q.latency(g), depth)
	case model.PolicyGeolocation:
		q.emit(g, q.geolocation(g), depth)
	case model.PolicyGeoproximity:
		q.emit(g, q.geoproximity(g), depth)
	case model.PolicyMultivalue:
		q.multivalue(g, depth)
	case model.PolicyCIDR:
		q.emit(g, q.cidr(g), depth)
	default: // simple: every record (validation allows one), every value
		for i := range g.recs {
			q.emit(g, i, depth)
		}
	}
}

// emit appends the data of record i of g (nothing for i < 0): its values in
// random order, or its alias target's answer.
func (q *query) emit(g *group, i, depth int) {
	if i < 0 {
		return
	}
	r := &g.recs[i]
	r.hits.Add(1)
	switch {
	case r.alias != nil:
		q.eval(r.alias, depth+1)
	case r.aliasLB != nil:
		q.emitBalancer(r.aliasLB, g.rtype)
	default:
		start := len(q.rrs)
		q.rrs = append(q.rrs, r.rrs...)
		q.shuffle(q.rrs[start:])
	}
}

// emitBalancer appends a load balancer's addresses of type t, in random order.
func (q *query) emitBalancer(b *balancer, t uint16) {
	start := len(q.rrs)
	switch t {
	case dns.TypeA:
		q.rrs = append(q.rrs, b.v4...)
	case dns.TypeAAAA:
		q.rrs = append(q.rrs, b.v6...)
	}
	q.shuffle(q.rrs[start:])
}

func (q *query) shuffle(rrs []dns.RR) { shuffle(q.s, rrs) }

// The three helpers below are every random draw an answer makes. Both eval
// (here) and the fast path (fastpick.go) call them, so that two servers
// with the same Config.Rand seed draw the same numbers in the same order
// whichever path answers; the differential tests between the paths rely on
// it.

// shuffle puts p in random order (Fisher–Yates, from the end).
func shuffle[T any](s *Server, p []T) {
	for i := len(p) - 1; i > 0; i-- {
		j := s.intN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
}

// drawWeighted returns the index of a candidate drawn with probability
// weight/sum, given the candidates' cumulative weights cum; or uniformly
// among n candidates when cum is nil. n > 0.
func drawWeighted(s *Server, n int, cum []int) int {
	if cum == nil {
		return s.intN(n)
	}
	x := s.intN(cum[len(cum)-1])
	i, _ := slices.BinarySearch(cum, x+1) // the first cumulative weight above x
	return i
}

// sample returns maxMultivalue distinct indexes below n (n > maxMultivalue)
// in random order, in buf: Floyd's sampling, then a shuffle.
func sample(s *Server, n int, buf *[maxMultivalue]int) []int {
	picked := buf[:0]
	for j := n - maxMultivalue; j < n; j++ {
		t := s.intN(j + 1)
		if slices.Contains(picked, t) {
			t = j
		}
		picked = append(picked, t)
	}
	shuffle(s, picked)
	return picked
}

// healthy reports whether record i of g may answer: it is healthy, or the
// group fails open.
func (g *group) healthy(i int) bool {
	return i >= 0 && (g.recs[i].healthy || g.failOpen)
}

// anyEligible returns a random record among the eligible ones, or -1.
func (q *query) anyEligible(g *group) int {
	if len(g.eligible) == 0 {
		return -1
	}
	return g.eligible[q.s.intN(len(g.eligible))]
}

// firstHealthy returns the first record of chain that may answer, else the
// first of chain (the most specific place answers when every place on the
// client's walk is down), else -1.
func firstHealthy(g *group, chain []int) int {
	for _, i := range chain {
		if g.healthy(i) {
			return i
		}
	}
	if len(chain) > 0 {
		return chain[0]
	}
	return -1
}

// weighted picks a record with probability weight/sum among the eligible
// records with a non-zero weight; when none has one (the non-zero ones are
// all unhealthy, or every weight is 0), uniformly among the eligible.
func (q *query) weighted(g *group) int {
	if len(g.wCand) == 0 {
		return -1
	}
	return g.wCand[drawWeighted(q.s, len(g.wCand), g.wCum)]
}

// failover picks the primary while it is healthy, else a healthy secondary,
// else the primary (both down: Route 53 answers the primary). A secondary
// without a health check is healthy in the view.
func failover(g *group) int {
	p, s := g.primary, g.secondary
	switch {
	case p >= 0 && g.recs[p].healthy:
		return p
	case s >= 0 && g.recs[s].healthy:
		return s
	case p >= 0:
		return p
	}
	return s
}

// latency picks the eligible record whose region has the lowest latency
// from the client's network (the most specific latency-table entry holding
// the client). Regions the entry does not list rank after those it does,
// in zone order. A client in no entry gets a random eligible record: every
// region is as good as another for it.
func (q *query) latency(g *group) int {
	e, scope, ok := q.t.latency.lookup(q.cl.addr, q.cl.bits)
	q.noteScope(scope)
	if !ok {
		return q.anyEligible(g)
	}
	lat := q.t.latencies[e]
	best, bestLat := -1, int64(math.MaxInt64)
	for _, i := range g.eligible {
		l := int64(math.MaxInt64)
		if d, ok := lat[g.recs[i].region]; ok {
			l = int64(d)
		}
		if best < 0 || l < bestLat {
			best, bestLat = i, l
		}
	}
	return best
}

// geolocation picks the most specific record for the client's place
// (subdivision, country, continent, then the default "*"), walking up while
// a record is unhealthy. No record for the place and no default: none
// (NODATA).
func (q *query) geolocation(g *group) int {
	var buf [4]int
	chain := buf[:0]
	if loc, ok := q.location(); ok {
		add := func(k geoKey) {
			if i, ok := g.geo[k]; ok {
				chain = append(chain, i)
			}
		}
		if loc.Country != "" && loc.Subdivision != "" {
			add(geoKey{country: loc.Country, subdivision: loc.Subdivision})
		}
		if loc.Country != "" {
			add(geoKey{country: loc.Country})
		}
		if loc.Continent != "" {
			add(geoKey{continent: loc.Continent})
		}
	}
	if g.geoDefault >= 0 {
		chain = append(chain, g.geoDefault)
	}
	return firstHealthy(g, chain)
}

// geoproximity picks the eligible record nearest the client by biased
// distance. A client without coordinates gets a random eligible record.
func (q *query) geoproximity(g *group) int {
	loc, ok := q.location()
	if !ok || !loc.HasCoordinates {
		return q.anyEligible(g)
	}
	lat, lon := loc.Latitude*math.Pi/180, loc.Longitude*math.Pi/180
	best, bestD := -1, math.Inf(1)
	for _, i := range g.eligible {
		r := &g.recs[i]
		d := biased(distance(lat, lon, r.lat, r.lon), r.bias)
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// biased applies Route 53's geoproximity bias to distance d: a positive bias
// shrinks it by (1 − bias/100), a negative one divides it by (1 + bias/100).
func biased(d, bias float64) float64 {
	if bias >= 0 {
		return d * (1 - bias/100)
	}
	return d / (1 + bias/100)
}

// distance is the great-circle distance in radians between two points given
// in radians (haversine); +Inf for a record without a place (NaN).
func distance(lat1, lon1, lat2, lon2 float64) float64 {
	if math.IsNaN(lat2) {
		return math.Inf(1)
	}
	s1 := math.Sin((lat2 - lat1) / 2)
	s2 := math.Sin((lon2 - lon1) / 2)
	h := s1*s1 + math.Cos(lat1)*math.Cos(lat2)*s2*s2
	return 2 * math.Asin(math.Sqrt(min(h, 1)))
}

// multivalue emits up to 8 eligible records chosen at random (the healthy
// ones, or any when none is).
func (q *query) multivalue(g *group, depth int) {
	n := len(g.eligible)
	if n <= maxMultivalue {
		start := len(q.rrs)
		for _, i := range g.eligible {
			q.emit(g, i, depth)
		}
		q.shuffle(q.rrs[start:])
		return
	}
	var buf [maxMultivalue]int
	for _, k := range sample(q.s, n, &buf) {
		q.emit(g, g.eligible[k], depth)
	}
}

// cidr picks the record of the client's location in the group's CIDR
// collection (longest prefix), else the default "*" record; a location
// whose record is unhealthy falls back to the default.
func (q *query) cidr(g *group) int {
	var buf [2]int
	chain := buf[:0]
	if g.cidr != nil {
		v, scope, ok := g.cidr.lookup(q.cl.addr, q.cl.bits)
		q.noteScope(scope)
		if ok {
			if i, ok := g.cidrRecord[g.cidrLocs[v]]; ok {
				chain = append(chain, i)
			}
		}
	}
	if g.cidrDefault >= 0 {
		chain = append(chain, g.cidrDefault)
	}
	return firstHealthy(g, chain)
}

// location returns the client's place from the Locator, once per query.
func (q *query) location() (geoip.Location, bool) {
	if q.s.cfg.Locator == nil || !q.cl.addr.IsValid() {
		return geoip.Location{}, false
	}
	if !q.located {
		q.located = true
		q.loc, q.locOK = q.s.cfg.Locator.Lookup(q.cl.addr)
	}
	// The database's network for the address is not known here, so the
	// answer is scoped to all the client revealed.
	q.noteScope(q.cl.bits)
	return q.loc, q.locOK
}
