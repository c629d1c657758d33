package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/model"
)

// TestResourceLifecycle creates, reads, replaces and deletes a target group
// and a record set, each a new version with an ETag, and lists them.
func TestResourceLifecycle(t *testing.T) {
	e := newEnv(t, base, api.Config{})

	r := e.do("POST", "/api/v1/target_groups", `{"name":"img","protocol":"http","port":9000,"targets":[{"address":"127.0.0.9","zone":"a"}]}`)
	want(t, r, http.StatusOK)
	var res api.Result
	r.decode(t, &res)
	if !res.Committed || res.Version != 2 || r.etag != `"2"` || res.Summary != "+target_groups[img]" {
		t.Fatalf("create = %+v etag %s, want version 2 committed, +target_groups[img]", res, r.etag)
	}
	want(t, e.do("POST", "/api/v1/target_groups", `{"name":"img","protocol":"http","port":9000}`), http.StatusConflict)

	r = e.do("GET", "/api/v1/target_groups/img", "")
	want(t, r, http.StatusOK)
	var tg model.TargetGroup
	r.decode(t, &tg)
	if tg.Port != 9000 || len(tg.Targets) != 1 || tg.Algorithm == "" || r.etag != `"2"` {
		t.Errorf("GET img = %+v etag %s; want port 9000, one target, defaults set, etag 2", tg, r.etag)
	}

	want(t, e.do("PUT", "/api/v1/target_groups/img", `{"protocol":"http","port":9001}`), http.StatusOK)
	if g := e.head().State.TargetGroups[2]; g.Name != "img" || g.Port != 9001 || len(g.Targets) != 0 {
		t.Errorf("after PUT the group is %+v, want img on 9001 without targets", g)
	}
	want(t, e.do("PUT", "/api/v1/target_groups/img", `{"name":"other","protocol":"http","port":9001}`), http.StatusBadRequest)

	r = e.do("GET", "/api/v1/target_groups", "")
	var list []model.TargetGroup
	r.decode(t, &list)
	if len(list) != 3 {
		t.Errorf("list = %d groups, want 3", len(list))
	}

	want(t, e.do("DELETE", "/api/v1/target_groups/img", ""), http.StatusOK)
	want(t, e.do("DELETE", "/api/v1/target_groups/img", ""), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/target_groups/img", ""), http.StatusNotFound)

	// Records under their zone; the zone's name in any spelling.
	want(t, e.do("POST", "/api/v1/hosted_zones/example.test./records", `{"name":"www.example.test","type":"A","values":["192.0.2.7"]}`), http.StatusOK)
	r = e.do("GET", "/api/v1/hosted_zones/EXAMPLE.test/records/www.example.test./a", "")
	want(t, r, http.StatusOK)
	var rs model.RecordSet
	r.decode(t, &rs)
	if rs.TTL.D() == 0 || !slices.Equal(rs.Values, []string{"192.0.2.7"}) {
		t.Errorf("record = %+v, want the default TTL and 192.0.2.7", rs)
	}
	want(t, e.do("PUT", "/api/v1/hosted_zones/example.test/records/api.example.test/A?set_identifier=s", `{"failover":"SECONDARY","values":["192.0.2.3"]}`), http.StatusOK)
	r = e.do("GET", "/api/v1/hosted_zones/example.test/records/api.example.test/A?set_identifier=s", "")
	r.decode(t, &rs)
	if !slices.Equal(rs.Values, []string{"192.0.2.3"}) {
		t.Errorf("secondary after PUT = %v, want 192.0.2.3", rs.Values)
	}
	want(t, e.do("DELETE", "/api/v1/hosted_zones/example.test/records/www.example.test/A", ""), http.StatusOK)
	r = e.do("GET", "/api/v1/hosted_zones/example.test/records", "")
	var recs []model.RecordSet
	r.decode(t, &recs)
	if len(recs) != 2 {
		t.Errorf("records = %d, want 2", len(recs))
	}

	// A hosted zone replaced without "records" keeps them.
	want(t, e.do("PUT", "/api/v1/hosted_zones/example.test", `{"comment":"edited"}`), http.StatusOK)
	if z := e.head().State.HostedZones[0]; z.Comment != "edited" || len(z.Records) != 2 {
		t.Errorf("zone after PUT = comment %q, %d records; want edited, 2", z.Comment, len(z.Records))
	}
}

// TestConflict: a change conditional on a version that is no longer the
// head is refused with 412 and the current version, and writes nothing.
func TestConflict(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	r := e.do("GET", "/api/v1/state", "")
	if r.etag != `"1"` {
		t.Fatalf("ETag of the state = %s, want \"1\"", r.etag)
	}
	want(t, e.do("POST", "/api/v1/zones", `{"name":"c"}`, `If-Match: "1"`), http.StatusOK)

	for _, tt := range []struct{ name, path, header string }{
		{"if-match", "/api/v1/zones", `If-Match: "1"`},
		{"query", "/api/v1/zones?version=1", ""},
		{"weak-tag", "/api/v1/zones", `If-Match: W/"1"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hs []string
			if tt.header != "" {
				hs = append(hs, tt.header)
			}
			r := e.do("POST", tt.path, `{"name":"d"}`, hs...)
			want(t, r, http.StatusPreconditionFailed)
			er := r.apiError(t)
			if er.Code != "version_mismatch" || er.CurrentVersion == nil || *er.CurrentVersion != 2 || r.etag != `"2"` {
				t.Errorf("412 body = %+v etag %s; want version_mismatch, current_version 2", er, r.etag)
			}
		})
	}
	if h := e.head(); h.Version != 2 || len(h.State.Zones) != 3 {
		t.Errorf("head = version %d with %d zones, want 2 with 3", h.Version, len(h.State.Zones))
	}
	want(t, e.do("POST", "/api/v1/zones", `{"name":"d"}`, `If-Match: "2"`), http.StatusOK)
	want(t, e.do("POST", "/api/v1/zones", `{"name":"e"}`, `If-Match: nonsense`), http.StatusBadRequest)
}

// TestValidationErrorShape: an invalid change is refused whole with the
// code, the message and the model path of every problem.
func TestValidationErrorShape(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	r := e.do("PUT", "/api/v1/target_groups/web", `{"protocol":"http","port":70000,"targets":[{"address":"127.0.0.1","zone":"nowhere"}]}`)
	want(t, r, http.StatusUnprocessableEntity)
	er := r.apiError(t)
	if er.Code != "invalid" || er.Path != "target_groups[web].port" || !strings.Contains(er.Message, "70000 is out of range") {
		t.Errorf("error = %+v; want code invalid, path target_groups[web].port, the range in the message", er)
	}
	var paths []string
	for _, fe := range er.Errors {
		paths = append(paths, fe.Path)
	}
	if !slices.Contains(paths, "target_groups[web].targets[0].zone") {
		t.Errorf("errors = %v, want the unknown zone too", paths)
	}
	if h := e.head(); h.Version != 1 {
		t.Errorf("head = %d after a refused change, want 1", h.Version)
	}

	// A body that does not decode names the field.
	r = e.do("POST", "/api/v1/zones", `{"name":"c","bogus":1}`)
	want(t, r, http.StatusBadRequest)
	if er := r.apiError(t); er.Code != "bad_request" {
		t.Errorf("unknown field: %+v, want bad_request", er)
	}
	r = e.do("PATCH", "/api/v1/zones/a", "{}")
	want(t, r, http.StatusMethodNotAllowed)
	if er := r.apiError(t); er.Code != "method_not_allowed" || !strings.Contains(er.Message, "GET, PUT, DELETE") {
		t.Errorf("PATCH a zone: %+v, want method_not_allowed naming GET, PUT, DELETE", er)
	}
	r = e.do("GET", "/api/v1/nothing", "")
	want(t, r, http.StatusNotFound)
	if er := r.apiError(t); er.Code != "not_found" {
		t.Errorf("unknown endpoint: %+v, want not_found", er)
	}
}

// TestAuthScopes: with tokens, requests need one; read tokens read, write
// tokens also write.
func TestAuthScopes(t *testing.T) {
	const read, write = "read-token-0123456789", "write-token-0123456789"
	e := newEnv(t, base, api.Config{Tokens: []api.Token{{Name: "viewer", Scope: model.ScopeRead, Secret: read}, {Name: "ci", Scope: model.ScopeWrite, Secret: write}}})
	for _, tt := range []struct {
		name, method, auth string
		status             int
	}{
		{"none/get", "GET", "", http.StatusUnauthorized},
		{"wrong/get", "GET", "Bearer nope-nope-nope-nope", http.StatusUnauthorized},
		{"basic/get", "GET", "Basic " + read, http.StatusUnauthorized},
		{"read/get", "GET", "Bearer " + read, http.StatusOK},
		{"read/post", "POST", "Bearer " + read, http.StatusForbidden},
		{"write/get", "GET", "Bearer " + write, http.StatusOK},
		{"write/post", "POST", "bearer " + write, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hs []string
			if tt.auth != "" {
				hs = append(hs, "Authorization: "+tt.auth)
			}
			body := ""
			if tt.method == "POST" {
				body = `{"name":"z-` + strings.ReplaceAll(tt.name, "/", "-") + `"}`
			}
			r := e.do(tt.method, "/api/v1/zones", body, hs...)
			want(t, r, tt.status)
		})
	}
	hist, err := e.store.History(t.Context(), 0, 1)
	if err != nil || hist[0].Author != "ci" || hist[0].Source != "api" {
		t.Errorf("the last change = %+v, %v; want source api by ci", hist, err)
	}
}

// TestNoTokensLoopbackOnly: without tokens, a client that is not on
// loopback is refused; a loopback one may write.
func TestNoTokensLoopbackOnly(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	h := api.New(api.Config{Store: e.store, Views: e.pub})
	for _, tt := range []struct {
		remote string
		status int
	}{
		{"192.0.2.1:4000", http.StatusForbidden},
		{"[2001:db8::1]:4000", http.StatusForbidden},
		{"127.0.0.1:4000", http.StatusOK},
		{"[::1]:4000", http.StatusOK},
	} {
		req := httptestRequest("GET", "/api/v1/state", tt.remote)
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("GET from %s = %d, want %d", tt.remote, rec.Code, tt.status)
		}
	}
}

// TestRollback commits the state of an old version as a new version.
func TestRollback(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	want(t, e.do("POST", "/api/v1/zones", `{"name":"c"}`), http.StatusOK)
	want(t, e.do("DELETE", "/api/v1/target_groups/api", ""), http.StatusUnprocessableEntity) // still forwarded to
	want(t, e.do("POST", "/api/v1/zones", `{"name":"d"}`), http.StatusOK)

	r := e.do("POST", "/api/v1/rollback", `{"version":1}`)
	want(t, r, http.StatusOK)
	var res api.Result
	r.decode(t, &res)
	if res.Version != 4 || res.Previous != 3 || !strings.HasPrefix(res.Summary, "rollback to 1: ") {
		t.Errorf("rollback = %+v, want version 4 after 3, summary 'rollback to 1: …'", res)
	}
	v1, _ := e.store.Get(t.Context(), 1)
	if d := model.Diff(v1.State, e.head().State); len(d) != 0 {
		t.Errorf("state after rollback differs from version 1: %s", model.Summary(d))
	}
	r = e.do("GET", "/api/v1/history?limit=2", "")
	var hist []api.Version
	r.decode(t, &hist)
	if len(hist) != 2 || hist[0].Version != 4 || hist[0].Source != "rollback" || hist[1].Version != 3 {
		t.Errorf("history = %+v, want 4 (rollback) then 3", hist)
	}
	r = e.do("GET", "/api/v1/versions/2", "")
	var s2 model.State
	r.decode(t, &s2)
	if len(s2.Zones) != 3 || r.etag != `"2"` {
		t.Errorf("version 2 has %d zones (etag %s), want 3", len(s2.Zones), r.etag)
	}
	want(t, e.do("POST", "/api/v1/rollback", `{"version":99}`), http.StatusNotFound)
}

// TestMassDeleteBudget: a change deleting more than the budget is refused
// unless the request allows it.
func TestMassDeleteBudget(t *testing.T) {
	e := newEnv(t, base, api.Config{MaxDeletes: 2})
	// Add four records, then try to drop the zone's records at once.
	for _, n := range []string{"a", "b", "c", "d"} {
		want(t, e.do("POST", "/api/v1/hosted_zones/example.test/records", `{"name":"`+n+`.example.test","type":"A","values":["192.0.2.9"]}`), http.StatusOK)
	}
	r := e.do("PUT", "/api/v1/hosted_zones/example.test", `{"records":[]}`)
	want(t, r, http.StatusUnprocessableEntity)
	er := r.apiError(t)
	if er.Code != "mass_delete" || len(er.Changes) != 6 || !strings.Contains(er.Message, "budget of 2") {
		t.Errorf("refusal = %+v; want mass_delete listing 6 deletions and the budget", er)
	}
	// A dry run reports without committing.
	r = e.do("PUT", "/api/v1/hosted_zones/example.test?allow_mass_delete=true&dry_run=true", `{"records":[]}`)
	want(t, r, http.StatusOK)
	var res api.Result
	r.decode(t, &res)
	if res.Committed || len(res.Changes) != 6 || e.head().Version != 5 {
		t.Errorf("dry run = %+v at head %d; want 6 changes, nothing committed", res, e.head().Version)
	}
	want(t, e.do("PUT", "/api/v1/hosted_zones/example.test?allow_mass_delete=true", `{"records":[]}`), http.StatusOK)
	if n := len(e.head().State.HostedZones[0].Records); n != 0 {
		t.Errorf("records after an allowed mass delete = %d, want 0", n)
	}
}

// TestTargets registers and deregisters targets.
func TestTargets(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	want(t, e.do("POST", "/api/v1/target_groups/web/targets", `{"targets":[{"address":"127.0.0.5","zone":"b"},{"address":"127.0.0.1","zone":"a","weight":5}]}`), http.StatusOK)
	tg := e.head().State.TargetGroups[0]
	if len(tg.Targets) != 3 || tg.Targets[0].Weight == nil || *tg.Targets[0].Weight != 5 {
		t.Fatalf("targets = %+v; want 3, 127.0.0.1 re-registered with weight 5", tg.Targets)
	}
	want(t, e.do("POST", "/api/v1/target_groups/web/targets/deregister", `{"targets":[{"address":"127.0.0.2","port":8081}]}`), http.StatusOK)
	if tg := e.head().State.TargetGroups[0]; len(tg.Targets) != 2 || slices.ContainsFunc(tg.Targets, func(t model.Target) bool { return t.Address.String() == "127.0.0.2" }) {
		t.Errorf("targets after deregistering 127.0.0.2 = %+v", tg.Targets)
	}
	want(t, e.do("POST", "/api/v1/target_groups/web/targets/deregister", `{"targets":[{"address":"127.0.0.2"}]}`), http.StatusNotFound)
	want(t, e.do("POST", "/api/v1/target_groups/nope/targets", `{"targets":[{"address":"127.0.0.2","zone":"a"}]}`), http.StatusNotFound)
	r := e.do("POST", "/api/v1/target_groups/web/targets", `{"targets":[{"address":"127.0.0.8","zone":"mars"}]}`)
	want(t, r, http.StatusUnprocessableEntity)
	if er := r.apiError(t); er.Path != "target_groups[web].targets[2].zone" {
		t.Errorf("path = %q, want target_groups[web].targets[2].zone", er.Path)
	}
}

// TestListenersAndRules edits one rule and one listener of a balancer.
func TestListenersAndRules(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	r := e.do("GET", "/api/v1/load_balancers/web/listeners/80/rules/20", "")
	want(t, r, http.StatusOK)
	var rule model.Rule
	r.decode(t, &rule)
	if !slices.Equal(rule.Conditions.Path, []string{"/api/*"}) {
		t.Fatalf("rule 20 = %+v, want path /api/*", rule)
	}
	want(t, e.do("PUT", "/api/v1/load_balancers/web/listeners/80/rules/5", `{"conditions":{"methods":["DELETE"]},"action":{"fixed_response":{"status":405}}}`), http.StatusOK)
	want(t, e.do("DELETE", "/api/v1/load_balancers/web/listeners/80/rules/10", ""), http.StatusOK)
	want(t, e.do("DELETE", "/api/v1/load_balancers/web/listeners/80/rules/10", ""), http.StatusNotFound)
	l := e.head().State.LoadBalancers[0].Listeners[0]
	if len(l.Rules) != 2 || l.Rules[1].Priority != 5 {
		t.Errorf("rules = %+v, want 20 and the new 5", l.Rules)
	}
	// A listener replaced without rules keeps them; a new port is added.
	want(t, e.do("PUT", "/api/v1/load_balancers/web/listeners/80", `{"protocol":"http","idle_timeout":"30s","default_action":{"forward":{"target_groups":[{"name":"web"}]}}}`), http.StatusOK)
	want(t, e.do("PUT", "/api/v1/load_balancers/web/listeners/81", `{"protocol":"http","default_action":{"forward":{"target_groups":[{"name":"api"}]}}}`), http.StatusOK)
	ls := e.head().State.LoadBalancers[0].Listeners
	if len(ls) != 2 || len(ls[0].Rules) != 2 || ls[0].IdleTimeout.D() != 30*time.Second || ls[1].Port != 81 {
		t.Errorf("listeners = %+v, want 80 with its 2 rules and 30s idle, and 81", ls)
	}
	r = e.do("PUT", "/api/v1/load_balancers/web/listeners/82", `{"protocol":"http","default_action":{"forward":{"target_groups":[{"name":"nope"}]}}}`)
	want(t, r, http.StatusUnprocessableEntity)
	if er := r.apiError(t); er.Path != "load_balancers[web].listeners[2].default_action.forward.target_groups[nope].name" {
		t.Errorf("path = %q", er.Path)
	}
	want(t, e.do("DELETE", "/api/v1/load_balancers/web/listeners/81", ""), http.StatusOK)
	want(t, e.do("GET", "/api/v1/load_balancers/web/listeners/81", ""), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/load_balancers/nope/listeners/80", ""), http.StatusNotFound)
}

// TestConcurrentWriters: writers racing with the same If-Match: exactly one
// wins, the others get 412, and no change is lost or doubled.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	const n = 8
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes <- e.do("POST", "/api/v1/zones", fmt.Sprintf(`{"name":"z%d"}`, i), `If-Match: "1"`).status
		})
	}
	wg.Wait()
	close(codes)
	won, lost := 0, 0
	for c := range codes {
		switch c {
		case http.StatusOK:
			won++
		case http.StatusPreconditionFailed:
			lost++
		default:
			t.Errorf("status %d, want 200 or 412", c)
		}
	}
	if won != 1 || lost != n-1 {
		t.Errorf("%d won and %d lost, want 1 and %d", won, lost, n-1)
	}
	if h := e.head(); h.Version != 2 || len(h.State.Zones) != 3 {
		t.Errorf("head = version %d with %d zones, want 2 with 3", h.Version, len(h.State.Zones))
	}
}

// TestConcurrentUnconditionalWriters: writers without If-Match that race
// are applied one after the other; no change is lost.
func TestConcurrentUnconditionalWriters(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	const n = 4
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if r := e.do("POST", "/api/v1/zones", fmt.Sprintf(`{"name":"z%d"}`, i)); r.status != http.StatusOK {
				t.Errorf("POST z%d = %d %s", i, r.status, r.body)
			}
		})
	}
	wg.Wait()
	if h := e.head(); h.Version != 1+n || len(h.State.Zones) != 2+n {
		t.Errorf("head = version %d with %d zones, want %d with %d", h.Version, len(h.State.Zones), 1+n, 2+n)
	}
}
