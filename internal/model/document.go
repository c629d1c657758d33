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
	// DNS is the authoritative DNS server; off unless it has listen addresses.
	DNS DNSServer `yaml:"dns" json:"dns"`
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
}

// Admin configures the admin HTTP listener.
type Admin struct {
	// Listen is the host:port of the admin listener. Default 127.0.0.1:9090.
	Listen string `yaml:"listen" json:"listen"`
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
