// This file holds the test harness: a real server on 127.0.0.1:0 answering
// from a view built with view.Build from a YAML configuration (through the
// real config loader) and a health snapshot, queried with real clients.

package dnsserver

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// epoch is the now of every view.Build in these tests.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// harness is a running server and the means to change its view.
type harness struct {
	srv   *Server
	pub   *view.Publisher
	state *model.State
	addr  string // host:port, UDP and TCP
	conn  *dns.Conn
	// version is the desired-state version of the views it publishes.
	version uint64
}

// health is a health snapshot: the keys listed are unhealthy, every other
// check and target is healthy (as a check without a result is).
type health []state.Key

// down marks named checks unhealthy.
func down(checks ...string) health {
	var h health
	for _, c := range checks {
		h = append(h, state.Key{Check: c})
	}
	return h
}

// targetDown marks a target of a target group unhealthy.
func targetDown(group string, target string) state.Key {
	return state.Key{Check: state.GroupCheck(group), Target: netip.MustParseAddrPort(target)}
}

func (h health) snapshot(version uint64) *state.Snapshot {
	m := map[state.Key]state.Status{}
	for _, k := range h {
		m[k] = state.Status{Healthy: false, Observed: true, Reason: "down in the test", Since: epoch}
	}
	return state.NewSnapshot(version, m)
}

// parseState loads doc through the real configuration loader.
func parseState(t testing.TB, doc string) *model.State {
	t.Helper()
	d, err := config.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("config.Parse:\n%v", err)
	}
	return &d.State
}

// start runs a server for doc under health h, with a seeded random source
// (so each test is deterministic) unless an option sets another.
func start(t *testing.T, doc string, h health, opts ...func(*Config)) *harness {
	t.Helper()
	hs := &harness{pub: view.NewPublisher(), state: parseState(t, doc), version: 1}
	hs.pub.Publish(view.Build(hs.version, hs.state, h.snapshot(1), epoch))
	cfg := Config{
		Listen:     []string{"127.0.0.1:0"},
		Views:      hs.pub,
		Rand:       rand.NewPCG(1, 2),
		UDPSockets: 2,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	hs.srv = srv
	hs.addr = srv.Addrs()[0].String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		if hs.conn != nil {
			hs.conn.Close()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if p := srv.Stats().Panics; p != 0 {
			t.Errorf("Stats().Panics = %d, want 0", p)
		}
	})
	hs.sync(t)
	return hs
}

// sync waits until the server answers from the publisher's current view.
func (hs *harness) sync(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.srv.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// setHealth publishes a view of the same desired state under health h, as
// the health engine does on a transition, and waits until it answers.
func (hs *harness) setHealth(t testing.TB, h health) {
	t.Helper()
	hs.pub.Publish(view.Build(hs.version, hs.state, h.snapshot(2), epoch))
	hs.sync(t)
}

// msgOpt changes a query before it is sent.
type msgOpt func(*dns.Msg)

// withEDNS adds an OPT record advertising size.
func withEDNS(size uint16) msgOpt {
	return func(m *dns.Msg) {
		if m.IsEdns0() == nil {
			m.SetEdns0(size, false)
		}
		m.IsEdns0().SetUDPSize(size)
	}
}

// withECS adds a Client Subnet option for prefix (with an OPT if needed).
func withECS(prefix string) msgOpt {
	return func(m *dns.Msg) {
		p := netip.MustParsePrefix(prefix)
		withEDNS(1232)(m)
		fam := uint16(1)
		if p.Addr().Is6() {
			fam = 2
		}
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(p.Bits()),
			Address: net.IP(p.Addr().AsSlice()),
		})
	}
}

func newQuery(name string, qtype uint16, opts ...msgOpt) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	for _, o := range opts {
		o(m)
	}
	return m
}

// ask sends a query over UDP on one long-lived socket and returns the answer.
func (hs *harness) ask(t testing.TB, name string, qtype uint16, opts ...msgOpt) *dns.Msg {
	t.Helper()
	return hs.exchange(t, newQuery(name, qtype, opts...))
}

func (hs *harness) exchange(t testing.TB, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second, UDPSize: 65535}
	if hs.conn == nil {
		conn, err := c.Dial(hs.addr)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		hs.conn = conn
	}
	r, _, err := c.ExchangeWithConn(m, hs.conn)
	if err != nil {
		t.Fatalf("Exchange(%s %s): %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	return r
}

// askTCP sends a query over a new TCP connection.
func (hs *harness) askTCP(t testing.TB, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, hs.addr)
	if err != nil {
		t.Fatalf("Exchange over TCP: %v", err)
	}
	return r
}

// rrStrings renders records as "owner ttl TYPE rdata", sorted.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		f := strings.Fields(rr.String())
		// owner ttl class type rdata…: drop the class.
		out = append(out, strings.Join(slices.Concat(f[:2], f[3:]), " "))
	}
	slices.Sort(out)
	return out
}

// rdata renders the data of an answer's records (without owner and TTL),
// sorted and joined by ",": "" for an empty answer.
func rdata(m *dns.Msg) string {
	var out []string
	for _, rr := range m.Answer {
		f := strings.Fields(rr.String())
		out = append(out, strings.Join(f[4:], " "))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// ecsScope returns the scope of the answer's Client Subnet option, or -1.
func ecsScope(m *dns.Msg) int {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if s, ok := o.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}
