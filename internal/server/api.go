package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/store"
)

// newAPI builds the REST API over st from the settings: tokens from the file
// and the environment (a token_env that is not set stops the start), the
// deletion budget, and the DNS server's TTL and GeoIP database for what-if
// answers.
func (s *Server) newAPI(st store.Store) (http.Handler, error) {
	tokens, err := api.TokensFrom(s.settings.Admin, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	maxDeletes := -1 // api.Config: negative means a budget of 0
	if m := s.settings.Admin.MaxDeletes; m != nil && *m > 0 {
		maxDeletes = *m
	}
	s.mu.Lock()
	loc := s.locator
	s.apiTokens = tokens
	s.mu.Unlock()
	if len(tokens) == 0 {
		s.log.Info("the API has no tokens and answers loopback clients only", "prefix", api.Prefix)
	}
	return api.New(api.Config{
		Store:           st,
		Views:           s.pub,
		Health:          s.health,
		Tokens:          tokens,
		MaxDeletes:      maxDeletes,
		LoadBalancerTTL: s.settings.DNS.LoadBalancerTTL.D(),
		Locator:         loc,
		Logger:          s.log.With("component", "api"),
		Now:             s.now,
	}), nil
}

// adminTLS wraps ln in TLS when the settings give the admin listener a
// certificate. The certificate is read once, here, so that a bad one stops
// the start with the reason.
func (s *Server) adminTLS(ln net.Listener) (net.Listener, error) {
	c := s.settings.Admin.TLS
	if c == nil {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: admin listener TLS: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}
