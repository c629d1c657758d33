package server

import (
	"context"
	"net/netip"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/switchboard/switchboard/internal/l4proxy"
	"github.com/switchboard/switchboard/internal/model"
)

// runL4 runs the L4 proxy (tcp, tls, tls_passthrough and udp listeners):
// it applies every published view, reports connect outcomes to the health
// engine as passive signals, and when ctx ends stops accepting and lets
// connections finish within the shutdown timeout.
func (s *Server) runL4(ctx context.Context, dp *dataPlanes) error {
	s.mu.Lock()
	zone := s.settings.Zone
	s.mu.Unlock()
	log := s.log.With("component", "l4proxy")
	p := l4proxy.New(l4proxy.Config{
		Zone:     zone,
		Reporter: s.health,
		Logger:   log,
		Instruments: func(group string, addr netip.AddrPort) l4proxy.Instruments {
			return s.obs.metrics.Proxy().Target(group, addr)
		},
		// A balancer forwarded in the kernel has no userspace listeners:
		// both would want its ports.
		Serves: func(lb *model.LoadBalancer) bool { return !dp.InKernel(lb) },
	})
	var g errgroup.Group
	g.Go(func() error { return p.Run(ctx) })
	for v := range s.pub.Subscribe(ctx) {
		if err := p.Apply(v); err != nil {
			s.log.Error("l4 listeners not all running", "version", v.Version, "err", err)
		}
	}
	s.mu.Lock()
	timeout := s.settings.ShutdownTimeout.D()
	s.mu.Unlock()
	dctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := p.Shutdown(dctx); err != nil {
		s.log.Warn("l4 connections cut at the shutdown timeout", "after_seconds", time.Since(start).Seconds())
	}
	return g.Wait()
}
