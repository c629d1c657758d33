package api

import (
	"net/http"
	"slices"

	"github.com/switchboard/switchboard/internal/model"
)

// kind is one named resource type of model.State, served at
// /api/v1/<name>[/<resource name>].
type kind struct {
	// name is the State field's YAML name, such as target_groups.
	name string
	// what names one resource in messages, such as "target group".
	what string
	// list returns the resources of s (a slice, for JSON).
	list func(s *model.State) any
	// find returns the resource called name, or nil.
	find func(s *model.State, name string) any
	// decode reads a body into a new resource and returns it with its name.
	decode func(r *http.Request) (any, string, error)
	// put replaces the resource called name by v, or appends v; it says
	// whether it replaced one.
	put func(s *model.State, name string, v any) bool
	// remove deletes the resource called name; it says whether there was one.
	remove func(s *model.State, name string) bool
	// same says whether two names name the same resource.
	same func(a, b string) bool
}

// kindOf builds a kind over the slice field of State, with id giving a
// resource's name and same saying whether two names are the same.
func kindOf[T any](name, what string, field func(*model.State) *[]T, id func(*T) string, setID func(*T, string), same func(a, b string) bool, keep func(old, new *T)) kind {
	index := func(s *model.State, n string) int {
		return slices.IndexFunc(*field(s), func(x T) bool { return same(id(&x), n) })
	}
	return kind{
		name: name,
		what: what,
		same: same,
		list: func(s *model.State) any {
			if l := *field(s); l != nil {
				return l
			}
			return []T{}
		},
		find: func(s *model.State, n string) any {
			if i := index(s, n); i >= 0 {
				return &(*field(s))[i]
			}
			return nil
		},
		decode: func(r *http.Request) (any, string, error) {
			v := new(T)
			if err := decode(r, v); err != nil {
				return nil, "", err
			}
			return v, id(v), nil
		},
		put: func(s *model.State, n string, v any) bool {
			x := *v.(*T) // a copy: put may run again on a newer head
			if id(&x) == "" {
				setID(&x, n)
			}
			l := field(s)
			if i := index(s, n); i >= 0 {
				if keep != nil {
					keep(&(*l)[i], &x)
				}
				(*l)[i] = x
				return true
			}
			*l = append(*l, x)
			return false
		},
		remove: func(s *model.State, n string) bool {
			l := field(s)
			i := index(s, n)
			if i < 0 {
				return false
			}
			*l = slices.Delete(*l, i, i+1)
			return true
		},
	}
}

func exact(a, b string) bool { return a == b }

func sameDNSName(a, b string) bool { return model.CanonicalName(a) == model.CanonicalName(b) }

// kinds are the named resources with list/get/create/update/delete.
// Zonal shifts have their own endpoints (shifts.go); records live under
// their hosted zone (records.go).
func kinds() []kind {
	return []kind{
		kindOf("regions", "region", func(s *model.State) *[]model.Region { return &s.Regions },
			func(x *model.Region) string { return x.Name }, func(x *model.Region, n string) { x.Name = n }, exact, nil),
		kindOf("zones", "zone", func(s *model.State) *[]model.Zone { return &s.Zones },
			func(x *model.Zone) string { return x.Name }, func(x *model.Zone, n string) { x.Name = n }, exact, nil),
		kindOf("health_checks", "health check", func(s *model.State) *[]model.HealthCheck { return &s.HealthChecks },
			func(x *model.HealthCheck) string { return x.Name }, func(x *model.HealthCheck, n string) { x.Name = n }, exact, nil),
		kindOf("cidr_collections", "CIDR collection", func(s *model.State) *[]model.CIDRCollection { return &s.CIDRCollections },
			func(x *model.CIDRCollection) string { return x.Name }, func(x *model.CIDRCollection, n string) { x.Name = n }, exact, nil),
		// A hosted zone written without "records" keeps its records: they
		// have their own endpoints.
		kindOf("hosted_zones", "hosted zone", func(s *model.State) *[]model.HostedZone { return &s.HostedZones },
			func(x *model.HostedZone) string { return x.Name }, func(x *model.HostedZone, n string) { x.Name = n }, sameDNSName,
			func(old, new *model.HostedZone) {
				if new.Records == nil {
					new.Records = old.Records
				}
			}),
		kindOf("target_groups", "target group", func(s *model.State) *[]model.TargetGroup { return &s.TargetGroups },
			func(x *model.TargetGroup) string { return x.Name }, func(x *model.TargetGroup, n string) { x.Name = n }, exact, nil),
		kindOf("load_balancers", "load balancer", func(s *model.State) *[]model.LoadBalancer { return &s.LoadBalancers },
			func(x *model.LoadBalancer) string { return x.Name }, func(x *model.LoadBalancer, n string) { x.Name = n }, exact, nil),
	}
}

func (a *API) list(k kind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		head, err := a.cfg.Store.Head(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("ETag", etag(head.Version))
		return writeJSON(w, http.StatusOK, k.list(head.State))
	}
}

func (a *API) get(k kind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		head, err := a.cfg.Store.Head(r.Context())
		if err != nil {
			return err
		}
		name := r.PathValue("name")
		v := k.find(head.State, name)
		if v == nil {
			return notFound("%s %q does not exist", k.what, name)
		}
		w.Header().Set("ETag", etag(head.Version))
		return writeJSON(w, http.StatusOK, v)
	}
}

// create adds a resource; one of that name must not exist (409).
func (a *API) create(k kind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, name, err := k.decode(r)
		if err != nil {
			return err
		}
		if name == "" {
			return badRequest("name", "a %s needs a name", k.what)
		}
		return a.commit(w, r, "api", "", func(s *model.State) error {
			if k.find(s, name) != nil {
				return conflict("%s %q already exists; PUT %s%s/%s replaces it", k.what, name, Prefix, k.name, name)
			}
			k.put(s, name, v)
			return nil
		})
	}
}

// put creates or replaces the resource named in the path. A name in the
// body must be the same.
func (a *API) put(k kind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, name, err := k.decode(r)
		if err != nil {
			return err
		}
		path := r.PathValue("name")
		if name != "" && !k.same(name, path) {
			return badRequest("name", "the body names %q but the path %q; rename by DELETE and POST", name, path)
		}
		return a.commit(w, r, "api", "", func(s *model.State) error {
			k.put(s, path, v)
			return nil
		})
	}
}

func (a *API) remove(k kind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		return a.commit(w, r, "api", "", func(s *model.State) error {
			if !k.remove(s, name) {
				return notFound("%s %q does not exist", k.what, name)
			}
			return nil
		})
	}
}

// getState returns the whole desired state at the head.
func (a *API) getState(w http.ResponseWriter, r *http.Request) error {
	head, err := a.cfg.Store.Head(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(head.Version))
	return writeJSON(w, http.StatusOK, head.State)
}

// putState replaces the whole desired state, as `switchboard apply` does.
func (a *API) putState(w http.ResponseWriter, r *http.Request) error {
	var next model.State
	if err := decode(r, &next); err != nil {
		return err
	}
	source := "api"
	if s := r.URL.Query().Get("source"); s == "apply" {
		source = s
	}
	return a.commit(w, r, source, "", func(s *model.State) error {
		*s = next
		return nil
	})
}
