package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	pp "github.com/pires/go-proxyproto"
)

var (
	src4 = netip.MustParseAddrPort("192.0.2.7:51000")
	dst4 = netip.MustParseAddrPort("198.51.100.1:443")
	src6 = netip.MustParseAddrPort("[2001:db8::7]:51000")
	dst6 = netip.MustParseAddrPort("[2001:db8::1]:443")
)

func TestRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    Header
	}{
		{name: "v1/tcp4", h: Header{Version: 1, Command: Proxy, Transport: TCP, Source: src4, Dest: dst4}},
		{name: "v1/tcp6", h: Header{Version: 1, Command: Proxy, Transport: TCP, Source: src6, Dest: dst6}},
		{name: "v1/unknown", h: Header{Version: 1, Command: Local}},
		{name: "v2/tcp4", h: Header{Version: 2, Command: Proxy, Transport: TCP, Source: src4, Dest: dst4}},
		{name: "v2/udp6", h: Header{Version: 2, Command: Proxy, Transport: UDP, Source: src6, Dest: dst6}},
		{name: "v2/local", h: Header{Version: 2, Command: Local}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := Append(nil, tt.h)
			stream := append(b, "payload"...)
			got, n, err := Parse(stream)
			if err != nil {
				t.Fatalf("Parse(%q) error %v", b, err)
			}
			if n != len(b) {
				t.Errorf("Parse(%q) took %d bytes, want %d", b, n, len(b))
			}
			if got != tt.h {
				t.Errorf("Parse(Append(h)) = %+v, want %+v", got, tt.h)
			}
			// Every proper prefix is reported as incomplete, never as an error.
			for i := range len(b) {
				if _, _, err := Parse(b[:i]); !errors.Is(err, ErrShort) {
					t.Fatalf("Parse(first %d of %d bytes) = %v, want ErrShort", i, len(b), err)
				}
			}
		})
	}
}

func TestAppendMixedFamilies(t *testing.T) {
	// An IPv4 client of an IPv6 address is written IPv4-mapped (the fuzzer's
	// seed 41dfba0562c2696e: it used to be written as LOCAL).
	h := Header{Version: 1, Command: Proxy, Transport: TCP, Source: src4, Dest: dst6}
	if got, want := string(Append(nil, h)), "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::1 51000 443\r\n"; got != want {
		t.Errorf("Append(v4 to v6) = %q, want %q", got, want)
	}
	h.Version = 2
	got, _, err := Parse(Append(nil, h))
	if err != nil || got.Source.Addr().Unmap() != src4.Addr() || got.Dest != dst6 {
		t.Errorf("Parse(Append(v2 v4 to v6)) = %+v, %v", got, err)
	}
}

// TestOtherParserReadsOurs checks our output against an independent
// implementation (github.com/pires/go-proxyproto, used only in tests).
func TestOtherParserReadsOurs(t *testing.T) {
	for _, h := range []Header{
		{Version: 1, Command: Proxy, Transport: TCP, Source: src4, Dest: dst4},
		{Version: 1, Command: Proxy, Transport: TCP, Source: src6, Dest: dst6},
		{Version: 2, Command: Proxy, Transport: TCP, Source: src4, Dest: dst4},
		{Version: 2, Command: Proxy, Transport: TCP, Source: src6, Dest: dst6},
	} {
		b := Append(nil, h)
		got, err := pp.Read(bufioReader(b))
		if err != nil {
			t.Fatalf("go-proxyproto Read(%q): %v", b, err)
		}
		sa, ok := got.SourceAddr.(interface{ String() string })
		if !ok || sa.String() != h.Source.String() {
			t.Errorf("go-proxyproto source of %q = %v, want %s", b, got.SourceAddr, h.Source)
		}
		if got.DestinationAddr.String() != h.Dest.String() {
			t.Errorf("go-proxyproto destination of %q = %v, want %s", b, got.DestinationAddr, h.Dest)
		}
		// And ours reads what it writes.
		hb := new(bytes.Buffer)
		if _, err := got.WriteTo(hb); err != nil {
			t.Fatal(err)
		}
		mine, _, err := Parse(hb.Bytes())
		if err != nil || mine.Source != h.Source || mine.Dest != h.Dest {
			t.Errorf("Parse(go-proxyproto %q) = %+v, %v; want %s -> %s", hb.Bytes(), mine, err, h.Source, h.Dest)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	v2 := func(verCmd, fam byte, body ...byte) []byte {
		b := append([]byte{}, v2Sig...)
		b = append(b, verCmd, fam, byte(len(body)>>8), byte(len(body)))
		return append(b, body...)
	}
	for _, tt := range []struct {
		name, in, want string
	}{
		{name: "http", in: "GET / HTTP/1.1\r\n", want: "no PROXY protocol header"},
		{name: "tls", in: "\x16\x03\x01\x00", want: "no PROXY protocol header"},
		{name: "v1/lowercase", in: "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", want: "no PROXY protocol header"},
		{name: "v1/no-cr", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", want: "does not end in CRLF"},
		{name: "v1/too-long", in: "PROXY TCP4 " + strings.Repeat("1", 120), want: "longer than 107"},
		{name: "v1/bad-proto", in: "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", want: `"UDP4" is not`},
		{name: "v1/family-mismatch", in: "PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n", want: "do not match TCP4"},
		{name: "v1/port-range", in: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", want: `port "65536"`},
		{name: "v1/port-leading-zero", in: "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", want: `port "01"`},
		{name: "v1/double-space", in: "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", want: "fields"},
		{name: "v1/missing-field", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", want: "fields"},
		{name: "v2/version-1", in: string(v2(0x11, 0x11, make([]byte, 12)...)), want: "version 1"},
		{name: "v2/command-3", in: string(v2(0x23, 0x11, make([]byte, 12)...)), want: "command 3"},
		{name: "v2/family-9", in: string(v2(0x21, 0x91, make([]byte, 12)...)), want: "family 9"},
		{name: "v2/short-addresses", in: string(v2(0x21, 0x21, make([]byte, 12)...)), want: "need 36 bytes"},
		{name: "v2/too-long", in: string(v2Sig) + "\x21\x11\xff\xff", want: "over the limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tt.in))
			if err == nil || errors.Is(err, ErrShort) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want an error with %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseV2Extras(t *testing.T) {
	// A v2 header with a TLV after the addresses: the TLV is skipped and
	// the byte count covers it.
	h := Header{Version: 2, Command: Proxy, Transport: TCP, Source: src4, Dest: dst4}
	b := Append(nil, h)
	b[15] += 5
	b = append(b, 0x04, 0x00, 0x02, 'o', 'k') // PP2_TYPE_NOOP
	got, n, err := Parse(append(b, 'x'))
	if err != nil || n != len(b) || got != h {
		t.Errorf("Parse(v2 with TLV) = %+v, %d, %v; want %+v, %d", got, n, err, h, len(b))
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
