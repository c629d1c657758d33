package certstore_test

import (
	"crypto/tls"
	"os"
	"testing"

	"github.com/switchboard/switchboard/internal/certstore"
	"github.com/switchboard/switchboard/internal/certstore/certstoretest"
	"github.com/switchboard/switchboard/internal/model"
)

// handshake serves s on a loopback TLS listener and returns the leaf the
// client saw for sni, and its serial.
func handshake(t *testing.T, s *certstore.Set, sni string, clientCfg *tls.Config) (names []string, serial int64, sigAlg string) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.TLSConfig("http/1.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: sni}
	if clientCfg != nil {
		cfg = clientCfg.Clone()
		cfg.InsecureSkipVerify, cfg.ServerName = true, sni
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	return leaf.DNSNames, leaf.SerialNumber.Int64(), leaf.PublicKeyAlgorithm.String()
}

func TestSNISelection(t *testing.T) {
	dir := t.TempDir()
	files := []model.Certificate{
		certstoretest.Write(t, dir, "default", certstoretest.RSA, 1, "default.test"),
		certstoretest.Write(t, dir, "exact", certstoretest.RSA, 2, "api.example.com"),
		certstoretest.Write(t, dir, "wild", certstoretest.ECDSA, 3, "*.example.com"),
		certstoretest.Write(t, dir, "dual-rsa", certstoretest.RSA, 4, "dual.test"),
		certstoretest.Write(t, dir, "dual-ec", certstoretest.ECDSA, 5, "dual.test"),
	}
	s, err := certstore.Load(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	rsaOnly := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	for _, tt := range []struct {
		name, sni  string
		client     *tls.Config
		wantSerial int64
		wantAlg    string
	}{
		{name: "exact", sni: "api.example.com", wantSerial: 2, wantAlg: "RSA"},
		{name: "exact/case", sni: "API.Example.COM", wantSerial: 2, wantAlg: "RSA"},
		{name: "wildcard", sni: "www.example.com", wantSerial: 3, wantAlg: "ECDSA"},
		{name: "wildcard/one-label-only", sni: "a.b.example.com", wantSerial: 1, wantAlg: "RSA"},
		{name: "default/unknown", sni: "other.test", wantSerial: 1, wantAlg: "RSA"},
		{name: "default/no-sni", sni: "", wantSerial: 1, wantAlg: "RSA"},
		{name: "ecdsa-preferred", sni: "dual.test", wantSerial: 5, wantAlg: "ECDSA"},
		{name: "rsa-when-client-lacks-ecdsa", sni: "dual.test", client: rsaOnly, wantSerial: 4, wantAlg: "RSA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, serial, alg := handshake(t, s, tt.sni, tt.client)
			if serial != tt.wantSerial || alg != tt.wantAlg {
				t.Errorf("handshake(%q) = serial %d %s, want %d %s", tt.sni, serial, alg, tt.wantSerial, tt.wantAlg)
			}
		})
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	files := []model.Certificate{certstoretest.Write(t, dir, "site", certstoretest.ECDSA, 1, "site.test")}
	s, err := certstore.Load(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Reload(); n != 0 {
		t.Errorf("Reload() without change = %d, want 0", n)
	}
	certstoretest.Write(t, dir, "site", certstoretest.ECDSA, 2, "site.test")
	if n := s.Reload(); n != 1 {
		t.Fatalf("Reload() after rewrite = %d, want 1", n)
	}
	if _, serial, _ := handshake(t, s, "site.test", nil); serial != 2 {
		t.Errorf("serial after reload = %d, want 2", serial)
	}
	// A broken file keeps the old certificate in service.
	if err := os.WriteFile(files[0].CertFile, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := s.Reload(); n != 0 {
		t.Errorf("Reload() of a broken file = %d, want 0", n)
	}
	if _, serial, _ := handshake(t, s, "site.test", nil); serial != 2 {
		t.Errorf("serial after a broken file = %d, want 2 (the old one)", serial)
	}
	if _, err := certstore.Load([]model.Certificate{{CertFile: dir + "/missing.crt", KeyFile: dir + "/missing.key"}}, nil); err == nil {
		t.Error("Load of missing files succeeded")
	}
}
