package server

import (
	"context"
	"net/netip"
	"time"

	"github.com/switchboard/switchboard/internal/httpproxy"
)

// runHTTPProxy serves the http and https listeners of every published view
// until ctx ends or stop closes, reporting live traffic to the health
// engine, then lets in-flight requests finish within the shutdown timeout.
// stop is the process's own Done channel, so draining starts as soon as
// shutdown does, not after the admin listener's.
func (s *Server) runHTTPProxy(ctx context.Context, stop <-chan struct{}) error {
	s.mu.Lock()
	settings := s.settings
	s.mu.Unlock()
	log := s.log.With("component", "httpproxy")
	p := httpproxy.New(httpproxy.Config{Zone: settings.Zone, Health: s.health, Logger: log,
		Instruments: func(group string, addr netip.AddrPort) httpproxy.Instruments {
			return s.obs.metrics.Proxy().Target(group, addr)
		},
	})
	views := s.pub.Subscribe(ctx)
	tick := time.NewTicker(time.Second) // slow start, draining, certificate files
	defer tick.Stop()
	for done := false; !done; {
		select {
		case v, ok := <-views:
			if !ok {
				done = true
				break
			}
			if err := p.Apply(v); err != nil {
				log.Error("listeners not fully applied", "version", v.Version, "err", err)
			}
		case now := <-tick.C:
			p.Refresh(now)
		case <-stop:
			done = true
		case <-ctx.Done():
			done = true
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), settings.ShutdownTimeout.D())
	defer cancel()
	if err := p.Shutdown(dctx); err != nil {
		log.Warn("requests cut off at the shutdown timeout", "err", err)
	}
	return nil
}
