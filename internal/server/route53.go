package server

import (
	"net/http"
	"os"

	"github.com/switchboard/switchboard/internal/api/route53"
)

// route53 returns the Route 53-compatible API (internal/api/route53),
// served on the admin listener under /2013-04-01/. Keys whose secret_env is
// unset are left out, with an error in the log; without any key every
// request is refused with Route 53's authentication error.
func (s *Server) route53() http.Handler {
	s.mu.Lock()
	settings, st, d := s.settings.Route53, s.store, s.dns
	s.mu.Unlock()
	keys := map[string]string{}
	for _, k := range settings.AccessKeys {
		secret := k.Secret
		if k.SecretEnv != "" {
			secret = os.Getenv(k.SecretEnv)
		}
		if secret == "" {
			s.log.Error("route53: access key has no secret; requests signed with it are refused", "id", k.ID, "secret_env", k.SecretEnv)
			continue
		}
		keys[k.ID] = secret
	}
	cfg := route53.Config{
		Store:  st,
		Views:  s.pub,
		Health: s.health,
		Keys:   keys,
		Region: settings.Region,
		Logger: s.log.With("component", "route53"),
		Now:    s.now,
	}
	if d != nil {
		cfg.DNS = d
	}
	h, err := route53.New(cfg)
	if err != nil { // no store yet: the handler was built before Run opened it
		s.log.Error("route53: API off", "err", err)
		return http.NotFoundHandler()
	}
	return h
}
