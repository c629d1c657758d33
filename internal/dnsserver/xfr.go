// This file serves zone transfers to secondaries: who may transfer (by
// address, zone and TSIG key), AXFR (RFC 5936) and IXFR (RFC 1995) streamed
// over TCP in several messages, each signed when the request was (RFC 8945),
// and the UDP forms (AXFR refused, IXFR answered with the SOA alone).

package dnsserver

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/model"
)

// Secondary is a secondary name server of our zones.
type Secondary struct {
	// Notify is where NOTIFY messages go on every new serial. The zero
	// value sends none; then Allow must not be empty.
	Notify netip.AddrPort
	// Allow are the networks that may transfer as this secondary. Empty:
	// Notify's address alone.
	Allow []netip.Prefix
	// Zones are the apexes this secondary may transfer and is notified of.
	// Empty: every zone. A zone we do not host is ignored.
	Zones []string
	// TSIG, when set, is the key transfer requests must be signed with;
	// answers and NOTIFYs to this secondary are signed with it too.
	TSIG *TSIGKey
}

// TSIGKey is a TSIG key (RFC 8945).
type TSIGKey struct {
	// Name is the key's name, a domain name.
	Name string
	// Algorithm is "hmac-sha256" or "hmac-sha512" (a trailing dot is
	// allowed). Default hmac-sha256.
	Algorithm string
	// Secret is the key, base64-encoded; 16 bytes or more.
	Secret string
}

// SecondariesFrom converts the configuration's secondaries (validated by
// model.Document.Validate) for Config.Secondaries.
func SecondariesFrom(secs []model.DNSSecondary) ([]Secondary, error) {
	var out []Secondary
	for i, s := range secs {
		c := Secondary{Allow: s.Allow, Zones: s.Zones}
		if s.Address != "" {
			ap, err := netip.ParseAddrPort(s.Address)
			if err != nil {
				return nil, fmt.Errorf("dnsserver: secondary %d: %w", i, err)
			}
			c.Notify = ap
		}
		if k := s.TSIG; k != nil {
			c.TSIG = &TSIGKey{Name: k.Name, Algorithm: string(k.Algorithm), Secret: k.Secret}
		}
		out = append(out, c)
	}
	return out, nil
}

// secondary is a Secondary checked and compiled.
type secondary struct {
	notify netip.AddrPort // invalid: no NOTIFY
	allow  []netip.Prefix
	zones  map[string]bool // nil: every zone
	key    *tsigKey
}

// tsigKey is a TSIGKey in the form miekg/dns takes.
type tsigKey struct {
	name, alg, secret string // canonical name and algorithm, base64 secret
}

// compileSecondaries checks secs and returns them compiled, with their
// keys by canonical name (one key per name).
func compileSecondaries(secs []Secondary) ([]*secondary, map[string]*tsigKey, error) {
	var out []*secondary
	keys := map[string]*tsigKey{}
	var errs []error
	for i, s := range secs {
		c := &secondary{notify: s.Notify, allow: s.Allow}
		if c.notify.IsValid() {
			c.notify = netip.AddrPortFrom(c.notify.Addr().Unmap(), c.notify.Port())
			if len(c.allow) == 0 {
				a := c.notify.Addr()
				c.allow = []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}
			}
		}
		if len(c.allow) == 0 {
			errs = append(errs, fmt.Errorf("secondary %d: neither a NOTIFY address nor networks to allow", i))
		}
		for _, p := range c.allow {
			if !p.IsValid() {
				errs = append(errs, fmt.Errorf("secondary %d: allow: %s is not a network", i, p))
			}
		}
		if len(s.Zones) > 0 {
			c.zones = map[string]bool{}
			for _, z := range s.Zones {
				c.zones[model.CanonicalName(z)] = true
			}
		}
		if k := s.TSIG; k != nil {
			tk := &tsigKey{name: model.CanonicalName(k.Name), alg: model.CanonicalName(k.Algorithm), secret: k.Secret}
			if k.Algorithm == "" {
				tk.alg = dns.HmacSHA256
			}
			if tk.alg != dns.HmacSHA256 && tk.alg != dns.HmacSHA512 {
				errs = append(errs, fmt.Errorf("secondary %d: tsig: algorithm %q is not hmac-sha256 or hmac-sha512", i, k.Algorithm))
			}
			if b, err := base64.StdEncoding.DecodeString(k.Secret); err != nil || len(b) < 16 {
				errs = append(errs, fmt.Errorf("secondary %d: tsig: the secret is not base64 of 16 bytes or more", i))
			}
			if first := keys[tk.name]; first != nil {
				if *first != *tk {
					errs = append(errs, fmt.Errorf("secondary %d: tsig: key %s differs from another key of that name", i, tk.name))
				}
				tk = first
			}
			keys[tk.name], c.key = tk, tk
		}
		out = append(out, c)
	}
	return out, keys, errors.Join(errs...)
}

// allows reports whether src may transfer as s.
func (s *secondary) allows(src netip.Addr) bool {
	for _, p := range s.allow {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// updateTransfers makes t's zones what transfers serve when t holds a new
// desired-state version, and wakes the NOTIFY loop. A view of the same
// version (a health change) leaves them: what a transfer carries does not
// depend on health. Without secondaries nothing is kept.
func (s *Server) updateTransfers(t *table) {
	if len(s.secondaries) == 0 {
		return
	}
	prev := s.xfr.Load()
	if prev != nil && prev.version == t.view.Version {
		return
	}
	s.xfr.Store(nextTransfers(prev, t, s.cfg.TransferHistory))
	select {
	case s.notifyCh <- struct{}{}:
	default: // the loop has a wake-up pending; it reads the newest
	}
}

// xfrAuth is the verdict on a transfer request.
type xfrAuth struct {
	// zone is what to transfer; nil when refused.
	zone *xfrZone
	// rcode is the refusal, when zone is nil.
	rcode int
	// sign signs the answer: nil when the request was not signed.
	sign *signer
}

// authorize decides a transfer request m (packed as req) from src: the
// TSIG first (an unknown key or a bad MAC gets NOTAUTH with the TSIG error,
// RFC 8945 §5.2), then the address (REFUSED for strangers, so they learn
// nothing of our zones), then the zone (NOTAUTH when it is not ours,
// RFC 5936 §2.2.1), then whether a secondary at that address may transfer
// that zone with that key, or without one.
func (s *Server) authorize(m *dns.Msg, req []byte, src netip.Addr) xfrAuth {
	var a xfrAuth
	var key *tsigKey
	if ts := m.IsTsig(); ts != nil {
		key = s.keys[strings.ToLower(ts.Hdr.Name)]
		if key == nil || model.CanonicalName(ts.Algorithm) != key.alg {
			// Echo the request's names; Fqdn makes a malformed empty one
			// the root, which packs.
			return xfrAuth{rcode: dns.RcodeNotAuth, sign: &signer{name: dns.Fqdn(ts.Hdr.Name), alg: dns.Fqdn(ts.Algorithm), tsigErr: dns.RcodeBadKey}}
		}
		a.sign = &signer{key: key, name: key.name, alg: key.alg, mac: ts.MAC}
		// TsigVerify writes into the bytes it is given (the TSIG's original
		// ID and an ARCOUNT without the TSIG): give it a copy.
		switch err := dns.TsigVerify(slices.Clone(req), key.secret, "", false); {
		case errors.Is(err, dns.ErrTime):
			a.rcode, a.sign.tsigErr = dns.RcodeNotAuth, dns.RcodeBadTime
			return a
		case err != nil:
			return xfrAuth{rcode: dns.RcodeNotAuth, sign: &signer{name: key.name, alg: key.alg, tsigErr: dns.RcodeBadSig}}
		}
	}
	q := m.Question[0]
	apex := strings.ToLower(q.Name)
	known, allowed := false, false
	for _, sec := range s.secondaries {
		if !sec.allows(src) {
			continue
		}
		known = true
		if sec.zones != nil && !sec.zones[apex] {
			continue
		}
		if sec.key == nil || sec.key == key {
			allowed = true
		}
	}
	var z *xfrZone
	if x := s.xfr.Load(); x != nil {
		z = x.zones[apex]
	}
	switch {
	case !known || q.Qclass != dns.ClassINET:
		a.rcode = dns.RcodeRefused
	case z == nil:
		a.rcode = dns.RcodeNotAuth
	case !allowed:
		a.rcode = dns.RcodeRefused
	default:
		a.zone = z
	}
	return a
}

// isTransfer reports whether the query packet req asks for AXFR or IXFR,
// reading just the header and question (an uncompressed name, as queries
// carry). Anything it cannot read is left to handle.
func isTransfer(req []byte) bool {
	const opcodeMask = 0x78
	if len(req) < headerLen || req[2]&0x80 != 0 || req[2]&opcodeMask != 0 || binary.BigEndian.Uint16(req[4:6]) != 1 {
		return false
	}
	off := headerLen
	for {
		if off >= len(req) {
			return false
		}
		l := int(req[off])
		if l == 0 {
			off++
			break
		}
		if l&0xC0 != 0 {
			return false
		}
		off += 1 + l
	}
	if off+2 > len(req) {
		return false
	}
	t := binary.BigEndian.Uint16(req[off:])
	return t == dns.TypeAXFR || t == dns.TypeIXFR
}

// serveTransfer answers the AXFR or IXFR request req on the TCP
// connection c: the transfer in as many messages as it takes, or one
// refusal. It returns an error when c failed, which ends the connection.
func (s *Server) serveTransfer(c net.Conn, req []byte, src netip.Addr) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.stats.panics.Add(1)
			s.log.Error("dnsserver: panic serving a zone transfer", "panic", p, "stack", string(debug.Stack()))
			err = errors.New("dnsserver: panic serving a zone transfer")
		}
	}()
	w := &xfrWriter{c: c, idle: s.idle}
	var m dns.Msg
	if err := m.Unpack(req); err != nil || len(m.Question) != 1 {
		s.stats.formErrs.Add(1)
		s.counts.countRcode(dns.RcodeFormatError)
		return w.write(headerOnly(req, dns.RcodeFormatError, nil))
	}
	s.counts.countType(m.Question[0].Qtype)
	a := s.authorize(&m, req, src)
	w.req, w.sign = &m, a.sign
	if a.zone == nil {
		s.stats.xfrRefused.Add(1)
		s.counts.countRcode(a.rcode)
		return w.refuse(a.rcode)
	}
	z := a.zone
	if m.Question[0].Qtype == dns.TypeAXFR {
		s.stats.fullXfr.Add(1)
		s.counts.countRcode(dns.RcodeSuccess)
		return w.stream(z.axfr())
	}
	serial, ok := clientSerial(&m)
	if !ok {
		s.stats.formErrs.Add(1)
		s.counts.countRcode(dns.RcodeFormatError)
		return w.refuse(dns.RcodeFormatError) // RFC 1995 §3: the client's SOA is required
	}
	s.counts.countRcode(dns.RcodeSuccess)
	rrs, incremental := z.ixfr(serial)
	if incremental {
		s.stats.incrXfr.Add(1)
	} else {
		s.stats.fullXfr.Add(1)
	}
	return w.stream(rrs)
}

// transferUDP answers a transfer request that came over UDP: AXFR is
// refused (RFC 5936 §4.2: TCP only); an allowed IXFR gets our SOA alone,
// which tells the client to come back over TCP (RFC 1995 §2) unless it is
// up to date. The answer is signed when the request was.
func (s *Server) transferUDP(m *dns.Msg, req []byte, src netip.Addr) (*dns.Msg, *signer) {
	r := new(dns.Msg)
	r.SetReply(m)
	a := s.authorize(m, req, src)
	switch {
	case m.Question[0].Qtype == dns.TypeAXFR:
		r.Rcode = dns.RcodeRefused
	case a.zone == nil:
		r.Rcode = a.rcode
	default:
		if _, ok := clientSerial(m); !ok {
			r.Rcode = dns.RcodeFormatError
			break
		}
		r.Authoritative = true
		r.Answer = []dns.RR{a.zone.soa}
		s.stats.incrXfr.Add(1)
		return r, a.sign
	}
	s.stats.xfrRefused.Add(1)
	return r, a.sign
}

// clientSerial returns the serial of the SOA in an IXFR request's
// authority section.
func clientSerial(m *dns.Msg) (uint32, bool) {
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, true
		}
	}
	return 0, false
}

// axfr yields the zone as AXFR sends it: SOA, every record, SOA.
func (z *xfrZone) axfr() iter.Seq[dns.RR] {
	return func(yield func(dns.RR) bool) {
		if !yield(z.soa) {
			return
		}
		for _, rr := range z.rrs {
			if !yield(rr) {
				return
			}
		}
		yield(z.soa)
	}
}

// ixfr yields the IXFR answer to a client at serial: our SOA alone when it
// is up to date (or ahead); the changes since serial when history has
// them (RFC 1995 §4: SOA, then per change the old SOA, deletions, the new
// SOA, additions, and SOA last); else the whole zone as AXFR sends it.
// incremental is false for the whole zone.
func (z *xfrZone) ixfr(serial uint32) (rrs iter.Seq[dns.RR], incremental bool) {
	if serial == z.soa.Serial || serialNewer(serial, z.soa.Serial) {
		return func(yield func(dns.RR) bool) { yield(z.soa) }, true
	}
	for i := range z.history {
		if z.history[i].from.Serial != serial {
			continue
		}
		return func(yield func(dns.RR) bool) {
			if !yield(z.soa) {
				return
			}
			for _, d := range z.history[i:] {
				if !yield(d.from) || !yieldAll(yield, d.del) || !yield(d.to) || !yieldAll(yield, d.add) {
					return
				}
			}
			yield(z.soa)
		}, true
	}
	return z.axfr(), false
}

func yieldAll(yield func(dns.RR) bool, rrs []dns.RR) bool {
	for _, rr := range rrs {
		if !yield(rr) {
			return false
		}
	}
	return true
}

// xfrMessageSize is how many bytes of records (uncompressed) one transfer
// message carries at most: far below the 64 KiB TCP limit, so a message
// with a large record still fits, and small enough that a secondary
// starts working before the last message is packed.
const xfrMessageSize = 16 << 10

// xfrWriter writes the answer to one transfer request on a TCP connection.
type xfrWriter struct {
	c    net.Conn
	idle time.Duration
	req  *dns.Msg
	sign *signer
}

// refuse writes one answer with rcode and no records.
func (w *xfrWriter) refuse(rcode int) error {
	r := new(dns.Msg)
	r.SetReply(w.req)
	r.Rcode = rcode
	return w.send(r)
}

// stream writes rrs in messages of about xfrMessageSize bytes each.
func (w *xfrWriter) stream(rrs iter.Seq[dns.RR]) error {
	var batch []dns.RR
	size := 0
	for rr := range rrs {
		l := dns.Len(rr)
		if len(batch) > 0 && size+l > xfrMessageSize {
			if err := w.sendRecords(batch); err != nil {
				return err
			}
			batch, size = batch[:0], 0
		}
		batch = append(batch, rr)
		size += l
	}
	return w.sendRecords(batch)
}

func (w *xfrWriter) sendRecords(rrs []dns.RR) error {
	r := new(dns.Msg)
	r.SetReply(w.req)
	r.Authoritative = true
	r.Compress = true
	r.Answer = rrs
	return w.send(r)
}

func (w *xfrWriter) send(r *dns.Msg) error {
	out, err := w.sign.pack(r)
	if err != nil {
		return fmt.Errorf("dnsserver: pack a transfer message: %w", err)
	}
	return w.write(out)
}

// write sends one message with its 2-byte length prefix.
func (w *xfrWriter) write(msg []byte) error {
	var prefix [2]byte
	binary.BigEndian.PutUint16(prefix[:], uint16(len(msg)))
	w.c.SetWriteDeadline(time.Now().Add(w.idle))
	bufs := net.Buffers{prefix[:], msg}
	_, err := bufs.WriteTo(w.c)
	return err
}

// signer signs the messages of one answer with a TSIG key (RFC 8945 §5.3):
// the first one over the request's MAC and every TSIG variable, each later
// one over the previous message's MAC and the timers only (§5.3.1). A nil
// signer packs messages unsigned. With tsigErr BADKEY or BADSIG the TSIG
// record carries the error and no MAC.
type signer struct {
	key       *tsigKey // nil: no MAC (BADKEY)
	name, alg string
	mac       string // the MAC the next message's covers
	later     bool
	tsigErr   uint16
}

// tsigFudge is the TSIG fudge we sign with: RFC 8945 §10 recommends 300s.
const tsigFudge = 300

func (sg *signer) pack(r *dns.Msg) ([]byte, error) {
	if sg == nil {
		return r.Pack()
	}
	r.SetTsig(sg.name, sg.alg, tsigFudge, time.Now().Unix())
	r.Extra[len(r.Extra)-1].(*dns.TSIG).Error = sg.tsigErr
	secret := ""
	if sg.key != nil {
		secret = sg.key.secret
	}
	out, mac, err := dns.TsigGenerate(r, secret, sg.mac, sg.later)
	if err != nil {
		return nil, err
	}
	sg.mac, sg.later = mac, true
	return out, nil
}
