// Tests of EDNS(0), Client Subnet echo, truncation, and packets that are
// not proper queries.

package dnsserver

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// bigDoc adds records whose answers do not fit 512 or 1232 bytes.
var bigDoc = staticDoc + `
  - name: big.test
    records:
      - { name: medium.big.test, type: TXT, values: [` + `'"` + txt200 + `"', '"` + txt200 + `"', '"` + txt200 + `"', '"` + txt200 + `"'] }
      - { name: big.big.test, type: TXT, values: [` + txt10 + `] }
`

const txt200 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

var txt10 = func() string {
	var vals []string
	for i := range 10 {
		vals = append(vals, `'"`+string(rune('a'+i))+txt200+`"'`)
	}
	return strings.Join(vals, ", ")
}()

func TestEDNS(t *testing.T) {
	hs := start(t, staticDoc, nil)
	for _, tt := range []struct {
		name      string
		opts      []msgOpt
		wantRcode int
		wantOPT   bool
		wantDO    bool
		wantScope int // -1: no Client Subnet option
		wantAns   bool
	}{
		{name: "no OPT/none back", wantOPT: false, wantScope: -1, wantAns: true},
		{name: "OPT/echoed", opts: []msgOpt{withEDNS(4096)}, wantOPT: true, wantScope: -1, wantAns: true},
		{name: "DO/copied", opts: []msgOpt{withEDNS(4096), func(m *dns.Msg) { m.IsEdns0().SetDo() }}, wantOPT: true, wantDO: true, wantScope: -1, wantAns: true},
		{name: "version 1/BADVERS", opts: []msgOpt{withEDNS(4096), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }},
			wantRcode: dns.RcodeBadVers, wantOPT: true, wantScope: -1},
		{name: "unknown option/ignored", opts: []msgOpt{withEDNS(1232), func(m *dns.Msg) {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}})
		}}, wantOPT: true, wantScope: -1, wantAns: true},
		{name: "cookie/ignored", opts: []msgOpt{withEDNS(1232), func(m *dns.Msg) {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		}}, wantOPT: true, wantScope: -1, wantAns: true},
		{name: "ECS/static answer has scope 0", opts: []msgOpt{withECS("198.51.100.0/24")}, wantOPT: true, wantScope: 0, wantAns: true},
		{name: "ECS/IPv6", opts: []msgOpt{withECS("2001:db8:77::/48")}, wantOPT: true, wantScope: 0, wantAns: true},
		{name: "ECS/scope in query is FORMERR", opts: []msgOpt{withECS("198.51.100.0/24"), func(m *dns.Msg) {
			m.IsEdns0().Option[0].(*dns.EDNS0_SUBNET).SourceScope = 8
		}}, wantRcode: dns.RcodeFormatError, wantOPT: true, wantScope: -1},
		{name: "two OPT/FORMERR", opts: []msgOpt{withEDNS(1232), func(m *dns.Msg) {
			m.Extra = append(m.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}})
		}}, wantRcode: dns.RcodeFormatError, wantScope: -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.ask(t, "www.example.com.", dns.TypeA, tt.opts...)
			if r.Rcode != tt.wantRcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.wantRcode])
			}
			opt := r.IsEdns0()
			if (opt != nil) != tt.wantOPT {
				t.Fatalf("OPT in answer = %v, want %v", opt, tt.wantOPT)
			}
			if opt != nil {
				if opt.UDPSize() != 1232 || opt.Version() != 0 {
					t.Errorf("OPT = size %d version %d, want 1232 and 0", opt.UDPSize(), opt.Version())
				}
				if opt.Do() != tt.wantDO {
					t.Errorf("DO = %v, want %v", opt.Do(), tt.wantDO)
				}
				for _, o := range opt.Option {
					if o.Option() != dns.EDNS0SUBNET {
						t.Errorf("answer echoes option %d; only Client Subnet is echoed", o.Option())
					}
				}
			}
			if got := ecsScope(r); got != tt.wantScope {
				t.Errorf("ECS scope = %d, want %d", got, tt.wantScope)
			}
			if (len(r.Answer) > 0) != tt.wantAns {
				t.Errorf("answer = %v, want an answer: %v", r.Answer, tt.wantAns)
			}
		})
	}
}

// TestECSEcho checks that the Client Subnet option comes back with the
// family, source prefix and address of the query.
func TestECSEcho(t *testing.T) {
	hs := start(t, staticDoc, nil)
	r := hs.ask(t, "www.example.com.", dns.TypeA, withECS("198.51.100.0/22"))
	var got *dns.EDNS0_SUBNET
	for _, o := range r.IsEdns0().Option {
		got, _ = o.(*dns.EDNS0_SUBNET)
	}
	if got == nil || got.Family != 1 || got.SourceNetmask != 22 || got.SourceScope != 0 || !got.Address.Equal(net.ParseIP("198.51.100.0")) {
		t.Errorf("ECS in answer = %v, want 198.51.100.0/22/0", got)
	}
}

func TestTruncation(t *testing.T) {
	hs := start(t, bigDoc, nil)
	for _, tt := range []struct {
		name    string
		qname   string
		opts    []msgOpt
		limit   int
		wantTC  bool
		wantAns int // answers expected when not truncated
	}{
		{name: "no EDNS/fits 512", qname: "www.example.com.", limit: 512, wantAns: 2},
		{name: "no EDNS/medium truncated to 512", qname: "medium.big.test.", limit: 512, wantTC: true},
		{name: "EDNS 1232/medium fits", qname: "medium.big.test.", opts: []msgOpt{withEDNS(1232)}, limit: 1232, wantAns: 4},
		{name: "EDNS 4096/big capped at 1232", qname: "big.big.test.", opts: []msgOpt{withEDNS(4096)}, limit: 1232, wantTC: true},
		{name: "EDNS 600/medium truncated to 600", qname: "medium.big.test.", opts: []msgOpt{withEDNS(600)}, limit: 600, wantTC: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuery(tt.qname, dns.TypeTXT, tt.opts...)
			if tt.qname == "www.example.com." {
				q = newQuery(tt.qname, dns.TypeA, tt.opts...)
			}
			raw := rawUDP(t, hs.addr, q)
			if len(raw) > tt.limit {
				t.Errorf("answer is %d bytes, above the client's %d", len(raw), tt.limit)
			}
			r := new(dns.Msg)
			if err := r.Unpack(raw); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			if r.Truncated != tt.wantTC {
				t.Errorf("TC = %v, want %v", r.Truncated, tt.wantTC)
			}
			if !tt.wantTC && len(r.Answer) != tt.wantAns {
				t.Errorf("answers = %d, want %d", len(r.Answer), tt.wantAns)
			}
			if tt.wantTC {
				// The same over TCP comes whole.
				full := hs.askTCP(t, q)
				if full.Truncated || len(full.Answer) == 0 {
					t.Errorf("over TCP: TC = %v, %d answers; want the whole answer", full.Truncated, len(full.Answer))
				}
			}
		})
	}
}

// rawUDP sends m and returns the answer's bytes.
func rawUDP(t *testing.T, addr string, m *dns.Msg) []byte {
	t.Helper()
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return buf[:n]
}

// TestMalformed checks packets that are not proper queries, on the packet
// path: FORMERR when a header can be read, else nothing.
func TestMalformed(t *testing.T) {
	hs := start(t, staticDoc, nil)
	good, _ := newQuery("www.example.com.", dns.TypeA).Pack()
	header := func(id, flags, qd, an, ns, ar uint16) []byte {
		b := make([]byte, 12)
		for i, v := range []uint16{id, flags, qd, an, ns, ar} {
			binary.BigEndian.PutUint16(b[2*i:], v)
		}
		return b
	}
	withQuestion := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	opcode := func(op int) []byte {
		m := newQuery("www.example.com.", dns.TypeA)
		m.Opcode = op
		return withQuestion(m)
	}
	class := func(c uint16) []byte {
		m := newQuery("www.example.com.", dns.TypeA)
		m.Question[0].Qclass = c
		return withQuestion(m)
	}
	for _, tt := range []struct {
		name      string
		pkt       []byte
		wantDrop  bool
		wantRcode int
	}{
		{name: "empty", pkt: nil, wantDrop: true},
		{name: "shorter than a header", pkt: good[:11], wantDrop: true},
		{name: "a response", pkt: header(7, 0x8000, 1, 0, 0, 0), wantDrop: true},
		{name: "header only, no question", pkt: header(7, 0, 0, 0, 0, 0), wantRcode: dns.RcodeFormatError},
		{name: "question cut short", pkt: good[:len(good)-3], wantRcode: dns.RcodeFormatError},
		{name: "counts beyond the packet", pkt: append(append([]byte{}, good[:4]...), 0, 1, 0, 5, 0, 0, 0, 0), wantRcode: dns.RcodeFormatError},
		{name: "two questions", pkt: withQuestion(&dns.Msg{MsgHdr: dns.MsgHdr{Id: 9}, Question: []dns.Question{
			{Name: "www.example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}}),
			wantRcode: dns.RcodeFormatError},
		{name: "garbage after the header", pkt: append(header(7, 0, 1, 0, 0, 0), 0xc0, 0x0c, 0xff, 0xff), wantRcode: dns.RcodeFormatError},
		{name: "qtype OPT", pkt: withQuestion(newQuery("www.example.com.", dns.TypeOPT)), wantRcode: dns.RcodeFormatError},
		{name: "opcode NOTIFY", pkt: opcode(dns.OpcodeNotify), wantRcode: dns.RcodeNotImplemented},
		{name: "opcode UPDATE", pkt: opcode(dns.OpcodeUpdate), wantRcode: dns.RcodeNotImplemented},
		{name: "class CH", pkt: class(dns.ClassCHAOS), wantRcode: dns.RcodeRefused},
		{name: "class ANY", pkt: class(dns.ClassANY), wantRcode: dns.RcodeRefused},
		{name: "AXFR", pkt: withQuestion(newQuery("example.com.", dns.TypeAXFR)), wantRcode: dns.RcodeRefused},
		{name: "MAILB", pkt: withQuestion(newQuery("example.com.", dns.TypeMAILB)), wantRcode: dns.RcodeNotImplemented},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := hs.srv.Stats()
			resp := hs.srv.handle(tt.pkt, netip.MustParseAddr("127.0.0.1"), false, make([]byte, 65535))
			if tt.wantDrop {
				if resp != nil {
					t.Errorf("handle = %d bytes, want nothing", len(resp))
				}
				if d := hs.srv.Stats().Dropped - before.Dropped; d != 1 {
					t.Errorf("Stats().Dropped grew by %d, want 1", d)
				}
				return
			}
			// The same packet over a real socket.
			c, err := net.Dial("udp", hs.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write(tt.pkt)
			buf := make([]byte, 65535)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			r := new(dns.Msg)
			if err := r.Unpack(buf[:n]); err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
			if r.Rcode != tt.wantRcode || !r.Response || r.Id != binary.BigEndian.Uint16(tt.pkt) {
				t.Errorf("answer = id %d QR %v rcode %s, want id %d QR and %s", r.Id, r.Response,
					dns.RcodeToString[r.Rcode], binary.BigEndian.Uint16(tt.pkt), dns.RcodeToString[tt.wantRcode])
			}
		})
	}
}

// TestNoViewYet checks that a server without a view answers SERVFAIL.
func TestNoViewYet(t *testing.T) {
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}, Views: newEmptyPublisher()})
	if err != nil {
		t.Fatal(err)
	}
	pkt, _ := newQuery("www.example.com.", dns.TypeA).Pack()
	r := new(dns.Msg)
	if err := r.Unpack(s.handle(pkt, netip.MustParseAddr("127.0.0.1"), false, make([]byte, 512))); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode = %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}
