package proxyproto

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input crashes Parse, that a consumed length is
// within the input and the bounds, and that what parses re-encodes to a
// header that parses to the same addresses. testdata/fuzz holds the inputs
// it found: 41dfba0562c2696e (an IPv4-mapped source beside an IPv6
// destination was re-encoded as LOCAL).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.0.2.7 198.51.100.1 51000 443\r\n",
		"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\nGET /",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
		"PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n",
		"GET / HTTP/1.1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Add(Append(nil, Header{Version: 2, Command: Proxy, Transport: TCP, Source: src4, Dest: dst4}))
	f.Add(Append(nil, Header{Version: 2, Command: Proxy, Transport: UDP, Source: src6, Dest: dst6}))
	f.Add(Append(nil, Header{Version: 2, Command: Local}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("Parse(%q) = error %v with n = %d", b, err, n)
			}
			if errors.Is(err, ErrShort) && len(b) >= MaxV2Len {
				t.Fatalf("Parse(%q) wants more than %d bytes", b, MaxV2Len)
			}
			return
		}
		if n <= 0 || n > len(b) || n > MaxV2Len {
			t.Fatalf("Parse(%q) took %d bytes", b, n)
		}
		if h.Command != Proxy || !h.Source.IsValid() {
			return
		}
		h2, _, err := Parse(Append(nil, h))
		if err != nil {
			t.Fatalf("Parse(Append(%+v)) = %v", h, err)
		}
		// (v1 has only TCP, so every header here re-encodes its addresses.)
		if h2.Source.Addr().Unmap() != h.Source.Addr().Unmap() || h2.Source.Port() != h.Source.Port() ||
			h2.Dest.Addr().Unmap() != h.Dest.Addr().Unmap() || h2.Dest.Port() != h.Dest.Port() {
			t.Fatalf("re-encoded %+v parses as %+v", h, h2)
		}
	})
}
