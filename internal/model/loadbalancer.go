package model

import (
	"net/netip"
	"time"
)

// LoadBalancer is a set of nodes, one or more per zone, that run listeners
// and are answered in DNS under one name while healthy.
type LoadBalancer struct {
	// Name identifies the load balancer.
	Name string `yaml:"name" json:"name"`
	// DNSName is answered with the addresses of the nodes whose zones are
	// healthy. Optional; alias records may point at the balancer instead.
	DNSName string `yaml:"dns_name" json:"dns_name,omitempty"`
	// Nodes are the balancer's addresses, per zone.
	Nodes []Node `yaml:"nodes" json:"nodes,omitempty"`
	// Listeners accept traffic.
	Listeners []Listener `yaml:"listeners" json:"listeners,omitempty"`
	// DataPlane chooses what forwards the balancer's tcp, udp and
	// tls_passthrough listeners: the userspace proxy (the default, when
	// absent) or a kernel backend.
	DataPlane *DataPlane `yaml:"data_plane" json:"data_plane,omitempty"`
}

// Node is a load balancer's presence in one zone.
type Node struct {
	// Zone is the name of the zone.
	Zone string `yaml:"zone" json:"zone"`
	// Addresses are the node's IP addresses (or virtual IPs) in that zone.
	Addresses []netip.Addr `yaml:"addresses" json:"addresses"`
}

// Listener accepts connections on a port and applies rules to them.
type Listener struct {
	// Protocol is http, https, tcp, tls (terminate), tls_passthrough or udp.
	Protocol Protocol `yaml:"protocol" json:"protocol"`
	// Port to listen on, 1–65535.
	Port int `yaml:"port" json:"port"`
	// Address to bind, default all addresses.
	Address *netip.Addr `yaml:"address" json:"address,omitempty"`
	// Certificates for https and tls; the first is the default when SNI matches none.
	Certificates []Certificate `yaml:"certificates" json:"certificates,omitempty"`
	// AcceptProxyProtocol reads a PROXY protocol header from an upstream balancer (tcp, tls, tls_passthrough).
	AcceptProxyProtocol bool `yaml:"accept_proxy_protocol" json:"accept_proxy_protocol,omitempty"`
	// IdleTimeout closes idle connections. Default 60s for HTTP, 350s for TCP, 120s for UDP.
	IdleTimeout Duration `yaml:"idle_timeout" json:"idle_timeout,omitempty"`
	// ConnectTimeout bounds opening a connection to a target (HTTP
	// listeners); a target that does not accept in time counts as a connect
	// failure. Default 5s; 100ms–60s.
	ConnectTimeout Duration `yaml:"connect_timeout" json:"connect_timeout,omitempty"`
	// RequestTimeout bounds the wait for a target's response headers after
	// the request was sent (HTTP listeners); past it the client gets 504.
	// Default 60s; 1s–4000s.
	RequestTimeout Duration `yaml:"request_timeout" json:"request_timeout,omitempty"`
	// Rules are evaluated by priority, lowest first; HTTP listeners match on
	// the request, tls_passthrough on the SNI host.
	Rules []Rule `yaml:"rules" json:"rules,omitempty"`
	// DefaultAction applies when no rule matches.
	DefaultAction Action `yaml:"default_action" json:"default_action"`
	// MaxConnections caps the connections a tcp, tls or tls_passthrough
	// listener holds at once on one node; at the cap it stops accepting and
	// new connections wait in the kernel's backlog. 0 (default) means no cap;
	// up to 10,000,000.
	MaxConnections int `yaml:"max_connections" json:"max_connections,omitempty"`
	// MaxFlows caps a udp listener's flow table on one node; a datagram that
	// would start a flow beyond it is dropped and counted. 1–10,000,000.
	// Default 65536.
	MaxFlows int `yaml:"max_flows" json:"max_flows,omitempty"`
}

// Certificate is a PEM certificate chain and its key, read from files and
// reloaded when they change.
type Certificate struct {
	// CertFile is the path of the PEM certificate chain.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	// KeyFile is the path of the PEM private key.
	KeyFile string `yaml:"key_file" json:"key_file"`
}

// Rule is a set of conditions, all of which must match, and an action.
type Rule struct {
	// Priority orders rules within a listener, 1–50000, lowest first; unique per listener.
	Priority int `yaml:"priority" json:"priority"`
	// Conditions that must all match; at least one.
	Conditions Conditions `yaml:"conditions" json:"conditions"`
	// Action to take on a match.
	Action Action `yaml:"action" json:"action"`
}

// Conditions of a rule. Within one condition any value may match.
type Conditions struct {
	// Host matches the Host header (or the SNI name), case-insensitive; '*' and '?' wildcards.
	Host []string `yaml:"host" json:"host,omitempty"`
	// Path matches the URL path, case-sensitive: exact, or with '*' and '?' wildcards ("/api/*").
	Path []string `yaml:"path" json:"path,omitempty"`
	// Headers match request headers by name; values may use wildcards.
	Headers []HeaderMatch `yaml:"headers" json:"headers,omitempty"`
	// Methods match the request method exactly (GET, POST, …).
	Methods []string `yaml:"methods" json:"methods,omitempty"`
	// Query matches query-string parameters.
	Query []QueryMatch `yaml:"query" json:"query,omitempty"`
	// SourceCIDRs match the client's address (never X-Forwarded-For).
	SourceCIDRs []netip.Prefix `yaml:"source_cidrs" json:"source_cidrs,omitempty"`
	// GRPC matches a gRPC service and method.
	GRPC *GRPCMatch `yaml:"grpc" json:"grpc,omitempty"`
}

// HeaderMatch matches one request header.
type HeaderMatch struct {
	// Name of the header, case-insensitive, no wildcards.
	Name string `yaml:"name" json:"name"`
	// Values, any of which may match; '*' and '?' wildcards.
	Values []string `yaml:"values" json:"values"`
}

// QueryMatch matches a query-string parameter.
type QueryMatch struct {
	// Key of the parameter; empty matches any key.
	Key string `yaml:"key" json:"key,omitempty"`
	// Value of the parameter; '*' and '?' wildcards.
	Value string `yaml:"value" json:"value"`
}

// GRPCMatch matches a gRPC call by its path /service/method.
type GRPCMatch struct {
	// Service is the fully qualified service, such as helloworld.Greeter.
	Service string `yaml:"service" json:"service"`
	// Method within the service; empty matches every method.
	Method string `yaml:"method" json:"method,omitempty"`
}

// Action is what a listener does with a request or connection. Exactly one
// field is set; L4 listeners only forward, to one target group.
type Action struct {
	// Forward sends to one target group, or to up to 5 weighted ones.
	Forward *Forward `yaml:"forward" json:"forward,omitempty"`
	// Redirect answers with a redirect (HTTP only).
	Redirect *Redirect `yaml:"redirect" json:"redirect,omitempty"`
	// FixedResponse answers with a fixed response (HTTP only).
	FixedResponse *FixedResponse `yaml:"fixed_response" json:"fixed_response,omitempty"`
}

// Forward sends traffic to target groups.
type Forward struct {
	// TargetGroups are 1–5 target groups with weights.
	TargetGroups []WeightedTargetGroup `yaml:"target_groups" json:"target_groups"`
	// Stickiness keeps a client on the target group it first reached, for this
	// duration, 1s–168h. 0 turns it off.
	Stickiness Duration `yaml:"stickiness" json:"stickiness,omitempty"`
}

// WeightedTargetGroup is a target group with a weight in a forward action.
type WeightedTargetGroup struct {
	// Name of the target group.
	Name string `yaml:"name" json:"name"`
	// Weight of the group, 0–999. Default 1.
	Weight *int `yaml:"weight" json:"weight,omitempty"`
}

// Redirect answers with a redirect built from the request. Host, path and
// query may use #{host}, #{path}, #{query}, #{port} and #{protocol}.
type Redirect struct {
	// Status is 301 or 302. Default 301.
	Status int `yaml:"status" json:"status,omitempty"`
	// Protocol is http, https or #{protocol}. Default #{protocol}.
	Protocol string `yaml:"protocol" json:"protocol,omitempty"`
	// Host, up to 128 chars. Default #{host}.
	Host string `yaml:"host" json:"host,omitempty"`
	// Port, 1–65535 or #{port}. Default #{port}.
	Port string `yaml:"port" json:"port,omitempty"`
	// Path starting with '/', up to 128 chars. Default /#{path}.
	Path string `yaml:"path" json:"path,omitempty"`
	// Query without the leading '?', up to 128 chars. Default #{query}.
	Query *string `yaml:"query" json:"query,omitempty"`
}

// FixedResponse answers without a target.
type FixedResponse struct {
	// Status code, 200–599. Required.
	Status int `yaml:"status" json:"status"`
	// ContentType of the body. Default text/plain.
	ContentType ContentType `yaml:"content_type" json:"content_type,omitempty"`
	// Body, up to 1024 bytes.
	Body string `yaml:"body" json:"body,omitempty"`
}

// ZonalShift moves traffic away from one zone of a load balancer or target
// group until it expires: the zone's nodes leave DNS and its targets get no traffic.
type ZonalShift struct {
	// LoadBalancer is the name of the load balancer to shift (or set target_group).
	LoadBalancer string `yaml:"load_balancer" json:"load_balancer,omitempty"`
	// TargetGroup is the name of the target group to shift.
	TargetGroup string `yaml:"target_group" json:"target_group,omitempty"`
	// AwayFrom is the name of the zone to move traffic away from.
	AwayFrom string `yaml:"away_from" json:"away_from"`
	// ExpiresAt ends the shift, as an RFC 3339 time. Required.
	ExpiresAt time.Time `yaml:"expires_at" json:"expires_at"`
	// Comment says why, for people.
	Comment string `yaml:"comment" json:"comment,omitempty"`
}
