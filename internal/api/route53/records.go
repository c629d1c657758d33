package route53

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// apexNSTTL is the TTL the DNS server gives the apex NS records (two days, as Route 53).
const apexNSTTL = 172800

// unescapeName turns Route 53's octal escapes (\052 for '*') into bytes.
func unescapeName(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			n, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

// escapeName writes a leading wildcard label as Route 53 lists it (\052).
func escapeName(s string) string {
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		return `\052.` + rest
	}
	return s
}

// recordKey is what identifies a record set: name, type and set identifier.
type recordKey struct{ name, typ, id string }

func keyOf(r *model.RecordSet) recordKey {
	return recordKey{model.CanonicalName(r.Name), strings.ToUpper(string(r.Type)), r.SetIdentifier}
}

func (k recordKey) String() string {
	s := fmt.Sprintf("[name='%s', type='%s'", k.name, k.typ)
	if k.id != "" {
		s += fmt.Sprintf(", set-identifier='%s'", k.id)
	}
	return s + "]"
}

// toRecord converts a Route 53 record set to the model's, for zone z of s.
// It returns the problems Route 53 would report for it.
func toRecord(s *model.State, z *model.HostedZone, in *xmlRecordSet) (model.RecordSet, []string) {
	var msgs []string
	bad := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
	r := model.RecordSet{
		Name:          model.CanonicalName(unescapeName(in.Name)),
		Type:          model.RecordType(strings.ToUpper(in.Type)),
		SetIdentifier: in.SetIdentifier,
		Failover:      model.FailoverRole(in.Failover),
		Region:        in.Region,
		HealthCheck:   bareID(in.HealthCheckID),
	}
	if in.Name == "" {
		bad("Invalid request: a ResourceRecordSet needs a Name")
	}
	if in.TrafficPolicyInstanceID != "" {
		bad("TrafficPolicyInstanceId is not supported")
	}
	if in.TTL != nil {
		if *in.TTL < 0 || *in.TTL > 2147483647 {
			bad("Invalid TTL %d for %s: 0–2147483647", *in.TTL, r.Name)
		} else {
			ttl := model.Duration(time.Duration(*in.TTL) * time.Second)
			r.TTL = &ttl
		}
	} else if in.AliasTarget == nil {
		bad("Invalid request: Missing field 'TTL' in %s (every record set but an alias has one)", keyOf(&r))
	}
	for _, v := range in.records() {
		r.Values = append(r.Values, v.Value)
	}
	if in.Weight != nil {
		w := int(*in.Weight)
		r.Weight = &w
	}
	if g := in.GeoLocation; g != nil {
		r.Geolocation = &model.Geolocation{Continent: g.ContinentCode, Country: g.CountryCode, Subdivision: g.SubdivisionCode}
	}
	if g := in.GeoProximityLocation; g != nil {
		gp := &model.Geoproximity{Region: g.AWSRegion}
		if g.LocalZoneGroup != "" {
			gp.Region = g.LocalZoneGroup
		}
		if g.Bias != nil {
			gp.Bias = *g.Bias
		}
		if c := g.Coordinates; c != nil {
			lat, err1 := strconv.ParseFloat(c.Latitude, 64)
			lon, err2 := strconv.ParseFloat(c.Longitude, 64)
			if err1 != nil || err2 != nil {
				bad("Invalid coordinates %q, %q for %s", c.Latitude, c.Longitude, r.Name)
			}
			gp.Latitude, gp.Longitude = &lat, &lon
		}
		r.Geoproximity = gp
	}
	if in.MultiValueAnswer != nil {
		r.Multivalue = *in.MultiValueAnswer
	}
	if c := in.CidrRoutingConfig; c != nil {
		r.CIDR = &model.CIDRRouting{Collection: c.CollectionID, Location: c.LocationName}
	}
	if a := in.AliasTarget; a != nil {
		target := model.CanonicalName(unescapeName(a.DNSName))
		r.Alias = &model.Alias{EvaluateTargetHealth: a.EvaluateTargetHealth}
		for _, lb := range s.LoadBalancers {
			if lb.DNSName != "" && model.CanonicalName(lb.DNSName) == target {
				r.Alias.LoadBalancer = lb.Name
			}
		}
		if r.Alias.LoadBalancer == "" {
			if zid := bareID(a.HostedZoneID); zid != "" && zid != ZoneID(z.Name) {
				bad("Invalid alias target %s in hosted zone %s: an alias points at a record of the same hosted zone (%s) or at a load balancer's dns_name", target, zid, ZoneID(z.Name))
			}
			r.Alias.Record = target
		}
	}
	apex := model.CanonicalName(z.Name)
	if r.Name == apex && (r.Type == "SOA" || r.Type == "NS") {
		bad("The apex %s record of %s is the hosted zone's soa and name_servers; change them in the hosted zone, not with ChangeResourceRecordSets", r.Type, apex)
	}
	return r, msgs
}

// normalized is r as compared for DELETE: canonical names, values in order.
func normalized(r model.RecordSet) model.RecordSet {
	r.Name = model.CanonicalName(r.Name)
	r.Type = model.RecordType(strings.ToUpper(string(r.Type)))
	r.Values = slices.Sorted(slices.Values(r.Values))
	if len(r.Values) == 0 {
		r.Values = nil
	}
	if r.Alias != nil {
		a := *r.Alias
		if a.Record != "" {
			a.Record = model.CanonicalName(a.Record)
		}
		r.Alias, r.TTL = &a, nil
	}
	return r
}

// fromRecord renders a record set of zone z as Route 53 does.
func fromRecord(s *model.State, z *model.HostedZone, r *model.RecordSet) xmlRecordSet {
	out := xmlRecordSet{
		Name:          escapeName(model.CanonicalName(r.Name)),
		Type:          strings.ToUpper(string(r.Type)),
		SetIdentifier: r.SetIdentifier,
		Region:        r.Region,
		Failover:      string(r.Failover),
		HealthCheckID: r.HealthCheck,
	}
	if r.TTL != nil && r.Alias == nil {
		ttl := int64(r.TTL.D() / time.Second)
		out.TTL = &ttl
	}
	for _, v := range r.Values {
		out.addValue(v)
	}
	if r.Weight != nil {
		w := int64(*r.Weight)
		out.Weight = &w
	}
	if g := r.Geolocation; g != nil {
		out.GeoLocation = &xmlGeoLocation{ContinentCode: g.Continent, CountryCode: g.Country, SubdivisionCode: g.Subdivision}
	}
	if g := r.Geoproximity; g != nil {
		gp := &xmlGeoProximity{AWSRegion: g.Region}
		if g.Bias != 0 {
			b := g.Bias
			gp.Bias = &b
		}
		if g.Latitude != nil && g.Longitude != nil {
			gp.Coordinates = &xmlCoordinates{
				Latitude:  strconv.FormatFloat(*g.Latitude, 'f', -1, 64),
				Longitude: strconv.FormatFloat(*g.Longitude, 'f', -1, 64),
			}
		}
		out.GeoProximityLocation = gp
	}
	if r.Multivalue {
		t := true
		out.MultiValueAnswer = &t
	}
	if c := r.CIDR; c != nil {
		out.CidrRoutingConfig = &xmlCIDRRouting{CollectionID: c.Collection, LocationName: c.Location}
	}
	if a := r.Alias; a != nil {
		at := &xmlAliasTarget{HostedZoneID: ZoneID(z.Name), DNSName: model.CanonicalName(a.Record), EvaluateTargetHealth: a.EvaluateTargetHealth}
		if a.LoadBalancer != "" {
			for _, lb := range s.LoadBalancers {
				if lb.Name == a.LoadBalancer {
					at.DNSName = model.CanonicalName(lb.DNSName)
					if i := zoneOf(s, at.DNSName); i >= 0 {
						at.HostedZoneID = ZoneID(s.HostedZones[i].Name)
					}
				}
			}
		}
		out.AliasTarget = at
	}
	return out
}

// zoneOf returns the index of the deepest hosted zone that holds name, or -1.
func zoneOf(s *model.State, name string) int {
	best, depth := -1, -1
	for i := range s.HostedZones {
		apex := model.CanonicalName(s.HostedZones[i].Name)
		if model.InZone(name, apex) && len(apex) > depth {
			best, depth = i, len(apex)
		}
	}
	return best
}

// listable returns every record set of z as Route 53 lists them: the apex
// SOA and NS, then the records, in Route 53's order.
func listable(z *model.HostedZone) []listed {
	apex := model.CanonicalName(z.Name)
	soa := z.SOA
	out := []listed{{
		key: recordKey{apex, "SOA", ""},
		soa: fmt.Sprintf("%s %s 1 %d %d %d %d",
			model.CanonicalName(firstOr(soa.MName, firstOr(first(z.NameServers), "ns1."+apex))),
			model.CanonicalName(firstOr(soa.RName, "hostmaster."+apex)),
			int64(soa.Refresh.D()/time.Second), int64(soa.Retry.D()/time.Second),
			int64(soa.Expire.D()/time.Second), int64(soa.NegativeTTL.D()/time.Second)),
		ttl: int64(soa.TTL.D() / time.Second),
	}}
	if len(z.NameServers) > 0 {
		ns := listed{key: recordKey{apex, "NS", ""}, ttl: apexNSTTL}
		for _, n := range z.NameServers {
			ns.ns = append(ns.ns, model.CanonicalName(n))
		}
		out = append(out, ns)
	}
	for i := range z.Records {
		out = append(out, listed{key: keyOf(&z.Records[i]), rec: &z.Records[i]})
	}
	slices.SortFunc(out, func(a, b listed) int { return compareKeys(a.key, b.key) })
	return out
}

// listed is one record set of a listing: a model record, or the apex SOA or NS.
type listed struct {
	key recordKey
	rec *model.RecordSet
	soa string
	ns  []string
	ttl int64
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func firstOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// compareKeys is Route 53's listing order: by name with its labels
// reversed, then type, then set identifier.
func compareKeys(a, b recordKey) int {
	if c := strings.Compare(reversedName(a.name), reversedName(b.name)); c != 0 {
		return c
	}
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func (l *listed) xml(s *model.State, z *model.HostedZone) xmlRecordSet {
	switch {
	case l.rec != nil:
		return fromRecord(s, z, l.rec)
	case l.soa != "":
		ttl := l.ttl
		out := xmlRecordSet{Name: l.key.name, Type: "SOA", TTL: &ttl}
		out.addValue(l.soa)
		return out
	}
	ttl := l.ttl
	out := xmlRecordSet{Name: l.key.name, Type: "NS", TTL: &ttl}
	for _, n := range l.ns {
		out.addValue(n)
	}
	return out
}

func (h *Handler) listRecordSets(rq *request) error {
	q := rq.r.URL.Query()
	name, typ, ident := q.Get("name"), strings.ToUpper(q.Get("type")), q.Get("identifier")
	if typ != "" && name == "" {
		return invalidInput("The input is not valid: type requires name")
	}
	if ident != "" && typ == "" {
		return invalidInput("The input is not valid: identifier requires name and type")
	}
	n, err := maxItems(rq, 300)
	if err != nil {
		return err
	}
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	i := findZone(head.State, rq.r.PathValue("id"))
	if i < 0 {
		return noSuchZone(rq.r.PathValue("id"))
	}
	z := &head.State.HostedZones[i]
	start := recordKey{model.CanonicalName(unescapeName(name)), typ, ident}
	out := listRecordSetsResponse{MaxItems: strconv.Itoa(n), ResourceRecordSets: []xmlRecordSet{}}
	for _, l := range listable(z) {
		if name != "" && compareKeys(l.key, start) < 0 {
			continue
		}
		if len(out.ResourceRecordSets) == n {
			out.IsTruncated = true
			out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier = escapeName(l.key.name), l.key.typ, l.key.id
			break
		}
		out.ResourceRecordSets = append(out.ResourceRecordSets, l.xml(head.State, z))
	}
	return rq.reply(http.StatusOK, out)
}

func (h *Handler) changeRecordSets(rq *request) error {
	var in changeRecordSetsRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	changes := in.ChangeBatch.Changes
	switch {
	case len(changes) == 0:
		return invalidInput("ChangeBatch needs at least one Change")
	case len(in.ChangeBatch.Comment) > 256:
		return invalidInput("ChangeBatch.Comment is longer than 256 characters")
	}
	values, chars := 0, 0
	for _, c := range changes {
		k := 1
		if strings.EqualFold(c.Action, "UPSERT") {
			k = 2 // as Route 53: an UPSERT counts twice
		}
		for _, v := range c.ResourceRecordSet.records() {
			values += k
			chars += k * len(v.Value)
		}
	}
	if values > 1000 || chars > 32000 {
		return invalidInput("the batch has %d ResourceRecord elements and %d characters of values; at most 1,000 and 32,000 (UPSERT counts twice)", values, chars)
	}
	id := rq.r.PathValue("id")
	comment := in.ChangeBatch.Comment
	snap, err := h.commit(rq.r.Context(), rq, func(s *model.State) (string, error) {
		zi := findZone(s, id)
		if zi < 0 {
			return "", noSuchZone(id)
		}
		z := &s.HostedZones[zi]
		var msgs []string
		for _, c := range changes {
			r, problems := toRecord(s, z, &c.ResourceRecordSet)
			if r.HealthCheck != "" && !slices.ContainsFunc(s.HealthChecks, func(hc model.HealthCheck) bool { return hc.Name == r.HealthCheck }) {
				return "", errorf(http.StatusNotFound, "NoSuchHealthCheck", "A health check with id %s does not exist.", r.HealthCheck)
			}
			if len(problems) > 0 {
				msgs = append(msgs, problems...)
				continue
			}
			k := keyOf(&r)
			at := slices.IndexFunc(z.Records, func(x model.RecordSet) bool { return keyOf(&x) == k })
			switch strings.ToUpper(c.Action) {
			case "CREATE":
				if at >= 0 {
					msgs = append(msgs, fmt.Sprintf("Tried to create resource record set %s but it already exists", k))
					continue
				}
				z.Records = append(z.Records, r)
			case "UPSERT":
				if at >= 0 {
					z.Records[at] = r
				} else {
					z.Records = append(z.Records, r)
				}
			case "DELETE":
				if at < 0 {
					msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but it was not found", k))
					continue
				}
				if !reflect.DeepEqual(normalized(withDefaultTTL(r)), normalized(z.Records[at])) {
					msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but the values provided do not match the current values", k))
					continue
				}
				z.Records = slices.Delete(z.Records, at, at+1)
			default:
				msgs = append(msgs, fmt.Sprintf("Invalid action %q: CREATE, DELETE or UPSERT", c.Action))
			}
		}
		if len(msgs) > 0 {
			return "", invalidBatch(msgs...)
		}
		return batchSummary(z.Name, changes), nil
	}, func(msgs []string) *apiError { return invalidBatch(msgs...) })
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, changeRecordSetsResponse{ChangeInfo: h.changeInfo(rq.r.Context(), snap.Version, snap.Change.Time, comment)})
}

// withDefaultTTL gives r the TTL the model would, so a DELETE compares
// like with like.
func withDefaultTTL(r model.RecordSet) model.RecordSet {
	if r.TTL == nil && r.Alias == nil {
		ttl := model.Duration(model.DefaultRecordTTL)
		r.TTL = &ttl
	}
	return r
}

// records returns the ResourceRecord elements of r.
func (r *xmlRecordSet) records() []xmlResourceRecord {
	if r.ResourceRecords == nil {
		return nil
	}
	return r.ResourceRecords.Items
}

func (r *xmlRecordSet) addValue(v string) {
	if r.ResourceRecords == nil {
		r.ResourceRecords = &xmlResourceRecords{}
	}
	r.ResourceRecords.Items = append(r.ResourceRecords.Items, xmlResourceRecord{Value: v})
}

// batchSummary says what a change batch did, for the history: the zone and
// each change's action, name, type and set identifier (the first ten).
func batchSummary(zone string, changes []xmlChange) string {
	var parts []string
	for i, c := range changes {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(changes)-i))
			break
		}
		r := &c.ResourceRecordSet
		p := strings.ToUpper(c.Action) + " " + model.CanonicalName(unescapeName(r.Name)) + " " + strings.ToUpper(r.Type)
		if r.SetIdentifier != "" {
			p += " (" + r.SetIdentifier + ")"
		}
		parts = append(parts, p)
	}
	return "~hosted_zones[" + model.CanonicalName(zone) + "]: " + strings.Join(parts, ", ")
}
