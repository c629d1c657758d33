package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/health"
)

// TestHealthFromEngine runs the real health engine against a real TCP
// listener: the API shows the check's status and each checker's latest
// observation, and the failure once the listener closes.
func TestHealthFromEngine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var lnOnce sync.Once
	closeLn := func() { lnOnce.Do(func() { ln.Close() }) }
	defer closeLn()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cfgYAML := fmt.Sprintf(`
health_checks:
  - { name: backend, type: tcp, address: 127.0.0.1, port: %d, interval: 100ms, timeout: 50ms, healthy_threshold: 1, unhealthy_threshold: 1 }
`, port)
	eng := health.NewEngine(health.EngineConfig{})
	if err := eng.Apply(parseState(t, cfgYAML)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	e := newEnv(t, cfgYAML, api.Config{Health: eng})

	status := func() api.Status {
		r := e.do("GET", "/api/v1/health/checks/backend", "")
		var s api.Status
		if r.status == http.StatusOK {
			r.decode(t, &s)
		}
		return s
	}
	waitFor := func(what string, ok func(api.Status) bool) api.Status {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if s := status(); ok(s) {
				return s
			}
		}
		t.Fatalf("%s: last status %+v", what, status())
		return api.Status{}
	}
	s := waitFor("healthy with a checker's observation", func(s api.Status) bool { return s.Status == "healthy" && len(s.Checkers) > 0 })
	if s.Checkers[0].Checker != "local" || !s.Checkers[0].Healthy {
		t.Errorf("checkers = %+v, want the local checker healthy", s.Checkers)
	}
	closeLn()
	s = waitFor("unhealthy after the listener closed", func(s api.Status) bool { return s.Status == "unhealthy" })
	if s.Reason == "" || len(s.Checkers) == 0 || s.Checkers[0].Healthy {
		t.Errorf("status = %+v, want a reason and the checker unhealthy", s)
	}
	var all []api.Status
	e.do("GET", "/api/v1/health", "").decode(t, &all)
	if len(all) != 1 || all[0].Check != "backend" || all[0].Status != "unhealthy" {
		t.Errorf("GET /health = %+v, want backend unhealthy", all)
	}
}
