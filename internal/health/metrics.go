package health

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"
)

// Metrics is the process's own registry of windowed counters and
// histograms, the local source of metric checks. The proxies record into it;
// metric expressions (ParseExpr) read from it.
//
// A series is a name, a label set and a kind: Add makes counters, Observe
// makes histograms, and the same name and labels may hold one of each. Each
// series keeps a ring of time buckets, Resolution wide, that covers
// Retention; a bucket holds what was recorded while it was the current one,
// so a window is always a whole number of buckets ending with the current
// one (partly elapsed). A series that recorded nothing for Retention is
// dropped when the next new series is made, at most once per Retention.
//
// A counter bucket is one float64: 8 bytes a bucket, 4.8 KB a series at the
// defaults. A histogram bucket keeps the number, sum, minimum and maximum of
// its samples, which are exact, and a sparse list of value bins in a fixed
// log-linear layout (histBins): 56 bytes plus 8 bytes for each bin in use.
// At the defaults that is 34 KB a series plus the bins: latencies of one
// target group fall into a few dozen bins, about 180 KB in all for 30 bins
// a second, and never more than 5 MB (all 1026 bins in every bucket).
//
// Percentiles from merged bins are within 1/64 (1.6%) of the true sample at
// that rank for values from 2^-20 s (0.95 µs) to 2^12 s (68 min); see
// histBins. Smaller values (zero and negative ones too) and larger ones
// are counted in an underflow and an overflow bin, which report the
// window's exact minimum (or 0 if that is negative) and maximum.
//
// Metrics is safe for concurrent use. Recording takes one lock, the
// series' own mutex: the series is found by a lock-free lookup of a hash of
// its name and labels (sync.Map), and it costs no allocation once the
// series exists and its buckets have grown to the bins in use. Making a new
// series, and reading for an expression, take the registry's mutex.
type Metrics struct {
	// Immutable after NewMetrics.
	res   time.Duration
	slots int64 // buckets in a series' ring: ⌈Retention / Resolution⌉
	now   func() time.Time
	base  time.Time // bucket 0 starts here
	seed  maphash.Seed

	// index maps a series' hash to the []*metricSeries that share it. It is
	// the recording path's lookup; it changes only under mu.
	index sync.Map

	mu        sync.Mutex // guards the fields below
	byName    map[string][]*metricSeries
	lastSweep int64 // the bucket of the last sweep of idle series
}

// MetricsOptions configures a Metrics registry. The zero value gives the defaults.
type MetricsOptions struct {
	// Retention is how far back samples are kept, and so the longest window
	// an expression may use. Default 10m; at least Resolution, and at most
	// 1,000,000 buckets.
	Retention time.Duration
	// Resolution is the width of one time bucket. Windows are measured in
	// whole buckets, and a rate() over a window is low by up to one bucket
	// while the current bucket is young (1.7% for [1m]). Default 1s.
	Resolution time.Duration
	// Now is the clock. Default time.Now; tests pass a controlled clock.
	Now func() time.Time
}

// Labels are the labels of a series, such as {"target_group": "web",
// "code": "503"}. A missing label and an empty value are the same, as in
// PromQL. Add and Observe only read the map; the registry keeps its own copy.
type Labels map[string]string

// Upper bound of a ring's buckets: 1,000,000 (11.6 days at 1s), so that a
// mistyped Retention cannot ask for gigabytes.
const metricsMaxSlots = 1_000_000

// NewMetrics returns an empty registry. It panics if Retention or
// Resolution is negative, if Retention is less than Resolution, or if
// Retention spans more than 1,000,000 buckets: those are programming errors,
// not configuration.
func NewMetrics(opt MetricsOptions) *Metrics {
	if opt.Retention == 0 {
		opt.Retention = 10 * time.Minute
	}
	if opt.Resolution == 0 {
		opt.Resolution = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Retention < 0 || opt.Resolution < 0 || opt.Retention < opt.Resolution {
		panic(fmt.Sprintf("health: NewMetrics: retention %v and resolution %v: want 0 < resolution <= retention", opt.Retention, opt.Resolution))
	}
	slots := (int64(opt.Retention) + int64(opt.Resolution) - 1) / int64(opt.Resolution)
	if slots > metricsMaxSlots {
		panic(fmt.Sprintf("health: NewMetrics: retention %v at resolution %v is %d buckets, more than %d", opt.Retention, opt.Resolution, slots, metricsMaxSlots))
	}
	return &Metrics{
		res:    opt.Resolution,
		slots:  slots,
		now:    opt.Now,
		base:   opt.Now(),
		seed:   maphash.MakeSeed(),
		byName: map[string][]*metricSeries{},
	}
}

// Retention is how far back the registry keeps samples: the longest window
// an expression may use.
func (m *Metrics) Retention() time.Duration { return time.Duration(m.slots) * m.res }

// Add adds delta to the counter name{labels}. Counters only go up: a
// negative, NaN or infinite delta is dropped.
func (m *Metrics) Add(name string, labels Labels, delta float64) {
	if !(delta >= 0) || math.IsInf(delta, 1) {
		return
	}
	e := m.epoch(m.now())
	s := m.locked(kindCounter, name, labels, e)
	if i, ok := s.advanceLocked(e); ok {
		s.sums[i] += delta
	}
	s.mu.Unlock()
}

// Observe records value, such as a response time in seconds, in the
// histogram name{labels}. A NaN or infinite value is dropped.
func (m *Metrics) Observe(name string, labels Labels, value float64) {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	e := m.epoch(m.now())
	s := m.locked(kindHistogram, name, labels, e)
	if i, ok := s.advanceLocked(e); ok {
		s.hist[i].add(value)
	}
	s.mu.Unlock()
}

// epoch returns the number of the time bucket that holds t. It measures
// from base with t.Sub, which uses the monotonic clock when both times
// have one, so that a step of the wall clock does not move samples.
// locked returns the live series name{labels} of kind k, created at epoch e
// if missing, with its lock held.
func (m *Metrics) locked(k metricKind, name string, labels Labels, e int64) *metricSeries {
	h := m.hash(k, name, labels)
	s := m.lookup(h, k, name, labels)
	for {
		if s == nil {
			s = m.create(h, k, name, labels, e)
		}
		s.mu.Lock()
		if !s.dead {
			return s
		}
		s.mu.Unlock()
		s = nil // swept meanwhile
	}
}

func (m *Metrics) epoch(t time.Time) int64 {
	d := int64(t.Sub(m.base))
	e := d / int64(m.res)
	if d < 0 && d%int64(m.res) != 0 {
		e-- // floor, for times before base
	}
	return e
}

// metricKind is what a series records.
type metricKind uint8

const (
	kindCounter   metricKind = 1 // Add: a sum per bucket
	kindHistogram metricKind = 2 // Observe: samples per bucket
)

func (k metricKind) String() string {
	if k == kindCounter {
		return "counter"
	}
	return "histogram"
}

// hash hashes a series' kind, name and labels. The labels are combined by
// addition, so the map's iteration order does not matter; a collision
// costs only a comparison (metricSeries.is).
func (m *Metrics) hash(k metricKind, name string, labels Labels) uint64 {
	var sum uint64
	for l, v := range labels {
		if v == "" {
			continue // same as a missing label
		}
		sum += mix64(maphash.String(m.seed, l) ^ bits.RotateLeft64(maphash.String(m.seed, v), 31))
	}
	return mix64(maphash.String(m.seed, name) + sum + uint64(k))
}

// mix64 is the SplitMix64 finalizer: it spreads every input bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// lookup returns the series with hash h, or nil.
func (m *Metrics) lookup(h uint64, k metricKind, name string, labels Labels) *metricSeries {
	v, ok := m.index.Load(h)
	if !ok {
		return nil
	}
	for _, s := range v.([]*metricSeries) {
		if s.is(k, name, labels) {
			return s
		}
	}
	return nil
}

// create returns the live series with hash h, making it if there is none.
// e is the current bucket, for the sweep of idle series.
func (m *Metrics) create(h uint64, k metricKind, name string, labels Labels, e int64) *metricSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.lookup(h, k, name, labels); s != nil {
		return s // made by another recorder meanwhile; never a swept one, as sweeps hold m.mu
	}
	if e-m.lastSweep >= m.slots {
		m.sweepLocked(e)
	}
	s := &metricSeries{kind: k, name: name, labels: make(Labels, len(labels)), last: noEpoch}
	for l, v := range labels {
		if v != "" {
			s.labels[l] = v
			s.pairs = append(s.pairs, labelPair{l, v})
		}
	}
	slices.SortFunc(s.pairs, func(a, b labelPair) int { return strings.Compare(a.name, b.name) })
	if k == kindCounter {
		s.sums = make([]float64, m.slots)
	} else {
		s.hist = make([]histSlot, m.slots)
	}
	var same []*metricSeries
	if v, ok := m.index.Load(h); ok {
		same = v.([]*metricSeries)
	}
	m.index.Store(h, append(slices.Clip(same), s))
	m.byName[name] = append(m.byName[name], s)
	return s
}

// sweepLocked drops the series that recorded nothing in the last
// Retention. m.mu must be held.
func (m *Metrics) sweepLocked(e int64) {
	m.lastSweep = e
	for name, ss := range m.byName {
		kept := ss[:0]
		for _, s := range ss {
			s.mu.Lock()
			idle := s.last <= e-m.slots
			if idle {
				s.dead = true // a recorder holding s looks it up again
			}
			s.mu.Unlock()
			if !idle {
				kept = append(kept, s)
				continue
			}
			h := m.hash(s.kind, s.name, s.labels)
			if v, ok := m.index.Load(h); ok {
				rest := slices.DeleteFunc(slices.Clone(v.([]*metricSeries)), func(o *metricSeries) bool { return o == s })
				if len(rest) == 0 {
					m.index.Delete(h)
				} else {
					m.index.Store(h, rest)
				}
			}
		}
		clear(ss[len(kept):])
		if len(kept) == 0 {
			delete(m.byName, name)
		} else {
			m.byName[name] = kept
		}
	}
}

// labelPair is one label of a series.
type labelPair struct{ name, value string }

// noEpoch is the last bucket of a series that has recorded nothing.
const noEpoch = math.MinInt64

// metricSeries is one counter or histogram.
type metricSeries struct {
	// Immutable after creation.
	kind   metricKind
	name   string
	labels Labels      // the registry's copy, without empty values
	pairs  []labelPair // the same labels as a list, sorted by name

	mu   sync.Mutex // guards the fields below
	dead bool       // swept from the registry: recorders must look it up again
	// last is the newest bucket recorded. The ring holds buckets
	// (last-len, last]: bucket e is at index e mod len.
	last int64
	sums []float64  // counters: the sum of each bucket's deltas
	hist []histSlot // histograms: each bucket's samples
}

// is reports whether s is the series of kind k, name and labels.
func (s *metricSeries) is(k metricKind, name string, labels Labels) bool {
	if s.kind != k || s.name != name {
		return false
	}
	if len(labels) == len(s.pairs) {
		// The common case, without empty values: the same number of labels,
		// all of s's present and equal, means the same labels. Looking
		// them up is cheaper than iterating over the caller's map.
		for _, p := range s.pairs {
			if labels[p.name] != p.value {
				return false
			}
		}
		return true
	}
	n := 0
	for l, v := range labels {
		if v == "" {
			continue
		}
		if w, ok := s.labels[l]; !ok || w != v {
			return false
		}
		n++
	}
	return n == len(s.labels)
}

// advanceLocked makes bucket e writable and returns its index in the ring.
// Moving forward clears the buckets that the ring reuses. It reports false
// for a bucket that has already left the ring (a clock that went back by
// more than Retention). s.mu must be held.
func (s *metricSeries) advanceLocked(e int64) (int, bool) {
	n := s.ringLen()
	switch {
	case e > s.last:
		if s.last == noEpoch || e-s.last >= n {
			s.clearLocked(0, n)
		} else {
			for b := s.last + 1; b <= e; b++ {
				i := ringIndex(b, n)
				s.clearLocked(i, i+1)
			}
		}
		s.last = e
	case e <= s.last-n:
		return 0, false
	}
	return int(ringIndex(e, n)), true
}

func (s *metricSeries) ringLen() int64 { return int64(max(len(s.sums), len(s.hist))) }

// clearLocked empties the ring's buckets [from, to).
func (s *metricSeries) clearLocked(from, to int64) {
	if s.sums != nil {
		clear(s.sums[from:to])
		return
	}
	for i := from; i < to; i++ {
		h := &s.hist[i]
		*h = histSlot{bins: h.bins[:0]} // keep the bins' memory for reuse
	}
}

func ringIndex(e, n int64) int64 {
	i := e % n
	if i < 0 {
		i += n
	}
	return i
}

// histSlot is one time bucket of a histogram.
type histSlot struct {
	count    uint64
	sum      float64
	min, max float64
	bins     []binCount // sorted by bin
}

// binCount is the number of samples in one bin of histBins.
type binCount struct {
	bin uint16
	n   uint32
}

func (h *histSlot) add(v float64) {
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if h.count == 0 || v > h.max {
		h.max = v
	}
	h.count++
	h.sum += v
	b := uint16(histBin(v))
	i, found := slices.BinarySearchFunc(h.bins, b, func(c binCount, b uint16) int { return int(c.bin) - int(b) })
	switch {
	case found && h.bins[i].n < math.MaxUint32:
		h.bins[i].n++
	case found:
		// 4 billion samples of one bin in one bucket: the bin saturates;
		// count, sum, min and max stay exact.
	default:
		h.bins = slices.Insert(h.bins, i, binCount{bin: b, n: 1})
	}
}

// The histogram's bins are log-linear, as HDR histograms: each power of
// two [2^k, 2^(k+1)) is cut into 32 bins of equal width 2^k/32. A bin is
// at most 1/32 of its lower bound wide, so the bin's midpoint is within
// 1/64 (1.5625%) of any value in it. The bins cover 2^-20 s (0.95 µs) to
// 2^12 s (4096 s, 68 min): 32 powers of two, 1024 bins, plus bin 0 for
// smaller values (zero and negative ones too) and the last bin for larger
// ones. A float64's exponent and top 5 mantissa bits are the bin.
const (
	histSubBits  = 5                                                // log2 of the bins per power of two
	histLowBits  = uint64(0x3eb0000000000000) >> (52 - histSubBits) // math.Float64bits(0x1p-20), shifted
	histHighBits = uint64(0x40b0000000000000) >> (52 - histSubBits) // math.Float64bits(0x1p12), shifted
	histBins     = int(histHighBits-histLowBits) + 2                // 1026
)

// histBin returns v's bin.
func histBin(v float64) int {
	if !(v >= 0x1p-20) {
		return 0
	}
	if v >= 0x1p12 {
		return histBins - 1
	}
	return int(math.Float64bits(v)>>(52-histSubBits)-histLowBits) + 1
}

// histBinValue returns the value that stands for bin i: its midpoint; 0
// for the underflow bin and +Inf for the overflow bin (the caller clamps
// both to the samples' minimum and maximum).
func histBinValue(i int) float64 {
	switch {
	case i <= 0:
		return 0
	case i >= histBins-1:
		return math.Inf(1)
	}
	lo := math.Float64frombits((uint64(i-1) + histLowBits) << (52 - histSubBits))
	hi := math.Float64frombits((uint64(i) + histLowBits) << (52 - histSubBits))
	return (lo + hi) / 2
}

// metricRange is what one selector found: the merged data of the series it
// matched, over its window.
type metricRange struct {
	known      bool     // the registry has data named sel.name within its retention
	counters   int      // matching counter series
	histograms int      // matching histogram series
	increase   float64  // counter deltas, plus histogram samples, in the window
	count      uint64   // histogram samples in the window
	sum        float64  // of the histogram samples
	min, max   float64  // of the histogram samples; valid when count > 0
	bins       []uint64 // merged samples per bin of histBins; nil when count is 0
}

// quantile returns the value at rank ⌈permille/1000 × count⌉ of the merged
// samples (the nearest-rank definition), as its bin's midpoint clamped to
// the exact minimum and maximum. count must not be 0.
func (r *metricRange) quantile(permille int) float64 {
	rank := (uint64(permille)*r.count + 999) / 1000
	rank = max(rank, 1)
	var cum uint64
	for i, n := range r.bins {
		cum += n
		if cum >= rank {
			return min(max(histBinValue(i), r.min), r.max)
		}
	}
	return r.max
}

// selectRange merges the series that sel matches over the window of sel
// that ends with the bucket of now. It is the registry's side of Source.
func (m *Metrics) selectRange(sel *selector, now time.Time) (*metricRange, error) {
	k := (int64(sel.window) + int64(m.res) - 1) / int64(m.res)
	if k > m.slots {
		return nil, fmt.Errorf("window %s is longer than the metrics retention %s", formatWindow(sel.window), formatWindow(m.Retention()))
	}
	e := m.epoch(now)
	m.mu.Lock()
	all := slices.Clone(m.byName[sel.name])
	m.mu.Unlock()

	r := &metricRange{}
	for _, s := range all {
		s.mu.Lock()
		if s.last == noEpoch || s.last <= e-m.slots {
			s.mu.Unlock()
			continue // nothing within the retention
		}
		r.known = true
		if !sel.matches(s.labels) {
			s.mu.Unlock()
			continue
		}
		// Buckets in the window and still in the ring.
		n := s.ringLen()
		from, to := max(e-k+1, s.last-n+1), min(e, s.last)
		switch s.kind {
		case kindCounter:
			r.counters++
			for b := from; b <= to; b++ {
				r.increase += s.sums[ringIndex(b, n)]
			}
		case kindHistogram:
			r.histograms++
			for b := from; b <= to; b++ {
				r.mergeLocked(&s.hist[ringIndex(b, n)])
			}
		}
		s.mu.Unlock()
	}
	return r, nil
}

// mergeLocked adds one time bucket of a histogram to r. The series' mutex must be held.
func (r *metricRange) mergeLocked(h *histSlot) {
	if h.count == 0 {
		return
	}
	if r.count == 0 || h.min < r.min {
		r.min = h.min
	}
	if r.count == 0 || h.max > r.max {
		r.max = h.max
	}
	r.count += h.count
	r.increase += float64(h.count)
	r.sum += h.sum
	if r.bins == nil {
		r.bins = make([]uint64, histBins)
	}
	for _, b := range h.bins {
		r.bins[b.bin] += uint64(b.n)
	}
}
