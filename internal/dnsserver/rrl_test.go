// Tests of response rate limiting: the bucket arithmetic with a fake
// clock, the classification of responses, and a flood over real UDP from
// two client networks with the server's clock stopped.

package dnsserver

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// clock is a settable time for the limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimiter(t *testing.T, cfg RRLConfig) (*limiter, *clock) {
	t.Helper()
	l, err := newLimiter(cfg)
	if err != nil || l == nil {
		t.Fatalf("newLimiter(%+v) = %v, %v", cfg, l, err)
	}
	clk := &clock{t: epoch}
	l.now, l.epoch = clk.Now, clk.Now()
	return l, clk
}

// verdicts charges n identical responses to src and renders what happened
// to each: "s" sent, "d" dropped, "t" sent truncated (slipped).
func verdicts(l *limiter, src string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte("sdt"[l.check(netip.MustParseAddr(src), rrlAnswer, "www.example.com.", dns.TypeA)])
	}
	return b.String()
}

func TestLimiter(t *testing.T) {
	t.Run("burst, then slip every 2nd", func(t *testing.T) {
		l, _ := newTestLimiter(t, RRLConfig{ResponsesPerSecond: 5, Slip: 2})
		if got, want := verdicts(l, "192.0.2.1", 12), "sssssdtdtdtd"; got != want {
			t.Errorf("12 responses at once = %q, want %q", got, want)
		}
	})
	t.Run("slip 0 drops all, slip 1 truncates all", func(t *testing.T) {
		l, _ := newTestLimiter(t, RRLConfig{ResponsesPerSecond: 2, Slip: 0})
		if got, want := verdicts(l, "192.0.2.1", 5), "ssddd"; got != want {
			t.Errorf("slip 0: %q, want %q", got, want)
		}
		l, _ = newTestLimiter(t, RRLConfig{ResponsesPerSecond: 2, Slip: 1})
		if got, want := verdicts(l, "192.0.2.1", 5), "ssttt"; got != want {
			t.Errorf("slip 1: %q, want %q", got, want)
		}
	})
	t.Run("networks", func(t *testing.T) {
		l, _ := newTestLimiter(t, RRLConfig{ResponsesPerSecond: 2, IPv4Prefix: 24, IPv6Prefix: 56})
		verdicts(l, "192.0.2.1", 2)
		for _, tt := range []struct {
			src, want string
		}{
			{"192.0.2.200", "dd"},       // the same /24: limited
			{"192.0.3.1", "ss"},         // another /24
			{"2001:db8:0:ff::1", "ss"},  // a /56
			{"2001:db8:0:1::1", "dd"},   // the same /56
			{"2001:db8:0:100::1", "ss"}, // the next /56
			{"192.0.2.0", "dd"},         // the network address
			{"192.0.2.255", "dd"},       // the last
			{"192.0.1.255", "ss"},       // just below
		} {
			if got := verdicts(l, tt.src, len(tt.want)); got != tt.want {
				t.Errorf("%s: %q, want %q", tt.src, got, tt.want)
			}
		}
	})
	t.Run("refill at the rate", func(t *testing.T) {
		l, clk := newTestLimiter(t, RRLConfig{ResponsesPerSecond: 4, Slip: 0, Window: time.Second})
		verdicts(l, "192.0.2.1", 4)
		clk.Advance(250 * time.Millisecond) // one response's worth
		if got, want := verdicts(l, "192.0.2.1", 2), "sd"; got != want {
			t.Errorf("after 1/rate: %q, want %q", got, want)
		}
	})
	t.Run("debt lasts the window", func(t *testing.T) {
		l, clk := newTestLimiter(t, RRLConfig{ResponsesPerSecond: 10, Slip: 0, Window: 5 * time.Second})
		// A flood of 1,000 at 1,000/s: 10 answered, then limited.
		sent := 0
		for range 1000 {
			if verdicts(l, "192.0.2.1", 1) == "s" {
				sent++
			}
			clk.Advance(time.Millisecond)
		}
		if sent > 12 {
			t.Errorf("a flood got %d answers in 1s at 10/s", sent)
		}
		// The flood stops: still limited just short of the window…
		clk.Advance(5*time.Second - 200*time.Millisecond)
		if got := verdicts(l, "192.0.2.1", 1); got != "d" {
			t.Errorf("window − 0.2s after the flood: %q, want d", got)
		}
		// …and answered after it.
		clk.Advance(time.Second)
		if got := verdicts(l, "192.0.2.1", 1); got != "s" {
			t.Errorf("window + 0.8s after the flood: %q, want s", got)
		}
	})
	t.Run("bounded table", func(t *testing.T) {
		l, _ := newTestLimiter(t, RRLConfig{ResponsesPerSecond: 1, Entries: 64})
		for i := range 10_000 {
			l.check(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), rrlAnswer, "x.", dns.TypeA)
		}
		if n := len(l.slots) * rrlWays; n != 64 {
			t.Errorf("table of %d entries, want 64", n)
		}
	})
}

func TestRRLClassify(t *testing.T) {
	hs := start(t, staticDoc, nil)
	for _, tt := range []struct {
		qname string
		qtype uint16
		kind  rrlKind
		name  string
	}{
		{"www.example.com.", dns.TypeA, rrlAnswer, "www.example.com."},
		{"www.example.com.", dns.TypeMX, rrlNoData, "www.example.com."},
		{"random1.example.com.", dns.TypeA, rrlNXDomain, "example.com."},
		{"random2.example.com.", dns.TypeA, rrlNXDomain, "example.com."},
		{"x.dept.example.com.", dns.TypeA, rrlReferral, "dept.example.com."},
		{"www.elsewhere.test.", dns.TypeA, rrlError, ""},
	} {
		r, _ := hs.srv.answer(newQuery(tt.qname, tt.qtype), netip.MustParseAddr("192.0.2.1"), false)
		kind, name, _ := rrlClassify(r)
		if kind != tt.kind || name != tt.name {
			t.Errorf("rrlClassify(%s %s) = %d %q, want %d %q", tt.qname, dns.TypeToString[tt.qtype], kind, name, tt.kind, tt.name)
		}
	}
}

// flood sends n queries for qname over UDP from laddr at once, then reads
// what comes back until the server has been quiet for a while: the
// answers, and those of them truncated.
func flood(t *testing.T, addr, laddr, qname string, n int) (answered, truncated int) {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(laddr)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		q := newQuery(qname, dns.TypeA)
		q.Id = uint16(i + 1)
		pkt, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65535)
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		k, err := c.Read(buf)
		if err != nil {
			return answered, truncated
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if r.Truncated {
			if len(r.Answer)+len(r.Ns) != 0 {
				t.Errorf("truncated answer with records: %v", r)
			}
			truncated++
		} else {
			answered++
		}
	}
}

// TestRRL floods the server from 127.0.0.1 with its clock stopped: five
// answers, then every second one truncated and the rest dropped. Another
// /24 on the loopback (127.0.1.1) and another name are not limited, nor is
// TCP; when the window has passed, 127.0.0.1 is answered again.
func TestRRL(t *testing.T) {
	clk := &clock{t: epoch}
	hs := start(t, staticDoc, nil, func(c *Config) {
		c.RRL = RRLConfig{ResponsesPerSecond: 5, Slip: 2, Window: 2 * time.Second}
		c.now = clk.Now
	})
	if a, tc := flood(t, hs.addr, "127.0.0.1", "www.example.com.", 21); a != 5 || tc != 8 {
		t.Errorf("flood of 21 from 127.0.0.1: %d answered, %d truncated; want 5 and 8", a, tc)
	}
	if s := hs.srv.Stats(); s.RRLDropped != 8 || s.RRLSlipped != 8 {
		t.Errorf("Stats() dropped %d, slipped %d; want 8 and 8", s.RRLDropped, s.RRLSlipped)
	}
	if a, tc := flood(t, hs.addr, "127.0.1.1", "www.example.com.", 5); a != 5 || tc != 0 {
		t.Errorf("5 from 127.0.1.1: %d answered, %d truncated; want 5 and 0", a, tc)
	}
	if a, tc := flood(t, hs.addr, "127.0.0.1", "ns1.example.com.", 5); a != 5 || tc != 0 {
		t.Errorf("5 for another name: %d answered, %d truncated; want 5 and 0", a, tc)
	}
	for range 10 {
		if r := hs.askTCP(t, newQuery("www.example.com.", dns.TypeA)); r.Truncated || len(r.Answer) != 2 {
			t.Fatalf("over TCP: %v, want the answer", r)
		}
	}
	clk.Advance(3*time.Second + 200*time.Millisecond)
	if a, tc := flood(t, hs.addr, "127.0.0.1", "www.example.com.", 1); a != 1 || tc != 0 {
		t.Errorf("after the window: %d answered, %d truncated; want 1 and 0", a, tc)
	}
}

// BenchmarkRRLCheck is what the limiter adds to a UDP answer when on.
func BenchmarkRRLCheck(b *testing.B) {
	l, err := newLimiter(RRLConfig{ResponsesPerSecond: 1_000_000, Slip: 2})
	if err != nil {
		b.Fatal(err)
	}
	l.now, l.epoch = time.Now, time.Now()
	src := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		l.check(src, rrlAnswer, "www.example.com.", dns.TypeA)
	}
}
