package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/api"
)

// TestZonalShifts starts, refuses a second, extends and cancels a shift,
// and the live view follows.
func TestZonalShifts(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	want(t, e.do("POST", "/api/v1/zonal_shifts", `{"load_balancer":"web","away_from":"a","expires_in":"30s"}`), http.StatusBadRequest)
	want(t, e.do("POST", "/api/v1/zonal_shifts", `{"load_balancer":"web","away_from":"a","expires_in":"73h"}`), http.StatusBadRequest)
	want(t, e.do("POST", "/api/v1/zonal_shifts", `{"load_balancer":"web","target_group":"web","away_from":"a","expires_in":"1h"}`), http.StatusBadRequest)
	r := e.do("POST", "/api/v1/zonal_shifts", `{"load_balancer":"web","away_from":"a","expires_in":"1h","comment":"bad deploy"}`)
	want(t, r, http.StatusOK)
	var res api.Result
	r.decode(t, &res)
	e.waitView(res.Version)
	if got := e.pub.Load().LoadBalancers["web"].DNSAddresses; len(got) != 1 || got[0].String() != "192.0.2.11" {
		t.Errorf("DNS addresses during the shift = %v, want zone b's 192.0.2.11 alone", got)
	}
	want(t, e.do("POST", "/api/v1/zonal_shifts", `{"load_balancer":"web","away_from":"b","expires_in":"1h"}`), http.StatusConflict)

	// Extending beyond ARC's bounds is refused by the model, naming the field.
	r = e.do("PATCH", "/api/v1/zonal_shifts/load_balancer/web", `{"expires_in":"73h"}`)
	want(t, r, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "expires_in") {
		t.Errorf("extend by 73h: body %s, want it to name expires_in", r.body)
	}
	want(t, e.do("PATCH", "/api/v1/zonal_shifts/load_balancer/web", `{"expires_in":"72h"}`), http.StatusOK)
	r = e.do("GET", "/api/v1/zonal_shifts", "")
	var shifts []api.Shift
	r.decode(t, &shifts)
	if len(shifts) != 1 || !shifts[0].Active || !shifts[0].ExpiresAt.Equal(e.now.Add(72*time.Hour)) || shifts[0].Comment != "bad deploy" {
		t.Errorf("shifts = %+v, want one active until now+72h", shifts)
	}
	want(t, e.do("PATCH", "/api/v1/zonal_shifts/target_group/web", `{"expires_in":"1h"}`), http.StatusNotFound)
	want(t, e.do("PATCH", "/api/v1/zonal_shifts/pizza/web", `{"expires_in":"1h"}`), http.StatusBadRequest)
	want(t, e.do("DELETE", "/api/v1/zonal_shifts/load_balancer/web", ""), http.StatusOK)
	if n := len(e.head().State.ZonalShifts); n != 0 {
		t.Errorf("shifts after cancel = %d, want 0", n)
	}
	// A shift that names a zone the balancer is not in fails validation.
	r = e.do("POST", "/api/v1/zonal_shifts", `{"target_group":"api","away_from":"b","expires_in":"1h"}`)
	want(t, r, http.StatusUnprocessableEntity)
	if er := r.apiError(t); er.Path != "zonal_shifts[0].away_from" {
		t.Errorf("path = %q, want zonal_shifts[0].away_from", er.Path)
	}
}

// TestAnswer asks the live view what DNS answers, and what an HTTP request
// reaches.
func TestWhatIf(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	e.waitView(1)
	r := e.do("GET", "/api/v1/answer?name=api.example.test&type=A&client=198.51.100.1", "")
	want(t, r, http.StatusOK)
	var a api.DNSAnswer
	r.decode(t, &a)
	if a.Rcode != "NOERROR" || len(a.Answer) != 1 || a.Answer[0].Value != "192.0.2.1" || a.Answer[0].TTL != 30 || a.Client != "198.51.100.1/32" {
		t.Errorf("answer = %+v, want the primary 192.0.2.1 TTL 30", a)
	}
	r = e.do("GET", "/api/v1/answer?name=nope.example.test", "")
	r.decode(t, &a)
	if a.Rcode != "NXDOMAIN" || len(a.Authority) != 1 || a.Authority[0].Type != "SOA" {
		t.Errorf("answer for a missing name = %+v, want NXDOMAIN with the SOA", a)
	}
	want(t, e.do("GET", "/api/v1/answer?name=x&type=BOGUS", ""), http.StatusBadRequest)
	want(t, e.do("GET", "/api/v1/answer?name=x&client=nope", ""), http.StatusBadRequest)

	for _, tt := range []struct {
		name   string
		query  url.Values
		rule   int
		action string
		group  string
	}{
		{"default", url.Values{"host": {"www.example.test"}, "path": {"/"}}, 0, "forward", "web"},
		{"path-rule", url.Values{"host": {"www.example.test"}, "path": {"/api/v1/x"}}, 20, "forward", "api"},
		{"host-rule-first-by-priority", url.Values{"host": {"Admin.Example.Test:80"}, "path": {"/api/v1/x"}}, 10, "fixed_response", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.query
			q.Set("load_balancer", "web")
			q.Set("port", "80")
			r := e.do("GET", "/api/v1/route?"+q.Encode(), "")
			want(t, r, http.StatusOK)
			var ra api.RouteAnswer
			r.decode(t, &ra)
			if ra.Rule != tt.rule || ra.Action != tt.action {
				t.Fatalf("route = %+v, want rule %d action %s", ra, tt.rule, tt.action)
			}
			if tt.group != "" && (len(ra.TargetGroups) != 1 || ra.TargetGroups[0].Name != tt.group || len(ra.TargetGroups[0].Targets) == 0) {
				t.Errorf("route groups = %+v, want %s with targets", ra.TargetGroups, tt.group)
			}
		})
	}
	want(t, e.do("GET", "/api/v1/route?load_balancer=web&port=81", ""), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/route?load_balancer=nope", ""), http.StatusNotFound)
}

// TestHealthViews reads a group's routing per zone and the zone summary
// from the live view.
func TestHealthViews(t *testing.T) {
	e := newEnv(t, base, api.Config{})
	e.waitView(1)
	r := e.do("GET", "/api/v1/health/target_groups/web", "")
	want(t, r, http.StatusOK)
	var g api.GroupHealth
	r.decode(t, &g)
	if g.Registered != 2 || len(g.Zones) != 2 || g.Zones[0].Zone != "a" || len(g.Targets) != 2 || !slices.Contains(g.Zones[0].Routable, "127.0.0.1:8081") {
		t.Errorf("group health = %+v; want 2 targets in zones a and b, a routing to 127.0.0.1:8081", g)
	}
	want(t, e.do("GET", "/api/v1/health/target_groups/nope", ""), http.StatusNotFound)
	r = e.do("GET", "/api/v1/health/zones", "")
	var zs []api.ZoneSummary
	r.decode(t, &zs)
	if len(zs) != 2 || zs[0].Zone != "a" || zs[0].Registered != 2 || zs[0].Nodes != 1 || zs[0].NodesInDNS != 1 {
		t.Errorf("zones = %+v; want a with 2 targets and its node in DNS", zs)
	}
	want(t, e.do("GET", "/api/v1/health", ""), http.StatusOK)
	want(t, e.do("GET", "/api/v1/health/checks/primary", ""), http.StatusNotFound) // no engine, no results yet
}
