// Command sbdns serves a switchboard YAML file's hosted zones with
// switchboard's authoritative DNS server (internal/dnsserver), for the
// benchmark in bench/dns. It runs no health probes: every health check is
// healthy but those listed in the -down file, as if the health engine had
// published that snapshot. It stops on SIGINT or SIGTERM.
//
//	sbdns -config switchboard.yaml -listen 127.0.0.1:5301 [-down down.txt] [-cpuprofile cpu.pprof]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/view"
)

func main() {
	cfgPath := flag.String("config", "", "switchboard YAML file whose hosted zones to serve (required)")
	listen := flag.String("listen", "127.0.0.1:5301", "host:port to serve on, UDP and TCP; loopback only")
	down := flag.String("down", "", "file of health check names, one a line, to mark unhealthy")
	sockets := flag.Int("udp-sockets", 0, "UDP sockets (SO_REUSEPORT); 0 for the server's default, one per usable CPU")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if err := run(*cfgPath, *listen, *down, *sockets, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dns/sbdns:", err)
		os.Exit(1)
	}
}

func run(cfgPath, listen, downPath string, sockets int, profile string) error {
	if cfgPath == "" {
		return errors.New("-config is required")
	}
	ap, err := netip.ParseAddrPort(listen)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("-listen %q: want a loopback host:port", listen)
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	doc, err := config.Parse(cfgPath, data)
	if err != nil {
		return err
	}
	health, err := readDown(downPath)
	if err != nil {
		return err
	}
	pub := view.NewPublisher()
	pub.Publish(view.Build(1, &doc.State, health, time.Now()))
	srv, err := dnsserver.New(dnsserver.Config{Listen: []string{listen}, Views: pub, UDPSockets: sockets})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = srv.Run(ctx)
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "sbdns: %d queries, %d dropped, %d FORMERR, %d truncated, %d panics\n",
		st.Queries, st.Dropped, st.FormErrs, st.Truncated, st.Panics)
	return err
}

// readDown returns a snapshot with the checks listed in path unhealthy, or
// nil (everything healthy) for no path.
func readDown(path string) (*state.Snapshot, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[state.Key]state.Status{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name := strings.TrimSpace(sc.Text()); name != "" {
			m[state.Key{Check: name}] = state.Status{Observed: true, Reason: "marked down by the benchmark"}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return state.NewSnapshot(1, m), nil
}
