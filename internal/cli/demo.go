package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/internal/demo"
	"github.com/switchboard/switchboard/internal/server"
)

const defaultDemoControl = "127.0.0.1:9099"

// demoVerb runs the demo, or with fail-zone/heal-zone tells a running demo
// to stop or restart a zone's backends.
func demoVerb(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "fail-zone" || args[0] == "heal-zone") {
		return demoZone(ctx, args[0], args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "127.0.0.1:9090", "admin listener `address` (dashboard, metrics, API)")
	dnsAddr := fs.String("dns", "127.0.0.1:5353", "DNS server `address`")
	httpPort := fs.Int("http-port", 8080, "the load balancer's HTTP listener `port`")
	tcpPort := fs.Int("tcp-port", 8081, "the load balancer's TCP listener `port`")
	control := fs.String("control", defaultDemoControl, "`address` of the demo's control endpoint (fail-zone, heal-zone)")
	dir := fs.String("dir", "", "`directory` for the configuration and state (default: a temporary one, removed at exit)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: switchboard demo [flags] | switchboard demo fail-zone ZONE | switchboard demo heal-zone ZONE")
		return 2
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		fmt.Fprintln(stderr, "switchboard demo:", err)
		return 2
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "switchboard-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "switchboard demo:", err)
			return 1
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "switchboard demo:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	bs, err := demo.StartBackends()
	if err != nil {
		fmt.Fprintln(stderr, "switchboard demo:", err)
		return 1
	}
	defer bs.Close()
	ctl, err := net.Listen("tcp", *control)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard demo: control endpoint:", err)
		return 1
	}
	go bs.Control(ctx, ctl)

	cfgPath := filepath.Join(*dir, "demo.yaml")
	ports := demo.Ports{Admin: *admin, DNS: *dnsAddr, HTTP: *httpPort, TCP: *tcpPort}
	if err := os.WriteFile(cfgPath, []byte(demo.Config(bs, ports)), 0o644); err != nil {
		fmt.Fprintln(stderr, "switchboard demo:", err)
		return 1
	}
	srv, err := server.New(server.Config{
		ConfigPath: cfgPath,
		DataDir:    filepath.Join(*dir, "data"),
		Logger:     log,
		Version:    versionString(),
	})
	if err != nil {
		fmt.Fprintln(stderr, "switchboard demo:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	// Print the tour once the first view is published, so every command in
	// it works when the user tries it.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for srv.Views().Load() == nil {
		select {
		case err := <-done:
			fmt.Fprintln(stderr, "switchboard demo:")
			fmt.Fprintln(stderr, err)
			return 1
		case <-tick.C:
		}
	}
	io.WriteString(stdout, tour(cfgPath, ports, ctl.Addr().String()))
	if err := <-done; err != nil {
		fmt.Fprintln(stderr, "switchboard demo:", err)
		return 1
	}
	return 0
}

// tour is what the demo prints: what runs and what to try.
func tour(cfgPath string, p demo.Ports, control string) string {
	host, port, _ := net.SplitHostPort(p.DNS)
	dig := fmt.Sprintf("dig @%s -p %s +short", host, port)
	ctlFlag := ""
	if control != defaultDemoControl {
		ctlFlag = " --control " + control
	}
	var b strings.Builder
	fmt.Fprintf(&b, `switchboard demo is running: three zones (a, b, c) of two HTTP backends each on loopback.

  configuration   %s
  dashboard       http://%s/
  metrics         http://%s/metrics
  DNS             %s (UDP and TCP), zone demo.test

Try:
  %s api.demo.test         # failover: zone b (%s) while healthy, else zone c
  %s weighted.demo.test    # weighted 1:2:1 over healthy zones
  %s latency.demo.test     # latency: the closest healthy region
  %s www.demo.test         # the load balancer's healthy nodes
  curl -s http://127.0.0.1:%d/               # HTTP listener: which zone answered
  curl -s http://127.0.0.1:%d/               # TCP listener, same backends

Then break a zone and watch DNS and traffic move (within about 3 seconds):
  switchboard demo fail-zone b%s
  switchboard demo heal-zone b%s

Stop with Ctrl-C.
`, cfgPath, p.Admin, p.Admin, p.DNS, dig, demo.NodeAddr("b"), dig, dig, dig, p.HTTP, p.TCP, ctlFlag, ctlFlag)
	return b.String()
}

// demoZone posts fail or heal for a zone to a running demo.
func demoZone(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	control := fs.String("control", defaultDemoControl, "`address` of the running demo's control endpoint")
	// Accept the zone before or after the flags.
	var zone string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		zone, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if zone == "" && fs.NArg() == 1 {
		zone = fs.Arg(0)
	} else if zone == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "usage: switchboard demo %s ZONE [--control ADDR]\n", verb)
		return 2
	}
	action := strings.TrimSuffix(verb, "-zone")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+*control+"/zones/"+zone+"/"+action, nil)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard demo:", err)
		return 2
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			fmt.Fprintf(stderr, "switchboard demo: no demo running at %s (start one with `switchboard demo`): %v\n", *control, err)
		} else {
			fmt.Fprintln(stderr, "switchboard demo:", err)
		}
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "switchboard demo: %s", body)
		return 1
	}
	stdout.Write(body)
	return 0
}
