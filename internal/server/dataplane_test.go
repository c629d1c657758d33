package server

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ipvsConfig is a balancer asking for the ipvs backend, which this build
// cannot run (and most test hosts have no IPVS), with the given fallback.
func ipvsConfig(fallback string) string {
	return `server:
  admin: { listen: "127.0.0.1:0" }
  shutdown_timeout: 1s
zones:
  - { name: a }
target_groups:
  - name: db
    protocol: tcp
    port: 5432
    targets: [{ address: 10.0.0.1, zone: a }]
load_balancers:
  - name: edge
    nodes: [{ zone: a, addresses: [192.0.2.10] }]
    listeners:
      - protocol: tcp
        port: 5432
        default_action: { forward: { target_groups: [{ name: db }] } }
    data_plane: { backend: ipvs, fallback: ` + fallback + ` }
`
}

func runWith(t *testing.T, config string, logs *bytes.Buffer) (stop func() error, done <-chan error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{ConfigPath: path, DataDir: filepath.Join(dir, "data"), WatchInterval: -1,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	return func() error { cancel(); return <-errc }, errc
}

func TestServeRefusesAKernelBackendThatCannotRun(t *testing.T) {
	var logs bytes.Buffer
	stop, done := runWith(t, ipvsConfig("refuse"), &logs)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "load balancer edge: data_plane backend ipvs cannot run here") ||
			!strings.Contains(err.Error(), "data_plane.fallback: userspace") {
			t.Errorf("Run = %v, want a refusal naming the balancer, the reason and the fallback", err)
		}
	case <-time.After(10 * time.Second):
		stop()
		t.Fatal("Run did not refuse to start")
	}
}

func TestServeFallsBackToUserspaceSayingWhy(t *testing.T) {
	var logs bytes.Buffer
	stop, done := runWith(t, ipvsConfig("userspace"), &logs)
	select {
	case err := <-done:
		t.Fatalf("Run = %v, want it to keep serving", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v after stop", err)
	}
	out := logs.String()
	if !strings.Contains(out, "data plane fallback") || !strings.Contains(out, "load_balancer=edge") || !strings.Contains(out, "cannot run here") {
		t.Errorf("logs do not say why edge fell back to userspace:\n%s", out)
	}
}
