// Package proxyproto reads and writes the PROXY protocol header (versions 1
// and 2) that a load balancer puts in front of a TCP stream so that the next
// hop learns the client's address.
//
// Parse works on bytes already read and tells how many it consumed, so a
// proxy can read in whatever chunks suit it and forward what follows the
// header; it never reads past a complete header. Append writes a header.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Bounds of a header. A v1 header is at most 107 bytes by the
// specification; a v2 header carries up to 64 KiB of TLVs, of which we
// accept MaxV2Len, enough for every TLV that balancers send in practice.
const (
	MaxV1Len = 107
	MaxV2Len = 16 + 2048
)

// Errors. A header that is not complete yet gives ErrShort; any other error
// means the stream is not a valid PROXY header and should be closed.
var (
	ErrShort    = errors.New("proxyproto: header incomplete")
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")
)

var v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Command is what a v2 header says about the connection.
type Command byte

const (
	// Local: the connection was made by the balancer itself (a health
	// check); the addresses are to be ignored. v1 "UNKNOWN" maps to it.
	Local Command = 0
	// Proxy: the connection carries a client's traffic from Source to Dest.
	Proxy Command = 1
)

// Transport is the protocol of the proxied connection.
type Transport byte

// Transports.
const (
	TCP Transport = 1
	UDP Transport = 2
)

// Header is one PROXY protocol header.
type Header struct {
	// Version is 1 or 2.
	Version int
	// Command is Proxy or Local.
	Command Command
	// Transport is TCP or UDP (UDP only in v2); zero for Local headers and
	// for address families other than IPv4 and IPv6.
	Transport Transport
	// Source and Dest are the client's address and the address it
	// connected to; invalid for Local headers.
	Source, Dest netip.AddrPort
}

// Parse reads a header from the start of b. It returns the header and the
// number of bytes it took; ErrShort when b holds an incomplete but so far
// valid header (read more and call again); ErrNoHeader when b does not
// start like one; another error for a malformed header.
func Parse(b []byte) (Header, int, error) {
	switch {
	case len(b) == 0:
		return Header{}, 0, ErrShort
	case b[0] == '\r':
		n := min(len(b), len(v2Sig))
		if !bytes.Equal(b[:n], v2Sig[:n]) {
			return Header{}, 0, ErrNoHeader
		}
		return parseV2(b)
	case b[0] == 'P':
		n := min(len(b), 6)
		if !bytes.Equal(b[:n], []byte("PROXY ")[:n]) {
			return Header{}, 0, ErrNoHeader
		}
		return parseV1(b)
	}
	return Header{}, 0, ErrNoHeader
}

func parseV1(b []byte) (Header, int, error) {
	end := bytes.IndexByte(b[:min(len(b), MaxV1Len)], '\n')
	if end < 0 {
		if len(b) >= MaxV1Len {
			return Header{}, 0, errors.New("proxyproto: v1 header longer than 107 bytes")
		}
		return Header{}, 0, ErrShort
	}
	if end == 0 || b[end-1] != '\r' {
		return Header{}, 0, errors.New("proxyproto: v1 header does not end in CRLF")
	}
	line := string(b[6 : end-1])
	h := Header{Version: 1}
	fields := splitSpaces(line)
	if len(fields) == 0 {
		return Header{}, 0, errors.New("proxyproto: v1 header has no protocol")
	}
	switch fields[0] {
	case "UNKNOWN":
		// The rest of the line is to be ignored (the spec).
		h.Command = Local
		return h, end + 1, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, fmt.Errorf("proxyproto: v1 protocol %q is not TCP4, TCP6 or UNKNOWN", fields[0])
	}
	if len(fields) != 5 {
		return Header{}, 0, fmt.Errorf("proxyproto: v1 header has %d fields, want 6", len(fields)+1)
	}
	src, err1 := netip.ParseAddr(fields[1])
	dst, err2 := netip.ParseAddr(fields[2])
	sp, err3 := parsePort(fields[3])
	dp, err4 := parsePort(fields[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Header{}, 0, fmt.Errorf("proxyproto: v1 header: %w", err)
	}
	want4 := fields[0] == "TCP4"
	if src.Zone() != "" || dst.Zone() != "" || src.Is4() != want4 || dst.Is4() != want4 {
		return Header{}, 0, fmt.Errorf("proxyproto: v1 addresses %s %s do not match %s", src, dst, fields[0])
	}
	h.Command, h.Transport = Proxy, TCP
	h.Source, h.Dest = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return h, end + 1, nil
}

// splitSpaces splits on single spaces, as the spec writes them; an empty
// field (two spaces) makes the header invalid, which the field count or
// the parse of the empty field catches.
func splitSpaces(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

func parsePort(s string) (uint16, error) {
	// No sign, no leading zeros: the spec's ports are plain decimals.
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("port %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q", s)
	}
	return uint16(n), nil
}

func parseV2(b []byte) (Header, int, error) {
	if len(b) < 16 {
		return Header{}, 0, ErrShort
	}
	if b[12]>>4 != 2 {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 header has version %d", b[12]>>4)
	}
	cmd := Command(b[12] & 0xf)
	if cmd != Local && cmd != Proxy {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 command %d is not LOCAL or PROXY", cmd)
	}
	n := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if n > MaxV2Len {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 header of %d bytes is over the limit of %d", n, MaxV2Len)
	}
	if len(b) < n {
		return Header{}, 0, ErrShort
	}
	h := Header{Version: 2, Command: cmd}
	fam, proto := b[13]>>4, b[13]&0xf
	body := b[16:n]
	if cmd == Local {
		return h, n, nil // addresses, if any, are to be ignored
	}
	var alen int
	switch fam {
	case 0: // AF_UNSPEC: the receiver uses the real connection's addresses
		return h, n, nil
	case 1:
		alen = 4
	case 2:
		alen = 16
	case 3: // AF_UNIX: no IP addresses to report
		if len(body) < 216 {
			return Header{}, 0, errors.New("proxyproto: v2 unix addresses truncated")
		}
		return h, n, nil
	default:
		return Header{}, 0, fmt.Errorf("proxyproto: v2 address family %d is unknown", fam)
	}
	switch proto {
	case 1:
		h.Transport = TCP
	case 2:
		h.Transport = UDP
	default:
		return Header{}, 0, fmt.Errorf("proxyproto: v2 transport %d is not stream or datagram", proto)
	}
	if len(body) < 2*alen+4 {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 addresses need %d bytes, header has %d", 2*alen+4, len(body))
	}
	src, _ := netip.AddrFromSlice(body[:alen])
	dst, _ := netip.AddrFromSlice(body[alen : 2*alen])
	sp := binary.BigEndian.Uint16(body[2*alen:])
	dp := binary.BigEndian.Uint16(body[2*alen+2:])
	h.Source, h.Dest = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return h, n, nil
}

// Append appends the header h in version h.Version (1 or 2) to b. A Local
// header, or one whose addresses are invalid, is written as v1 UNKNOWN or
// v2 LOCAL; an IPv4 address beside an IPv6 one is written IPv4-mapped. v1
// cannot carry UDP; Append writes UNKNOWN for it.
func Append(b []byte, h Header) []byte {
	src, dst := h.Source, h.Dest
	ok := h.Command == Proxy && src.IsValid() && dst.IsValid()
	// IPv4 when both addresses are (or map) IPv4; otherwise IPv6, with an
	// IPv4 address in its mapped form.
	v4 := src.Addr().Unmap().Is4() && dst.Addr().Unmap().Is4()
	if v4 {
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	} else {
		src = netip.AddrPortFrom(netip.AddrFrom16(src.Addr().As16()), src.Port())
		dst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
	}
	if h.Version == 1 {
		if !ok || h.Transport == UDP {
			return append(b, "PROXY UNKNOWN\r\n"...)
		}
		fam := "TCP6 "
		if v4 {
			fam = "TCP4 "
		}
		b = append(b, "PROXY "...)
		b = append(b, fam...)
		b = src.Addr().AppendTo(b)
		b = append(b, ' ')
		b = dst.Addr().AppendTo(b)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(src.Port()), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(dst.Port()), 10)
		return append(b, "\r\n"...)
	}
	b = append(b, v2Sig...)
	if !ok {
		return append(b, 0x20, 0x00, 0, 0)
	}
	tr := byte(1)
	if h.Transport == UDP {
		tr = 2
	}
	if v4 {
		b = append(b, 0x21, 0x10|tr, 0, 12)
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	} else {
		b = append(b, 0x21, 0x20|tr, 0, 36)
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}
