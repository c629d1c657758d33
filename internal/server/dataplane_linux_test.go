//go:build linux

package server

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil/netns"
)

// helperEnv, when set, makes TestServeProgramsNft the server itself: it
// serves the configuration file named there until SIGTERM. The test runs
// this binary so under `ip netns exec`, so that the server programs the
// namespace's nftables and nothing of the host's.
const helperEnv = "SWITCHBOARD_TEST_SERVE_CONFIG"

const nftConfig = `server:
  admin: { listen: "127.0.0.1:0" }
  shutdown_timeout: 1s
zones:
  - { name: a }
target_groups:
  - name: web
    protocol: tcp
    port: 8080
    targets: [{ address: 10.99.0.5, zone: a }, { address: 10.99.0.6, zone: a }]
load_balancers:
  - name: edge
    nodes: [{ zone: a, addresses: [10.99.0.100] }]
    listeners:
      - protocol: tcp
        port: 80
        default_action: { forward: { target_groups: [{ name: web }] } }
    data_plane: { backend: nft, mode: nat }
`

// TestServeProgramsNft runs serve in a namespace of its own with a
// balancer on nft: the rules appear with the file's VIP, and after SIGTERM
// our table is gone.
func TestServeProgramsNft(t *testing.T) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		serveHelper(t, cfg, -1)
		return
	}
	ns := netns.New(t, "serve")
	netns.RequireCommand(t, "nft")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte(nftConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, out := startServeInNS(t, ns, "TestServeProgramsNft", helperEnv, cfg)
	var rules string
	for deadline := time.Now().Add(15 * time.Second); ; {
		rules, _ = ns.Try("nft", "list", "chain", "ip", "switchboard", "prerouting")
		if strings.Contains(rules, "ip daddr 10.99.0.100 tcp dport 80 dnat") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not program nftables within 15s; chain:\n%s\nserve's output:\n%s", rules, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, out.String())
	}
	if tables := ns.Exec(t, "nft", "list", "tables"); strings.Contains(tables, "switchboard") {
		t.Errorf("after serve stopped the namespace still has our table:\n%s", tables)
	}
}

// serveHelper serves the configuration file cfg, re-read every watch (-1:
// never), until SIGTERM, logging to stderr.
func serveHelper(t *testing.T, cfg string, watch time.Duration) {
	srv, err := New(Config{ConfigPath: cfg, DataDir: filepath.Join(filepath.Dir(cfg), "data"), WatchInterval: watch,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// startServeInNS runs this test binary's test named test under `ip netns
// exec` in ns with env set to the configuration file cfg, so that it calls
// serveHelper there; its output goes to out. It is killed at the test's end
// if still running.
func startServeInNS(t *testing.T, ns *netns.NS, test, env, cfg string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, os.Args[0], "-test.run", "^"+test+"$")
	cmd.Env = append(os.Environ(), env+"="+cfg)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, out
}
