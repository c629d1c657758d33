package model

import (
	"fmt"
	"reflect"
	"strings"
)

// Op is what a change does to one resource.
type Op byte

// Ops, as plan shows them.
const (
	Add    Op = '+'
	Change Op = '~'
	Remove Op = '-'
)

// ResourceChange is one resource that differs between two states.
type ResourceChange struct {
	Kind string // the State field, e.g. "target_groups"
	Name string // the resource's identity within its kind
	Op   Op
	// Old and New are the resource before and after the change (a value of
	// its model type; a RecordSet for records), nil for an addition and a
	// removal respectively, so that plan can show what a change changes.
	Old, New any
}

func (c ResourceChange) String() string { return fmt.Sprintf("%c%s[%s]", c.Op, c.Kind, c.Name) }

// Diff lists the resources that differ between old and new, kind by kind in
// State order, resources in the order new (then old, for removals) has them.
// Records are resources of their own, named zone/name/type/set_identifier.
func Diff(old, new *State) []ResourceChange {
	if old == nil {
		old = &State{}
	}
	if new == nil {
		new = &State{}
	}
	var out []ResourceChange
	out = diffKind(out, "regions", old.Regions, new.Regions, func(r Region) string { return r.Name })
	out = diffKind(out, "zones", old.Zones, new.Zones, func(z Zone) string { return z.Name })
	out = diffKind(out, "health_checks", old.HealthChecks, new.HealthChecks, func(h HealthCheck) string { return h.Name })
	out = diffKind(out, "cidr_collections", old.CIDRCollections, new.CIDRCollections, func(c CIDRCollection) string { return c.Name })
	zoneOnly := func(zs []HostedZone) []HostedZone {
		out := make([]HostedZone, len(zs))
		for i, z := range zs {
			z.Records = nil
			out[i] = z
		}
		return out
	}
	out = diffKind(out, "hosted_zones", zoneOnly(old.HostedZones), zoneOnly(new.HostedZones), func(z HostedZone) string { return CanonicalName(z.Name) })
	out = diffKind(out, "records", records(old), records(new), func(r zoneRecord) string { return r.id() })
	out = diffKind(out, "target_groups", old.TargetGroups, new.TargetGroups, func(t TargetGroup) string { return t.Name })
	out = diffKind(out, "load_balancers", old.LoadBalancers, new.LoadBalancers, func(l LoadBalancer) string { return l.Name })
	out = diffKind(out, "zonal_shifts", old.ZonalShifts, new.ZonalShifts, func(s ZonalShift) string {
		return s.LoadBalancer + s.TargetGroup + "/" + s.AwayFrom
	})
	return out
}

// Summary renders changes on one line for a history entry, such as
// "+target_groups[web] ~records[example.com./www.example.com./A/]".
func Summary(changes []ResourceChange) string {
	if len(changes) == 0 {
		return "no changes"
	}
	const most = 12
	s := make([]string, 0, most+1)
	for i, c := range changes {
		if i == most {
			s = append(s, fmt.Sprintf("and %d more", len(changes)-most))
			break
		}
		s = append(s, c.String())
	}
	return strings.Join(s, " ")
}

type zoneRecord struct {
	Zone string
	RecordSet
}

func (r zoneRecord) id() string {
	return CanonicalName(r.Zone) + "/" + CanonicalName(r.Name) + "/" + string(r.Type) + "/" + r.SetIdentifier
}

func records(s *State) []zoneRecord {
	var out []zoneRecord
	for _, z := range s.HostedZones {
		for _, r := range z.Records {
			// The canonical zone name, so that respelling a zone's name
			// ("example.com" → "example.com.") does not change its records.
			out = append(out, zoneRecord{CanonicalName(z.Name), r})
		}
	}
	return out
}

func diffKind[T any](out []ResourceChange, kind string, old, new []T, id func(T) string) []ResourceChange {
	before := make(map[string]T, len(old))
	for _, x := range old {
		before[id(x)] = x
	}
	after := make(map[string]bool, len(new))
	for _, x := range new {
		k := id(x)
		after[k] = true
		prev, ok := before[k]
		switch {
		case !ok:
			out = append(out, ResourceChange{Kind: kind, Name: k, Op: Add, New: plain(x)})
		case !reflect.DeepEqual(prev, x):
			out = append(out, ResourceChange{Kind: kind, Name: k, Op: Change, Old: plain(prev), New: plain(x)})
		}
	}
	for _, x := range old {
		if k := id(x); !after[k] {
			out = append(out, ResourceChange{Kind: kind, Name: k, Op: Remove, Old: plain(x)})
		}
	}
	return out
}

// plain returns x as its model type: a record without its zone.
func plain[T any](x T) any {
	if r, ok := any(x).(zoneRecord); ok {
		return r.RecordSet
	}
	return x
}
