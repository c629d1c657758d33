package api

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/internal/model"
)

// Record sets live under their hosted zone:
//
//	/api/v1/hosted_zones/{zone}/records[/{name}/{type}[?set_identifier=id]]
//
// A record set is identified by its name (canonical: case and the final dot
// do not matter), type and set identifier, as in Route 53.

func zoneIndex(s *model.State, zone string) int {
	return slices.IndexFunc(s.HostedZones, func(z model.HostedZone) bool { return sameDNSName(z.Name, zone) })
}

func recordIndex(z *model.HostedZone, name string, typ model.RecordType, set string) int {
	return slices.IndexFunc(z.Records, func(rs model.RecordSet) bool {
		return sameDNSName(rs.Name, name) && strings.EqualFold(string(rs.Type), string(typ)) && rs.SetIdentifier == set
	})
}

type recordID struct {
	zone, name string
	typ        model.RecordType
	set        string
}

func (id recordID) String() string {
	s := id.name + " " + string(id.typ)
	if id.set != "" {
		s += " (" + id.set + ")"
	}
	return s
}

func recordIDOf(r *http.Request) recordID {
	return recordID{r.PathValue("zone"), r.PathValue("name"), model.RecordType(strings.ToUpper(r.PathValue("type"))), r.URL.Query().Get("set_identifier")}
}

func (a *API) listRecords(w http.ResponseWriter, r *http.Request) error {
	head, err := a.cfg.Store.Head(r.Context())
	if err != nil {
		return err
	}
	i := zoneIndex(head.State, r.PathValue("zone"))
	if i < 0 {
		return notFound("hosted zone %q does not exist", r.PathValue("zone"))
	}
	recs := head.State.HostedZones[i].Records
	if recs == nil {
		recs = []model.RecordSet{}
	}
	w.Header().Set("ETag", etag(head.Version))
	return writeJSON(w, http.StatusOK, recs)
}

func (a *API) getRecord(w http.ResponseWriter, r *http.Request) error {
	head, err := a.cfg.Store.Head(r.Context())
	if err != nil {
		return err
	}
	id := recordIDOf(r)
	i := zoneIndex(head.State, id.zone)
	if i < 0 {
		return notFound("hosted zone %q does not exist", id.zone)
	}
	z := &head.State.HostedZones[i]
	j := recordIndex(z, id.name, id.typ, id.set)
	if j < 0 {
		return notFound("record set %s does not exist in %s", id, z.Name)
	}
	w.Header().Set("ETag", etag(head.Version))
	return writeJSON(w, http.StatusOK, z.Records[j])
}

// createRecord adds a record set; one with the same name, type and set
// identifier must not exist.
func (a *API) createRecord(w http.ResponseWriter, r *http.Request) error {
	var rs model.RecordSet
	if err := decode(r, &rs); err != nil {
		return err
	}
	zone := r.PathValue("zone")
	return a.commit(w, r, "api", "", func(s *model.State) error {
		i := zoneIndex(s, zone)
		if i < 0 {
			return notFound("hosted zone %q does not exist", zone)
		}
		z := &s.HostedZones[i]
		if recordIndex(z, rs.Name, rs.Type, rs.SetIdentifier) >= 0 {
			return conflict("record set %s already exists in %s", recordID{zone, rs.Name, rs.Type, rs.SetIdentifier}, z.Name)
		}
		z.Records = append(z.Records, rs)
		return nil
	})
}

// putRecord creates or replaces the record set of the path; name, type and
// set identifier in the body default to the path's and must match it.
func (a *API) putRecord(w http.ResponseWriter, r *http.Request) error {
	var rs model.RecordSet
	if err := decode(r, &rs); err != nil {
		return err
	}
	id := recordIDOf(r)
	if rs.Name == "" {
		rs.Name = id.name
	}
	if rs.Type == "" {
		rs.Type = id.typ
	}
	if rs.SetIdentifier == "" {
		rs.SetIdentifier = id.set
	}
	if !sameDNSName(rs.Name, id.name) || !strings.EqualFold(string(rs.Type), string(id.typ)) || rs.SetIdentifier != id.set {
		return badRequest("", "the body is record set %s but the path %s", recordID{id.zone, rs.Name, rs.Type, rs.SetIdentifier}, id)
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		i := zoneIndex(s, id.zone)
		if i < 0 {
			return notFound("hosted zone %q does not exist", id.zone)
		}
		z := &s.HostedZones[i]
		if j := recordIndex(z, id.name, id.typ, id.set); j >= 0 {
			z.Records[j] = rs
		} else {
			z.Records = append(z.Records, rs)
		}
		return nil
	})
}

func (a *API) deleteRecord(w http.ResponseWriter, r *http.Request) error {
	id := recordIDOf(r)
	return a.commit(w, r, "api", "", func(s *model.State) error {
		i := zoneIndex(s, id.zone)
		if i < 0 {
			return notFound("hosted zone %q does not exist", id.zone)
		}
		z := &s.HostedZones[i]
		j := recordIndex(z, id.name, id.typ, id.set)
		if j < 0 {
			return notFound("record set %s does not exist in %s", id, z.Name)
		}
		z.Records = slices.Delete(z.Records, j, j+1)
		return nil
	})
}

// Targets is the body of target registration and deregistration.
type Targets struct {
	// Targets to register (address, port, zone, weight), or to deregister
	// (address and port; a port of 0 means the group's port).
	Targets []model.Target `json:"targets"`
}

// registerTargets adds targets to a group, replacing a target already
// registered at the same address and port.
func (a *API) registerTargets(w http.ResponseWriter, r *http.Request) error {
	var body Targets
	if err := decode(r, &body); err != nil {
		return err
	}
	if len(body.Targets) == 0 {
		return badRequest("targets", "name at least one target")
	}
	return a.editTargets(w, r, func(tg *model.TargetGroup) error {
		for _, t := range body.Targets {
			if i := targetIndex(tg, t.Address, t.Port); i >= 0 {
				tg.Targets[i] = t
			} else {
				tg.Targets = append(tg.Targets, t)
			}
		}
		return nil
	})
}

// deregisterTargets removes targets from a group; each must be registered.
func (a *API) deregisterTargets(w http.ResponseWriter, r *http.Request) error {
	var body Targets
	if err := decode(r, &body); err != nil {
		return err
	}
	if len(body.Targets) == 0 {
		return badRequest("targets", "name at least one target")
	}
	return a.editTargets(w, r, func(tg *model.TargetGroup) error {
		for _, t := range body.Targets {
			i := targetIndex(tg, t.Address, t.Port)
			if i < 0 {
				return notFound("target %s port %d is not registered in target group %s", t.Address, t.Port, tg.Name)
			}
			tg.Targets = slices.Delete(tg.Targets, i, i+1)
		}
		return nil
	})
}

func (a *API) editTargets(w http.ResponseWriter, r *http.Request, edit func(*model.TargetGroup) error) error {
	name := r.PathValue("name")
	return a.commit(w, r, "api", "", func(s *model.State) error {
		i := slices.IndexFunc(s.TargetGroups, func(tg model.TargetGroup) bool { return tg.Name == name })
		if i < 0 {
			return notFound("target group %q does not exist", name)
		}
		return edit(&s.TargetGroups[i])
	})
}

// targetIndex finds a target by address and port, a port of 0 standing for
// the group's.
func targetIndex(tg *model.TargetGroup, addr netip.Addr, port int) int {
	eff := func(p int) int {
		if p == 0 {
			return tg.Port
		}
		return p
	}
	return slices.IndexFunc(tg.Targets, func(t model.Target) bool { return t.Address == addr && eff(t.Port) == eff(port) })
}
