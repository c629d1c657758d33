package l4proxy

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// clientHello returns the first flight crypto/tls sends as a client with
// cfg: the ClientHello record(s).
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	go func() {
		tls.Client(c1, cfg).Handshake()
		c1.Close()
	}()
	defer c2.Close()
	var out []byte
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(c2, hdr[:]); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
		if _, err := io.ReadFull(c2, body); err != nil {
			t.Fatal(err)
		}
		out = append(append(out, hdr[:]...), body...)
		if _, err := serverName(out); !errors.Is(err, errHelloShort) {
			return out
		}
	}
}

// refragment splits the handshake in hello into records of at most n bytes.
func refragment(hello []byte, n int) []byte {
	var hs []byte
	for b := hello; len(b) >= 5; {
		l := int(binary.BigEndian.Uint16(b[3:]))
		hs = append(hs, b[5:5+l]...)
		b = b[5+l:]
	}
	var out []byte
	for len(hs) > 0 {
		k := min(n, len(hs))
		out = append(out, 0x16, 3, 1, byte(k>>8), byte(k))
		out = append(out, hs[:k]...)
		hs = hs[k:]
	}
	return out
}

func TestServerName(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{name: "tls13", in: clientHello(t, &tls.Config{ServerName: "App.Example.com", InsecureSkipVerify: true}), want: "app.example.com"},
		{name: "tls12-only", in: clientHello(t, &tls.Config{ServerName: "a.example.com", MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}), want: "a.example.com"},
		{name: "no-sni", in: clientHello(t, &tls.Config{InsecureSkipVerify: true}), want: ""},
		{name: "fragmented", in: refragment(clientHello(t, &tls.Config{ServerName: "frag.example.com", InsecureSkipVerify: true}), 50), want: "frag.example.com"},
		{name: "with-data-after", in: append(clientHello(t, &tls.Config{ServerName: "x.example.com", InsecureSkipVerify: true}), 0x17, 3, 3, 0, 1, 0), want: "x.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := serverName(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("serverName = %q, %v; want %q", got, err, tt.want)
			}
			for i := range len(tt.in) {
				if _, err := serverName(tt.in[:i]); !errors.Is(err, errHelloShort) && tt.name != "with-data-after" {
					t.Fatalf("serverName(first %d of %d bytes) = %v, want errHelloShort", i, len(tt.in), err)
				}
			}
		})
	}
}

func TestServerNameRefuses(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true})
	corrupt := func(f func(b []byte)) []byte {
		b := append([]byte(nil), hello...)
		f(b)
		return b
	}
	for _, tt := range []struct {
		name    string
		in      []byte
		wantErr error // nil: any error but errHelloShort
	}{
		{name: "http", in: []byte("GET / HTTP/1.1\r\n"), wantErr: errNotTLS},
		{name: "ssh", in: []byte("SSH-2.0-OpenSSH\r\n"), wantErr: errNotTLS},
		{name: "alert-record", in: []byte{0x15, 3, 3, 0, 2, 2, 40}, wantErr: errNotTLS},
		{name: "server-hello", in: corrupt(func(b []byte) { b[5] = 2 })},
		{name: "empty-record", in: []byte{0x16, 3, 1, 0, 0}},
		{name: "bad-name-byte", in: corrupt(func(b []byte) {
			i := indexOf(b, "a.example.com")
			b[i] = '/'
		})},
		{name: "truncated-extensions", in: corrupt(func(b []byte) {
			// Claim a longer handshake body than the extensions hold: the
			// inner lengths then disagree with the outer one.
			b[8]++
		})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serverName(tt.in)
			if err == nil || errors.Is(err, errHelloShort) && tt.name != "truncated-extensions" {
				t.Fatalf("serverName = %v, want an error", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("serverName = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	panic("not found")
}

func TestMatchHost(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"app.example.com", "app.example.com", true},
		{"APP.example.com", "app.example.com", true},
		{"app.example.com", "app.example.org", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"app?.example.com", "app1.example.com", true},
		{"app?.example.com", "app.example.com", false},
		{"*", "anything", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
	} {
		if got := matchHost(tt.pattern, tt.name); got != tt.want {
			t.Errorf("matchHost(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// FuzzServerName checks that no input crashes the ClientHello parser and
// that it never asks for more than the size limit.
func FuzzServerName(f *testing.F) {
	for _, cfg := range []*tls.Config{
		{ServerName: "app.example.com", InsecureSkipVerify: true},
		{InsecureSkipVerify: true},
		{ServerName: "a.example.com", MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true},
	} {
		h := clientHello(f, cfg)
		f.Add(h)
		f.Add(refragment(h, 64))
	}
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := serverName(b)
		if errors.Is(err, errHelloShort) && len(b) > MaxHelloBytes+5*(MaxHelloBytes+1) {
			t.Fatalf("serverName wants more than %d bytes", len(b))
		}
		if err == nil && name != "" {
			if _, cerr := checkHostName([]byte(name)); cerr != nil {
				t.Fatalf("serverName returned %q, which checkHostName refuses: %v", name, cerr)
			}
		}
	})
}
