package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// runServer writes conf to a file in a new directory and runs a Server on
// it, the file not watched, logging to log (nil: nowhere), with opts
// applied to its Config. cancel starts the shutdown; wait returns Run's
// error once it ends (any number of times). At the test's end the server
// is stopped and an error from Run fails the test.
func runServer(t *testing.T, conf string, log *slog.Logger, opts ...func(*Config)) (srv *Server, cancel func(), wait func() error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{ConfigPath: path, DataDir: filepath.Join(dir, "data"), WatchInterval: -1, Logger: log}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	wait = sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return srv, cancel, wait
}
