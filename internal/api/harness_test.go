package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// base is a small valid state: two zones, a target group behind a load
// balancer with rules, and a hosted zone with a failover pair.
const base = `
zones:
  - { name: a }
  - { name: b }
health_checks:
  - { name: primary, type: tcp, address: 127.0.0.1, port: 9, initial_state: healthy }
target_groups:
  - name: web
    protocol: http
    port: 8081
    targets:
      - { address: 127.0.0.1, zone: a }
      - { address: 127.0.0.2, zone: b }
  - name: api
    protocol: http
    port: 8082
    targets:
      - { address: 127.0.0.3, zone: a }
load_balancers:
  - name: web
    dns_name: lb.example.test
    nodes:
      - { zone: a, addresses: [192.0.2.10] }
      - { zone: b, addresses: [192.0.2.11] }
    listeners:
      - protocol: http
        port: 80
        rules:
          - priority: 20
            conditions: { path: ["/api/*"] }
            action: { forward: { target_groups: [{ name: api }] } }
          - priority: 10
            conditions: { host: ["admin.example.test"] }
            action: { fixed_response: { status: 403, body: "no" } }
        default_action: { forward: { target_groups: [{ name: web }] } }
hosted_zones:
  - name: example.test
    records:
      - { name: api.example.test, type: A, set_identifier: p, failover: PRIMARY, health_check: primary, ttl: 30s, values: [192.0.2.1] }
      - { name: api.example.test, type: A, set_identifier: s, failover: SECONDARY, ttl: 30s, values: [192.0.2.2] }
`

// env is an API over a real bbolt store, served on a real loopback
// listener, with views built from every committed version as the server
// builds them.
type env struct {
	t     testing.TB
	store store.Store
	pub   *view.Publisher
	srv   *httptest.Server
	now   time.Time
}

func parseState(t testing.TB, yaml string) *model.State {
	t.Helper()
	doc, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &doc.State
}

func newEnv(t testing.TB, initial string, cfg api.Config) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if initial != "" {
		if _, err := st.Commit(context.Background(), store.Batch{State: parseState(t, initial), Source: "file"}); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, store: st, pub: view.NewPublisher(), now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for snap := range st.Watch(ctx, 0) {
			e.pub.Publish(view.Build(snap.Version, snap.State, nil, e.now))
		}
	})
	cfg.Store, cfg.Views = st, e.pub
	cfg.Now = func() time.Time { return e.now }
	e.srv = httptest.NewServer(api.New(cfg))
	t.Cleanup(func() {
		e.srv.Close()
		cancel()
		wg.Wait()
		st.Close()
	})
	return e
}

// waitView waits until the published view has version v.
func (e *env) waitView(v uint64) {
	e.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cur := e.pub.Load(); cur != nil && cur.Version >= v {
			return
		}
	}
	e.t.Fatalf("view version %d was not published", v)
}

type reply struct {
	status int
	etag   string
	body   []byte
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %s is not JSON: %v", r.body, err)
	}
}

func (r reply) apiError(t *testing.T) api.Error {
	t.Helper()
	var e api.Error
	r.decode(t, &e)
	return e
}

// do sends a request; headers are "Name: value" strings.
func (e *env) do(method, path, body string, headers ...string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header.Get("ETag"), b}
}

func (e *env) head() *store.Snapshot {
	e.t.Helper()
	h, err := e.store.Head(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func want(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
}

func httptestRequest(method, path, remote string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = remote
	return r
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
