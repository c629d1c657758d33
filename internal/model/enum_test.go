// enum_test.go tests that every enum accepts its canonical values in any
// case, stores the canonical spelling, and refuses anything else with a
// ValueError that lists the allowed values.

package model

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// textEnum is a pointer to an enum type T.
type textEnum[T ~string] interface {
	*T
	UnmarshalText([]byte) error
}

// testEnum checks values (the canonical list), what (the noun of its error)
// and the unmarshalling of the enum T.
func testEnum[T ~string, P textEnum[T]](t *testing.T, what string, values []string, got []string) {
	t.Helper()
	if diff := cmp.Diff(values, got); diff != "" {
		t.Errorf("%T.Values() mismatch (-want +got):\n%s", T(""), diff)
	}
	for _, v := range values {
		for _, in := range []string{v, strings.ToUpper(v), strings.ToLower(v), mixCase(v)} {
			var x T
			if err := P(&x).UnmarshalText([]byte(in)); err != nil || string(x) != v {
				t.Errorf("%T.UnmarshalText(%q) = %v, stored %q, want nil, %q", x, in, err, x, v)
			}
		}
	}
	allowed := "one of " + strings.Join(values, ", ")
	for _, in := range []string{"", "nope", values[0] + " ", " " + values[0], values[0] + "x"} {
		x := T("unchanged")
		err := P(&x).UnmarshalText([]byte(in))
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Errorf("%T.UnmarshalText(%q) = %v (%T), want *ValueError", x, in, err, err)
			continue
		}
		want := ValueError{Msg: `"` + in + `" is not a ` + what, Allowed: allowed}
		if diff := cmp.Diff(want, *ve); diff != "" {
			t.Errorf("%T.UnmarshalText(%q) error mismatch (-want +got):\n%s", x, in, diff)
		}
		if x != "unchanged" {
			t.Errorf("%T.UnmarshalText(%q) stored %q, want the value unchanged", x, in, x)
		}
	}
}

// mixCase alternates upper and lower case: "http" → "HtTp".
func mixCase(s string) string {
	b := []byte(s)
	for i := range b {
		if i%2 == 0 {
			b[i] = strings.ToUpper(string(b[i]))[0]
		} else {
			b[i] = strings.ToLower(string(b[i]))[0]
		}
	}
	return string(b)
}

func TestEnums(t *testing.T) {
	t.Run("CheckType", func(t *testing.T) {
		testEnum[CheckType](t, "health check type",
			[]string{"http", "https", "tcp", "grpc", "calculated", "metric"}, CheckType("").Values())
	})
	t.Run("HealthState", func(t *testing.T) {
		testEnum[HealthState](t, "health state", []string{"healthy", "unhealthy"}, HealthState("").Values())
	})
	t.Run("RecordType", func(t *testing.T) {
		testEnum[RecordType](t, "record type",
			[]string{"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"},
			RecordType("").Values())
		var rt RecordType
		if err := rt.UnmarshalText([]byte("SOA")); err == nil {
			t.Errorf("RecordType.UnmarshalText(%q) = nil, want an error: the soa block defines it", "SOA")
		}
	})
	t.Run("FailoverRole", func(t *testing.T) {
		testEnum[FailoverRole](t, "failover role", []string{"PRIMARY", "SECONDARY"}, FailoverRole("").Values())
	})
	t.Run("Protocol", func(t *testing.T) {
		testEnum[Protocol](t, "protocol",
			[]string{"http", "https", "grpc", "tcp", "tls", "tls_passthrough", "udp"}, Protocol("").Values())
	})
	t.Run("Algorithm", func(t *testing.T) {
		testEnum[Algorithm](t, "load balancing algorithm",
			[]string{"round_robin", "least_outstanding_requests", "weighted_random", "consistent_hash"}, Algorithm("").Values())
	})
	t.Run("StickinessType", func(t *testing.T) {
		testEnum[StickinessType](t, "stickiness type", []string{"lb_cookie", "app_cookie", "source_ip"}, StickinessType("").Values())
	})
	t.Run("ProxyProtocol", func(t *testing.T) {
		testEnum[ProxyProtocol](t, "PROXY protocol version", []string{"v1", "v2"}, ProxyProtocol("").Values())
	})
	t.Run("ContentType", func(t *testing.T) {
		testEnum[ContentType](t, "content type",
			[]string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}, ContentType("").Values())
	})
}

// TestEnumConstants checks that every named constant is one of its type's values.
func TestEnumConstants(t *testing.T) {
	for _, tt := range []struct {
		v      string
		values []string
	}{
		{string(CheckHTTP), CheckType("").Values()}, {string(CheckHTTPS), CheckType("").Values()},
		{string(CheckTCP), CheckType("").Values()}, {string(CheckGRPC), CheckType("").Values()},
		{string(CheckCalculated), CheckType("").Values()}, {string(CheckMetric), CheckType("").Values()},
		{string(Healthy), HealthState("").Values()}, {string(Unhealthy), HealthState("").Values()},
		{string(Primary), FailoverRole("").Values()}, {string(Secondary), FailoverRole("").Values()},
		{string(ProtoHTTP), Protocol("").Values()}, {string(ProtoHTTPS), Protocol("").Values()},
		{string(ProtoGRPC), Protocol("").Values()}, {string(ProtoTCP), Protocol("").Values()},
		{string(ProtoTLS), Protocol("").Values()}, {string(ProtoTLSPassthrough), Protocol("").Values()},
		{string(ProtoUDP), Protocol("").Values()},
		{string(RoundRobin), Algorithm("").Values()}, {string(LeastOutstandingRequests), Algorithm("").Values()},
		{string(WeightedRandom), Algorithm("").Values()}, {string(ConsistentHash), Algorithm("").Values()},
		{string(StickyLBCookie), StickinessType("").Values()}, {string(StickyAppCookie), StickinessType("").Values()},
		{string(StickySourceIP), StickinessType("").Values()},
		{string(ProxyV1), ProxyProtocol("").Values()}, {string(ProxyV2), ProxyProtocol("").Values()},
	} {
		found := false
		for _, v := range tt.values {
			found = found || v == tt.v
		}
		if !found {
			t.Errorf("constant %q is not in Values() = %v", tt.v, tt.values)
		}
	}
}

func TestProtocolIsL7(t *testing.T) {
	for _, tt := range []struct {
		p    Protocol
		want bool
	}{
		{ProtoHTTP, true}, {ProtoHTTPS, true}, {ProtoGRPC, true},
		{ProtoTCP, false}, {ProtoTLS, false}, {ProtoTLSPassthrough, false}, {ProtoUDP, false}, {"", false},
	} {
		if got := tt.p.IsL7(); got != tt.want {
			t.Errorf("Protocol(%q).IsL7() = %t, want %t", tt.p, got, tt.want)
		}
	}
}
