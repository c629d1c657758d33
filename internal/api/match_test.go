package api

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"/api/*", "/api/v1", true},
		{"/api/*", "/ap", false},
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "example.com", false},
		{"w?w", "www", true},
		{"*a*b*c", "xxaxxbxxc", true},
		{"*a*b*c", "xxaxxcxxb", false},
		{"", "", true},
		{"*", "", true},
	} {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	l := &model.Listener{Rules: []model.Rule{
		{Priority: 30, Conditions: model.Conditions{Methods: []string{"POST"}}},
		{Priority: 20, Conditions: model.Conditions{Headers: []model.HeaderMatch{{Name: "X-Canary", Values: []string{"y*"}}}}},
		{Priority: 10, Conditions: model.Conditions{Query: []model.QueryMatch{{Key: "v", Value: "2"}}, SourceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}},
		{Priority: 40, Conditions: model.Conditions{GRPC: &model.GRPCMatch{Service: "pkg.Svc"}}},
	}}
	src := netip.MustParseAddr("10.1.2.3")
	for _, tt := range []struct {
		name string
		req  Request
		want int
	}{
		{"none", Request{Method: "GET", Path: "/"}, 0},
		{"method", Request{Method: "POST", Path: "/"}, 30},
		{"header-wins-by-priority", Request{Method: "POST", Header: http.Header{"X-Canary": {"YES"}}}, 20},
		{"query-and-source", Request{Method: "POST", Query: url.Values{"v": {"2"}}, Source: src}, 10},
		{"query-wrong-source", Request{Method: "GET", Query: url.Values{"v": {"2"}}, Source: netip.MustParseAddr("192.0.2.1")}, 0},
		{"grpc", Request{Method: "GET", Path: "/pkg.Svc/Get"}, 40},
		{"grpc-other", Request{Method: "GET", Path: "/pkg.Other/Get"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := 0
			if r := Match(l, tt.req); r != nil {
				got = r.Priority
			}
			if got != tt.want {
				t.Errorf("Match(%+v) = rule %d, want %d", tt.req, got, tt.want)
			}
		})
	}
}

func FuzzGlob(f *testing.F) {
	f.Add("*a*?b", "xaxyb")
	f.Fuzz(func(t *testing.T, p, s string) {
		if glob(p, s) && p == "" && s != "" {
			t.Errorf("empty pattern matched %q", s)
		}
		if !glob(p, p) && !containsMeta(p) {
			t.Errorf("pattern %q does not match itself", p)
		}
	})
}

func containsMeta(s string) bool {
	for i := range len(s) {
		if s[i] == '*' || s[i] == '?' {
			return true
		}
	}
	return false
}
