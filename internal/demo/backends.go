// Package demo is `switchboard demo`: three zones of real HTTP backends on
// loopback, a configuration that puts every part of switchboard in front of
// them, and a small control endpoint that fails and heals a zone, so a
// newcomer can watch DNS answers and traffic move.
package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Zones are the demo's zones, in order.
var Zones = []string{"a", "b", "c"}

// BackendsPerZone is how many backends each zone runs.
const BackendsPerZone = 2

// Backend is one demo HTTP server.
type Backend struct {
	Zone string
	Addr netip.AddrPort

	mu  sync.Mutex // guards srv
	srv *http.Server
}

// Backends are the demo's HTTP servers. Each answers every path with the
// zone and address that answered, so curl shows where traffic went.
type Backends struct {
	mu   sync.Mutex // guards down
	all  []*Backend
	down map[string]bool
}

// StartBackends starts BackendsPerZone servers per zone on loopback ports
// the kernel picks.
func StartBackends() (*Backends, error) {
	bs := &Backends{down: map[string]bool{}}
	for _, z := range Zones {
		for range BackendsPerZone {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				bs.Close()
				return nil, fmt.Errorf("demo: backend: %w", err)
			}
			b := &Backend{Zone: z, Addr: netip.MustParseAddrPort(ln.Addr().String())}
			b.serve(ln)
			bs.all = append(bs.all, b)
		}
	}
	return bs, nil
}

// All lists the backends, zone by zone.
func (bs *Backends) All() []*Backend { return slices.Clone(bs.all) }

func (b *Backend) serve(ln net.Listener) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Demo-Zone", b.Zone)
		fmt.Fprintf(w, "hello from zone %s (backend %s)\n", b.Zone, b.Addr)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

func (b *Backend) stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close() // closes the listener and every open connection: the zone is gone
	}
}

// Fail stops every backend of zone: connections are refused from now on.
func (bs *Backends) Fail(zone string) error {
	if !slices.Contains(Zones, zone) {
		return fmt.Errorf("demo: no zone %q (zones: a, b, c)", zone)
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.down[zone] {
		return nil
	}
	for _, b := range bs.all {
		if b.Zone == zone {
			b.stop()
		}
	}
	bs.down[zone] = true
	return nil
}

// Heal restarts zone's backends on the ports they had.
func (bs *Backends) Heal(zone string) error {
	if !slices.Contains(Zones, zone) {
		return fmt.Errorf("demo: no zone %q (zones: a, b, c)", zone)
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if !bs.down[zone] {
		return nil
	}
	var errs []error
	for _, b := range bs.all {
		if b.Zone != zone {
			continue
		}
		ln, err := listenRetry(b.Addr.String())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.serve(ln)
	}
	bs.down[zone] = false
	return errors.Join(errs...)
}

// Down lists the failed zones.
func (bs *Backends) Down() []string {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	var out []string
	for _, z := range Zones {
		if bs.down[z] {
			out = append(out, z)
		}
	}
	return out
}

// listenRetry binds addr again; a port just released can take a moment.
func listenRetry(addr string) (net.Listener, error) {
	var err error
	for range 20 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("demo: backend %s: %w", addr, err)
}

// Close stops every backend.
func (bs *Backends) Close() {
	for _, b := range bs.all {
		b.stop()
	}
}

// Control serves the demo's control endpoint on ln until ctx ends:
//
//	POST /zones/{zone}/fail   stop the zone's backends
//	POST /zones/{zone}/heal   start them again
//	GET  /zones               the failed zones
func (bs *Backends) Control(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	act := func(f func(string) error, verb string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			z := r.PathValue("zone")
			if err := f(z); err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			fmt.Fprintf(w, "zone %s %s\n", z, verb)
		}
	}
	mux.HandleFunc("POST /zones/{zone}/fail", act(bs.Fail, "failed: its backends refuse connections"))
	mux.HandleFunc("POST /zones/{zone}/heal", act(bs.Heal, "healed: its backends answer again"))
	mux.HandleFunc("GET /zones", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "failed zones: %v\n", bs.Down())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
