package server

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

func TestNextExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	shift := func(d time.Duration) model.ZonalShift { return model.ZonalShift{ExpiresAt: now.Add(d)} }
	for _, tt := range []struct {
		name   string
		shifts []model.ZonalShift
		want   time.Duration
	}{
		{"none", nil, time.Hour},
		{"soonest wins", []model.ZonalShift{shift(30 * time.Minute), shift(5 * time.Minute)}, 5 * time.Minute},
		{"expired ones are ignored", []model.ZonalShift{shift(-time.Minute), shift(2 * time.Minute)}, 2 * time.Minute},
		{"capped at an hour", []model.ZonalShift{shift(72 * time.Hour)}, time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextExpiry(&model.State{ZonalShifts: tt.shifts}, now); got != tt.want {
				t.Errorf("nextExpiry(%v) = %v, want %v", tt.shifts, got, tt.want)
			}
		})
	}
}

func TestNewRefusesMissingPaths(t *testing.T) {
	if _, err := New(Config{DataDir: "d"}); err == nil {
		t.Error("New without a config path = nil error, want one")
	}
	if _, err := New(Config{ConfigPath: "c"}); err == nil {
		t.Error("New without a data dir = nil error, want one")
	}
}

const testConfig = `server:
  admin: { listen: "127.0.0.1:0" }
  shutdown_timeout: 2s
zones:
  - { name: a }
`

// TestRunReloadAndStop runs a server in-process: the file becomes version 1,
// a changed file sent through Reload becomes version 2, a broken one is
// refused while version 2 keeps being the view, and cancelling drains and
// returns with every goroutine gone.
func TestRunReloadAndStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(testConfig)
	reload := make(chan struct{}, 1)
	srv, err := New(Config{ConfigPath: cfg, DataDir: filepath.Join(dir, "data"), Reload: reload, WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	views := srv.Views().Subscribe(ctx)

	// Views come for every desired version and every health change; read
	// until the version wanted.
	await := func(version uint64) *view.View {
		for v := range views {
			if v.Version == version {
				return v
			}
		}
		t.Fatalf("views closed before version %d", version)
		return nil
	}
	if v := await(1); len(v.State.Zones) != 1 {
		t.Fatalf("first view has %d zones, want 1", len(v.State.Zones))
	}
	write(testConfig + "  - { name: b }\n")
	reload <- struct{}{}
	if v := await(2); len(v.State.Zones) != 2 {
		t.Fatalf("view 2 has %d zones, want 2", len(v.State.Zones))
	}

	write(testConfig + "  - { name: a }\n")
	reload <- struct{}{}
	var cfgErr error
	for cfgErr == nil { // the reload runs on the server's goroutine; poll its outcome
		runtime.Gosched()
		srv.mu.Lock()
		cfgErr = srv.configErr
		srv.mu.Unlock()
	}
	if cfgErr == nil || !strings.Contains(cfgErr.Error(), `duplicate zone name "a"`) {
		t.Errorf("configErr after a bad reload = %v, want the duplicate zone", cfgErr)
	}
	if v := srv.Views().Load(); v.Version != 2 {
		t.Errorf("view after a bad reload = version %d, want 2", v.Version)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}
