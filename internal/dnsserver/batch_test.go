package dnsserver

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUDPBurst sends a burst of queries from one socket without waiting and
// expects one answer to each, over IPv4 and IPv6 loopback: on Linux these
// are read and answered in batches (batch_linux.go). Packets that get no
// answer (a response, a short packet) are mixed in.
func TestUDPBurst(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(listen, func(t *testing.T) {
			if listen[0] == '[' {
				c, err := net.ListenPacket("udp6", listen)
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				c.Close()
			}
			hs := start(t, staticDoc, nil, func(c *Config) { c.Listen = []string{listen} })
			c, err := net.Dial("udp", hs.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Room for every answer: they queue until the burst is sent.
			c.(*net.UDPConn).SetReadBuffer(udpBufferSize)
			const n = 300
			for i := range n {
				m := new(dns.Msg)
				m.SetQuestion("www.example.com.", dns.TypeA)
				m.Id = uint16(i)
				if i%10 == 0 {
					m.SetQuestion("nothing.example.com.", dns.TypeA)
					m.Id = uint16(i)
				}
				p, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
				if i%50 == 0 {
					m.Response = true
					p, _ = m.Pack()
					c.Write(p)     // a response: no answer
					c.Write(p[:5]) // too short: no answer
				}
			}
			seen := make(map[uint16]bool)
			buf := make([]byte, 65535)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for len(seen) < n {
				k, err := c.Read(buf)
				if err != nil {
					t.Fatalf("after %d answers of %d: %v", len(seen), n, err)
				}
				var r dns.Msg
				if err := r.Unpack(buf[:k]); err != nil {
					t.Fatalf("answer: %v", err)
				}
				if seen[r.Id] || int(r.Id) >= n {
					t.Fatalf("unexpected answer id %d", r.Id)
				}
				seen[r.Id] = true
				want, answers := dns.RcodeSuccess, 2
				if r.Id%10 == 0 {
					want, answers = dns.RcodeNameError, 0
				}
				if !r.Response || r.Rcode != want || len(r.Answer) != answers {
					t.Fatalf("answer %d: rcode %s, %d answers; want %s, %d", r.Id, dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[want], answers)
				}
			}
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if k, err := c.Read(buf); err == nil {
				t.Errorf("an answer of %d bytes more than the queries", k)
			}
		})
	}
}
