// Package certstore holds the TLS certificates of a listener, chooses one
// per connection by the client's SNI name, and reloads the files when they
// change, without a restart.
//
// The choice, as ALB makes it: a certificate whose names include the SNI
// name exactly, else one with a matching wildcard (*.example.com matches
// one label), else the default certificate, the listener's first. When
// several match at the same level, an ECDSA certificate wins over RSA if
// the client supports it.
package certstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// Set is the certificates of one listener. GetCertificate may be called
// from any goroutine; Reload and Run swap a new index in atomically.
type Set struct {
	// Immutable after Load.
	files []model.Certificate
	log   *slog.Logger

	cur atomic.Pointer[index]

	mu    sync.Mutex // guards stamp; held by Reload
	stamp []fileStamp
}

// index is one immutable generation of the loaded certificates.
type index struct {
	certs    []*tls.Certificate // in the listener's order; certs[0] is the default
	exact    map[string][]*tls.Certificate
	wildcard map[string][]*tls.Certificate // by the part after "*."
}

type fileStamp struct {
	cert, key time.Time
	certSize  int64
	keySize   int64
}

// Load reads every certificate of files (at least one) and returns a Set
// that serves them. A file that cannot be read or parsed is an error.
func Load(files []model.Certificate, log *slog.Logger) (*Set, error) {
	if len(files) == 0 {
		return nil, errors.New("certstore: no certificates")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Set{files: files, log: log, stamp: make([]fileStamp, len(files))}
	certs := make([]*tls.Certificate, len(files))
	for i, f := range files {
		c, st, err := loadPair(f)
		if err != nil {
			return nil, err
		}
		certs[i], s.stamp[i] = c, st
	}
	s.cur.Store(newIndex(certs))
	return s, nil
}

func stat(f model.Certificate) (fileStamp, error) {
	ci, err := os.Stat(f.CertFile)
	if err != nil {
		return fileStamp{}, err
	}
	ki, err := os.Stat(f.KeyFile)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{cert: ci.ModTime(), key: ki.ModTime(), certSize: ci.Size(), keySize: ki.Size()}, nil
}

func loadPair(f model.Certificate) (*tls.Certificate, fileStamp, error) {
	st, err := stat(f)
	if err != nil {
		return nil, st, fmt.Errorf("certstore: %w", err)
	}
	c, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, st, fmt.Errorf("certstore: %s: %w", f.CertFile, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, st, fmt.Errorf("certstore: %s: %w", f.CertFile, err)
		}
	}
	return &c, st, nil
}

func newIndex(certs []*tls.Certificate) *index {
	ix := &index{certs: certs, exact: map[string][]*tls.Certificate{}, wildcard: map[string][]*tls.Certificate{}}
	for _, c := range certs {
		names := c.Leaf.DNSNames
		if len(names) == 0 && c.Leaf.Subject.CommonName != "" {
			names = []string{c.Leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				ix.wildcard[rest] = append(ix.wildcard[rest], c)
			} else {
				ix.exact[n] = append(ix.exact[n], c)
			}
		}
	}
	return ix
}

// GetCertificate chooses the certificate for a client hello; it fits
// tls.Config.GetCertificate.
func (s *Set) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ix := s.cur.Load()
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		if c := pick(ix.exact[name], hello); c != nil {
			return c, nil
		}
		if _, rest, ok := strings.Cut(name, "."); ok {
			if c := pick(ix.wildcard[rest], hello); c != nil {
				return c, nil
			}
		}
	}
	return ix.certs[0], nil
}

// pick prefers an ECDSA certificate the client supports, then any the
// client supports, then the first.
func pick(cands []*tls.Certificate, hello *tls.ClientHelloInfo) *tls.Certificate {
	if len(cands) == 0 {
		return nil
	}
	if len(cands) == 1 {
		return cands[0]
	}
	var fallback *tls.Certificate
	for _, c := range cands {
		if hello.SupportsCertificate(c) != nil {
			continue
		}
		if _, ok := c.PrivateKey.(*ecdsa.PrivateKey); ok {
			return c
		}
		if fallback == nil {
			fallback = c
		}
	}
	if fallback != nil {
		return fallback
	}
	return cands[0]
}

// Reload re-reads the certificates whose files changed since they were
// read. A file that fails to load keeps its old certificate in service and
// is logged; it is tried again on the next call. It reports how many
// certificates were replaced.
func (s *Set) Reload() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	var certs []*tls.Certificate
	n := 0
	for i, f := range s.files {
		st, err := stat(f)
		if err == nil && st == s.stamp[i] {
			continue
		}
		c, st, err := loadPair(f)
		if err != nil {
			s.log.Error("certificate not reloaded; the old one stays in service", "cert_file", f.CertFile, "err", err)
			continue
		}
		if certs == nil {
			certs = append([]*tls.Certificate(nil), old.certs...)
		}
		certs[i], s.stamp[i] = c, st
		n++
		s.log.Info("certificate reloaded", "cert_file", f.CertFile, "names", c.Leaf.DNSNames, "not_after", c.Leaf.NotAfter)
	}
	if certs != nil {
		s.cur.Store(newIndex(certs))
	}
	return n
}

// Run calls Reload every interval (default 5s) until ctx ends.
func (s *Set) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Reload()
		}
	}
}

// TLSConfig returns a server configuration that serves s with TLS 1.2 and
// later, forward-secret AEAD cipher suites only, and the given ALPN
// protocols (such as "h2", "http/1.1").
func (s *Set) TLSConfig(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.GetCertificate,
		NextProtos:     nextProtos,
		CipherSuites:   CipherSuites(),
	}
}

// CipherSuites are the TLS 1.2 suites we offer: ECDHE with AEAD only. (TLS
// 1.3 suites are not configurable and all modern.)
func CipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}
