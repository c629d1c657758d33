// Package balance chooses a target for each new request or connection among
// the routable targets of a target group: round robin, least outstanding
// requests, weighted random, and consistent hashing with a Maglev table,
// each honouring target weights and slow start. The view decides which
// targets are routable; balance only spreads traffic over them. The proxies
// use Group; the kernel data planes use the Maglev table alone.
package balance

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// Endpoint is one target as the balancer knows it. It outlives views: its
// count of outstanding requests carries over from one view to the next, and
// a caller may keep using an Endpoint after it left rotation (draining).
type Endpoint struct {
	// Addr and Zone identify the target; they never change.
	Addr netip.AddrPort
	Zone string

	active atomic.Int64 // requests or connections in flight
	seen   time.Time    // first Update that listed it; written under Group.mu
}

// Begin counts a request or connection sent to e; call Done when it ends.
// Least outstanding requests reads the count.
func (e *Endpoint) Begin() { e.active.Add(1) }

// Done ends what Begin counted.
func (e *Endpoint) Done() { e.active.Add(-1) }

// Active is the number of requests or connections in flight to e.
func (e *Endpoint) Active() int64 { return e.active.Load() }

// Hint is what a pick may be keyed on.
type Hint struct {
	// Key is the consistent-hash key's hash (HashString of a header or cookie
	// value, HashAddr of the client address); valid when HasKey.
	Key    uint64
	HasKey bool
}

// Group spreads traffic over one target group's routable targets, as a node
// in one zone sees them. Update hands it each new view's decision; Pick,
// Next and Find may run concurrently with each other and with Update, take
// no lock and do not allocate.
type Group struct {
	// Immutable after NewGroup.
	name      string
	zone      string
	tableSize int

	rr  atomic.Uint64
	cur atomic.Pointer[set]

	mu        sync.Mutex // guards the fields below; held by Update and Refresh
	endpoints map[endpointKey]*Endpoint
	last      updateInput
}

type endpointKey struct {
	addr netip.AddrPort
	zone string
}

type updateInput struct {
	spec        *model.TargetGroup
	routable    []view.Target
	failingOpen bool
}

// set is one immutable selection state.
type set struct {
	algo model.Algorithm
	eps  []*Endpoint
	// weight is each endpoint's effective weight (slow start applied, in
	// hundredths), cum its running sum; equal is true when all weights are
	// equal (plain rotation).
	weight []uint64
	cum    []uint64
	total  uint64
	stride uint64 // coprime with total: weighted round robin visits every unit once per cycle
	equal  bool
	maglev []int32
	// FailingOpen mirrors the view: routable holds unhealthy targets.
	failingOpen bool
	// ramping is true while some target is in slow start.
	ramping bool
}

// NewGroup returns an empty Group for target group name seen from zone
// (empty: a node that does not know its zone). tableSize is the Maglev
// table size for consistent hashing, 0 for DefaultTableSize; it must be a
// prime.
func NewGroup(name, zone string, tableSize int) *Group {
	if tableSize == 0 {
		tableSize = DefaultTableSize
	}
	return &Group{name: name, zone: zone, tableSize: tableSize, endpoints: map[endpointKey]*Endpoint{}}
}

// Name is the target group's name.
func (g *Group) Name() string { return g.name }

// Update installs the decision of v for this group: its routable targets
// from the group's zone, weights, algorithm and slow start at time now. A
// group missing from v routes nowhere.
func (g *Group) Update(v *view.View, now time.Time) {
	var in updateInput
	if tg := v.TargetGroups[g.name]; tg != nil {
		in.spec = tg.Spec
		in.routable, in.failingOpen = tg.RoutableFrom(g.zone)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last = in
	g.build(now)
}

// Refresh rebuilds the selection at time now while a target is in slow
// start, so that its share grows; it does nothing otherwise. Call it about
// once a second.
func (g *Group) Refresh(now time.Time) {
	if s := g.cur.Load(); s == nil || !s.ramping {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.build(now)
}

// build makes a new set from g.last; g.mu is held.
func (g *Group) build(now time.Time) {
	in := g.last
	s := &set{failingOpen: in.failingOpen}
	keep := make(map[endpointKey]bool, len(in.routable))
	var slow time.Duration
	if in.spec != nil {
		s.algo = in.spec.Algorithm
		slow = in.spec.SlowStart.D()
	}
	for _, t := range in.routable {
		k := endpointKey{t.Addr, t.Zone}
		if keep[k] {
			continue
		}
		keep[k] = true
		ep := g.endpoints[k]
		if ep == nil {
			ep = &Endpoint{Addr: t.Addr, Zone: t.Zone, seen: now}
			g.endpoints[k] = ep
		}
		w := uint64(t.Weight) * 100
		if slow > 0 && t.Healthy {
			start := ep.seen
			if t.Since.After(start) {
				start = t.Since
			}
			if age := now.Sub(start); age < slow {
				s.ramping = true
				w = max(1, uint64(float64(w)*rampFraction(age, slow)))
			}
		}
		s.eps = append(s.eps, ep)
		s.weight = append(s.weight, w)
	}
	for k := range g.endpoints {
		if !keep[k] {
			delete(g.endpoints, k)
		}
	}
	s.cum = make([]uint64, len(s.weight))
	s.equal = true
	for i, w := range s.weight {
		s.total += w
		s.cum[i] = s.total
		s.equal = s.equal && w == s.weight[0]
	}
	s.stride = coprimeStride(s.total)
	if s.algo == model.ConsistentHash && len(s.eps) > 0 {
		names := make([]string, len(s.eps))
		ws := make([]int, len(s.eps))
		for i, ep := range s.eps {
			names[i] = ep.Addr.String()
			ws[i] = int(s.weight[i])
		}
		if t, err := Maglev(names, ws, g.tableSize); err == nil {
			s.maglev = t
		}
	}
	g.cur.Store(s)
}

// rampFraction is slow start's share of a target's weight after age of a
// ramp of length slow: linear from 10%, so a new target gets some traffic
// to warm with from the start.
func rampFraction(age, slow time.Duration) float64 {
	if age < 0 {
		age = 0
	}
	return 0.1 + 0.9*float64(age)/float64(slow)
}

// coprimeStride returns a stride near total·φ that shares no factor with
// total, so k·stride mod total visits every residue once per total steps
// while spreading consecutive picks apart.
func coprimeStride(total uint64) uint64 {
	if total < 2 {
		return 1
	}
	st := uint64(float64(total)*0.6180339887) | 1
	for gcd(st, total) != 1 {
		st++
	}
	return st
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Len is the number of targets the group routes to now.
func (g *Group) Len() int {
	if s := g.cur.Load(); s != nil {
		return len(s.eps)
	}
	return 0
}

// FailingOpen reports whether the group routes to unhealthy targets now.
func (g *Group) FailingOpen() bool {
	s := g.cur.Load()
	return s != nil && s.failingOpen
}

// Pick chooses a target for a new request or connection by the group's
// algorithm; nil when the group has no routable target. Consistent hashing
// without a key in h falls back to round robin.
func (g *Group) Pick(h Hint) *Endpoint {
	s := g.cur.Load()
	if s == nil || len(s.eps) == 0 {
		return nil
	}
	return s.eps[g.pick(s, h)]
}

func (g *Group) pick(s *set, h Hint) int {
	switch s.algo {
	case model.LeastOutstandingRequests:
		return g.leastOutstanding(s)
	case model.WeightedRandom:
		return s.at(rand.Uint64N(s.total))
	case model.ConsistentHash:
		if h.HasKey && s.maglev != nil {
			return int(s.maglev[h.Key%uint64(len(s.maglev))])
		}
	}
	k := g.rr.Add(1)
	if s.equal {
		return int(k % uint64(len(s.eps)))
	}
	hi, lo := bits.Mul64(k, s.stride)
	_, rem := bits.Div64(hi%s.total, lo, s.total)
	return s.at(rem)
}

// at is the endpoint whose weight interval holds unit u < total.
func (s *set) at(u uint64) int {
	i, _ := slices.BinarySearchFunc(s.cum, u, func(c, u uint64) int {
		if c <= u {
			return -1
		}
		return 1
	})
	return min(i, len(s.eps)-1)
}

// leastOutstanding picks the target with the fewest requests in flight per
// unit of weight. Up to 16 targets it looks at all of them, starting at a
// rotating place so ties spread; above that it compares two random ones
// (the power of two choices), which is nearly as good and stays O(1).
func (g *Group) leastOutstanding(s *set) int {
	n := len(s.eps)
	if n > 16 {
		a, b := rand.IntN(n), rand.IntN(n-1)
		if b >= a {
			b++
		}
		if lessLoaded(s, b, a) {
			return b
		}
		return a
	}
	start := int(g.rr.Add(1) % uint64(n))
	best := start
	for j := 1; j < n; j++ {
		i := (start + j) % n
		if lessLoaded(s, i, best) {
			best = i
		}
	}
	return best
}

// lessLoaded compares active/weight of i and j without dividing.
func lessLoaded(s *set, i, j int) bool {
	return uint64(max(0, s.eps[i].active.Load()))*s.weight[j] < uint64(max(0, s.eps[j].active.Load()))*s.weight[i]
}

// Next chooses a target other than avoid, for a retry; nil when avoid is
// the only one. Consistent hashing moves to the next slot's target, so
// retries of one key agree.
func (g *Group) Next(h Hint, avoid *Endpoint) *Endpoint {
	s := g.cur.Load()
	if s == nil || len(s.eps) == 0 {
		return nil
	}
	if s.algo == model.ConsistentHash && h.HasKey && s.maglev != nil {
		m := uint64(len(s.maglev))
		for j := uint64(1); j < m && j < 1024; j++ {
			if ep := s.eps[s.maglev[(h.Key+j)%m]]; ep != avoid {
				return ep
			}
		}
	}
	for range 4 {
		if ep := s.eps[g.pick(s, h)]; ep != avoid {
			return ep
		}
	}
	for _, ep := range s.eps {
		if ep != avoid {
			return ep
		}
	}
	return nil
}

// Find returns the routable endpoint at addr, for stickiness; nil when addr
// is not routable now.
func (g *Group) Find(addr netip.AddrPort) *Endpoint {
	s := g.cur.Load()
	if s == nil {
		return nil
	}
	for _, ep := range s.eps {
		if ep.Addr == addr {
			return ep
		}
	}
	return nil
}
