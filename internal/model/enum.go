package model

import (
	"slices"
	"strconv"
	"strings"
)

// unmarshalEnum sets *dst to the value in b when it is one of values.
// Enum values are matched case-insensitively and stored in their canonical
// spelling, so "HTTP" and "http" are the same check type.
func unmarshalEnum[T ~string](dst *T, b []byte, what string, values []string) error {
	s := string(b)
	for _, v := range values {
		if strings.EqualFold(s, v) {
			*dst = T(v)
			return nil
		}
	}
	return &ValueError{Msg: strconv.Quote(s) + " is not a " + what, Allowed: "one of " + strings.Join(values, ", ")}
}

// enumOK reports whether v is one of values (the empty value counts as unset, so it is allowed).
func enumOK[T ~string](v T, values []string) bool {
	return v == "" || slices.Contains(values, string(v))
}

// CheckType is the kind of probe a health check runs.
type CheckType string

// Health check types.
const (
	CheckHTTP       CheckType = "http"       // HTTP request; optional search_string makes it Route 53's HTTP_STR_MATCH
	CheckHTTPS      CheckType = "https"      // HTTP over TLS; certificate not verified unless verify_tls
	CheckTCP        CheckType = "tcp"        // TCP connect
	CheckGRPC       CheckType = "grpc"       // grpc.health.v1 Check
	CheckCalculated CheckType = "calculated" // healthy when at least health_threshold children are healthy
	CheckMetric     CheckType = "metric"     // an expression over metrics
)

// Values lists the health check types.
func (CheckType) Values() []string {
	return []string{"http", "https", "tcp", "grpc", "calculated", "metric"}
}

// UnmarshalText accepts one of Values, in any case.
func (t *CheckType) UnmarshalText(b []byte) error {
	return unmarshalEnum(t, b, "health check type", t.Values())
}

// HealthState is healthy or unhealthy.
type HealthState string

// Health states.
const (
	Healthy   HealthState = "healthy"
	Unhealthy HealthState = "unhealthy"
)

// Values lists the health states.
func (HealthState) Values() []string { return []string{"healthy", "unhealthy"} }

// UnmarshalText accepts one of Values, in any case.
func (s *HealthState) UnmarshalText(b []byte) error {
	return unmarshalEnum(s, b, "health state", s.Values())
}

// RecordType is a DNS resource record type that a record set may hold.
type RecordType string

// Values lists the record types a record set may hold. SOA is not one: the
// hosted zone's soa block defines it.
func (RecordType) Values() []string {
	return []string{"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"}
}

// UnmarshalText accepts one of Values, in any case.
func (t *RecordType) UnmarshalText(b []byte) error {
	return unmarshalEnum(t, b, "record type", t.Values())
}

// FailoverRole is a failover record's role.
type FailoverRole string

// Failover roles.
const (
	Primary   FailoverRole = "PRIMARY"
	Secondary FailoverRole = "SECONDARY"
)

// Values lists the failover roles.
func (FailoverRole) Values() []string { return []string{"PRIMARY", "SECONDARY"} }

// UnmarshalText accepts one of Values, in any case.
func (r *FailoverRole) UnmarshalText(b []byte) error {
	return unmarshalEnum(r, b, "failover role", r.Values())
}

// Protocol is what a listener accepts or a target group speaks.
type Protocol string

// Protocols.
const (
	ProtoHTTP           Protocol = "http"
	ProtoHTTPS          Protocol = "https"
	ProtoGRPC           Protocol = "grpc" // target groups only: HTTP/2 (h2c) to the targets
	ProtoTCP            Protocol = "tcp"
	ProtoTLS            Protocol = "tls" // listener: terminate TLS and forward TCP; target group: TLS to targets
	ProtoTLSPassthrough Protocol = "tls_passthrough"
	ProtoUDP            Protocol = "udp"
)

// Values lists the protocols.
func (Protocol) Values() []string {
	return []string{"http", "https", "grpc", "tcp", "tls", "tls_passthrough", "udp"}
}

// UnmarshalText accepts one of Values, in any case.
func (p *Protocol) UnmarshalText(b []byte) error { return unmarshalEnum(p, b, "protocol", p.Values()) }

// IsL7 reports whether p is served by the HTTP proxy.
func (p Protocol) IsL7() bool { return p == ProtoHTTP || p == ProtoHTTPS || p == ProtoGRPC }

// Algorithm chooses a target within a target group.
type Algorithm string

// Algorithms.
const (
	RoundRobin               Algorithm = "round_robin"
	LeastOutstandingRequests Algorithm = "least_outstanding_requests"
	WeightedRandom           Algorithm = "weighted_random"
	ConsistentHash           Algorithm = "consistent_hash" // Maglev, keyed by hash_on
)

// Values lists the algorithms.
func (Algorithm) Values() []string {
	return []string{"round_robin", "least_outstanding_requests", "weighted_random", "consistent_hash"}
}

// UnmarshalText accepts one of Values, in any case.
func (a *Algorithm) UnmarshalText(b []byte) error {
	return unmarshalEnum(a, b, "load balancing algorithm", a.Values())
}

// StickinessType is how a target group keeps a client on one target.
type StickinessType string

// Stickiness types.
const (
	StickyLBCookie  StickinessType = "lb_cookie"  // a cookie the balancer issues, for duration
	StickyAppCookie StickinessType = "app_cookie" // follows a cookie the application sets (cookie_name)
	StickySourceIP  StickinessType = "source_ip"  // L4: by client address
)

// Values lists the stickiness types.
func (StickinessType) Values() []string { return []string{"lb_cookie", "app_cookie", "source_ip"} }

// UnmarshalText accepts one of Values, in any case.
func (s *StickinessType) UnmarshalText(b []byte) error {
	return unmarshalEnum(s, b, "stickiness type", s.Values())
}

// ProxyProtocol is the PROXY protocol version sent to targets.
type ProxyProtocol string

// PROXY protocol versions.
const (
	ProxyV1 ProxyProtocol = "v1"
	ProxyV2 ProxyProtocol = "v2"
)

// Values lists the PROXY protocol versions.
func (ProxyProtocol) Values() []string { return []string{"v1", "v2"} }

// UnmarshalText accepts one of Values, in any case.
func (p *ProxyProtocol) UnmarshalText(b []byte) error {
	return unmarshalEnum(p, b, "PROXY protocol version", p.Values())
}

// ContentType is the content type of a fixed response.
type ContentType string

// Values lists the content types a fixed response may have (as ALB).
func (ContentType) Values() []string {
	return []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
}

// UnmarshalText accepts one of Values, in any case.
func (c *ContentType) UnmarshalText(b []byte) error {
	return unmarshalEnum(c, b, "content type", c.Values())
}

// InsufficientData is a metric check's state while it has no data.
type InsufficientData string

// Insufficient-data states.
const (
	InsufficientHealthy   InsufficientData = "healthy"
	InsufficientUnhealthy InsufficientData = "unhealthy"
	InsufficientLastKnown InsufficientData = "last_known"
)

// Values lists the insufficient-data states.
func (InsufficientData) Values() []string { return []string{"healthy", "unhealthy", "last_known"} }

// UnmarshalText accepts one of Values, in any case.
func (d *InsufficientData) UnmarshalText(b []byte) error {
	return unmarshalEnum(d, b, "insufficient-data state", d.Values())
}
