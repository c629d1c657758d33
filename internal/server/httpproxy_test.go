package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestHTTPProxyServesAndDrains runs a server whose config has an http
// listener: requests reach the target through it, and on shutdown a request
// in flight finishes while the listener stops taking new ones.
func TestHTTPProxyServesAndDrains(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "hello")
	}))
	defer backend.Close()
	bport := backend.Listener.Addr().(*net.TCPAddr).Port
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	conf := proxyConf(port, "5s", "1s", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(bport)))
	_, cancel, wait := runServer(t, conf, nil)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cli := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := cli.Get(url + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == "hello" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer through the listener: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := cli.Get(url + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-started
	cancel()
	// The listener closes: new connections are refused while the slow one runs.
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if got := <-slow; got != "200 hello" {
		t.Errorf("in-flight request during shutdown = %q, want 200 hello", got)
	}
	if err := wait(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestHTTPProxyPassiveEjection: when a target stops accepting, the first
// refused connection ejects it through the health engine: the request is
// retried on the other target, and the next view no longer routes to it.
func TestHTTPProxyPassiveEjection(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	newTarget := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	}
	a, b := newTarget("a"), newTarget("b")
	defer a.Close()
	defer b.Close()
	ap, bp := a.Listener.Addr().(*net.TCPAddr).Port, b.Listener.Addr().(*net.TCPAddr).Port
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	conf := proxyConf(port, "2s", "60s", netip.AddrPortFrom(lo, uint16(ap)), netip.AddrPortFrom(lo, uint16(bp)))
	srv, cancel, wait := runServer(t, conf, nil)
	defer func() { cancel(); wait() }() // before the leak check's deferred call
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cli := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() (int, string) {
		resp, err := cli.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for seen := map[string]bool{}; !seen["a"] || !seen["b"]; {
		if _, body := get(); body == "a" || body == "b" {
			seen[body] = true
		}
		if time.Now().After(deadline) {
			t.Fatal("both targets never answered through the listener")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.Listener.Close()
	a.CloseClientConnections()
	for i := range 10 {
		if status, body := get(); status != 200 || body != "b" {
			t.Errorf("GET #%d after target a stopped = %d %q, want 200 from b", i, status, body)
		}
	}
	// Active checks run every 60 s: only the passive signal can take a out.
	for {
		v := srv.Views().Load()
		rs, _ := v.TargetGroups["web"].RoutableFrom("a")
		if len(rs) == 1 && int(rs[0].Addr.Port()) == bp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target a still routable after refused connections: %v", rs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeregisteredTargetSeriesEnd: a target's per-target series appear
// when the proxy uses it, and end when a reload deregisters it, so that a
// fleet whose targets come and go does not grow /metrics without bound.
func TestDeregisteredTargetSeriesEnd(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer backend.Close()
	bport := backend.Listener.Addr().(*net.TCPAddr).Port
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	target := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(bport))
	reload := make(chan struct{}, 1)
	srv, _, _ := runServer(t, proxyConf(port, "2s", "1s", target), nil, func(c *Config) { c.Reload = reload })
	has := func() bool {
		mfs, err := srv.obs.metrics.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "switchboard_target_requests_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "target" && l.GetValue() == target.String() {
						return true
					}
				}
			}
		}
		return false
	}
	// Serve until the proxy answers through the target.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy did not answer 200 within 10 s (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !has() {
		t.Fatalf("no switchboard_target_requests_total series for %s after a request through it", target)
	}
	other := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(bport))
	if err := os.WriteFile(srv.cfg.ConfigPath, []byte(proxyConf(port, "2s", "1s", other)), 0o644); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	for deadline := time.Now().Add(10 * time.Second); has(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s's series still exported 10 s after a reload deregistered it", target)
		}
	}
}

// proxyConf is a configuration with one http listener on 127.0.0.1:port
// forwarding to group web, whose targets (zone a) are probed every
// interval, and the given shutdown timeout.
func proxyConf(port int, shutdown, interval string, targets ...netip.AddrPort) string {
	var ts strings.Builder
	for _, t := range targets {
		fmt.Fprintf(&ts, "      - { address: %s, port: %d, zone: a }\n", t.Addr(), t.Port())
	}
	return fmt.Sprintf(`server:
  admin: { listen: "127.0.0.1:0" }
  shutdown_timeout: %s
  zone: a
zones: [{ name: a }]
target_groups:
  - name: web
    protocol: http
    port: 80
    health_check: { path: /, interval: %s }
    targets:
%sload_balancers:
  - name: lb
    nodes: [{ zone: a, addresses: [127.0.0.1] }]
    listeners:
      - protocol: http
        address: 127.0.0.1
        port: %d
        default_action: { forward: { target_groups: [{ name: web }] } }
`, shutdown, interval, ts.String(), port)
}
