package httpproxy

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

// TestRoute: the exported what-if picks the rule the proxy's table picks,
// by priority, with the proxy's semantics (hosts fold case, a port in Host
// is ignored, query conditions see the raw query, gRPC needs its
// content-type), and hands back that rule's own action.
func TestRoute(t *testing.T) {
	l := &model.Listener{Port: 80, Rules: []model.Rule{
		{Priority: 30, Conditions: model.Conditions{Methods: []string{"POST"}}, Action: model.Action{FixedResponse: &model.FixedResponse{Status: 430}}},
		{Priority: 20, Conditions: model.Conditions{Headers: []model.HeaderMatch{{Name: "X-Canary", Values: []string{"y*"}}}}, Action: model.Action{FixedResponse: &model.FixedResponse{Status: 420}}},
		{Priority: 10, Conditions: model.Conditions{Query: []model.QueryMatch{{Key: "v", Value: "2"}}, SourceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, Action: model.Action{FixedResponse: &model.FixedResponse{Status: 410}}},
		{Priority: 40, Conditions: model.Conditions{GRPC: &model.GRPCMatch{Service: "pkg.Svc"}}, Action: model.Action{FixedResponse: &model.FixedResponse{Status: 440}}},
		{Priority: 5, Conditions: model.Conditions{Host: []string{"*.admin.test"}}, Action: model.Action{FixedResponse: &model.FixedResponse{Status: 405}}},
	}, DefaultAction: model.Action{FixedResponse: &model.FixedResponse{Status: 499}}}
	in, out := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.1")
	req := func(method, host, path, query string, h http.Header) *http.Request {
		if h == nil {
			h = http.Header{}
		}
		return &http.Request{Method: method, Host: host, URL: &url.URL{Path: path, RawQuery: query}, Header: h}
	}
	grpc := http.Header{"Content-Type": {"application/grpc+proto"}}
	for _, tt := range []struct {
		name string
		r    *http.Request
		src  netip.Addr
		want int
	}{
		{"none", req("GET", "www.test", "/", "", nil), in, 0},
		{"method", req("POST", "www.test", "/", "", nil), in, 30},
		{"header-wins-by-priority", req("POST", "www.test", "/", "", http.Header{"X-Canary": {"YES"}}), in, 20},
		{"query-and-source", req("POST", "www.test", "/", "v=2", nil), in, 10},
		{"query-mapped-source", req("POST", "www.test", "/", "v=2", nil), netip.AddrFrom16(in.As16()), 10},
		{"query-wrong-source", req("GET", "www.test", "/", "v=2", nil), out, 0},
		{"query-key-is-case-sensitive", req("GET", "www.test", "/", "V=2", nil), in, 0},
		{"host-folds-case-and-drops-port", req("GET", "WWW.Admin.Test:8080", "/", "", nil), in, 5},
		{"grpc", req("PUT", "www.test", "/pkg.Svc/Get", "", grpc), out, 40},
		{"grpc-without-content-type", req("GET", "www.test", "/pkg.Svc/Get", "", nil), out, 0},
		{"grpc-other", req("GET", "www.test", "/pkg.Other/Get", "", grpc), out, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Route("web", l, tt.r, tt.src)
			wantStatus := 499
			if tt.want != 0 {
				wantStatus = 400 + tt.want
			}
			if got.Priority != tt.want || got.Action == nil || got.Action.FixedResponse == nil || got.Action.FixedResponse.Status != wantStatus {
				t.Errorf("Route = %+v, want rule %d with status %d", got, tt.want, wantStatus)
			}
		})
	}
}
