// Package model is switchboard's desired state: the resource types operators
// declare (zones, health checks, hosted zones and record sets, target groups,
// load balancers, zonal shifts) and the rules that make them valid. It is
// plain data: no I/O, no goroutines, no clocks.
package model

import "net/netip"

// Document is one configuration file: the settings of this process (Server)
// and the desired state it declares (State, inline at the top level).
type Document struct {
	// Server holds settings of this process that are not shared desired state.
	Server Server `yaml:"server" json:"server"`
	State  `yaml:",inline"`
}

// Server holds the settings of one switchboard process.
type Server struct {
	// Admin is the admin HTTP listener: health, readiness, status, later the API.
	Admin Admin `yaml:"admin" json:"admin"`
	// ShutdownTimeout bounds a graceful drain on SIGTERM. Default 30s; 0s–1h.
	ShutdownTimeout Duration `yaml:"shutdown_timeout" json:"shutdown_timeout"`
	// Zone is the zone this node runs in, one of the zones defined in the
	// state. Target groups with cross_zone off send only to targets of this
	// zone. Optional: a node without a zone routes to every zone.
	Zone string `yaml:"zone" json:"zone,omitempty"`
	// DNS is the authoritative DNS server; off unless it has listen addresses.
	DNS DNSServer `yaml:"dns" json:"dns"`
	// Route53 is the Route 53-compatible API on the admin listener (under
	// /2013-04-01/); off unless it has access keys.
	Route53 Route53API `yaml:"route53" json:"route53"`
}

// Route53API configures the Route 53-compatible API: the access keys whose
// AWS Signature Version 4 it accepts, and the region they sign for.
type Route53API struct {
	// AccessKeys are the keys requests may be signed with. Empty: the API
	// refuses every request.
	AccessKeys []Route53AccessKey `yaml:"access_keys" json:"access_keys,omitempty"`
	// Region is the signing region clients use. Default us-east-1 (as the
	// global Route 53 endpoint); 1–63 lowercase letters, digits and '-'.
	Region string `yaml:"region" json:"region,omitempty"`
}

// Route53AccessKey is one AWS-style access key: an id and its secret,
// given in the file or read from an environment variable at start.
type Route53AccessKey struct {
	// ID is the access key id, such as AKIAIOSFODNN7EXAMPLE: 16–128 letters
	// and digits, unique.
	ID string `yaml:"id" json:"id"`
	// Secret is the secret access key. Exactly one of secret and secret_env.
	Secret string `yaml:"secret" json:"secret,omitempty"`
	// SecretEnv names the environment variable that holds the secret.
	SecretEnv string `yaml:"secret_env" json:"secret_env,omitempty"`
}

// DNSServer configures the authoritative DNS server of this process.
type DNSServer struct {
	// Listen are host:port addresses served on both UDP and TCP, such as
	// 127.0.0.1:5353. Empty: no DNS server.
	Listen []string `yaml:"listen" json:"listen,omitempty"`
	// GeoIPDatabase is the path of a MaxMind-format (.mmdb) city or country
	// database, for geolocation and geoproximity routing. Optional.
	GeoIPDatabase string `yaml:"geoip_database" json:"geoip_database,omitempty"`
	// LoadBalancerTTL is the TTL of load balancer names and of aliases to
	// them. Default 60s (as ELB).
	LoadBalancerTTL Duration `yaml:"load_balancer_ttl" json:"load_balancer_ttl,omitempty"`
	// Secondaries are secondary name servers that copy our zones by zone
	// transfer (AXFR, IXFR over TCP) and are sent NOTIFY on every new serial.
	// Transfers to anyone else are refused. Optional.
	Secondaries []DNSSecondary `yaml:"secondaries" json:"secondaries,omitempty"`
	// RRL is response rate limiting over UDP, against reflection attacks.
	// Off unless responses_per_second is set.
	RRL RRL `yaml:"rrl" json:"rrl"`
}

// DNSSecondary is a secondary name server of our zones: who may transfer
// them, with which key, and where NOTIFY goes. A secondary receives the
// static content of a zone, not the per-query routing answers (the DNS
// server's package documentation says what goes out for each policy).
type DNSSecondary struct {
	// Address is the IP address and port of the secondary, such as
	// 192.0.2.53:53: NOTIFY messages go there on every new serial. Optional
	// when allow is set; without it the secondary gets no NOTIFY and finds
	// changes by polling at the SOA refresh interval.
	Address string `yaml:"address" json:"address,omitempty"`
	// Allow are the networks that may transfer as this secondary, such as
	// 192.0.2.0/28. Default: the address's host alone (/32 or /128).
	Allow []netip.Prefix `yaml:"allow" json:"allow,omitempty"`
	// Zones are the hosted zones this secondary may transfer and is notified
	// of, by name. Default: every hosted zone.
	Zones []string `yaml:"zones" json:"zones,omitempty"`
	// TSIG is the key (RFC 8945) that transfer requests from this secondary
	// must be signed with; transfers and NOTIFY messages are signed with it
	// too. Optional: without it the address is the only check.
	TSIG *TSIGKey `yaml:"tsig" json:"tsig,omitempty"`
}

// TSIGKey is a shared secret for transaction signatures (RFC 8945). Keys of
// the same name must be the same key.
type TSIGKey struct {
	// Name is the key's name, the same on both sides, such as xfr-key. A
	// domain name.
	Name string `yaml:"name" json:"name"`
	// Algorithm is the MAC algorithm: hmac-sha256 (default) or hmac-sha512.
	Algorithm TSIGAlgorithm `yaml:"algorithm" json:"algorithm,omitempty"`
	// Secret is the key in base64, such as the output of
	// `openssl rand -base64 32`; 16–512 bytes once decoded.
	Secret string `yaml:"secret" json:"secret"`
}

// TSIGAlgorithm is the MAC algorithm of a TSIG key.
type TSIGAlgorithm string

// TSIG algorithms.
const (
	HMACSHA256 TSIGAlgorithm = "hmac-sha256"
	HMACSHA512 TSIGAlgorithm = "hmac-sha512"
)

// Values lists the TSIG algorithms.
func (TSIGAlgorithm) Values() []string { return []string{"hmac-sha256", "hmac-sha512"} }

// UnmarshalText accepts one of Values, in any case.
func (a *TSIGAlgorithm) UnmarshalText(b []byte) error {
	return unmarshalEnum(a, b, "TSIG algorithm", a.Values())
}

// RRL is BIND-style response rate limiting: over UDP, each client network
// gets at most responses_per_second identical responses (the same answer,
// the same NXDOMAIN or referral from one zone, or errors) per second.
// Beyond that answers are dropped, and every slip-th goes out truncated
// (TC=1, no records) so a real client retries over TCP. TCP is never
// limited.
type RRL struct {
	// ResponsesPerSecond is the limit per client network and response.
	// Default 0: RRL is off. 0–1000000.
	ResponsesPerSecond int `yaml:"responses_per_second" json:"responses_per_second,omitempty"`
	// Slip: every slip-th limited response is sent truncated rather than
	// dropped; 1 truncates every one, 0 drops every one. Default 2; 0–10.
	Slip *int `yaml:"slip" json:"slip,omitempty"`
	// Window is how long a network that went over the limit stays in debt:
	// it is answered again once its rate has stayed below the limit for up
	// to this long. Default 15s; 1s–1h.
	Window Duration `yaml:"window" json:"window,omitempty"`
	// IPv4Prefix is the prefix length that groups IPv4 clients into one
	// network. Default 24; 1–32.
	IPv4Prefix int `yaml:"ipv4_prefix" json:"ipv4_prefix,omitempty"`
	// IPv6Prefix is the prefix length that groups IPv6 clients into one
	// network. Default 56; 1–128.
	IPv6Prefix int `yaml:"ipv6_prefix" json:"ipv6_prefix,omitempty"`
}

// Admin configures the admin HTTP listener.
type Admin struct {
	// Listen is the host:port of the admin listener. Default 127.0.0.1:9090.
	Listen string `yaml:"listen" json:"listen"`
	// UIToken is the bearer token the dashboard (GET /) must send to start
	// or cancel a zonal shift; the environment variable SWITCHBOARD_UI_TOKEN
	// overrides it. Default empty: the dashboard is read-only. 16–256
	// printable ASCII characters without spaces, such as the output of
	// `openssl rand -hex 32`.
	UIToken string `yaml:"ui_token" json:"ui_token,omitempty"`
	// Tokens are the bearer tokens of the REST API under /api/v1/. Without
	// any (here or in the environment, see internal/api), the API answers
	// only clients on loopback addresses. Optional.
	Tokens []APIToken `yaml:"tokens" json:"tokens,omitempty"`
	// TLS serves the admin listener over HTTPS with this certificate. Optional.
	TLS *Certificate `yaml:"tls" json:"tls,omitempty"`
	// MaxDeletes is how many records, target groups and load balancers
	// together one API change may delete unless it asks for
	// allow_mass_delete. Default 5; 0–100000.
	MaxDeletes *int `yaml:"max_deletes" json:"max_deletes,omitempty"`
}

// APIToken is one bearer token of the REST API.
type APIToken struct {
	// Name says whose token it is; it is the author of the changes made with
	// it. Unique; 1–63 characters.
	Name string `yaml:"name" json:"name"`
	// Scope is read (GET requests) or write (every request).
	Scope TokenScope `yaml:"scope" json:"scope"`
	// Token is the secret itself, 16–256 characters. Set token or token_env.
	Token string `yaml:"token" json:"token,omitempty"`
	// TokenEnv names the environment variable that holds the secret.
	TokenEnv string `yaml:"token_env" json:"token_env,omitempty"`
}

// TokenScope is what an API token may do.
type TokenScope string

// Token scopes.
const (
	ScopeRead  TokenScope = "read"
	ScopeWrite TokenScope = "write"
)

// Values lists the token scopes.
func (TokenScope) Values() []string { return []string{"read", "write"} }

// UnmarshalText accepts one of Values, in any case.
func (t *TokenScope) UnmarshalText(b []byte) error {
	return unmarshalEnum(t, b, "token scope", t.Values())
}

// State is the desired state: every resource, as one versioned unit in the store.
type State struct {
	// Regions are named places with an optional location, used by latency and
	// geoproximity routing.
	Regions []Region `yaml:"regions" json:"regions,omitempty"`
	// Zones are failure domains (availability zones); every target and
	// load balancer node lives in one.
	Zones []Zone `yaml:"zones" json:"zones,omitempty"`
	// HealthChecks are named checks that record sets refer to.
	HealthChecks []HealthCheck `yaml:"health_checks" json:"health_checks,omitempty"`
	// CIDRCollections group client networks into named locations for IP-based routing.
	CIDRCollections []CIDRCollection `yaml:"cidr_collections" json:"cidr_collections,omitempty"`
	// HostedZones are the DNS zones switchboard answers for.
	HostedZones []HostedZone `yaml:"hosted_zones" json:"hosted_zones,omitempty"`
	// TargetGroups are sets of targets that listeners forward to.
	TargetGroups []TargetGroup `yaml:"target_groups" json:"target_groups,omitempty"`
	// LoadBalancers are named groups of nodes with listeners and a DNS name.
	LoadBalancers []LoadBalancer `yaml:"load_balancers" json:"load_balancers,omitempty"`
	// ZonalShifts move traffic away from a zone until they expire.
	ZonalShifts []ZonalShift `yaml:"zonal_shifts" json:"zonal_shifts,omitempty"`
	// LatencyTable says how far each client network is from each region,
	// for latency routing: the most specific entry containing the client wins.
	LatencyTable []LatencyEntry `yaml:"latency_table" json:"latency_table,omitempty"`
}

// LatencyEntry is the latency from one client network to regions.
type LatencyEntry struct {
	// CIDR is the client network, such as 192.0.2.0/24 or ::/0 for the rest.
	CIDR netip.Prefix `yaml:"cidr" json:"cidr"`
	// Latency by region name, such as {eu-central: 12ms, us-east: 95ms}.
	Latency map[string]Duration `yaml:"latency" json:"latency"`
}

// Region is a named place, such as eu-west-1.
type Region struct {
	// Name identifies the region: lowercase letters, digits and '-', 1–63 chars.
	Name string `yaml:"name" json:"name"`
	// Latitude of the region in degrees, −90 to 90; with longitude, used by
	// geoproximity routing. Optional.
	Latitude *float64 `yaml:"latitude" json:"latitude,omitempty"`
	// Longitude of the region in degrees, −180 to 180. Optional.
	Longitude *float64 `yaml:"longitude" json:"longitude,omitempty"`
}

// Zone is a failure domain inside a region.
type Zone struct {
	// Name identifies the zone: lowercase letters, digits and '-', 1–63 chars.
	Name string `yaml:"name" json:"name"`
	// Region is the name of the region the zone is in. Optional.
	Region string `yaml:"region" json:"region,omitempty"`
}
