package l4proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"testing"
	"time"
)

// tlsBackend is a backend that terminates TLS with its own certificate for
// names and greets with its name.
func tlsBackend(t *testing.T, dir, name string, names ...string) (*backend, *x509.Certificate) {
	c, _, _ := cert(t, dir, names...)
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{c}}
	b := newBackendOn(t, name, func(ln net.Listener) net.Listener { return tls.NewListener(ln, cfg) }, nil)
	return b, leaf
}

func TestTLSPassthroughBySNI(t *testing.T) {
	dir := t.TempDir()
	ba, ca := tlsBackend(t, dir, "app", "app.example.com")
	bb, cb := tlsBackend(t, dir, "shop", "*.shop.example.com")
	bd, cd := tlsBackend(t, dir, "default", "default.example.com")
	roots := x509.NewCertPool()
	for _, c := range []*x509.Certificate{ca, cb, cd} {
		roots.AddCert(c)
	}
	// The proxy is given no certificate or key: it routes on the
	// ClientHello alone.
	e := start(t, fmt.Sprintf(`
zones: [{ name: a }]
target_groups:
  - { name: app, protocol: tcp, targets: [%s] }
  - { name: shop, protocol: tcp, targets: [%s] }
  - { name: default, protocol: tcp, targets: [%s] }
load_balancers:
  - name: edge
    listeners:
      - protocol: tls_passthrough
        port: 10443
        rules:
          - { priority: 1, conditions: { host: [app.example.com] }, action: { forward: { target_groups: [{ name: app }] } } }
          - { priority: 2, conditions: { host: ["*.shop.example.com"] }, action: { forward: { target_groups: [{ name: shop }] } } }
        default_action: { forward: { target_groups: [{ name: default }] } }
`, ba.target(""), bb.target(""), bd.target("")))
	for _, tt := range []struct {
		sni, want string
		cert      *x509.Certificate
	}{
		{sni: "app.example.com", want: "app", cert: ca},
		{sni: "APP.example.com", want: "app", cert: ca},
		{sni: "eu.shop.example.com", want: "shop", cert: cb},
		{sni: "default.example.com", want: "default", cert: cd},
		{sni: "", want: "default", cert: cd},
	} {
		t.Run("sni="+tt.sni, func(t *testing.T) {
			cfg := &tls.Config{ServerName: tt.sni, RootCAs: roots}
			if tt.sni == "" {
				// No SNI: verify the chain by hand.
				cfg.InsecureSkipVerify = true
			}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.addr("tcp", 10443), cfg)
			if err != nil {
				t.Fatalf("TLS through the proxy with SNI %q: %v", tt.sni, err)
			}
			defer c.Close()
			if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(tt.cert) {
				t.Errorf("SNI %q got the certificate of %v, want %v", tt.sni, got.DNSNames, tt.cert.DNSNames)
			}
			if g := greeting(t, c); g != tt.want {
				t.Errorf("SNI %q reached %q, want %q", tt.sni, g, tt.want)
			}
			echo(t, c, "over TLS end to end")
		})
	}
	t.Run("not-tls-goes-to-default", func(t *testing.T) {
		before := bd.accepted.Load()
		c := e.dial(10443)
		c.Write([]byte("plain text\n"))
		// The default target's TLS server sees garbage and hangs up.
		expectClosed(t, c, 5*time.Second)
		if n := bd.accepted.Load(); n != before+1 {
			t.Errorf("default backend accepted %d connections, want %d: the plaintext one too", n, before+1)
		}
	})
}

func TestTLSTermination(t *testing.T) {
	dir := t.TempDir()
	_, dcert, dkey := cert(t, dir, "default.example.com")
	_, acert, akey := cert(t, dir, "api.example.com")
	_, wcert, wkey := cert(t, dir, "*.apps.example.com")
	plain := newBackend(t, "plain")
	secure, _ := tlsBackend(t, dir, "secure", "backend.internal")
	e := start(t, fmt.Sprintf(`
zones: [{ name: a }]
target_groups:
  - { name: plain, protocol: tcp, targets: [%s] }
  - { name: secure, protocol: tls, targets: [%s] }
load_balancers:
  - name: edge
    listeners:
      - protocol: tls
        port: 10443
        certificates:
          - { cert_file: %s, key_file: %s }
          - { cert_file: %s, key_file: %s }
          - { cert_file: %s, key_file: %s }
        default_action: { forward: { target_groups: [{ name: plain }] } }
      - protocol: tls
        port: 10444
        certificates: [{ cert_file: %s, key_file: %s }]
        default_action: { forward: { target_groups: [{ name: secure }] } }
`, plain.target(""), secure.target(""), dcert, dkey, acert, akey, wcert, wkey, acert, akey))
	for _, tt := range []struct {
		sni, wantCert string
	}{
		{sni: "api.example.com", wantCert: "api.example.com"},
		{sni: "x.apps.example.com", wantCert: "*.apps.example.com"},
		{sni: "other.example.com", wantCert: "default.example.com"},
		{sni: "", wantCert: "default.example.com"},
	} {
		t.Run("sni="+tt.sni, func(t *testing.T) {
			c, err := tls.Dial("tcp", e.addr("tcp", 10443), &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != tt.wantCert {
				t.Errorf("SNI %q got certificate %q, want %q", tt.sni, got, tt.wantCert)
			}
			if g := greeting(t, c); g != "plain" {
				t.Errorf("greeting %q, want plain (the backend speaks plaintext)", g)
			}
			echo(t, c, "decrypted at the proxy")
			c.CloseWrite()
		})
	}
	t.Run("reencrypted-to-tls-group", func(t *testing.T) {
		c, err := tls.Dial("tcp", e.addr("tcp", 10444), &tls.Config{ServerName: "api.example.com", InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if g := greeting(t, c); g != "secure" {
			t.Errorf("greeting %q, want secure", g)
		}
		echo(t, c, "encrypted twice")
	})
	t.Run("handshake-failure-is-refused", func(t *testing.T) {
		c := e.dial(10443)
		c.Write([]byte("not a ClientHello at all\r\n\r\n"))
		expectClosed(t, c, 5*time.Second)
		waitFor(t, "refusal counted", func() bool {
			for _, l := range e.p.Stats().Listeners {
				if l.Listener == "edge/tcp/10443" {
					return l.Refused == 1
				}
			}
			return false
		})
	})
}
