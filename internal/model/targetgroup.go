package model

import "net/netip"

// TargetGroup is a set of targets that listeners forward to, with how to
// check them, how to choose among them and when to stop trusting health.
type TargetGroup struct {
	// Name identifies the group.
	Name string `yaml:"name" json:"name"`
	// Protocol spoken to the targets: http, https or grpc for HTTP listeners;
	// tcp, tls or udp for L4 listeners.
	Protocol Protocol `yaml:"protocol" json:"protocol"`
	// Port is the targets' default port, 1–65535.
	Port int `yaml:"port" json:"port,omitempty"`
	// Targets are the group's members.
	Targets []Target `yaml:"targets" json:"targets,omitempty"`
	// HealthCheck says how each target is probed, at the target's address.
	// Default: http GET / for HTTP-speaking groups, tcp connect otherwise.
	HealthCheck *Probe `yaml:"health_check" json:"health_check,omitempty"`
	// Algorithm chooses among routable targets. Default round_robin.
	Algorithm Algorithm `yaml:"algorithm" json:"algorithm,omitempty"`
	// HashOn is the key of consistent_hash.
	HashOn *HashKey `yaml:"hash_on" json:"hash_on,omitempty"`
	// CrossZone lets a node send to targets in every zone; when false a node
	// sends only to targets in its own zone. Default true.
	CrossZone *bool `yaml:"cross_zone" json:"cross_zone,omitempty"`
	// DNSFailover removes a zone (cross_zone off) or the whole balancer
	// (cross_zone on) from DNS when healthy targets fall below it.
	// Default: count 1, percent off.
	DNSFailover *Threshold `yaml:"dns_failover" json:"dns_failover,omitempty"`
	// RoutingFailover routes to all targets, healthy or not, when healthy
	// targets fall below it. Default: count 1, percent off. Must not exceed dns_failover.
	RoutingFailover *Threshold `yaml:"routing_failover" json:"routing_failover,omitempty"`
	// DeregistrationDelay is how long a removed target keeps its in-flight
	// requests and connections; 0s–3600s. Default 300s.
	DeregistrationDelay *Duration `yaml:"deregistration_delay" json:"deregistration_delay,omitempty"`
	// SlowStart ramps a new target's share linearly over this time; 0 (off) or 30s–900s.
	SlowStart Duration `yaml:"slow_start" json:"slow_start,omitempty"`
	// Stickiness keeps a client on one target.
	Stickiness *Stickiness `yaml:"stickiness" json:"stickiness,omitempty"`
	// ProxyProtocol sends a PROXY protocol header (v1 or v2) to targets of L4 groups.
	ProxyProtocol ProxyProtocol `yaml:"proxy_protocol" json:"proxy_protocol,omitempty"`
	// OutlierDetection ejects targets that fail live traffic (passive health).
	// Default: on, with the defaults of its fields.
	OutlierDetection *OutlierDetection `yaml:"outlier_detection" json:"outlier_detection,omitempty"`
	// ConnectionTermination closes the connections (and UDP flows) still open
	// to a deregistered target when its deregistration_delay ends, as NLB's
	// "connection termination on deregistration"; when false they stay until
	// the client or target closes them. L4 groups only. Default true.
	ConnectionTermination *bool `yaml:"connection_termination" json:"connection_termination,omitempty"`
	// UnhealthyDraining closes the connections open to a target that turned
	// unhealthy once it has stayed unhealthy this long (0s: at once), as NLB's
	// unhealthy connection termination with a draining interval; 0s–100h.
	// Not while the group fails open. L4 groups only. Default unset: they stay.
	UnhealthyDraining *Duration `yaml:"unhealthy_draining" json:"unhealthy_draining,omitempty"`
	// MaxConnectionsPerTarget caps the connections (and UDP flows) that one
	// L4 proxy node keeps open to each target; a target at its cap gets no
	// new ones and a connection goes to another target or is refused.
	// 0 (default) means no cap; up to 1,000,000.
	MaxConnectionsPerTarget int `yaml:"max_connections_per_target" json:"max_connections_per_target,omitempty"`
}

// OutlierDetection ejects a target after consecutive failures of live
// traffic (connect refused, reset, timeout, 5xx), for a time that grows with
// each ejection. An ejection ends early when the target's active health
// check, having failed during it, passes again.
type OutlierDetection struct {
	// Disabled turns passive detection off for the group.
	Disabled bool `yaml:"disabled" json:"disabled,omitempty"`
	// ConsecutiveFailures of requests (reset, timeout, 5xx) that eject a
	// target, 1–1000. Default 5.
	ConsecutiveFailures int `yaml:"consecutive_failures" json:"consecutive_failures,omitempty"`
	// ConsecutiveConnectFailures (refused or unreachable: the target is not
	// there) that eject a target, 1–1000. Default 1: eject on that very
	// connection, and retry it elsewhere.
	ConsecutiveConnectFailures int `yaml:"consecutive_connect_failures" json:"consecutive_connect_failures,omitempty"`
	// BaseEjection is the first ejection's length; the n-th lasts n times as
	// long, up to max_ejection. Default 30s; 1s–1h. An ejection ends early
	// when the group's active check was failing when it began or failed
	// during it, and has since passed healthy_threshold times in a row.
	BaseEjection Duration `yaml:"base_ejection" json:"base_ejection,omitempty"`
	// MaxEjection caps an ejection's length. Default 5m; at least base_ejection, up to 24h.
	MaxEjection Duration `yaml:"max_ejection" json:"max_ejection,omitempty"`
	// MaxEjectionPercent of the group's targets may be ejected at once
	// (at least one), 0–100. Default 50.
	MaxEjectionPercent *int `yaml:"max_ejection_percent" json:"max_ejection_percent,omitempty"`
}

// Target is one member of a target group.
type Target struct {
	// Address is the target's IP address.
	Address netip.Addr `yaml:"address" json:"address"`
	// Port overrides the group's port, 1–65535.
	Port int `yaml:"port" json:"port,omitempty"`
	// Zone is the name of the zone the target is in.
	Zone string `yaml:"zone" json:"zone"`
	// Weight is the target's share relative to the others, 0–1000 (0: no new
	// traffic). Default 1.
	Weight *int `yaml:"weight" json:"weight,omitempty"`
}

// HashKey is what consistent hashing hashes. Exactly one field is set.
type HashKey struct {
	// Header hashes the value of this request header.
	Header string `yaml:"header" json:"header,omitempty"`
	// Cookie hashes the value of this cookie.
	Cookie string `yaml:"cookie" json:"cookie,omitempty"`
	// SourceIP hashes the client's address.
	SourceIP bool `yaml:"source_ip" json:"source_ip,omitempty"`
}

// Threshold is a minimum of healthy targets, as a count and/or a percentage
// of registered targets; it is breached when either is. 0 turns a part off.
type Threshold struct {
	// Count of healthy targets, 0 (off) or more.
	Count int `yaml:"count" json:"count"`
	// Percent of registered targets that must be healthy, 0 (off) to 100.
	Percent int `yaml:"percent" json:"percent"`
}

// Stickiness keeps a client on the target it first reached.
type Stickiness struct {
	// Type is lb_cookie, app_cookie or source_ip.
	Type StickinessType `yaml:"type" json:"type"`
	// Duration of lb_cookie and app_cookie stickiness, 1s–168h (7 days). Default 24h.
	Duration Duration `yaml:"duration" json:"duration,omitempty"`
	// CookieName is the application's cookie (app_cookie).
	CookieName string `yaml:"cookie_name" json:"cookie_name,omitempty"`
}
