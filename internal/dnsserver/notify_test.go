// Tests of NOTIFY against a secondary played by the test on a UDP socket:
// one per zone and serial, signed, sent again until acknowledged, and
// given up on after NotifyAttempts or an error answer.

package dnsserver

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeSecondary is a UDP socket that receives NOTIFYs.
type fakeSecondary struct {
	t    *testing.T
	conn *net.UDPConn
	key  *TSIGKey
}

func newFakeSecondary(t *testing.T, key *TSIGKey) *fakeSecondary {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeSecondary{t: t, conn: c, key: key}
}

func (f *fakeSecondary) addr() netip.AddrPort { return f.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// notify is one NOTIFY received.
type notify struct {
	m    *dns.Msg
	from *net.UDPAddr
	mac  string // its TSIG's MAC
}

// read returns the next NOTIFY, or false when none comes within wait. It
// checks the message's form and, with a key, its signature.
func (f *fakeSecondary) read(wait time.Duration) (notify, bool) {
	f.t.Helper()
	buf := make([]byte, 65535)
	f.conn.SetReadDeadline(time.Now().Add(wait))
	n, from, err := f.conn.ReadFromUDP(buf)
	if err != nil {
		return notify{}, false
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		f.t.Fatalf("NOTIFY does not parse: %v", err)
	}
	if m.Opcode != dns.OpcodeNotify || !m.Authoritative || len(m.Question) != 1 || m.Question[0].Qtype != dns.TypeSOA {
		f.t.Fatalf("not a NOTIFY for an SOA: %v", m)
	}
	nt := notify{m: m, from: from}
	if f.key != nil {
		ts := m.IsTsig()
		if ts == nil {
			f.t.Fatalf("NOTIFY is not signed")
		}
		if err := dns.TsigVerify(buf[:n], f.key.Secret, "", false); err != nil {
			f.t.Fatalf("NOTIFY's TSIG does not verify: %v", err)
		}
		nt.mac = ts.MAC
	}
	return nt, true
}

// serial returns the serial a NOTIFY announces.
func (nt notify) serial(t *testing.T) uint32 {
	t.Helper()
	if len(nt.m.Answer) != 1 {
		t.Fatalf("NOTIFY has %d answer records, want the SOA", len(nt.m.Answer))
	}
	return nt.m.Answer[0].(*dns.SOA).Serial
}

// ack answers nt with rcode, signed with the key when there is one.
func (f *fakeSecondary) ack(nt notify, rcode int) {
	f.t.Helper()
	r := new(dns.Msg)
	r.SetRcode(nt.m, rcode)
	pkt, err := r.Pack()
	if f.key != nil {
		r.SetTsig(dns.Fqdn(f.key.Name), dns.Fqdn(f.key.Algorithm), 300, time.Now().Unix())
		pkt, _, err = dns.TsigGenerate(r, f.key.Secret, nt.mac, false)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.conn.WriteToUDP(pkt, nt.from); err != nil {
		f.t.Fatal(err)
	}
}

// waitStats polls the server's counters until ok accepts them; the
// server counts an acknowledgement after the test has sent it.
func (hs *harness) waitStats(t *testing.T, what string, ok func(Stats) bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !ok(hs.srv.Stats()) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("Stats() = %+v, want %s", hs.srv.Stats(), what)
		}
	}
}

func TestNotify(t *testing.T) {
	sec := newFakeSecondary(t, testKey)
	hs := start(t, xfrDoc, nil,
		withSecondaries(Secondary{Notify: sec.addr(), Zones: []string{"x.test"}, TSIG: testKey}),
		func(c *Config) { c.NotifyRetry = 100 * time.Millisecond })

	// The first view: serial 1, for x.test only.
	nt, ok := sec.read(5 * time.Second)
	if !ok {
		t.Fatal("no NOTIFY for the first view")
	}
	if q, s := nt.m.Question[0].Name, nt.serial(t); q != "x.test." || s != 1 {
		t.Fatalf("NOTIFY for %s serial %d, want x.test. serial 1", q, s)
	}
	sec.ack(nt, dns.RcodeSuccess)
	hs.waitStats(t, "1 NOTIFY acknowledged", func(s Stats) bool { return s.NotifiesAcked == 1 })

	// A new version: the first NOTIFY goes unanswered, the retry (same ID)
	// is acknowledged, and nothing more is sent.
	hs.publish(t, xfrDoc, nil)
	first, ok := sec.read(5 * time.Second)
	if !ok || first.serial(t) != 2 {
		t.Fatalf("no NOTIFY for serial 2")
	}
	retry, ok := sec.read(5 * time.Second)
	if !ok || retry.m.Id != first.m.Id || retry.serial(t) != 2 {
		t.Fatalf("retry = %v, want the NOTIFY of serial 2 again with ID %d", retry.m, first.m.Id)
	}
	sec.ack(retry, dns.RcodeSuccess)
	hs.waitStats(t, "2 NOTIFYs acknowledged", func(s Stats) bool { return s.NotifiesAcked == 2 })
	if extra, ok := sec.read(300 * time.Millisecond); ok {
		t.Errorf("NOTIFY after the acknowledgement: %v", extra.m)
	}
	if s := hs.srv.Stats(); s.NotifiesSent != 3 || s.NotifiesFailed != 0 {
		t.Errorf("Stats() sent %d, failed %d; want 3 and 0", s.NotifiesSent, s.NotifiesFailed)
	}
}

func TestNotifyGivesUp(t *testing.T) {
	t.Run("no answer", func(t *testing.T) {
		sec := newFakeSecondary(t, nil)
		hs := start(t, xfrDoc, nil, withSecondaries(Secondary{Notify: sec.addr(), Zones: []string{"y.test"}}),
			func(c *Config) { c.NotifyRetry, c.NotifyAttempts = 20*time.Millisecond, 3 })
		for i := range 3 {
			if _, ok := sec.read(5 * time.Second); !ok {
				t.Fatalf("NOTIFY %d of 3 did not come", i+1)
			}
		}
		hs.waitStats(t, "1 NOTIFY given up", func(s Stats) bool { return s.NotifiesFailed == 1 })
		if nt, ok := sec.read(300 * time.Millisecond); ok {
			t.Errorf("NOTIFY after the last attempt: %v", nt.m)
		}
	})
	t.Run("refused", func(t *testing.T) {
		sec := newFakeSecondary(t, nil)
		hs := start(t, xfrDoc, nil, withSecondaries(Secondary{Notify: sec.addr(), Zones: []string{"y.test"}}),
			func(c *Config) { c.NotifyRetry = 20 * time.Millisecond })
		nt, ok := sec.read(5 * time.Second)
		if !ok {
			t.Fatal("no NOTIFY")
		}
		sec.ack(nt, dns.RcodeRefused)
		hs.waitStats(t, "1 NOTIFY refused", func(s Stats) bool { return s.NotifiesFailed == 1 })
		if nt, ok := sec.read(200 * time.Millisecond); ok {
			t.Errorf("NOTIFY after a refusal: %v", nt.m)
		}
	})
}
