package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

const shiftState = `zones: [{ name: a }, { name: b }]
target_groups:
  - name: web
    protocol: http
    port: 80
    targets:
      - { address: 10.0.1.1, zone: a }
      - { address: 10.0.2.1, zone: b }
`

// shiftServer is a Server with a real store holding shiftState as version
// 1, not running: the handlers are called directly.
func shiftServer(t *testing.T, token string) (*Server, store.Store) {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := New(Config{ConfigPath: "unused.yaml", DataDir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	doc, err := config.Parse("shift.yaml", []byte(shiftState))
	if err != nil {
		t.Fatal(err)
	}
	zero := uint64(0)
	if _, err := st.Commit(context.Background(), store.Batch{State: &doc.State, IfVersion: &zero, Source: "test"}); err != nil {
		t.Fatal(err)
	}
	s.store = st
	s.settings.Admin.UIToken = token
	return s, st
}

func TestShiftHandlers(t *testing.T) {
	const token = "0123456789abcdef0123"
	s, st := shiftServer(t, token)
	h := s.adminHandler(http.NotFoundHandler())
	do := func(method, url, tok, body string) (int, string) {
		req := httptest.NewRequest(method, url, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	shifts := func() []model.ZonalShift {
		head, err := st.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return head.State.ZonalShifts
	}
	for _, tt := range []struct {
		name, method, url, token, body string
		wantCode                       int
		wantBody                       string
		wantShifts                     []string // "group/zone"
	}{
		{"no token", "POST", "/ui/api/shifts", "", `{"target_group":"web","away_from":"a","expires_in":"1h"}`, 401, "a valid UI token or API write token is required", nil},
		{"wrong token", "POST", "/ui/api/shifts", "0123456789abcdef0124", `{"target_group":"web","away_from":"a","expires_in":"1h"}`, 401, "a valid UI token", nil},
		{"unknown field", "POST", "/ui/api/shifts", token, `{"target":"web"}`, 400, `unknown field \"target\"`, nil},
		{"too short", "POST", "/ui/api/shifts", token, `{"target_group":"web","away_from":"a","expires_in":"10s"}`, 400, "1m–72h", nil},
		{"unknown group", "POST", "/ui/api/shifts", token, `{"target_group":"api","away_from":"a","expires_in":"1h"}`, 422, `zonal_shifts[0].target_group: target group \"api\" is not defined`, nil},
		{"zone without targets", "POST", "/ui/api/shifts", token, `{"target_group":"web","away_from":"c","expires_in":"1h"}`, 422, "zonal_shifts[0].away_from", nil},
		{"start", "POST", "/ui/api/shifts", token, `{"target_group":"web","away_from":"a","expires_in":"1h","comment":"drain a"}`, 200, `"version":2`, []string{"web/a"}},
		{"second shift of a shifted group", "POST", "/ui/api/shifts", token, `{"target_group":"web","away_from":"b","expires_in":"2h"}`, 409, "extend or cancel that shift", []string{"web/a"}},
		{"cancel without resource", "DELETE", "/ui/api/shifts", token, "", 400, "exactly one", []string{"web/a"}},
		{"cancel", "DELETE", "/ui/api/shifts?target_group=web", token, "", 200, `"version":3`, nil},
		{"cancel again", "DELETE", "/ui/api/shifts?target_group=web", token, "", 404, "no zonal shift", nil},
		{"start elsewhere", "POST", "/ui/api/shifts", token, `{"target_group":"web","away_from":"b","expires_in":"2h"}`, 200, `"version":4`, []string{"web/b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(tt.method, tt.url, tt.token, tt.body)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tt.method, tt.url, code, body, tt.wantCode, tt.wantBody)
			}
			var got []string
			for _, z := range shifts() {
				got = append(got, z.TargetGroup+"/"+z.AwayFrom)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantShifts, ",") {
				t.Errorf("shifts after %s = %v, want %v", tt.name, got, tt.wantShifts)
			}
		})
	}
	head, _ := st.Head(context.Background())
	if head.Change.Source != "dashboard" {
		t.Errorf("source of the dashboard's change = %q, want dashboard", head.Change.Source)
	}
	v4, err := st.Get(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC) // the server's now + 2h
	if z := v4.State.ZonalShifts; len(z) != 1 || !z[0].ExpiresAt.Equal(want) {
		t.Errorf("version 4's shifts = %+v, want one expiring at %v", z, want)
	}
	if !strings.Contains(v4.Change.Summary, "zonal_shifts") {
		t.Errorf("version 4's summary = %q, want it to name zonal_shifts", v4.Change.Summary)
	}
}

func TestShiftsReadOnlyWithoutToken(t *testing.T) {
	s, _ := shiftServer(t, "")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/ui/api/shifts", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer anything-at-all-here")
	s.adminHandler(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "read-only") {
		t.Errorf("POST without a configured token = %d %s, want 403 read-only", rec.Code, rec.Body)
	}
	// A write token of the REST API works too; a read token does not.
	s.mu.Lock()
	s.apiTokens = []api.Token{{Name: "ro", Scope: model.ScopeRead, Secret: "read-only-secret-0123"}, {Name: "ops", Scope: model.ScopeWrite, Secret: "api-write-secret-0123"}}
	s.mu.Unlock()
	for tok, want := range map[string]int{"read-only-secret-0123": http.StatusUnauthorized, "api-write-secret-0123": http.StatusBadRequest} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/ui/api/shifts", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		s.adminHandler(http.NotFoundHandler()).ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("POST with token %s = %d %s, want %d", tok, rec.Code, rec.Body, want)
		}
	}
	t.Setenv("SWITCHBOARD_UI_TOKEN", "from-the-environment-0123")
	if got := s.uiToken(); got != "from-the-environment-0123" {
		t.Errorf("uiToken with SWITCHBOARD_UI_TOKEN set = %q, want the environment's", got)
	}
}

const dashState = `zones: [{ name: a }, { name: b }]
health_checks:
  - { name: primary-up, type: tcp, address: 127.0.0.1, port: 9 }
  - { name: secondary-up, type: tcp, address: 127.0.0.1, port: 9 }
target_groups:
  - name: web
    protocol: http
    port: 80
    health_check: { path: / }
    targets:
      - { address: 10.0.1.1, zone: a }
      - { address: 10.0.2.1, zone: b }
hosted_zones:
  - name: example.com
    records:
      - { name: app.example.com, type: A, set_identifier: p, failover: PRIMARY, health_check: primary-up, values: [192.0.2.10] }
      - { name: app.example.com, type: A, set_identifier: s, failover: SECONDARY, health_check: secondary-up, values: [192.0.2.11] }
      - { name: w.example.com, type: A, set_identifier: one, weight: 1, health_check: primary-up, values: [192.0.2.20] }
      - { name: w.example.com, type: A, set_identifier: two, weight: 1, values: [192.0.2.21] }
`

// TestDashboardSaysWhy builds views of one state under changing health and
// checks what the dashboard says each record group answers, and the
// timeline entries between the views.
func TestDashboardSaysWhy(t *testing.T) {
	doc, err := config.Parse("dash.yaml", []byte(dashState))
	if err != nil {
		t.Fatal(err)
	}
	down := state.Status{Observed: true, Reason: "connect refused"}
	up := state.Status{Observed: true, Healthy: true}
	tgt := func(a string) state.Key {
		return state.Key{Check: state.GroupCheck("web"), Target: netip.MustParseAddrPort(a)}
	}
	build := func(version uint64, primary, secondary state.Status) *view.View {
		hs := state.NewSnapshot(version, map[state.Key]state.Status{
			{Check: "primary-up"}: primary, {Check: "secondary-up"}: secondary,
			tgt("10.0.1.1:80"): up, tgt("10.0.2.1:80"): down,
		})
		return view.Build(1, &doc.State, hs, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	}
	why := func(v *view.View, name string) (string, string) {
		g := dashRecordGroup(v.Records[view.RecordKey{Zone: "example.com.", Name: name, Type: "A"}])
		return strings.Join(g.Answering, ","), g.Why
	}
	healthy, primaryDown, bothDown := build(1, up, up), build(2, down, up), build(3, down, down)
	for _, tt := range []struct {
		name                string
		v                   *view.View
		record              string
		wantAnswer, wantWhy string
	}{
		{"failover/primary healthy", healthy, "app.example.com.", "p", "primary healthy"},
		{"failover/primary down", primaryDown, "app.example.com.", "s", "primary unhealthy: health check primary-up: connect refused"},
		{"failover/both down", bothDown, "app.example.com.", "p", "every record unhealthy: failing open, answering as if all were healthy"},
		{"weighted/all healthy", healthy, "w.example.com.", "one,two", "every record healthy; each query chooses among them by weighted routing"},
		{"weighted/one down", primaryDown, "w.example.com.", "two", "1 of 2 records healthy; each query chooses among them by weighted routing"},
	} {
		if answer, why := why(tt.v, tt.record); answer != tt.wantAnswer || why != tt.wantWhy {
			t.Errorf("%s: answering %q because %q, want %q because %q", tt.name, answer, why, tt.wantAnswer, tt.wantWhy)
		}
	}

	// The timeline: the first view names its version; failing over and
	// failing open are reported as they start.
	var texts []string
	for _, ev := range diffViews(nil, healthy, "+zones[a]", time.Now()) {
		texts = append(texts, ev.Kind+": "+ev.Text)
	}
	for _, ev := range diffViews(healthy, primaryDown, "", time.Now()) {
		texts = append(texts, ev.Kind+": "+ev.Text)
	}
	for _, ev := range diffViews(primaryDown, bothDown, "", time.Now()) {
		texts = append(texts, ev.Kind+": "+ev.Text)
	}
	got := strings.Join(texts, "\n")
	for _, want := range []string{
		"config: desired state version 1: +zones[a]",
		"failover: app.example.com. A now answers s (primary unhealthy: health check primary-up: connect refused)",
		"fail-open: app.example.com. A fails open: every record unhealthy",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline lacks %q; it is:\n%s", want, got)
		}
	}

	d := buildDashboard(healthy, s0(t).health)
	if len(d.TargetGroups) != 1 || len(d.TargetGroups[0].Zones) != 2 {
		t.Fatalf("dashboard target groups = %+v, want web in two zones", d.TargetGroups)
	}
	if z := d.TargetGroups[0].Zones[1]; z.Name != "b" || z.Targets[0].Status != "unhealthy" || z.Targets[0].Reason != "connect refused" {
		t.Errorf("zone b of web = %+v, want its target unhealthy: connect refused", z)
	}
}

// s0 is a Server that is not running, for its health engine.
func s0(t *testing.T) *Server {
	s, err := New(Config{ConfigPath: "unused.yaml", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var adminLine = regexp.MustCompile(`msg="admin listener" addr=(\S+)`)

// TestEventStreamAndShutdown runs a server in-process, reads the first
// snapshot of the event stream and the metrics, and stops the server with
// the stream still open: the stream must not hold the drain up.
func TestEventStreamAndShutdown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := New(Config{ConfigPath: cfg, DataDir: filepath.Join(dir, "data"), WatchInterval: -1,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	for v := range srv.Views().Subscribe(ctx) {
		if v.Version == 1 {
			break
		}
	}
	m := adminLine.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no admin address in the log:\n%s", logs)
	}
	admin := "http://" + m[1]

	resp, err := http.Get(admin + "/ui/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type of /ui/events = %q, want text/event-stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var d Dashboard
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatalf("snapshot event: %v", err)
			}
			if d.ViewVersion == 1 {
				break
			}
		}
	}
	if d.ViewVersion != 1 || len(d.Zones) != 1 || d.Zones[0] != "a" || d.ShiftsWritable {
		t.Errorf("first snapshot = view %d zones %v writable %v, want view 1, zones [a], read-only", d.ViewVersion, d.Zones, d.ShiftsWritable)
	}
	for path, want := range map[string]string{
		"/metrics": "switchboard_config_view_version 1",
		"/":        "<title>switchboard</title>",
		"/ui/":     `<script src="app.js" defer></script>`,
		// The snapshot the stream just sent, served from the cache.
		"/ui/api/snapshot": `"view_version":1,`,
	} {
		r, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		r.Body.Close()
		if !strings.Contains(b.String(), want) {
			t.Errorf("GET %s lacks %q", path, want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run with an event stream open = %v, want nil (the stream must end on shutdown)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s with an event stream open")
	}
}
