package route53

import (
	"crypto/sha256"
	"encoding/base32"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/internal/model"
)

// ZoneID returns the Route 53 id of the hosted zone named name: "Z" and 20
// base-32 characters of the SHA-256 of the canonical name. It depends on
// the name alone, so it is stable across restarts and the same for zones
// from the configuration file.
func ZoneID(name string) string {
	sum := sha256.Sum256([]byte(model.CanonicalName(name)))
	return "Z" + base32.StdEncoding.EncodeToString(sum[:])[:20]
}

// bareID strips a "/hostedzone/", "/change/" or "/healthcheck/" prefix:
// clients may send ids with or without it.
func bareID(id string) string {
	for _, p := range []string{"/hostedzone/", "hostedzone/", "/change/", "change/", "/healthcheck/", "healthcheck/"} {
		if s, ok := strings.CutPrefix(id, p); ok {
			return s
		}
	}
	return id
}

// findZone returns the index of the hosted zone with id in s, or -1.
func findZone(s *model.State, id string) int {
	id = bareID(id)
	for i := range s.HostedZones {
		if ZoneID(s.HostedZones[i].Name) == id {
			return i
		}
	}
	return -1
}

func noSuchZone(id string) *apiError {
	return errorf(http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: %s", bareID(id))
}

// zoneXML renders z as Route 53 does.
func zoneXML(z *model.HostedZone) xmlHostedZone {
	return xmlHostedZone{
		ID:                     "/hostedzone/" + ZoneID(z.Name),
		Name:                   model.CanonicalName(z.Name),
		CallerReference:        z.CallerReference,
		Config:                 xmlHostedZoneConfig{Comment: z.Comment},
		ResourceRecordSetCount: len(listable(z)),
	}
}

func delegationXML(z *model.HostedZone) xmlDelegationSet {
	var ns []string
	for _, n := range z.NameServers {
		ns = append(ns, strings.TrimSuffix(n, "."))
	}
	return xmlDelegationSet{NameServers: ns}
}

func (h *Handler) createHostedZone(rq *request) error {
	var in createHostedZoneRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	switch {
	case in.Name == "":
		return invalidInput("Name is required")
	case in.CallerReference == "" || len(in.CallerReference) > 128:
		return invalidInput("CallerReference must be 1–128 characters")
	case in.VPC != nil || in.HostedZoneConfig != nil && in.HostedZoneConfig.PrivateZone:
		return invalidInput("private hosted zones (VPC) are not supported")
	case in.DelegationSetID != "":
		return invalidInput("reusable delegation sets are not supported")
	}
	name := model.CanonicalName(in.Name)
	var created model.HostedZone
	snap, err := h.commit(rq.r.Context(), rq, func(s *model.State) (string, error) {
		for _, z := range s.HostedZones {
			if z.CallerReference == in.CallerReference {
				return "", errorf(http.StatusConflict, "HostedZoneAlreadyExists", "A hosted zone has already been created with the specified caller reference %q.", in.CallerReference)
			}
			if model.CanonicalName(z.Name) == name {
				return "", errorf(http.StatusConflict, "HostedZoneAlreadyExists", "A hosted zone named %s already exists (id %s); switchboard serves one zone per name.", name, ZoneID(z.Name))
			}
		}
		z := model.HostedZone{Name: name, CallerReference: in.CallerReference}
		if in.HostedZoneConfig != nil {
			z.Comment = in.HostedZoneConfig.Comment
		}
		s.HostedZones = append(s.HostedZones, z)
		return "+hosted_zones[" + name + "]", nil
	}, inputErrors)
	if err != nil {
		return err
	}
	for _, z := range snap.State.HostedZones {
		if model.CanonicalName(z.Name) == name {
			created = z
		}
	}
	rq.w.Header().Set("Location", "/"+APIVersion+"/hostedzone/"+ZoneID(name))
	return rq.reply(http.StatusCreated, createHostedZoneResponse{
		HostedZone:    zoneXML(&created),
		ChangeInfo:    h.changeInfo(rq.r.Context(), snap.Version, snap.Change.Time, ""),
		DelegationSet: delegationXML(&created),
	})
}

func (h *Handler) getHostedZone(rq *request) error {
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	i := findZone(head.State, rq.r.PathValue("id"))
	if i < 0 {
		return noSuchZone(rq.r.PathValue("id"))
	}
	z := &head.State.HostedZones[i]
	return rq.reply(http.StatusOK, getHostedZoneResponse{HostedZone: zoneXML(z), DelegationSet: delegationXML(z)})
}

func (h *Handler) deleteHostedZone(rq *request) error {
	id := rq.r.PathValue("id")
	snap, err := h.commit(rq.r.Context(), rq, func(s *model.State) (string, error) {
		i := findZone(s, id)
		if i < 0 {
			return "", noSuchZone(id)
		}
		name := s.HostedZones[i].Name
		if n := len(s.HostedZones[i].Records); n > 0 {
			return "", errorf(http.StatusBadRequest, "HostedZoneNotEmpty", "The hosted zone contains %d resource record sets in addition to the default NS and SOA; delete them first.", n)
		}
		s.HostedZones = slices.Delete(s.HostedZones, i, i+1)
		return "-hosted_zones[" + name + "]", nil
	}, inputErrors)
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, deleteHostedZoneResponse{ChangeInfo: h.changeInfo(rq.r.Context(), snap.Version, snap.Change.Time, "")})
}

// maxItems reads the maxitems parameter: default and cap limit.
func maxItems(rq *request, limit int) (int, error) {
	s := rq.r.URL.Query().Get("maxitems")
	if s == "" {
		return limit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, invalidInput("maxitems must be a positive integer, not %q", s)
	}
	return min(n, limit), nil
}

func (h *Handler) listHostedZones(rq *request) error {
	q := rq.r.URL.Query()
	if q.Get("delegationsetid") != "" {
		return invalidInput("reusable delegation sets are not supported")
	}
	if t := q.Get("hostedzonetype"); t != "" && t != "PublicHostedZone" {
		return invalidInput("hostedzonetype %q: only PublicHostedZone exists here", t)
	}
	n, err := maxItems(rq, 100)
	if err != nil {
		return err
	}
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	zones := slices.Clone(head.State.HostedZones)
	slices.SortFunc(zones, func(a, b model.HostedZone) int { return strings.Compare(ZoneID(a.Name), ZoneID(b.Name)) })
	marker := bareID(q.Get("marker"))
	out := listHostedZonesResponse{Marker: q.Get("marker"), MaxItems: strconv.Itoa(n)}
	for i := range zones {
		id := ZoneID(zones[i].Name)
		if marker != "" && id < marker {
			continue
		}
		if len(out.HostedZones) == n {
			out.IsTruncated, out.NextMarker = true, id
			break
		}
		out.HostedZones = append(out.HostedZones, zoneXML(&zones[i]))
	}
	return rq.reply(http.StatusOK, out)
}

// reversedName is a DNS name with its labels in reverse order (com.example.www),
// the order in which Route 53 lists zones and record sets.
func reversedName(name string) string {
	labels := strings.Split(strings.TrimSuffix(strings.ToLower(unescapeName(name)), "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

func (h *Handler) listHostedZonesByName(rq *request) error {
	q := rq.r.URL.Query()
	dnsName, zoneID := q.Get("dnsname"), bareID(q.Get("hostedzoneid"))
	if zoneID != "" && dnsName == "" {
		return invalidInput("hostedzoneid needs dnsname")
	}
	n, err := maxItems(rq, 100)
	if err != nil {
		return err
	}
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	zones := slices.Clone(head.State.HostedZones)
	slices.SortFunc(zones, func(a, b model.HostedZone) int {
		if c := strings.Compare(reversedName(a.Name), reversedName(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(ZoneID(a.Name), ZoneID(b.Name))
	})
	out := listHostedZonesByNameResponse{DNSName: dnsName, HostedZoneID: q.Get("hostedzoneid"), MaxItems: strconv.Itoa(n)}
	start := ""
	if dnsName != "" {
		start = reversedName(dnsName)
	}
	for i := range zones {
		rn, id := reversedName(zones[i].Name), ZoneID(zones[i].Name)
		if rn < start || rn == start && zoneID != "" && id < zoneID {
			continue
		}
		if len(out.HostedZones) == n {
			out.IsTruncated, out.NextDNSName, out.NextHostedZoneID = true, model.CanonicalName(zones[i].Name), id
			break
		}
		out.HostedZones = append(out.HostedZones, zoneXML(&zones[i]))
	}
	return rq.reply(http.StatusOK, out)
}

func (h *Handler) getHostedZoneCount(rq *request) error {
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, getHostedZoneCountResponse{HostedZoneCount: len(head.State.HostedZones)})
}
