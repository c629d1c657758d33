package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHealthShowsOnStatus runs serve with a target group whose target is a
// real HTTP server in this test: when the backend starts failing, the
// admin status shows the target failing with the probe's reason, and a new
// view is published for it.
func TestHealthShowsOnStatus(t *testing.T) {
	failing, host, port := flippingBackend(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	writeFile(t, cfg, fmt.Sprintf(`server:
  admin: { listen: "127.0.0.1:0" }
zones:
  - { name: a }
target_groups:
  - name: web
    protocol: http
    port: %s
    health_check: { path: /healthz, interval: 100ms, unhealthy_threshold: 2, healthy_threshold: 2 }
    targets:
      - { address: %s, zone: a }
`, port, host))
	p := start(t, cfg, filepath.Join(dir, "data"))

	type healthStatus struct {
		HealthVersion uint64 `json:"health_version"`
		ViewVersion   uint64 `json:"view_version"`
		Health        struct {
			Healthy int      `json:"healthy"`
			Failing []string `json:"failing"`
		} `json:"health"`
	}
	get := func() healthStatus {
		var s healthStatus
		getJSON(t, p.admin+"/status", &s)
		return s
	}
	poll(t, "the target observed healthy", func() bool { return get().Health.Healthy == 1 })
	failing.Store(true)
	want := "target_groups/web[" + host + ":" + port + "]: status 503, want 200-399"
	poll(t, "the target failing", func() bool {
		s := get()
		return len(s.Health.Failing) == 1 && s.Health.Failing[0] == want
	})
	failing.Store(false)
	poll(t, "the target healthy again", func() bool { return get().Health.Healthy == 1 })
}

// flippingBackend is a real HTTP server on loopback that answers 200 "ok",
// or 503 while the returned flag is set.
func flippingBackend(t *testing.T) (failing *atomic.Bool, host, port string) {
	t.Helper()
	failing = new(atomic.Bool)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(backend.Close)
	host, port, _ = strings.Cut(strings.TrimPrefix(backend.URL, "http://"), ":")
	return failing, host, port
}
