// Tests of zone transfers with the miekg/dns client: what goes out for
// each policy (golden files), who may transfer, TSIG on every message,
// streaming in several messages, and IXFR from the history.

package dnsserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/testutil/golden"
	"github.com/switchboard/switchboard/internal/view"
)

// Keys of the tests: 32 and 64 bytes.
var (
	testKey  = &TSIGKey{Name: "xfr-key", Algorithm: "hmac-sha256", Secret: "c3dpdGNoYm9hcmQtdGVzdC1rZXktMzItYnl0ZXMtISE="}
	otherKey = &TSIGKey{Name: "other-key.", Algorithm: "hmac-sha512.", Secret: "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3RoZXI="}
)

func withSecondaries(secs ...Secondary) func(*Config) {
	return func(c *Config) { c.Secondaries = secs }
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// publish makes doc the next desired-state version under health h and
// waits until the server answers from it.
func (hs *harness) publish(t testing.TB, doc string, h health) {
	t.Helper()
	hs.state = parseState(t, doc)
	hs.version++
	hs.pub.Publish(view.Build(hs.version, hs.state, h.snapshot(1), epoch))
	hs.sync(t)
}

// hmacProvider is the test client's TSIG provider, written here rather
// than taken from miekg/dns so that it can count the messages it verified.
type hmacProvider struct {
	secret   []byte
	verified int
}

func newProvider(t testing.TB, k *TSIGKey) *hmacProvider {
	b, err := base64.StdEncoding.DecodeString(k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return &hmacProvider{secret: b}
}

func (p *hmacProvider) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	var h hash.Hash
	switch dns.CanonicalName(t.Algorithm) {
	case dns.HmacSHA256:
		h = hmac.New(sha256.New, p.secret)
	case dns.HmacSHA512:
		h = hmac.New(sha512.New, p.secret)
	default:
		return nil, dns.ErrKeyAlg
	}
	h.Write(msg)
	return h.Sum(nil), nil
}

func (p *hmacProvider) Verify(msg []byte, t *dns.TSIG) error {
	mac, err := p.Generate(msg, t)
	if err != nil {
		return err
	}
	want, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(mac, want) {
		return dns.ErrSig
	}
	p.verified++
	return nil
}

// xfrResult is what a transfer brought.
type xfrResult struct {
	rrs      []dns.RR
	msgs     int // messages (envelopes)
	verified int // messages whose TSIG verified
}

// transferIn runs the transfer q against addr with miekg/dns's client,
// from the address laddr ("" for any), signed with key when it is set:
// the client then checks the TSIG of every message that has one, and
// verified says how many had one.
func transferIn(t testing.TB, addr, laddr string, q *dns.Msg, key *TSIGKey) (xfrResult, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if laddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(laddr)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: c}, ReadTimeout: 5 * time.Second}
	var p *hmacProvider
	if key != nil {
		p = newProvider(t, key)
		tr.TsigProvider = p
		q.SetTsig(dns.Fqdn(key.Name), dns.Fqdn(key.Algorithm), 300, time.Now().Unix())
	}
	ch, err := tr.In(q, addr)
	if err != nil {
		return xfrResult{}, err
	}
	var res xfrResult
	for env := range ch {
		if env.Error != nil {
			err = env.Error
			continue // drain: In closes ch after an error
		}
		res.rrs = append(res.rrs, env.RR...)
		res.msgs++
	}
	if p != nil {
		res.verified = p.verified
	}
	return res, err
}

func axfrQuery(zone string) *dns.Msg {
	q := new(dns.Msg)
	q.SetAxfr(dns.Fqdn(zone))
	return q
}

func ixfrQuery(zone string, serial uint32) *dns.Msg {
	q := new(dns.Msg)
	q.SetIxfr(dns.Fqdn(zone), serial, "ns.secondary.test.", "hostmaster.secondary.test.")
	return q
}

// askRaw sends q, signed with key when set (with secret in place of the
// key's own when secret is not ""), over TCP from laddr, or over UDP when
// udp, and returns the first answer message, its bytes, and the request's
// MAC.
func askRaw(t testing.TB, addr, laddr string, udp bool, q *dns.Msg, key *TSIGKey, secret string) (r *dns.Msg, b []byte, mac string) {
	t.Helper()
	pkt, err := q.Pack()
	if key != nil {
		q.SetTsig(dns.Fqdn(key.Name), dns.Fqdn(key.Algorithm), 300, time.Now().Unix())
		pkt, mac, err = dns.TsigGenerate(q, cmpOr(secret, key.Secret), "", false)
	}
	if err != nil {
		t.Fatal(err)
	}
	if udp {
		la := &net.UDPAddr{IP: net.ParseIP(cmpOr(laddr, "127.0.0.1"))}
		c, err := net.DialUDP("udp", la, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
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
			t.Fatalf("read: %v", err)
		}
		b = buf[:n]
	} else {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(cmpOr(laddr, "127.0.0.1"))}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)); err != nil {
			t.Fatal(err)
		}
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatalf("read: %v", err)
		}
		b = make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	r = new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	return r, b, mac
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// render writes a record on one line with single spaces.
func render(rr dns.RR) string { return strings.Join(strings.Fields(rr.String()), " ") }

// TestTransferContent checks, for each testdata/xfr/*.yaml, every zone's
// AXFR against the file's expected output; then that a new version with
// the same records and every check and target down transfers the same
// records (only the SOA's serial moves): transfers carry static content.
func TestTransferContent(t *testing.T) {
	golden.Run(t, "testdata/xfr/*.yaml", func(t *testing.T, c golden.Case) string {
		hs := start(t, c.Input, nil, withSecondaries(Secondary{Allow: prefixes("127.0.0.0/8")}))
		got := hs.transferAll(t)
		var all health
		for _, hc := range hs.state.HealthChecks {
			all = append(all, down(hc.Name)...)
		}
		for _, tg := range hs.state.TargetGroups {
			for _, tgt := range tg.Targets {
				all = append(all, targetDown(tg.Name, netip.AddrPortFrom(tgt.Address, uint16(tgt.Port)).String()))
			}
		}
		hs.publish(t, c.Input, all)
		noSerial := func(s string) string {
			return strings.ReplaceAll(s, fmt.Sprintf(" %d 7200 ", hs.version), " 1 7200 ")
		}
		if diff := cmp.Diff(got, noSerial(hs.transferAll(t))); diff != "" {
			t.Errorf("AXFR with everything down differs (-all healthy +all down):\n%s", diff)
		}
		return got
	})
}

// transferAll returns every zone's AXFR, rendered.
func (hs *harness) transferAll(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, z := range hs.state.HostedZones {
		res, err := transferIn(t, hs.addr, "", axfrQuery(z.Name), nil)
		if err != nil {
			t.Fatalf("AXFR %s: %v", z.Name, err)
		}
		fmt.Fprintf(&b, "; %s\n", dns.Fqdn(z.Name))
		for _, rr := range res.rrs {
			b.WriteString(render(rr) + "\n")
		}
	}
	return b.String()
}

const xfrDoc = `
hosted_zones:
  - name: x.test
    records:
      - { name: www.x.test, type: A, values: [192.0.2.1] }
  - name: y.test
    records:
      - { name: www.y.test, type: A, values: [192.0.2.2] }
`

// TestTransferRefusals walks who may transfer what: by address, by zone,
// by key, and only over TCP.
func TestTransferRefusals(t *testing.T) {
	hs := start(t, xfrDoc, nil, withSecondaries(
		Secondary{Allow: prefixes("127.0.0.1/32"), Zones: []string{"X.test"}},
		Secondary{Notify: netip.MustParseAddrPort("127.0.0.2:1"), TSIG: testKey}, // allow defaults to 127.0.0.2/32
		Secondary{Allow: prefixes("127.0.0.3/32"), TSIG: otherKey},
	))
	unknownKey := &TSIGKey{Name: "nobody", Algorithm: "hmac-sha256", Secret: testKey.Secret}
	wrongSecret := otherKey.Secret
	for _, tt := range []struct {
		name    string
		from    string
		udp     bool
		q       *dns.Msg
		key     *TSIGKey
		secret  string // instead of the key's
		rcode   int
		tsigErr uint16 // the answer's TSIG error; with a TSIG rcode, no MAC
		signed  bool   // the answer's TSIG verifies with key
		answer  int    // records in the first message
	}{
		{name: "axfr/allowed", from: "127.0.0.1", q: axfrQuery("x.test"), answer: 4},
		{name: "axfr/over UDP", from: "127.0.0.1", udp: true, q: axfrQuery("x.test"), rcode: dns.RcodeRefused},
		{name: "axfr/stranger", from: "127.0.0.9", q: axfrQuery("x.test"), rcode: dns.RcodeRefused},
		{name: "axfr/stranger, zone not ours", from: "127.0.0.9", q: axfrQuery("nope.test"), rcode: dns.RcodeRefused},
		{name: "axfr/zone not ours", from: "127.0.0.1", q: axfrQuery("nope.test"), rcode: dns.RcodeNotAuth},
		{name: "axfr/zone not the secondary's", from: "127.0.0.1", q: axfrQuery("y.test"), rcode: dns.RcodeRefused},
		{name: "axfr/key required", from: "127.0.0.2", q: axfrQuery("x.test"), rcode: dns.RcodeRefused},
		{name: "axfr/unknown key", from: "127.0.0.2", q: axfrQuery("x.test"), key: unknownKey, rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadKey},
		{name: "axfr/wrong secret", from: "127.0.0.2", q: axfrQuery("x.test"), key: testKey, secret: wrongSecret, rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadSig},
		{name: "axfr/signed", from: "127.0.0.2", q: axfrQuery("x.test"), key: testKey, signed: true, answer: 4},
		{name: "axfr/signed, any zone", from: "127.0.0.2", q: axfrQuery("y.test"), key: testKey, signed: true, answer: 4},
		{name: "axfr/another secondary's key", from: "127.0.0.2", q: axfrQuery("x.test"), key: otherKey, rcode: dns.RcodeRefused, signed: true},
		{name: "axfr/sha512", from: "127.0.0.3", q: axfrQuery("x.test"), key: otherKey, signed: true, answer: 4},
		{name: "ixfr/no client SOA", from: "127.0.0.1", q: axfrQuery("x.test").SetQuestion("x.test.", dns.TypeIXFR), rcode: dns.RcodeFormatError},
		{name: "ixfr/over UDP: SOA alone", from: "127.0.0.1", udp: true, q: ixfrQuery("x.test", 0), answer: 1},
		{name: "ixfr/over UDP, signed", from: "127.0.0.2", udp: true, q: ixfrQuery("x.test", 0), key: testKey, signed: true, answer: 1},
		{name: "ixfr/over UDP, stranger", from: "127.0.0.9", udp: true, q: ixfrQuery("x.test", 0), rcode: dns.RcodeRefused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, raw, mac := askRaw(t, hs.addr, tt.from, tt.udp, tt.q, tt.key, tt.secret)
			if r.Rcode != tt.rcode || len(r.Answer) != tt.answer {
				t.Fatalf("rcode %s with %d records, want %s with %d:\n%v", dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tt.rcode], tt.answer, r)
			}
			if tt.answer > 0 {
				if _, ok := r.Answer[0].(*dns.SOA); !ok || !r.Authoritative {
					t.Errorf("first record %v (AA %v), want the SOA with AA", r.Answer[0], r.Authoritative)
				}
			}
			ts := r.IsTsig()
			switch {
			case tt.key == nil && ts != nil:
				t.Errorf("answer to an unsigned request has a TSIG: %v", ts)
			case tt.key != nil && ts == nil:
				t.Fatalf("answer to a signed request has no TSIG")
			case ts != nil && ts.Error != tt.tsigErr:
				t.Errorf("TSIG error %s, want %s", dns.RcodeToString[int(ts.Error)], dns.RcodeToString[int(tt.tsigErr)])
			case tt.signed:
				if err := dns.TsigVerify(raw, tt.key.Secret, mac, false); err != nil {
					t.Errorf("answer's TSIG does not verify: %v", err)
				}
			case ts != nil && ts.MACSize != 0:
				t.Errorf("answer with TSIG error %s has a MAC", dns.RcodeToString[int(ts.Error)])
			}
		})
	}
}

// TestTransferStreamsLargeZone transfers a zone of 3,000 names: several
// messages, each one signed, and every record arrives once.
func TestTransferStreamsLargeZone(t *testing.T) {
	var doc strings.Builder
	doc.WriteString("hosted_zones:\n  - name: big.test\n    records:\n")
	const n = 3000
	for i := range n {
		fmt.Fprintf(&doc, "      - { name: h%d.big.test, type: A, values: [10.0.%d.%d] }\n", i, i/256, i%256)
	}
	hs := start(t, doc.String(), nil, withSecondaries(Secondary{Allow: prefixes("127.0.0.1/32"), TSIG: testKey}))
	res, err := transferIn(t, hs.addr, "127.0.0.1", axfrQuery("big.test"), testKey)
	if err != nil {
		t.Fatalf("AXFR: %v", err)
	}
	if want := n + 3; len(res.rrs) != want { // SOA, NS, the names, SOA
		t.Errorf("AXFR = %d records, want %d", len(res.rrs), want)
	}
	if res.msgs < 4 {
		t.Errorf("AXFR came in %d messages, want several", res.msgs)
	}
	if res.verified != res.msgs {
		t.Errorf("%d of %d messages carried a TSIG that verified, want all", res.verified, res.msgs)
	}
	seen := map[string]bool{}
	for _, rr := range res.rrs[1 : len(res.rrs)-1] {
		if s := rr.String(); seen[s] {
			t.Errorf("%s sent twice", s)
		} else {
			seen[s] = true
		}
	}
	if st := hs.srv.Stats(); st.FullTransfers != 1 {
		t.Errorf("Stats().FullTransfers = %d, want 1", st.FullTransfers)
	}
}

// ixfrDocs are four versions of a zone: v2 changes, removes and adds a
// record; v3 changes a TTL; v4 changes another zone only.
var ixfrDocs = []string{`
hosted_zones:
  - name: i.test
    records:
      - { name: a.i.test, type: A, values: [192.0.2.1] }
      - { name: b.i.test, type: A, values: [192.0.2.2] }
      - { name: c.i.test, type: TXT, values: ['"gone soon"'] }
  - name: o.test
`, `
hosted_zones:
  - name: i.test
    records:
      - { name: a.i.test, type: A, values: [192.0.2.1] }
      - { name: b.i.test, type: A, values: [192.0.2.20] }
      - { name: d.i.test, type: A, values: [192.0.2.4] }
  - name: o.test
`, `
hosted_zones:
  - name: i.test
    records:
      - { name: a.i.test, type: A, ttl: 60s, values: [192.0.2.1] }
      - { name: b.i.test, type: A, values: [192.0.2.20] }
      - { name: d.i.test, type: A, values: [192.0.2.4] }
  - name: o.test
`, `
hosted_zones:
  - name: i.test
    records:
      - { name: a.i.test, type: A, ttl: 60s, values: [192.0.2.1] }
      - { name: b.i.test, type: A, values: [192.0.2.20] }
      - { name: d.i.test, type: A, values: [192.0.2.4] }
  - name: o.test
    records:
      - { name: new.o.test, type: A, values: [192.0.2.9] }
`}

// TestIXFR publishes four versions and asks for the changes from each: a
// known serial gets the changes, which applied to that version's zone give
// the current one; the current serial gets the SOA alone; an unknown one,
// or one older than the history keeps, gets the whole zone.
func TestIXFR(t *testing.T) {
	hs := start(t, ixfrDocs[0], nil, withSecondaries(Secondary{Allow: prefixes("127.0.0.1/32")}),
		func(c *Config) { c.TransferHistory = 2 })
	zones := map[uint32][]dns.RR{} // i.test's AXFR by serial
	axfr := func() []dns.RR {
		res, err := transferIn(t, hs.addr, "", axfrQuery("i.test"), nil)
		if err != nil {
			t.Fatalf("AXFR: %v", err)
		}
		return res.rrs
	}
	zones[1] = axfr()
	for _, doc := range ixfrDocs[1:] {
		hs.publish(t, doc, nil)
		zones[uint32(hs.version)] = axfr()
	}
	cur := zones[4]
	for _, tt := range []struct {
		name   string
		serial uint32
		want   string // "soa", "incremental" or "full"
		deltas int
	}{
		{"from v1, beyond the history of 2", 1, "full", 0},
		{"from v2", 2, "incremental", 2},
		{"from v3", 3, "incremental", 1},
		{"up to date", 4, "soa", 0},
		{"ahead of us", 9, "soa", 0},
		{"unknown serial", 0, "full", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := hs.srv.Stats()
			res, err := transferIn(t, hs.addr, "", ixfrQuery("i.test", tt.serial), nil)
			if err != nil {
				t.Fatalf("IXFR from %d: %v", tt.serial, err)
			}
			rrs := res.rrs
			if soa, ok := rrs[0].(*dns.SOA); !ok || soa.Serial != 4 {
				t.Fatalf("IXFR starts with %v, want the SOA of serial 4", rrs[0])
			}
			kind, deltas := "soa", 0
			switch {
			case len(rrs) == 1:
			case rrs[1].Header().Rrtype == dns.TypeSOA:
				kind = "incremental"
				for _, rr := range rrs[1 : len(rrs)-1] {
					if rr.Header().Rrtype == dns.TypeSOA {
						deltas++
					}
				}
				deltas /= 2
			default:
				kind = "full"
			}
			if kind != tt.want || deltas != tt.deltas {
				t.Fatalf("IXFR from %d: %s with %d changes, want %s with %d:\n%s", tt.serial, kind, deltas, tt.want, tt.deltas, strings.Join(renderAll(rrs), "\n"))
			}
			var got []dns.RR
			switch kind {
			case "incremental":
				got = applyIXFR(t, zones[tt.serial], rrs)
			case "full":
				got = rrs
			}
			if kind != "soa" {
				if diff := cmp.Diff(renderSet(cur), renderSet(got)); diff != "" {
					t.Errorf("zone after IXFR from %d mismatch (-AXFR +IXFR):\n%s", tt.serial, diff)
				}
			}
			after := hs.srv.Stats()
			full, incr := after.FullTransfers-before.FullTransfers, after.IncrementalTransfers-before.IncrementalTransfers
			if (kind == "full") != (full == 1) || (kind != "full") != (incr == 1) {
				t.Errorf("Stats: %d full and %d incremental transfers, want one %s", full, incr, kind)
			}
		})
	}
}

// applyIXFR applies an incremental IXFR answer (RFC 1995 §4) to zone.
func applyIXFR(t *testing.T, zone, rrs []dns.RR) []dns.RR {
	t.Helper()
	set := map[string]dns.RR{}
	for _, rr := range zone {
		set[render(rr)] = rr
	}
	adding := true // each change starts with the old SOA, then deletions
	for _, rr := range rrs[1 : len(rrs)-1] {
		if soa, ok := rr.(*dns.SOA); ok {
			adding = !adding
			if adding {
				set = maps(set, func(r dns.RR) bool { return r.Header().Rrtype != dns.TypeSOA })
				set[render(soa)] = soa
			}
			continue
		}
		if adding {
			set[render(rr)] = rr
		} else {
			if set[render(rr)] == nil {
				t.Errorf("IXFR deletes %s, which the zone does not have", render(rr))
			}
			delete(set, render(rr))
		}
	}
	var out []dns.RR
	for _, rr := range set {
		out = append(out, rr)
	}
	return out
}

// maps returns the entries of m that keep accepts.
func maps(m map[string]dns.RR, keep func(dns.RR) bool) map[string]dns.RR {
	out := map[string]dns.RR{}
	for k, v := range m {
		if keep(v) {
			out[k] = v
		}
	}
	return out
}

func renderAll(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, render(rr))
	}
	return out
}

// renderSet renders rrs sorted, without duplicates.
func renderSet(rrs []dns.RR) []string {
	out := renderAll(rrs)
	slices.Sort(out)
	return slices.Compact(out)
}

func TestNewRefusesBadSecondaries(t *testing.T) {
	pub := view.NewPublisher()
	for _, tt := range []struct {
		name string
		sec  Secondary
		want string
	}{
		{"nothing to allow", Secondary{}, "neither a NOTIFY address nor networks"},
		{"bad algorithm", Secondary{Allow: prefixes("127.0.0.1/32"), TSIG: &TSIGKey{Name: "k", Algorithm: "hmac-md5", Secret: testKey.Secret}}, "algorithm"},
		{"short secret", Secondary{Allow: prefixes("127.0.0.1/32"), TSIG: &TSIGKey{Name: "k", Secret: "c2hvcnQ="}}, "secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Listen: []string{"127.0.0.1:0"}, Views: pub, Secondaries: []Secondary{tt.sec}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	_, err := New(Config{Listen: []string{"127.0.0.1:0"}, Views: pub, Secondaries: []Secondary{
		{Allow: prefixes("127.0.0.1/32"), TSIG: testKey},
		{Allow: prefixes("127.0.0.2/32"), TSIG: &TSIGKey{Name: "XFR-key.", Secret: otherKey.Secret}},
	}})
	if err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("New() with two keys of one name: error = %v, want one containing %q", err, "differs")
	}
}

// recordConn is the connection serveTransfer writes to under the fuzzer:
// a buffer, since a socket per input would be slow and add nothing.
type recordConn struct {
	net.Conn // nil: only Write and SetWriteDeadline are used
	buf      []byte
}

func (c *recordConn) Write(b []byte) (int, error)      { c.buf = append(c.buf, b...); return len(b), nil }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzTransfer feeds arbitrary packets to the transfer paths, over UDP
// (handle) and TCP (serveTransfer), from an allowed address and from one
// that must sign: every answer parses and carries the query's ID.
func FuzzTransfer(f *testing.F) {
	s := inMemory(f, staticDoc, withSecondaries(
		Secondary{Allow: prefixes("10.13.0.0/16")},
		Secondary{Allow: prefixes("10.14.0.0/16"), TSIG: testKey},
	))
	pack := func(m *dns.Msg, key *TSIGKey) []byte {
		if key == nil {
			b, err := m.Pack()
			if err != nil {
				f.Fatal(err)
			}
			return b
		}
		m.SetTsig(dns.Fqdn(key.Name), dns.Fqdn(key.Algorithm), 300, time.Now().Unix())
		b, _, err := dns.TsigGenerate(m, key.Secret, "", false)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	for _, key := range []*TSIGKey{nil, testKey, otherKey} {
		f.Add(pack(axfrQuery("example.com"), key))
		f.Add(pack(ixfrQuery("example.com", 0), key))
		f.Add(pack(ixfrQuery("example.com", 1), key))
		f.Add(pack(axfrQuery("nope.test"), key))
	}
	f.Add(pack(axfrQuery("example.com").SetQuestion("example.com.", dns.TypeIXFR), nil))
	// Bugs the fuzzer found. A TSIG with empty data: the BADKEY answer
	// echoed its empty algorithm name, which packs into a record that
	// does not parse.
	f.Add([]byte("00\x000\x00\x01\x00\x00\x00\x0000\x00\x00\xfc00\x00\x00\xfa000000\x00\x00"))
	// A signed AXFR whose header ID differs from its TSIG's original ID:
	// dns.TsigVerify wrote that ID, and an ARCOUNT without the TSIG, into
	// the query's own bytes, so the TCP path answered under another ID.
	changedID := pack(axfrQuery("example.com"), testKey)
	changedID[0] ^= 0xff
	f.Add(changedID)
	buf := make([]byte, 65535)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, src := range []netip.Addr{netip.MustParseAddr("10.13.0.1"), netip.MustParseAddr("10.14.0.1")} {
			panics := s.Stats().Panics
			var answers [][]byte
			if resp := s.handle(pkt, src, false, buf); resp != nil {
				answers = append(answers, slices.Clone(resp))
			}
			if isTransfer(pkt) {
				var c recordConn
				if err := s.serveTransfer(&c, pkt, src); err != nil {
					t.Fatalf("serveTransfer(%x) = %v", pkt, err)
				}
				for b := c.buf; len(b) > 0; {
					if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
						t.Fatalf("serveTransfer(%x) wrote a short message: %x", pkt, c.buf)
					}
					n := int(binary.BigEndian.Uint16(b))
					answers = append(answers, b[2:2+n])
					b = b[2+n:]
				}
			}
			if s.Stats().Panics != panics {
				t.Fatalf("%x from %s panicked", pkt, src)
			}
			for _, a := range answers {
				r := new(dns.Msg)
				if err := r.Unpack(a); err != nil {
					t.Fatalf("answer %x to %x does not parse: %v", a, pkt, err)
				}
				if !r.Response || len(a) < 2 || binary.BigEndian.Uint16(a) != binary.BigEndian.Uint16(pkt) {
					t.Fatalf("answer %v to %x: want a response with the query's ID", r, pkt)
				}
			}
		}
	})
}

// TestConfigFromDocument loads the server settings through the real
// configuration loader and converts them for New.
func TestConfigFromDocument(t *testing.T) {
	d, err := config.Parse("test.yaml", []byte(`
server:
  dns:
    listen: ["127.0.0.1:5353"]
    secondaries:
      - address: 127.0.0.1:5300
        tsig: { name: xfr-key, secret: "`+testKey.Secret+`" }
      - allow: [192.0.2.0/28]
        zones: [example.com]
    rrl: { responses_per_second: 5, window: 5s }
`+xfrDoc))
	if err != nil {
		t.Fatalf("config.Parse:\n%v", err)
	}
	secs, err := SecondariesFrom(d.Server.DNS.Secondaries)
	if err != nil {
		t.Fatal(err)
	}
	want := []Secondary{
		{Notify: netip.MustParseAddrPort("127.0.0.1:5300"), Allow: prefixes("127.0.0.1/32"), TSIG: &TSIGKey{Name: "xfr-key", Algorithm: "hmac-sha256", Secret: testKey.Secret}},
		{Allow: prefixes("192.0.2.0/28"), Zones: []string{"example.com"}},
	}
	if diff := cmp.Diff(want, secs, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("SecondariesFrom mismatch (-want +got):\n%s", diff)
	}
	rrl := RRLFrom(d.Server.DNS.RRL)
	if want := (RRLConfig{ResponsesPerSecond: 5, Slip: 2, Window: 5 * time.Second, IPv4Prefix: 24, IPv6Prefix: 56}); rrl != want {
		t.Errorf("RRLFrom = %+v, want %+v", rrl, want)
	}
	if _, err := New(Config{Listen: d.Server.DNS.Listen, Views: view.NewPublisher(), Secondaries: secs, RRL: rrl}); err != nil {
		t.Errorf("New: %v", err)
	}
}

// TestDigTransfer transfers with dig, as an operator checks a transfer
// by hand: signed with the key, and verified by dig; unsigned, refused.
func TestDigTransfer(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig is not installed (Debian: apt-get install dnsutils; scripts/test.sh installs it)")
	}
	hs := start(t, xfrDoc, nil, withSecondaries(Secondary{Allow: prefixes("127.0.0.1/32"), TSIG: testKey}))
	host, port, _ := strings.Cut(hs.addr, ":")
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"signed", []string{"-y", "hmac-sha256:xfr-key:" + testKey.Secret, "x.test", "AXFR"}, []string{
			`(?m)^x\.test\.\s+900\s+IN\s+SOA\s.* 1 7200 `,
			`www\.x\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.1`,
			`xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0`,
			`XFR size: 4 records \(messages 1`,
		}},
		{"unsigned", []string{"x.test", "AXFR"}, []string{`Transfer failed`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := append([]string{"@" + host, "-p", port, "+time=5", "+tries=1"}, tt.args...)
			out, _ := exec.CommandContext(ctx, dig, args...).CombinedOutput()
			for _, w := range tt.want {
				if !regexp.MustCompile(w).Match(out) {
					t.Errorf("dig %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
			if regexp.MustCompile(`(?i)verify|BADSIG|BADKEY|BADTIME`).Match(out) {
				t.Errorf("dig %s: TSIG trouble:\n%s", strings.Join(tt.args, " "), out)
			}
		})
	}
}
