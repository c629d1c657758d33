package model

import "net/netip"

// HostedZone is a DNS zone that switchboard answers for with authority.
type HostedZone struct {
	// Name is the zone's apex, such as example.com (a trailing dot is optional).
	Name string `yaml:"name" json:"name"`
	// Comment is free text for people.
	Comment string `yaml:"comment" json:"comment,omitempty"`
	// NameServers are the zone's NS records at the apex. Default ns1.<zone>.
	NameServers []string `yaml:"name_servers" json:"name_servers,omitempty"`
	// SOA sets the fields of the zone's SOA record.
	SOA SOA `yaml:"soa" json:"soa"`
	// Records are the zone's record sets.
	Records []RecordSet `yaml:"records" json:"records,omitempty"`
	// CallerReference is the unique string a Route 53 API client gave when it
	// created the zone (1–128 chars). Optional; empty for zones from a file.
	CallerReference string `yaml:"caller_reference" json:"caller_reference,omitempty"`
}

// SOA holds the settable fields of a zone's SOA record. The serial is the
// desired-state version, so secondaries see every change.
type SOA struct {
	// MName is the primary name server. Default: the first name server.
	MName string `yaml:"mname" json:"mname,omitempty"`
	// RName is the responsible mailbox as a domain name. Default hostmaster.<zone>.
	RName string `yaml:"rname" json:"rname,omitempty"`
	// Refresh for secondaries. Default 2h; 1s–68y.
	Refresh Duration `yaml:"refresh" json:"refresh,omitempty"`
	// Retry for secondaries. Default 15m.
	Retry Duration `yaml:"retry" json:"retry,omitempty"`
	// Expire for secondaries. Default 14 days.
	Expire Duration `yaml:"expire" json:"expire,omitempty"`
	// NegativeTTL is how long resolvers cache NXDOMAIN and NODATA (the SOA
	// minimum field, RFC 2308). Default 15m (as Route 53's 900 s).
	NegativeTTL Duration `yaml:"negative_ttl" json:"negative_ttl,omitempty"`
	// TTL of the SOA record itself. Default 15m.
	TTL Duration `yaml:"ttl" json:"ttl,omitempty"`
}

// RecordSet is one record of a record group (the records with the same name
// and type). A group has one routing policy; the policy follows from the
// fields set: weight, failover, region, geolocation, geoproximity, multivalue
// or cidr; none of them means simple.
type RecordSet struct {
	// Name is the owner name, absolute (a trailing dot is optional), inside the
	// hosted zone; may start with "*." for a wildcard.
	Name string `yaml:"name" json:"name"`
	// Type is the record type: A, AAAA, CAA, CNAME, DS, HTTPS, MX, NAPTR, NS,
	// PTR, SPF, SRV, SSHFP, SVCB, TLSA or TXT.
	Type RecordType `yaml:"type" json:"type"`
	// TTL of the answer. Default 300s; 0s–68 years. Not allowed on alias records,
	// which take the target's TTL.
	TTL *Duration `yaml:"ttl" json:"ttl,omitempty"`
	// Values are the record data in zone-file syntax ("192.0.2.1", "10 mail.example.com.").
	// Simple records may have up to 400; records of other policies exactly one.
	Values []string `yaml:"values" json:"values,omitempty"`
	// Alias answers with another record group's or a load balancer's answers instead of values.
	Alias *Alias `yaml:"alias" json:"alias,omitempty"`
	// SetIdentifier tells records of one group apart; required for every
	// policy but simple, 1–128 chars, unique in the group.
	SetIdentifier string `yaml:"set_identifier" json:"set_identifier,omitempty"`
	// HealthCheck is the name of the health check that decides whether this
	// record may be answered. Not allowed on simple records.
	HealthCheck string `yaml:"health_check" json:"health_check,omitempty"`

	// Weight makes the record weighted: answered with probability weight/sum of
	// the group's healthy weights; 0–255. Weight 0 answers only when no non-zero
	// record is healthy (or all weights are 0).
	Weight *int `yaml:"weight" json:"weight,omitempty"`
	// Failover makes the record a failover record: PRIMARY or SECONDARY.
	Failover FailoverRole `yaml:"failover" json:"failover,omitempty"`
	// Region makes the record a latency record for that region.
	Region string `yaml:"region" json:"region,omitempty"`
	// Geolocation makes the record a geolocation record.
	Geolocation *Geolocation `yaml:"geolocation" json:"geolocation,omitempty"`
	// Geoproximity makes the record a geoproximity record.
	Geoproximity *Geoproximity `yaml:"geoproximity" json:"geoproximity,omitempty"`
	// Multivalue makes the record a multivalue-answer record: up to 8 healthy
	// records of the group are answered.
	Multivalue bool `yaml:"multivalue" json:"multivalue,omitempty"`
	// CIDR makes the record an IP-based record for a location of a CIDR collection.
	CIDR *CIDRRouting `yaml:"cidr" json:"cidr,omitempty"`
}

// Alias points a record at another record group in the same hosted zone, or
// at a load balancer. Exactly one of Record and LoadBalancer is set.
type Alias struct {
	// Record is the name of a record group of the same type in the same hosted zone.
	Record string `yaml:"record" json:"record,omitempty"`
	// LoadBalancer is the name of a load balancer; answered with its healthy
	// nodes' addresses (A and AAAA only).
	LoadBalancer string `yaml:"load_balancer" json:"load_balancer,omitempty"`
	// EvaluateTargetHealth makes the alias healthy only while its target has a
	// healthy answer, so the parent policy can back out of it.
	EvaluateTargetHealth bool `yaml:"evaluate_target_health" json:"evaluate_target_health,omitempty"`
}

// Geolocation is the place a geolocation record serves: a continent, or a
// country with an optional subdivision, or the default "*".
type Geolocation struct {
	// Continent code: AF, AN, AS, EU, NA, OC or SA.
	Continent string `yaml:"continent" json:"continent,omitempty"`
	// Country is an ISO 3166-1 alpha-2 code such as DE, or "*" for the default record.
	Country string `yaml:"country" json:"country,omitempty"`
	// Subdivision is an ISO 3166-2 subdivision code within the country, such as CA for US-CA.
	Subdivision string `yaml:"subdivision" json:"subdivision,omitempty"`
}

// Geoproximity places a record at a region or at coordinates, with a bias.
type Geoproximity struct {
	// Region is the name of a region with coordinates.
	Region string `yaml:"region" json:"region,omitempty"`
	// Latitude in degrees, −90 to 90 (with longitude, instead of region).
	Latitude *float64 `yaml:"latitude" json:"latitude,omitempty"`
	// Longitude in degrees, −180 to 180.
	Longitude *float64 `yaml:"longitude" json:"longitude,omitempty"`
	// Bias grows (positive) or shrinks (negative) the area this record serves:
	// −99 to 99. Positive multiplies the distance by (1 − bias/100); negative
	// divides it by (1 + bias/100).
	Bias int `yaml:"bias" json:"bias,omitempty"`
}

// CIDRRouting selects the location of a CIDR collection a record serves.
type CIDRRouting struct {
	// Collection is the name of a CIDR collection; every record of a group uses the same one.
	Collection string `yaml:"collection" json:"collection"`
	// Location is a location of that collection, or "*" for clients in none of them.
	Location string `yaml:"location" json:"location"`
}

// CIDRCollection is a named set of locations, each a list of client networks.
type CIDRCollection struct {
	// Name identifies the collection.
	Name string `yaml:"name" json:"name"`
	// Locations are the named groups of networks.
	Locations []CIDRLocation `yaml:"locations" json:"locations,omitempty"`
}

// CIDRLocation is a named list of networks.
type CIDRLocation struct {
	// Name of the location: 1–16 letters, digits, '_' or '-'.
	Name string `yaml:"name" json:"name"`
	// CIDRs are the networks: IPv4 /1–/24, IPv6 /1–/48 (as Route 53).
	CIDRs []netip.Prefix `yaml:"cidrs" json:"cidrs,omitempty"`
}
