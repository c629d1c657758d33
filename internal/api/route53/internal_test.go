package route53

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard/switchboard/internal/model"
)

func TestNames(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`\052.example.com.`, "*.example.com."},
		{`a\055b.example.com`, "a-b.example.com"},
		{`\09`, `\09`}, // not three octal digits: kept
		{`x\`, `x\`},
		{"plain.", "plain."},
	} {
		if got := unescapeName(tt.in); got != tt.want {
			t.Errorf("unescapeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := escapeName("*.a.example."); got != `\052.a.example.` {
		t.Errorf("escapeName(*.a.example.) = %q", got)
	}
	for _, tt := range []struct{ in, want string }{
		{"/hostedzone/Z1", "Z1"}, {"hostedzone/Z1", "Z1"}, {"Z1", "Z1"}, {"/change/C1", "C1"}, {"/healthcheck/abc", "abc"},
	} {
		if got := bareID(tt.in); got != tt.want {
			t.Errorf("bareID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if a, b := ZoneID("Example.COM"), ZoneID("example.com."); a != b || len(a) != 21 || !strings.HasPrefix(a, "Z") {
		t.Errorf("ZoneID(Example.COM) = %q, ZoneID(example.com.) = %q; want one id of 21 chars", a, b)
	}
	if ZoneID("a.example") == ZoneID("b.example") {
		t.Error("two zones share an id")
	}
	if v, ok := parseChangeID("/change/" + changeID(42)); !ok || v != 42 {
		t.Errorf("parseChangeID(changeID(42)) = %d, %v", v, ok)
	}
	for _, bad := range []string{"", "C", "X12", "C-1", "C0"} {
		if _, ok := parseChangeID(bad); ok {
			t.Errorf("parseChangeID(%q) = ok, want refused", bad)
		}
	}
}

func TestListingOrder(t *testing.T) {
	keys := []recordKey{
		{"www.example.com.", "A", ""},
		{"example.com.", "SOA", ""},
		{"a.www.example.com.", "A", ""},
		{"example.com.", "NS", ""},
		{"*.example.com.", "A", ""},
		{"b.example.com.", "TXT", ""},
		{"b.example.com.", "A", "z"},
		{"b.example.com.", "A", "a"},
		{"www2.example.com.", "A", ""},
	}
	slices.SortFunc(keys, compareKeys)
	var got []string
	for _, k := range keys {
		got = append(got, k.name+" "+k.typ+" "+k.id)
	}
	want := []string{
		"example.com. NS ", "example.com. SOA ",
		"*.example.com. A ",
		"b.example.com. A a", "b.example.com. A z", "b.example.com. TXT ",
		"www.example.com. A ", "a.www.example.com. A ",
		"www2.example.com. A ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Route 53 listing order (-want +got):\n%s", diff)
	}
}

// Each Route 53 check type converts to the model and back unchanged.
func TestCheckRoundTrip(t *testing.T) {
	ip := func(n int) *int { return &n }
	bp := func(b bool) *bool { return &b }
	for _, in := range []xmlHealthCheckConfig{
		{Type: "HTTP", IPAddress: "192.0.2.1", Port: ip(8080), ResourcePath: "/h", RequestInterval: ip(10), FailureThreshold: ip(2)},
		{Type: "HTTPS", FullyQualifiedDomainName: "www.example.com", Port: ip(443), ResourcePath: "/", RequestInterval: ip(30), FailureThreshold: ip(3), EnableSNI: bp(true)},
		{Type: "HTTP_STR_MATCH", IPAddress: "192.0.2.1", FullyQualifiedDomainName: "www.example.com", Port: ip(80), ResourcePath: "/", SearchString: "ok", RequestInterval: ip(30), FailureThreshold: ip(3), Inverted: bp(true)},
		{Type: "HTTPS_STR_MATCH", IPAddress: "2001:db8::1", Port: ip(8443), ResourcePath: "/x?y=1", SearchString: "ok", RequestInterval: ip(30), FailureThreshold: ip(10), EnableSNI: bp(false)},
		{Type: "TCP", IPAddress: "192.0.2.1", Port: ip(22), RequestInterval: ip(10), FailureThreshold: ip(1), Disabled: bp(true)},
		{Type: "CALCULATED", HealthThreshold: ip(2), ChildHealthChecks: &xmlChildren{Items: []string{"a", "b"}}},
	} {
		t.Run(in.Type, func(t *testing.T) {
			hc, err := toCheck(&in)
			if err != nil {
				t.Fatalf("toCheck: %v", err)
			}
			hc.Name = "c"
			d := withDefaults(hc)
			out := fromCheck(&d)
			if in.Inverted == nil {
				in.Inverted = bp(false)
			}
			if in.Disabled == nil {
				in.Disabled = bp(false)
			}
			if strings.HasPrefix(in.Type, "HTTP") && in.EnableSNI == nil {
				in.EnableSNI = bp(false)
			}
			if diff := cmp.Diff(in, out); diff != "" {
				t.Errorf("fromCheck(toCheck(%s)) (-in +out):\n%s", in.Type, diff)
			}
			s := model.State{HealthChecks: []model.HealthCheck{d}}
			if in.Type != "CALCULATED" {
				if err := s.Validate(); err != nil {
					t.Errorf("the converted check does not validate: %v", err)
				}
			}
		})
	}
	for _, bad := range []xmlHealthCheckConfig{
		{Type: "CLOUDWATCH_METRIC"},
		{Type: "PING"},
		{Type: "HTTP"},
		{Type: "TCP", IPAddress: "192.0.2.1"},
		{Type: "HTTP_STR_MATCH", IPAddress: "192.0.2.1"},
		{Type: "HTTP", IPAddress: "192.0.2.1", SearchString: "x"},
	} {
		if _, err := toCheck(&bad); err == nil {
			t.Errorf("toCheck(%+v) = nil error, want InvalidInput", bad)
		}
	}
}
