package model

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"time"
)

// Validate reports every problem of the document: the server settings and
// the state. It expects SetDefaults to have run. The error is an Errors.
func (d *Document) Validate() error {
	v := newValidator(&d.State)
	srv := Path{}.Field("server")
	if d.Server.Admin.Listen == "" {
		v.add(srv.Field("admin").Field("listen"), "host:port", "is empty")
	}
	v.uiToken(srv.Field("admin").Field("ui_token"), d.Server.Admin.UIToken)
	v.admin(srv.Field("admin"), &d.Server.Admin)
	v.duration(srv.Field("shutdown_timeout"), d.Server.ShutdownTimeout, 0, time.Hour)
	dp := srv.Field("dns")
	seen := map[string]bool{}
	for i, a := range d.Server.DNS.Listen {
		if _, err := netip.ParseAddrPort(a); err != nil {
			v.add(dp.Field("listen").Index(i, ""), "an IP address and port such as 127.0.0.1:5353 or [::1]:53", "%q is not an address and port", a)
		} else if seen[a] {
			v.add(dp.Field("listen").Index(i, ""), "each address once", "%s is listed twice", a)
		}
		seen[a] = true
	}
	v.duration(dp.Field("load_balancer_ttl"), d.Server.DNS.LoadBalancerTTL, 0, maxTTL)
	v.secondaries(dp.Field("secondaries"), d.Server.DNS.Secondaries)
	v.rrl(dp.Field("rrl"), &d.Server.DNS.RRL)
	v.route53(srv.Field("route53"), &d.Server.Route53)
	v.state()
	if d.Server.Zone != "" {
		v.zoneRef(srv.Field("zone"), d.Server.Zone)
	}
	return v.err()
}

// Validate reports every problem of the state: each resource on its own and
// the references between them. It expects SetDefaults to have run.
func (s *State) Validate() error {
	v := newValidator(s)
	v.state()
	return v.err()
}

// validator holds the indexes that cross-resource checks need.
type validator struct {
	problems
	s           *State
	regions     map[string]*Region
	zones       map[string]*Zone
	checks      map[string]*HealthCheck
	collections map[string]*CIDRCollection
	groups      map[string]*TargetGroup
	balancers   map[string]*LoadBalancer
}

// newValidator returns a validator for s; state() builds its indexes.
func newValidator(s *State) *validator {
	return &validator{s: s}
}

func (v *validator) state() {
	root := Path{}
	// Index every named resource first so that references can be checked in
	// any order, then check each resource.
	v.regions = index(v, root.Field("regions"), "region", v.s.Regions, func(r *Region) string { return r.Name })
	v.zones = index(v, root.Field("zones"), "zone", v.s.Zones, func(z *Zone) string { return z.Name })
	v.checks = index(v, root.Field("health_checks"), "health check", v.s.HealthChecks, func(h *HealthCheck) string { return h.Name })
	v.collections = index(v, root.Field("cidr_collections"), "CIDR collection", v.s.CIDRCollections, func(c *CIDRCollection) string { return c.Name })
	v.groups = index(v, root.Field("target_groups"), "target group", v.s.TargetGroups, func(g *TargetGroup) string { return g.Name })
	v.balancers = index(v, root.Field("load_balancers"), "load balancer", v.s.LoadBalancers, func(l *LoadBalancer) string { return l.Name })

	for i := range v.s.Regions {
		v.region(root.Field("regions").Index(i, v.s.Regions[i].Name), &v.s.Regions[i])
	}
	for i, z := range v.s.Zones {
		if z.Region != "" && v.regions[z.Region] == nil {
			v.add(root.Field("zones").Index(i, z.Name).Field("region"), v.known("regions", keys(v.regions)), "region %q is not defined", z.Region)
		}
	}
	v.healthChecks(root.Field("health_checks"))
	for i := range v.s.CIDRCollections {
		v.cidrCollection(root.Field("cidr_collections").Index(i, v.s.CIDRCollections[i].Name), &v.s.CIDRCollections[i])
	}
	v.hostedZones(root.Field("hosted_zones"))
	for i := range v.s.TargetGroups {
		v.targetGroup(root.Field("target_groups").Index(i, v.s.TargetGroups[i].Name), &v.s.TargetGroups[i])
	}
	v.loadBalancers(root.Field("load_balancers"))
	v.zonalShifts(root.Field("zonal_shifts"))
	v.latencyTable(root.Field("latency_table"))
	v.callerReferences(root)
}

// index checks the names of items (listed at base) and returns the ones
// that can be referred to, by name.
func index[T any](v *validator, base Path, what string, items []T, name func(*T) string) map[string]*T {
	byName := make(map[string]*T, len(items))
	seen := map[string]Path{}
	for i := range items {
		it := &items[i]
		if n := name(it); v.name(base.Index(i, n), n, what, seen) {
			byName[n] = it
		}
	}
	return byName
}

// name checks a resource name at p (the element's path) and that it is
// unique among seen. It reports whether the name is usable as a reference.
func (v *validator) name(p Path, name, what string, seen map[string]Path) bool {
	np := p.Field("name")
	switch {
	case name == "":
		v.add(np, identAllowed, "a %s needs a name", what)
		return false
	case !identRE.MatchString(name):
		v.add(np, identAllowed, "%q is not a valid %s name", name, what)
		return false
	}
	if first, dup := seen[name]; dup {
		v.add(np, "names are unique; first used at "+first.String(), "duplicate %s name %q", what, name)
		return false
	}
	seen[name] = p
	return true
}

func (v *validator) region(p Path, r *Region) {
	if (r.Latitude == nil) != (r.Longitude == nil) {
		v.add(p, "both latitude and longitude, or neither", "has only one of latitude and longitude")
	}
	v.coordinates(p, r.Latitude, r.Longitude)
}

func (v *validator) coordinates(p Path, lat, lon *float64) {
	if lat != nil && (*lat < -90 || *lat > 90) {
		v.add(p.Field("latitude"), "−90 to 90", "%g is out of range", *lat)
	}
	if lon != nil && (*lon < -180 || *lon > 180) {
		v.add(p.Field("longitude"), "−180 to 180", "%g is out of range", *lon)
	}
}

// zoneRef checks that p names a defined zone.
func (v *validator) zoneRef(p Path, zone string) {
	switch {
	case zone == "":
		v.add(p, v.known("zones", keys(v.zones)), "is required")
	case v.zones[zone] == nil:
		v.add(p, v.known("zones", keys(v.zones)), "zone %q is not defined", zone)
	}
}

// intRange checks lo ≤ n ≤ hi.
func (v *validator) intRange(p Path, n, lo, hi int) bool {
	if n < lo || n > hi {
		v.add(p, fmt.Sprintf("%d–%d", lo, hi), "%d is out of range", n)
		return false
	}
	return true
}

// port checks a port number.
func (v *validator) port(p Path, n int) { v.intRange(p, n, 1, 65535) }

// duration checks lo ≤ d ≤ hi.
func (v *validator) duration(p Path, d Duration, lo, hi time.Duration) bool {
	allowed := fmtDur(lo) + " to " + fmtDur(hi)
	switch {
	case d.D() < lo:
		v.add(p, allowed, "%s is below the minimum %s", d, fmtDur(lo))
		return false
	case d.D() > hi:
		v.add(p, allowed, "%s is above the maximum %s", d, fmtDur(hi))
		return false
	}
	return true
}

// fmtDur prints whole hours and minutes without trailing zero units.
func fmtDur(d time.Duration) string {
	s := d.String()
	if d >= time.Minute && d%time.Minute == 0 {
		s = s[:len(s)-2] // "1h0m0s" → "1h0m"
		if d%time.Hour == 0 {
			s = s[:len(s)-2]
		}
	}
	return s
}

// known says what a reference may name.
func (v *validator) known(what string, names []string) string {
	if len(names) == 0 {
		return "no " + what + " are defined"
	}
	if len(names) > 8 {
		return fmt.Sprintf("one of the %d %s defined", len(names), what)
	}
	return "defined " + what + ": " + join(names)
}

func (v *validator) latencyTable(base Path) {
	seen := map[netip.Prefix]Path{}
	for i, e := range v.s.LatencyTable {
		p := base.Index(i, "")
		switch {
		case !e.CIDR.IsValid():
			v.add(p.Field("cidr"), "a network such as 192.0.2.0/24", "is required")
		case e.CIDR != e.CIDR.Masked():
			v.add(p.Field("cidr"), "a network address such as "+e.CIDR.Masked().String(), "%s has host bits set", e.CIDR)
		case seen[e.CIDR] != nil:
			v.add(p.Field("cidr"), "each network once", "%s is also at %s", e.CIDR, seen[e.CIDR])
		default:
			seen[e.CIDR] = p
		}
		if len(e.Latency) == 0 {
			v.add(p.Field("latency"), "latency by region, such as {eu-central: 12ms}", "is empty")
		}
		for _, r := range keys(e.Latency) {
			if v.regions[r] == nil {
				v.add(p.Field("latency").MapKey(r), v.known("regions", keys(v.regions)), "region %q is not defined", r)
			}
			if e.Latency[r] < 0 {
				v.add(p.Field("latency").MapKey(r), "a duration of 0 or more", "%s is negative", e.Latency[r])
			}
		}
	}
}

// Bounds of a TSIG secret's decoded length: RFC 8945 §6 asks for keys at
// least as long as the MAC (32 bytes for SHA-256); 16 bytes is the least
// any algorithm here may use, and 512 is more than any HMAC needs.
const (
	minTSIGSecret = 16
	maxTSIGSecret = 512
)

// secondaries checks the secondary name servers: an address or networks
// to allow, valid zone names, and TSIG keys that agree where they share a
// name.
func (v *validator) secondaries(base Path, secs []DNSSecondary) {
	addrs := map[netip.AddrPort]Path{}
	keys := map[string]Path{} // by canonical key name
	keyOf := map[string]*TSIGKey{}
	for i := range secs {
		s := &secs[i]
		p := base.Index(i, "")
		switch ap, err := netip.ParseAddrPort(s.Address); {
		case s.Address == "" && len(s.Allow) == 0:
			v.add(p, "an address, allow, or both", "has neither an address to notify nor networks to allow")
		case s.Address == "":
		case err != nil || ap.Port() == 0:
			v.add(p.Field("address"), "an IP address and port such as 192.0.2.53:53", "%q is not an address and port", s.Address)
		case addrs[ap] != nil:
			v.add(p.Field("address"), "each secondary once", "%s is also at %s", ap, addrs[ap])
		default:
			addrs[ap] = p
		}
		for j, n := range s.Allow {
			switch {
			case !n.IsValid():
				v.add(p.Field("allow").Index(j, ""), "a network such as 192.0.2.0/28", "is not a network")
			case n != n.Masked():
				v.add(p.Field("allow").Index(j, ""), "a network address such as "+n.Masked().String(), "%s has host bits set", n)
			}
		}
		for j, z := range s.Zones {
			if msg := checkDNSName(z, false); msg != "" {
				v.add(p.Field("zones").Index(j, ""), dnsNameAllowed, "%q is not a zone name: it %s", z, msg)
			}
		}
		if k := s.TSIG; k != nil {
			kp := p.Field("tsig")
			ok := true
			if msg := checkDNSName(k.Name, false); msg != "" {
				v.add(kp.Field("name"), dnsNameAllowed, "%q is not a key name: it %s", k.Name, msg)
				ok = false
			}
			if !enumOK(k.Algorithm, k.Algorithm.Values()) {
				v.add(kp.Field("algorithm"), "one of "+join(k.Algorithm.Values()), "%q is not a TSIG algorithm", k.Algorithm)
				ok = false
			}
			switch b, err := base64.StdEncoding.DecodeString(k.Secret); {
			case k.Secret == "":
				v.add(kp.Field("secret"), "a base64 key such as the output of openssl rand -base64 32", "is empty")
				ok = false
			case err != nil:
				v.add(kp.Field("secret"), "a base64 key such as the output of openssl rand -base64 32", "is not base64: %v", err)
				ok = false
			case len(b) < minTSIGSecret || len(b) > maxTSIGSecret:
				v.add(kp.Field("secret"), "16–512 bytes once decoded", "is %d bytes once decoded", len(b))
				ok = false
			}
			if ok {
				name := CanonicalName(k.Name)
				switch first := keyOf[name]; {
				case first == nil:
					keys[name], keyOf[name] = kp, k
				case first.Algorithm != k.Algorithm || first.Secret != k.Secret:
					v.add(kp, "one key per name", "key %q differs from the key of that name at %s", k.Name, keys[name])
				}
			}
		}
	}
}

// rrl checks the response rate limiting settings.
func (v *validator) rrl(p Path, r *RRL) {
	v.intRange(p.Field("responses_per_second"), r.ResponsesPerSecond, 0, 1_000_000)
	if r.Slip != nil {
		v.intRange(p.Field("slip"), *r.Slip, 0, 10)
	}
	v.duration(p.Field("window"), r.Window, time.Second, time.Hour)
	v.intRange(p.Field("ipv4_prefix"), r.IPv4Prefix, 1, 32)
	v.intRange(p.Field("ipv6_prefix"), r.IPv6Prefix, 1, 128)
}
