package model

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Policy is a record group's routing policy, derived from the fields set.
type Policy string

// Routing policies.
const (
	PolicySimple       Policy = "simple"
	PolicyWeighted     Policy = "weighted"
	PolicyFailover     Policy = "failover"
	PolicyLatency      Policy = "latency"
	PolicyGeolocation  Policy = "geolocation"
	PolicyGeoproximity Policy = "geoproximity"
	PolicyMultivalue   Policy = "multivalue"
	PolicyCIDR         Policy = "cidr"
)

// Policies returns the routing policies r's fields select; one for a valid record.
func (r *RecordSet) Policies() []Policy {
	var ps []Policy
	add := func(set bool, p Policy) {
		if set {
			ps = append(ps, p)
		}
	}
	add(r.Weight != nil, PolicyWeighted)
	add(r.Failover != "", PolicyFailover)
	add(r.Region != "", PolicyLatency)
	add(r.Geolocation != nil, PolicyGeolocation)
	add(r.Geoproximity != nil, PolicyGeoproximity)
	add(r.Multivalue, PolicyMultivalue)
	add(r.CIDR != nil, PolicyCIDR)
	if len(ps) == 0 {
		ps = []Policy{PolicySimple}
	}
	return ps
}

// Policy returns r's routing policy (the first, when r selects several).
func (r *RecordSet) Policy() Policy { return r.Policies()[0] }

const maxTTL = 2147483647 * time.Second

var (
	continents    = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
	countryRE     = regexp.MustCompile(`^[A-Z]{2}$`)
	subdivisionRE = regexp.MustCompile(`^[A-Z0-9]{1,3}$`)
	locationRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)
	// multivalueTypes are the types Route 53 allows in multivalue answers.
	multivalueTypes = []RecordType{"A", "AAAA", "CAA", "HTTPS", "MX", "NAPTR", "PTR", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"}
)

// groupKey identifies a record group: a hosted zone, a name and a type.
type groupKey struct {
	zone, name string
	typ        RecordType
}

// recordRef is a record and where it stands.
type recordRef struct {
	path Path
	r    *RecordSet
}

func (v *validator) hostedZones(base Path) {
	seen := map[string]Path{}
	groups := map[groupKey][]recordRef{}
	var order []groupKey
	for i := range v.s.HostedZones {
		z := &v.s.HostedZones[i]
		p := base.Index(i, z.Name)
		apex := CanonicalName(z.Name)
		if msg := checkDNSName(z.Name, false); msg != "" {
			v.add(p.Field("name"), dnsNameAllowed, "%q is not a valid zone name: it %s", z.Name, msg)
			continue
		}
		if first, dup := seen[apex]; dup {
			v.add(p.Field("name"), "zone names are unique; first used at "+first.String(), "duplicate hosted zone %q", z.Name)
			continue
		}
		seen[apex] = p
		v.soa(p, z)
		for j := range z.Records {
			r := &z.Records[j]
			rp := p.Field("records").Index(j, r.Name)
			if !v.record(rp, r, apex) {
				continue
			}
			k := groupKey{apex, CanonicalName(r.Name), r.Type}
			if groups[k] == nil {
				order = append(order, k)
			}
			groups[k] = append(groups[k], recordRef{rp, r})
		}
	}
	for _, k := range order {
		v.recordGroup(k, groups[k], groups)
	}
	v.cnameConflicts(order, groups)
	v.aliasCycles(order, groups)
}

func (v *validator) soa(p Path, z *HostedZone) {
	for j, ns := range z.NameServers {
		if msg := checkDNSName(ns, false); msg != "" {
			v.add(p.Field("name_servers").Index(j, ""), dnsNameAllowed, "%q is not a host name: it %s", ns, msg)
		}
	}
	sp := p.Field("soa")
	for _, f := range []struct {
		name string
		val  string
	}{{"mname", z.SOA.MName}, {"rname", z.SOA.RName}} {
		if msg := checkDNSName(f.val, false); msg != "" {
			v.add(sp.Field(f.name), dnsNameAllowed, "%q is not a domain name: it %s", f.val, msg)
		}
	}
	for _, f := range []struct {
		name string
		val  Duration
	}{{"refresh", z.SOA.Refresh}, {"retry", z.SOA.Retry}, {"expire", z.SOA.Expire}, {"negative_ttl", z.SOA.NegativeTTL}, {"ttl", z.SOA.TTL}} {
		v.duration(sp.Field(f.name), f.val, time.Second, maxTTL)
	}
}

// record checks one record on its own; it reports whether the record can be
// grouped (its name and type are usable).
func (v *validator) record(p Path, r *RecordSet, apex string) bool {
	ok := true
	if msg := checkDNSName(r.Name, true); msg != "" {
		v.add(p.Field("name"), dnsNameAllowed+`; absolute, inside the hosted zone`, "%q is not a valid record name: it %s", r.Name, msg)
		ok = false
	} else if !InZone(CanonicalName(r.Name), apex) {
		v.add(p.Field("name"), "a name ending in "+apex, "%q is not inside hosted zone %s (names are absolute, as in Route 53)", r.Name, apex)
		ok = false
	}
	if r.Type == "" {
		v.add(p.Field("type"), "one of "+join(RecordType("").Values()), "is required")
		ok = false
	} else if !enumOK(r.Type, RecordType("").Values()) {
		v.add(p.Field("type"), "one of "+join(RecordType("").Values()), "%q is not a record type", r.Type)
		ok = false
	}
	if ps := r.Policies(); len(ps) > 1 {
		v.add(p, "one routing policy per record", "sets fields of several routing policies: %s", join(policyNames(ps)))
	}
	if r.Alias != nil {
		v.alias(p, r)
	} else {
		v.values(p, r)
	}
	if r.TTL != nil {
		v.duration(p.Field("ttl"), *r.TTL, 0, maxTTL)
	}
	if r.HealthCheck != "" && v.checks[r.HealthCheck] == nil {
		v.add(p.Field("health_check"), v.known("health checks", keys(v.checks)), "health check %q is not defined", r.HealthCheck)
	}
	return ok
}

func policyNames(ps []Policy) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return s
}

func (v *validator) alias(p Path, r *RecordSet) {
	a := r.Alias
	ap := p.Field("alias")
	if len(r.Values) > 0 {
		v.add(p.Field("values"), "values or alias, not both", "an alias record has no values")
	}
	if r.TTL != nil {
		v.add(p.Field("ttl"), "alias records take the target's TTL", "an alias record has no TTL")
	}
	switch {
	case (a.Record == "") == (a.LoadBalancer == ""):
		v.add(ap, "exactly one of record and load_balancer", "names %s", map[bool]string{true: "no target", false: "two targets"}[a.Record == ""])
	case a.LoadBalancer != "":
		if v.balancers[a.LoadBalancer] == nil {
			v.add(ap.Field("load_balancer"), v.known("load balancers", keys(v.balancers)), "load balancer %q is not defined", a.LoadBalancer)
		}
		if r.Type != "A" && r.Type != "AAAA" {
			v.add(p.Field("type"), "A or AAAA", "an alias to a load balancer cannot be of type %s", r.Type)
		}
	default:
		if msg := checkDNSName(a.Record, false); msg != "" {
			v.add(ap.Field("record"), dnsNameAllowed, "%q is not a record name: it %s", a.Record, msg)
		}
	}
}

// values checks a non-alias record's data by parsing it as the DNS would.
func (v *validator) values(p Path, r *RecordSet) {
	if len(r.Values) == 0 {
		v.add(p.Field("values"), "at least one value, or an alias", "a record needs values")
		return
	}
	if len(r.Values) > 400 {
		v.add(p.Field("values"), "up to 400", "has %d values", len(r.Values))
	}
	if r.Type == "" || !enumOK(r.Type, RecordType("").Values()) {
		return
	}
	for j, val := range r.Values {
		vp := p.Field("values").Index(j, "")
		if msg := checkValue(r.Type, val); msg != "" {
			v.add(vp, valueAllowed(r.Type), "%q is not valid %s data: %s", val, r.Type, msg)
		}
	}
}

func checkValue(t RecordType, val string) string {
	switch t {
	case "A":
		if a, err := netip.ParseAddr(val); err != nil || !a.Is4() {
			return "not an IPv4 address"
		}
		return ""
	case "AAAA":
		if a, err := netip.ParseAddr(val); err != nil || !a.Is6() || a.Is4In6() {
			return "not an IPv6 address"
		}
		return ""
	}
	rr, err := dns.NewRR("x. 300 IN " + string(t) + " " + val)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "dns: ") {
			msg = msg[i+2:]
		}
		return msg
	}
	if rr == nil {
		return "empty"
	}
	return ""
}

func valueAllowed(t RecordType) string {
	switch t {
	case "A":
		return "an IPv4 address"
	case "AAAA":
		return "an IPv6 address"
	case "CNAME", "NS", "PTR":
		return "a domain name"
	case "MX":
		return `"preference host", such as "10 mail.example.com."`
	case "SRV":
		return `"priority weight port target", such as "10 5 5060 sip.example.com."`
	case "CAA":
		return `"flags tag value", such as "0 issue \"letsencrypt.org\""`
	case "TXT", "SPF":
		return "one or more quoted strings"
	}
	return string(t) + " data in zone-file syntax"
}

// recordGroup checks the rules that span the records of one name and type.
func (v *validator) recordGroup(k groupKey, rs []recordRef, all map[groupKey][]recordRef) {
	first := rs[0]
	policy := first.r.Policy()
	same := rs[:1:1] // the records of the group's policy; the rules below read their fields
	for _, x := range rs[1:] {
		if p := x.r.Policy(); p != policy {
			v.add(x.path, "one routing policy per name and type", "routing policy %s differs from %s of %s %s at %s", p, policy, k.name, k.typ, first.path)
			continue
		}
		same = append(same, x)
	}
	rs = same
	if policy == PolicySimple {
		for _, x := range rs[1:] {
			v.add(x.path, "a simple record holds all values of its name and type; or give every record a routing policy", "second simple record for %s %s (first at %s)", k.name, k.typ, first.path)
		}
		for _, x := range rs {
			if x.r.HealthCheck != "" {
				v.add(x.path.Field("health_check"), "health checks need a routing policy, as Route 53", "a simple record cannot have a health check")
			}
			if x.r.SetIdentifier != "" {
				v.add(x.path.Field("set_identifier"), "only records with a routing policy", "a simple record has no set identifier")
			}
		}
		return
	}
	ids := map[string]Path{}
	for _, x := range rs {
		id := x.r.SetIdentifier
		switch {
		case id == "":
			v.add(x.path.Field("set_identifier"), "1–128 chars, unique in the group", "a %s record needs a set identifier", policy)
		case len(id) > 128:
			v.add(x.path.Field("set_identifier"), "1–128 chars", "is %d chars long", len(id))
		case ids[id] != nil:
			v.add(x.path.Field("set_identifier"), "unique within "+k.name+" "+string(k.typ), "duplicate set identifier %q (first at %s)", id, ids[id])
		default:
			ids[id] = x.path
		}
		if x.r.Alias == nil && len(x.r.Values) > 1 && (policy == PolicyWeighted || policy == PolicyLatency || policy == PolicyMultivalue) {
			v.add(x.path.Field("values"), "one value per "+string(policy)+" record, as Route 53", "has %d values", len(x.r.Values))
		}
	}
	limit := 100
	if policy == PolicyGeoproximity {
		limit = 30
	}
	if len(rs) > limit {
		v.add(rs[limit].path, fmt.Sprintf("at most %d %s records per name and type", limit, policy), "group %s %s has %d records", k.name, k.typ, len(rs))
	}
	switch policy {
	case PolicyWeighted:
		v.weighted(rs)
	case PolicyFailover:
		v.failover(k, rs)
	case PolicyLatency:
		v.uniqueBy(rs, "region", func(r *RecordSet) string { return r.Region }, func(p Path, r *RecordSet) {
			if v.regions[r.Region] == nil {
				v.add(p.Field("region"), v.known("regions", keys(v.regions)), "region %q is not defined", r.Region)
			}
		})
	case PolicyGeolocation:
		v.uniqueBy(rs, "geolocation", geoKey, v.geolocation)
	case PolicyGeoproximity:
		for _, x := range rs {
			v.geoproximity(x.path.Field("geoproximity"), x.r.Geoproximity)
		}
	case PolicyMultivalue:
		if !slices.Contains(multivalueTypes, k.typ) {
			v.add(first.path.Field("type"), "multivalue answers hold "+join(recordTypeNames(multivalueTypes)), "type %s cannot be a multivalue answer", k.typ)
		}
		for _, x := range rs {
			if x.r.Alias != nil {
				v.add(x.path.Field("alias"), "multivalue records hold values, as Route 53", "a multivalue record cannot be an alias")
			}
		}
	case PolicyCIDR:
		v.cidrRouting(rs)
	}
}

func recordTypeNames(ts []RecordType) []string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return s
}

// uniqueBy reports records of a group that share key(r), after check(r).
func (v *validator) uniqueBy(rs []recordRef, what string, key func(*RecordSet) string, check func(Path, *RecordSet)) {
	seen := map[string]Path{}
	for _, x := range rs {
		check(x.path, x.r)
		k := key(x.r)
		if first, dup := seen[k]; dup {
			v.add(x.path.Field(what), "one record per "+what+" in a group", "%s %s is also served at %s", what, k, first)
			continue
		}
		seen[k] = x.path
	}
}

func (v *validator) weighted(rs []recordRef) {
	var ttl *Duration
	for _, x := range rs {
		v.intRange(x.path.Field("weight"), *x.r.Weight, 0, 255)
		if x.r.TTL == nil {
			continue
		}
		if ttl == nil {
			ttl = x.r.TTL
		} else if *ttl != *x.r.TTL {
			v.add(x.path.Field("ttl"), "one TTL for every weighted record of a name and type", "%s differs from the group's %s", *x.r.TTL, *ttl)
		}
	}
}

func (v *validator) failover(k groupKey, rs []recordRef) {
	roles := map[FailoverRole]Path{}
	for _, x := range rs {
		role := x.r.Failover
		if role != Primary && role != Secondary {
			v.add(x.path.Field("failover"), "PRIMARY or SECONDARY", "%q is not a failover role", role)
			continue
		}
		if first, dup := roles[role]; dup {
			v.add(x.path.Field("failover"), "one PRIMARY and one SECONDARY per name and type", "second %s for %s %s (first at %s)", role, k.name, k.typ, first)
			continue
		}
		roles[role] = x.path
		if role == Primary && x.r.Alias == nil && x.r.HealthCheck == "" {
			v.add(x.path.Field("health_check"), "a health check, or an alias with evaluate_target_health, as Route 53", "a non-alias PRIMARY record needs a health check")
		}
		if x.r.Alias != nil && !x.r.Alias.EvaluateTargetHealth {
			v.add(x.path.Field("alias").Field("evaluate_target_health"), "true, as Route 53", "a failover alias must evaluate target health")
		}
	}
}

func geoKey(r *RecordSet) string {
	g := r.Geolocation
	switch {
	case g.Continent != "":
		return "continent " + g.Continent
	case g.Subdivision != "":
		return g.Country + "-" + g.Subdivision
	default:
		return g.Country
	}
}

func (v *validator) geolocation(p Path, r *RecordSet) {
	g := r.Geolocation
	gp := p.Field("geolocation")
	switch {
	case g.Continent != "" && (g.Country != "" || g.Subdivision != ""):
		v.add(gp, "a continent, or a country with an optional subdivision, or country \"*\"", "sets both a continent and a country")
	case g.Continent != "":
		if !slices.Contains(continents, g.Continent) {
			v.add(gp.Field("continent"), join(continents), "%q is not a continent code", g.Continent)
		}
	case g.Country == "*":
		if g.Subdivision != "" {
			v.add(gp.Field("subdivision"), "a subdivision of a country", "the default location has no subdivision")
		}
	case g.Country != "":
		if !countryRE.MatchString(g.Country) {
			v.add(gp.Field("country"), `an ISO 3166-1 alpha-2 code such as DE, in upper case, or "*"`, "%q is not a country code", g.Country)
		}
		if g.Subdivision != "" && !subdivisionRE.MatchString(g.Subdivision) {
			v.add(gp.Field("subdivision"), "an ISO 3166-2 subdivision code such as CA (for US-CA)", "%q is not a subdivision code", g.Subdivision)
		}
	default:
		v.add(gp, `continent, country, or country "*" for the default`, "names no location")
	}
}

func (v *validator) geoproximity(p Path, g *Geoproximity) {
	v.intRange(p.Field("bias"), g.Bias, -99, 99)
	hasCoords := g.Latitude != nil || g.Longitude != nil
	switch {
	case g.Region != "" && hasCoords:
		v.add(p, "a region, or latitude and longitude", "sets both a region and coordinates")
	case g.Region != "":
		r := v.regions[g.Region]
		if r == nil {
			v.add(p.Field("region"), v.known("regions", keys(v.regions)), "region %q is not defined", g.Region)
		} else if r.Latitude == nil {
			v.add(p.Field("region"), "a region with latitude and longitude", "region %q has no coordinates", g.Region)
		}
	case g.Latitude == nil || g.Longitude == nil:
		v.add(p, "a region, or latitude and longitude", "needs a location")
	default:
		v.coordinates(p, g.Latitude, g.Longitude)
	}
}

func (v *validator) cidrRouting(rs []recordRef) {
	collection := rs[0].r.CIDR.Collection
	locs := map[string]Path{}
	for _, x := range rs {
		c := x.r.CIDR
		cp := x.path.Field("cidr")
		if c.Collection != collection {
			v.add(cp.Field("collection"), "one collection per name and type, as Route 53", "collection %q differs from %q at %s", c.Collection, collection, rs[0].path)
			continue
		}
		coll := v.collections[c.Collection]
		if coll == nil {
			v.add(cp.Field("collection"), v.known("CIDR collections", keys(v.collections)), "CIDR collection %q is not defined", c.Collection)
			continue
		}
		if c.Location != "*" && !slices.ContainsFunc(coll.Locations, func(l CIDRLocation) bool { return l.Name == c.Location }) {
			v.add(cp.Field("location"), `a location of collection `+c.Collection+`, or "*"`, "location %q is not in collection %q", c.Location, c.Collection)
		}
		if first, dup := locs[c.Location]; dup {
			v.add(cp.Field("location"), "one record per location in a group", "location %q is also served at %s", c.Location, first)
		}
		locs[c.Location] = x.path
	}
}

func (v *validator) cidrCollection(p Path, c *CIDRCollection) {
	seen := map[string]bool{}
	for j, l := range c.Locations {
		lp := p.Field("locations").Index(j, l.Name)
		switch {
		case !locationRE.MatchString(l.Name) || l.Name == "*":
			v.add(lp.Field("name"), "1–16 letters, digits, '_' or '-'", "%q is not a location name", l.Name)
		case seen[l.Name]:
			v.add(lp.Field("name"), "unique within the collection", "duplicate location %q", l.Name)
		}
		seen[l.Name] = true
		for k, pfx := range l.CIDRs {
			pp := lp.Field("cidrs").Index(k, "")
			lo, hi := 1, 24
			if pfx.Addr().Is6() {
				lo, hi = 1, 48
			}
			if b := pfx.Bits(); b < lo || b > hi {
				v.add(pp, "IPv4 /1–/24, IPv6 /1–/48, as Route 53", "prefix length /%d is out of range", b)
			} else if pfx != pfx.Masked() {
				v.add(pp, "a network address such as "+pfx.Masked().String(), "%s has host bits set", pfx)
			}
		}
	}
}

// cnameConflicts refuses CNAMEs at the apex or beside other data (RFC 1034 §3.6.2).
func (v *validator) cnameConflicts(order []groupKey, groups map[groupKey][]recordRef) {
	names := map[[2]string][]RecordType{}
	for _, k := range order {
		n := [2]string{k.zone, k.name}
		names[n] = append(names[n], k.typ)
	}
	for _, k := range order {
		if k.typ != "CNAME" {
			continue
		}
		p := groups[k][0].path
		if k.name == k.zone {
			v.add(p.Field("type"), "CNAME below the apex; at the apex use an alias", "a CNAME cannot be at the zone apex")
		}
		if types := names[[2]string{k.zone, k.name}]; len(types) > 1 {
			v.add(p.Field("type"), "a CNAME alone at its name", "%s also has %s records", k.name, join(recordTypeNames(slices.DeleteFunc(slices.Clone(types), func(t RecordType) bool { return t == "CNAME" }))))
		}
		for _, x := range groups[k] {
			if x.r.Alias == nil && len(x.r.Values) > 1 {
				v.add(x.path.Field("values"), "one value", "a CNAME has %d values", len(x.r.Values))
			}
		}
	}
}

// aliasCycles checks that record aliases point at existing groups of their
// type in their zone, and that no chain of them comes back to where it started.
func (v *validator) aliasCycles(order []groupKey, groups map[groupKey][]recordRef) {
	next := map[groupKey][]groupKey{}
	for _, k := range order {
		for _, x := range groups[k] {
			a := x.r.Alias
			if a == nil || a.Record == "" || checkDNSName(a.Record, false) != "" {
				continue
			}
			t := groupKey{k.zone, CanonicalName(a.Record), k.typ}
			if groups[t] == nil {
				v.add(x.path.Field("alias").Field("record"), "a record group of the same type in hosted zone "+k.zone, "no %s records named %s", k.typ, t.name)
				continue
			}
			next[k] = append(next[k], t)
		}
	}
	state := map[groupKey]int{} // 0 unvisited, 1 on the stack, 2 done
	var start groupKey
	var cyclic func(k groupKey) bool // reports a chain from k back to start
	cyclic = func(k groupKey) bool {
		if state[k] != 0 {
			return state[k] == 1 && k == start
		}
		state[k] = 1
		for _, t := range next[k] {
			if cyclic(t) {
				return true
			}
		}
		state[k] = 2
		return false
	}
	for _, k := range order {
		if len(next[k]) == 0 {
			continue
		}
		clear(state)
		start = k
		if cyclic(k) {
			for _, x := range groups[k] {
				if x.r.Alias != nil && x.r.Alias.Record != "" {
					v.add(x.path.Field("alias").Field("record"), "alias chains that end in records with values", "alias chain from %s %s comes back to itself", k.name, k.typ)
					break
				}
			}
		}
	}
}
