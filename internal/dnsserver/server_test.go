// Tests of the server's life and transports: configuration checks, TCP
// with several queries per connection, the idle timeout and the connection
// bound, SO_REUSEPORT on a fixed port, and Run's shutdown.

package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/view"
)

func newEmptyPublisher() *view.Publisher { return view.NewPublisher() }

const isLinux = runtime.GOOS == "linux"

func TestNewRefusesBadConfig(t *testing.T) {
	pub := view.NewPublisher()
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no listen", Config{Views: pub}, "at least one address"},
		{"bad address", Config{Listen: []string{"127.0.0.1"}, Views: pub}, "not host:port"},
		{"no views", Config{Listen: []string{"127.0.0.1:0"}}, "publisher is required"},
		{"negative TTL", Config{Listen: []string{"127.0.0.1:0"}, Views: pub, LoadBalancerTTL: -time.Second}, "load balancer TTL"},
		{"too many sockets", Config{Listen: []string{"127.0.0.1:0"}, Views: pub, UDPSockets: 1000}, "udp sockets"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// writeTCP sends queries on c with 2-byte length framing, in one write.
func writeTCP(t *testing.T, c net.Conn, ms ...*dns.Msg) {
	t.Helper()
	var out []byte
	for _, m := range ms {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
}

// readTCP reads one framed answer from c.
func readTCP(c net.Conn) (*dns.Msg, error) {
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	return m, m.Unpack(b)
}

func TestTCPSeveralQueriesPerConnection(t *testing.T) {
	hs := start(t, staticDoc, nil)
	c, err := net.Dial("tcp", hs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	qs := []*dns.Msg{
		newQuery("www.example.com.", dns.TypeA),
		newQuery("nope.example.com.", dns.TypeA),
		newQuery("example.com.", dns.TypeSOA, withEDNS(4096)),
	}
	for i, q := range qs {
		q.Id = uint16(100 + i)
	}
	writeTCP(t, c, qs...) // pipelined in one segment
	for i, wantRcode := range []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeSuccess} {
		r, err := readTCP(c)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if r.Id != qs[i].Id || r.Rcode != wantRcode {
			t.Errorf("answer %d = id %d %s, want id %d %s", i, r.Id, dns.RcodeToString[r.Rcode], qs[i].Id, dns.RcodeToString[wantRcode])
		}
	}
	// And a fourth, later, on the same connection.
	writeTCP(t, c, newQuery("www.example.com.", dns.TypeAAAA))
	if r, err := readTCP(c); err != nil || len(r.Answer) != 1 {
		t.Errorf("fourth query: %v, %v; want one AAAA", r, err)
	}
}

func TestTCPLimits(t *testing.T) {
	hs := start(t, staticDoc, nil, func(c *Config) {
		c.TCPIdleTimeout = 200 * time.Millisecond
		c.MaxTCPConns = 1
	})
	first, err := net.Dial("tcp", hs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.SetDeadline(time.Now().Add(5 * time.Second))
	writeTCP(t, first, newQuery("www.example.com.", dns.TypeA))
	if _, err := readTCP(first); err != nil {
		t.Fatalf("first connection: %v", err)
	}

	t.Run("bound/second connection closed", func(t *testing.T) {
		second, err := net.Dial("tcp", hs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		second.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read on the connection beyond MaxTCPConns: %v, want EOF", err)
		}
		if n := hs.srv.Stats().TCPRejected; n != 1 {
			t.Errorf("Stats().TCPRejected = %d, want 1", n)
		}
	})
	t.Run("idle/closed after the timeout", func(t *testing.T) {
		start := time.Now()
		if _, err := first.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("read on an idle connection: %v, want EOF", err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("idle connection closed after %s, want about 200ms", d)
		}
	})
}

// TestReusePort serves a fixed port with several SO_REUSEPORT sockets.
func TestReusePort(t *testing.T) {
	pub := view.NewPublisher()
	pub.Publish(view.Build(1, parseState(t, staticDoc), nil, epoch))
	var s *Server
	for attempt := 0; ; attempt++ {
		// Find a port free on UDP and TCP, then bind it for real; another
		// process may take it in between, so try again a few times.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s, err = New(Config{Listen: []string{addr}, Views: pub, UDPSockets: 3})
		if err != nil {
			t.Fatal(err)
		}
		if err = s.Listen(); err == nil {
			break
		}
		if attempt == 5 {
			t.Fatalf("Listen: %v", err)
		}
	}
	s.mu.Lock()
	sockets := len(s.udp)
	s.mu.Unlock()
	if want := map[bool]int{true: 3, false: 1}[isLinux]; sockets != want {
		t.Errorf("UDP sockets = %d, want %d", sockets, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	for _, network := range []string{"udp", "tcp"} {
		// Several queries from different source ports land on different
		// sockets of the group; each must answer.
		for range 8 {
			c := &dns.Client{Net: network, Timeout: 5 * time.Second}
			r, _, err := c.Exchange(newQuery("www.example.com.", dns.TypeA), addr)
			if err != nil || len(r.Answer) != 2 {
				t.Fatalf("%s query: %v, %v", network, r, err)
			}
		}
	}
}

// TestRunStopsAndHandsBackPort checks that Run returns when its context
// ends and closes its sockets (goleak checks its goroutines after all tests).
func TestRunStopsAndHandsBackPort(t *testing.T) {
	pub := view.NewPublisher()
	pub.Publish(view.Build(1, parseState(t, staticDoc), nil, epoch))
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}, Views: pub})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// An open, idle TCP connection must not hold Run up.
	addr := s.Addrs()[0].String() // bound before Sync could return
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeTCP(t, c, newQuery("www.example.com.", dns.TypeA))
	if _, err := readTCP(c); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run = nil, want an error")
	}
	// The port is free again.
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("UDP port still bound after Run: %v", err)
	} else {
		pc.Close()
	}
}
