// Command health measures the health engine against the goals:
// 10,000 HTTP checks at a 1 s interval in under half a core and 200 MiB,
// spread evenly over the interval; a target that stops answering marked
// unhealthy within interval × unhealthy_threshold + timeout; a passive
// connect failure ejecting its target on that very report.
//
// It is one binary with three roles, each a process of its own so that
// each one's CPU can be told apart (run.sh pins them to different cores):
//
//	health -backend -ready FILE        loopback HTTP targets on 127.0.0.1..127.0.0.N
//	health -ctl ADDR [-keepalive]      the engine with N named http checks
//	health -ctl ADDR -peer haproxy     haproxy with N servers, for comparison
//
// Only loopback addresses are ever used.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

// config is what the flags say.
type config struct {
	backend   bool
	addrs     int
	ready     string
	ctl       string
	peer      string
	n         int
	interval  time.Duration
	keepAlive bool
	warmup    time.Duration
	window    time.Duration
	limit     time.Duration
	profile   string
	heap      string
	ramp      time.Duration
}

func main() {
	var cfg config
	flag.BoolVar(&cfg.backend, "backend", false, "serve the loopback targets instead of checking them")
	flag.IntVar(&cfg.addrs, "addrs", 10, "backend: number of listeners, on 127.0.0.1 to 127.0.0.N, 1–250")
	flag.StringVar(&cfg.ready, "ready", "", "backend: file to write the control address to once listening")
	flag.StringVar(&cfg.ctl, "ctl", "", "checker: the backend's control address (from its -ready file)")
	flag.StringVar(&cfg.peer, "peer", "", `checker: "" for switchboard's engine, "haproxy" for the peer`)
	flag.IntVar(&cfg.n, "n", 10000, "checker: number of http checks")
	flag.DurationVar(&cfg.interval, "interval", time.Second, "checker: probe interval")
	flag.BoolVar(&cfg.keepAlive, "keepalive", false, "checker: keep_alive on every check (default: a new connection per probe, as ELB)")
	flag.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "checker: time before the measurement window")
	flag.DurationVar(&cfg.window, "window", 20*time.Second, "checker: length of the measurement window")
	flag.DurationVar(&cfg.limit, "limit", 75*time.Second, "checker: the run's hard time limit")
	flag.StringVar(&cfg.profile, "cpuprofile", "", "checker: write a CPU profile of the measurement window to this file")
	flag.StringVar(&cfg.heap, "memprofile", "", "checker: write a heap profile at the end of the window to this file")
	flag.DurationVar(&cfg.ramp, "ramp", 0, "checker: add the checks in 10 steps over this time (Apply during Run) instead of all at once; at most the warm-up")
	flag.Parse()

	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench/health:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.backend {
		if cfg.addrs < 1 || cfg.addrs > 250 {
			return fmt.Errorf("-addrs %d is out of range 1–250", cfg.addrs)
		}
		return serveBackend(cfg.addrs, cfg.ready)
	}
	if cfg.ctl == "" {
		return errors.New("-ctl is required (or -backend)")
	}
	if cfg.n < 1 {
		return fmt.Errorf("-n %d: want at least one check", cfg.n)
	}
	if cfg.ramp < 0 || cfg.ramp > cfg.warmup {
		return fmt.Errorf("-ramp %s: want 0 to the warm-up, %s", cfg.ramp, cfg.warmup)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.limit)
	defer cancel()
	switch cfg.peer {
	case "":
		return runEngine(ctx, cfg)
	case "haproxy":
		return runHAProxy(ctx, cfg)
	default:
		return fmt.Errorf("-peer %q: want \"\" or \"haproxy\"", cfg.peer)
	}
}
