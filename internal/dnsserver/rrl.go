// This file is response rate limiting (RRL), as BIND does it, against
// reflection: a spoofed flood asks us to send many identical answers to a
// victim's network. Over UDP, each (client network, response) pair may get
// so many answers per second; beyond that, answers are dropped, and every
// Slip-th goes out truncated so that a real client behind that network
// retries over TCP, which a spoofer cannot. TCP is never limited.

package dnsserver

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/model"
)

// RRLConfig configures response rate limiting. The zero value is off.
type RRLConfig struct {
	// ResponsesPerSecond is how many identical responses one client network
	// may get per second (a burst of that many is allowed). 0: off.
	ResponsesPerSecond int
	// Slip: every Slip-th limited response is sent truncated (TC=1, no
	// records) instead of being dropped; 1 truncates every one, 0 drops
	// every one. Not defaulted here: the configuration's default is 2.
	// 0–10.
	Slip int
	// Window is how far a network may go into debt: after a flood it is
	// answered again once it has stayed below the rate for up to Window.
	// Default 15s; 1s–1h.
	Window time.Duration
	// IPv4Prefix and IPv6Prefix group client addresses into networks.
	// Defaults 24 and 56.
	IPv4Prefix, IPv6Prefix int
	// Entries bounds the table of networks being tracked; when it is full
	// the least recently limited entry of a slot gives way, which can only
	// make the limiter more lenient. Default 65536; 64–16M, rounded up to
	// a power of two.
	Entries int
}

// RRLFrom converts the configuration's rate limiting settings (defaulted
// and validated by the model) for Config.RRL.
func RRLFrom(r model.RRL) RRLConfig {
	c := RRLConfig{
		ResponsesPerSecond: r.ResponsesPerSecond,
		Slip:               model.DefaultRRLSlip,
		Window:             r.Window.D(),
		IPv4Prefix:         r.IPv4Prefix,
		IPv6Prefix:         r.IPv6Prefix,
	}
	if r.Slip != nil {
		c.Slip = *r.Slip
	}
	return c
}

// Defaults of RRLConfig fields left zero.
const (
	DefaultRRLWindow  = 15 * time.Second
	DefaultRRLEntries = 1 << 16
)

// rrlKind is the kind of response, the second half of a limiter key.
type rrlKind uint8

const (
	rrlAnswer   rrlKind = iota + 1 // records: keyed by name and type
	rrlNoData                      // no records, authoritative: keyed by name and type
	rrlNXDomain                    // keyed by zone, so random names count together
	rrlReferral                    // keyed by the delegation
	rrlError                       // REFUSED, FORMERR, SERVFAIL, NOTIMP…: one bucket per network
)

// rrlVerdict says what to do with one response.
type rrlVerdict uint8

const (
	rrlSend rrlVerdict = iota
	rrlDrop
	rrlSlip
)

// rrlWays is how many entries share a slot of the table.
const rrlWays = 4

// limiter is the RRL table: per key, a token bucket kept as GCRA does, by
// the time at which it would be full again (tat). Each response moves tat
// on by one interval (1s / rate); a response is limited when that puts tat
// more than a second ahead of now: more than a second's worth of responses
// outstanding. A fresh key may burst to a second's worth.
type limiter struct {
	// Immutable after newLimiter (and New, which sets now and epoch).
	interval int64 // nanoseconds per response
	window   int64 // nanoseconds of debt at most
	slip     uint32
	v4, v6   int
	seed     maphash.Seed
	now      func() time.Time
	epoch    time.Time
	slots    []rrlSlot // a power of two of them
}

type rrlSlot struct {
	mu sync.Mutex // guards e
	e  [rrlWays]rrlEntry
}

type rrlEntry struct {
	key     uint64 // 0: empty
	tat     int64  // nanoseconds since epoch
	limited uint32 // limited responses so far, for slip
}

// newLimiter checks c and returns its limiter, or nil when RRL is off.
func newLimiter(c RRLConfig) (*limiter, error) {
	var errs []error
	if c.ResponsesPerSecond < 0 || c.ResponsesPerSecond > 1_000_000 {
		errs = append(errs, fmt.Errorf("rrl: responses per second %d is outside 0–1000000", c.ResponsesPerSecond))
	}
	if c.Slip < 0 || c.Slip > 10 {
		errs = append(errs, fmt.Errorf("rrl: slip %d is outside 0–10", c.Slip))
	}
	if c.Window != 0 && (c.Window < time.Second || c.Window > time.Hour) {
		errs = append(errs, fmt.Errorf("rrl: window %s is outside 1s–1h", c.Window))
	}
	if c.IPv4Prefix < 0 || c.IPv4Prefix > 32 {
		errs = append(errs, fmt.Errorf("rrl: ipv4 prefix %d is outside 1–32", c.IPv4Prefix))
	}
	if c.IPv6Prefix < 0 || c.IPv6Prefix > 128 {
		errs = append(errs, fmt.Errorf("rrl: ipv6 prefix %d is outside 1–128", c.IPv6Prefix))
	}
	if c.Entries < 0 || c.Entries > 1<<24 {
		errs = append(errs, fmt.Errorf("rrl: entries %d is outside 64–16M", c.Entries))
	}
	if err := errors.Join(errs...); err != nil || c.ResponsesPerSecond == 0 {
		return nil, err
	}
	l := &limiter{
		interval: int64(time.Second) / int64(c.ResponsesPerSecond),
		window:   int64(c.Window),
		slip:     uint32(c.Slip),
		v4:       c.IPv4Prefix,
		v6:       c.IPv6Prefix,
		seed:     maphash.MakeSeed(),
	}
	if l.window == 0 {
		l.window = int64(DefaultRRLWindow)
	}
	if l.v4 == 0 {
		l.v4 = 24
	}
	if l.v6 == 0 {
		l.v6 = 56
	}
	entries := max(c.Entries, 64)
	if c.Entries == 0 {
		entries = DefaultRRLEntries
	}
	n := 1
	for n*rrlWays < entries {
		n *= 2
	}
	l.slots = make([]rrlSlot, n)
	return l, nil
}

// rrlClassify returns the kind of response r is and what identifies it
// within its kind: the question for answers and NODATA, the zone (the
// SOA's owner) for NXDOMAIN, the delegation for referrals, nothing for
// errors.
func rrlClassify(r *dns.Msg) (kind rrlKind, name string, qtype uint16) {
	var q dns.Question
	if len(r.Question) > 0 {
		q = r.Question[0]
	}
	switch {
	case r.Rcode == dns.RcodeNameError:
		if len(r.Ns) > 0 {
			name = r.Ns[0].Header().Name
		}
		return rrlNXDomain, name, 0
	case r.Rcode != dns.RcodeSuccess:
		return rrlError, "", 0
	case len(r.Answer) > 0:
		return rrlAnswer, q.Name, q.Qtype
	case !r.Authoritative && len(r.Ns) > 0:
		return rrlReferral, r.Ns[0].Header().Name, 0
	}
	return rrlNoData, q.Name, q.Qtype
}

// check counts one response of kind (identified by name and qtype) to
// src's network and says whether to send, drop or slip it. name is folded
// to lower case. Safe for concurrent use.
func (l *limiter) check(src netip.Addr, kind rrlKind, name string, qtype uint16) rrlVerdict {
	bits := l.v4
	if !src.Is4() {
		bits = l.v6
	}
	p, _ := src.Prefix(bits)
	var h maphash.Hash
	h.SetSeed(l.seed)
	a := p.Addr().As16()
	h.Write(a[:])
	h.WriteByte(byte(kind))
	h.WriteByte(byte(qtype >> 8))
	h.WriteByte(byte(qtype))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h.WriteByte(c)
	}
	key := h.Sum64() | 1 // never 0, which marks an empty entry
	return l.take(key, int64(l.now().Sub(l.epoch)))
}

// take charges one response to key at now (nanoseconds since epoch).
func (l *limiter) take(key uint64, now int64) rrlVerdict {
	s := &l.slots[key>>1&uint64(len(l.slots)-1)] // bit 0 is always set
	s.mu.Lock()
	defer s.mu.Unlock()
	var e *rrlEntry
	for i := range s.e {
		if s.e[i].key == key {
			e = &s.e[i]
			break
		}
	}
	if e == nil {
		// A new key takes an empty entry, else the one that would be full
		// soonest: forgetting it loses least.
		v := 0
		for i := 1; i < rrlWays && s.e[v].key != 0; i++ {
			if s.e[i].key == 0 || s.e[i].tat < s.e[v].tat {
				v = i
			}
		}
		e = &s.e[v]
		*e = rrlEntry{key: key, tat: now}
	}
	// Dropped responses are charged too, down to window's worth of debt:
	// a flood stays limited until it has slowed below the rate for about
	// window (BIND's balance floor of -window × rate).
	e.tat = min(max(e.tat, now)+l.interval, now+int64(time.Second)+l.window)
	if e.tat-now <= int64(time.Second) {
		return rrlSend
	}
	e.limited++
	if l.slip > 0 && e.limited%l.slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// slipped returns the truncated form of r that a limited response slips
// out as: the header with TC set, the question and the OPT record.
func slipped(r *dns.Msg) *dns.Msg {
	t := &dns.Msg{MsgHdr: r.MsgHdr, Question: r.Question}
	t.Truncated = true
	if opt := r.IsEdns0(); opt != nil {
		t.Extra = []dns.RR{opt}
	}
	return t
}
