package l4proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// MaxHelloBytes bounds how much of a TLS stream is buffered to find the
// ClientHello's server name: a ClientHello with post-quantum key shares is
// about 2 KiB, the largest legitimate ones (many extensions, a session
// ticket) stay well under one 16 KiB record.
const MaxHelloBytes = 16 << 10

var (
	errHelloShort = errors.New("l4proxy: ClientHello incomplete")
	errNotTLS     = errors.New("l4proxy: not a TLS handshake")
)

// serverName returns the SNI host name of the TLS ClientHello at the start of
// b, lower-cased, or "" when the ClientHello has none. It returns
// errHelloShort while b holds an incomplete but so far valid ClientHello,
// errNotTLS when b does not start with a TLS handshake record, and another
// error for a malformed one. The ClientHello may span several records.
func serverName(b []byte) (string, error) {
	// Gather the handshake message from the records' fragments.
	var hs []byte
	need := -1 // handshake message length with its 4-byte header, once known
	for len(b) > 0 {
		if len(b) < 5 {
			return "", errHelloShort
		}
		if b[0] != 0x16 { // handshake
			if hs == nil {
				return "", errNotTLS
			}
			return "", errors.New("l4proxy: ClientHello interrupted by another record")
		}
		if b[1] != 3 {
			return "", errNotTLS
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if n == 0 || n > 1<<14 {
			return "", fmt.Errorf("l4proxy: TLS record of %d bytes", n)
		}
		if len(b) < 5+n {
			hs = append(hs, b[5:]...)
			b = nil
			break
		}
		hs = append(hs, b[5:5+n]...)
		b = b[5+n:]
		if need < 0 && len(hs) >= 4 {
			need = 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
		}
		if need >= 0 && len(hs) >= need {
			break
		}
	}
	if len(hs) < 4 {
		return "", errHelloShort
	}
	if hs[0] != 1 {
		return "", errors.New("l4proxy: first handshake message is not a ClientHello")
	}
	need = 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
	if need > MaxHelloBytes {
		return "", fmt.Errorf("l4proxy: ClientHello of %d bytes is over the limit", need)
	}
	if len(hs) < need {
		return "", errHelloShort
	}
	return helloServerName(hs[4:need])
}

// reader walks a byte slice, failing sticky when it runs out.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) skip(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	v := r.skip(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *reader) u16() int {
	v := r.skip(2)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}

var errMalformedHello = errors.New("l4proxy: malformed ClientHello")

func helloServerName(m []byte) (string, error) {
	r := &reader{b: m}
	r.skip(2 + 32)  // legacy version, random
	r.skip(r.u8())  // session id
	r.skip(r.u16()) // cipher suites
	r.skip(r.u8())  // compression methods
	if r.bad {
		return "", errMalformedHello
	}
	if len(r.b) == 0 {
		return "", nil // no extensions
	}
	exts := &reader{b: r.skip(r.u16())}
	if r.bad {
		return "", errMalformedHello
	}
	for len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.skip(exts.u16())
		if exts.bad {
			return "", errMalformedHello
		}
		if typ != 0 { // server_name
			continue
		}
		sr := &reader{b: data}
		list := &reader{b: sr.skip(sr.u16())}
		if sr.bad || len(sr.b) != 0 {
			return "", errMalformedHello
		}
		for len(list.b) > 0 {
			nameType := list.u8()
			name := list.skip(list.u16())
			if list.bad {
				return "", errMalformedHello
			}
			if nameType != 0 { // host_name
				continue
			}
			return checkHostName(name)
		}
		return "", nil
	}
	return "", nil
}

// checkHostName accepts a DNS host name (letters, digits, '-', '_', '.')
// up to 253 bytes and lower-cases it; anything else is refused, so rules
// never see odd bytes.
func checkHostName(b []byte) (string, error) {
	if len(b) == 0 || len(b) > 253 {
		return "", fmt.Errorf("l4proxy: SNI name of %d bytes", len(b))
	}
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		default:
			return "", fmt.Errorf("l4proxy: SNI name %q has byte %#x", b, c)
		}
	}
	return strings.ToLower(strings.TrimSuffix(string(b), ".")), nil
}

// matchHost reports whether name matches pattern, case-insensitively, where
// '*' matches any run of characters (dots included, as ALB) and '?' one.
func matchHost(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || lower(pattern[p]) == lower(name[n])):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
