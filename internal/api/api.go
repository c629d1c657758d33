// Package api is switchboard's native REST API: JSON under /api/v1/ on the
// admin listener, to read and change every resource of the desired state,
// start and end zonal shifts, read health, ask the live view what a DNS
// query or an HTTP request would get, and walk and roll back the history.
//
// Every change is a read-modify-write of the whole state: the handler reads
// the head, applies the request to a copy, sets defaults, validates it as
// the configuration file is validated, and commits it as one store batch
// with IfVersion set to the head it read. So a change applies whole or not
// at all, and two writers never overwrite each other blindly: a client that
// sends If-Match: <version> (or ?version=<version>) gets 412 with the
// current version when the head has moved; without it the change applies to
// whatever the head is (it is applied again to the new head, up to five
// times, when another writer commits between its read and its commit). Every answer that reads the state carries the
// version in ETag.
//
// A change that would delete more than Config.MaxDeletes records, target
// groups and load balancers together is refused (422, code mass_delete)
// unless the request says ?allow_mass_delete=true: a budget against
// fat-fingered deletions. ?dry_run=true validates and diffs without
// committing.
//
// Errors are JSON: {"code": "...", "message": "...", "path": "..."}, path
// being the field in model.Errors notation (target_groups[web].port) when
// the problem is one field; validation errors list every problem in
// "errors".
//
// Auth (auth.go): bearer tokens of read or write scope. GET needs read or
// write, everything else write. With no token configured the API answers
// only clients on loopback addresses, with write scope.
//
// Endpoints, under /api/v1/ (KIND is regions, zones, health_checks,
// cidr_collections, hosted_zones, target_groups or load_balancers):
//
//	GET    KIND                        list
//	POST   KIND                        create (409 if the name exists)
//	GET    KIND/{name}                 read one
//	PUT    KIND/{name}                 create or replace (a hosted zone without "records" keeps them)
//	DELETE KIND/{name}                 delete
//	GET    hosted_zones/{zone}/records                          list record sets
//	POST   hosted_zones/{zone}/records                          create one
//	GET|PUT|DELETE hosted_zones/{zone}/records/{name}/{type}[?set_identifier=]
//	GET|PUT|DELETE load_balancers/{lb}/listeners/{port}[/rules/{priority}]
//	                                   a listener (PUT without "rules" keeps them) or one rule
//	POST   target_groups/{name}/targets             register {"targets": [...]} (same address and port: replaced)
//	POST   target_groups/{name}/targets/deregister  deregister {"targets": [{address, port}]}
//	GET    zonal_shifts                         list, with "active"
//	POST   zonal_shifts                         start {load_balancer|target_group, away_from, expires_in, comment}
//	PATCH  zonal_shifts/{kind}/{name}           extend {expires_in}; kind is load_balancer or target_group
//	DELETE zonal_shifts/{kind}/{name}           cancel
//	GET    state                       the whole desired state (ETag: its version)
//	PUT    state                       replace it whole (switchboard apply)
//	GET    versions/{version}          the state at an earlier version
//	GET    history[?limit=&before=]    changes, newest first
//	POST   rollback                    {"version": N}: N's state as a new version
//	GET    health                      every status
//	GET    health/checks/{name}[?target=ADDR:PORT]  one check or group probe, per checker
//	GET    health/target_groups/{name} a group per zone and target, from the live view
//	GET    health/zones                per zone: targets, healthy, shifted groups, nodes in DNS
//	GET    answer?name=&type=&client=  what DNS answers a client (address or network)
//	GET    route?load_balancer=&port=&host=&path=&method=&header=K:V&query=&source=&zone=
//	                                   the rule, action, target groups and targets of a request
//
// Every write takes ?dry_run=true and ?allow_mass_delete=true, and If-Match
// or ?version=.
package api

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/"

// Health is what the API reads from the health engine (*health.Engine).
type Health interface {
	// Snapshot returns the current statuses.
	Snapshot() *state.Snapshot
	// Detail returns what is known about one key, per checker.
	Detail(state.Key) (health.Detail, bool)
}

// Config is what the API needs. Store and Views are required.
type Config struct {
	// Store is the desired state every change is committed to.
	Store store.Store
	// Views is the live routing view, for health and what-if queries.
	Views *view.Publisher
	// Health is the health engine; optional (no per-checker detail without it).
	Health Health
	// Tokens are the accepted bearer tokens. Empty: loopback clients only.
	Tokens []Token
	// MaxDeletes is the deletion budget of one change (see the package
	// documentation). Default 0 means model.DefaultMaxDeletes; negative
	// means no deletion without allow_mass_delete.
	MaxDeletes int
	// LoadBalancerTTL and Locator are the DNS server's, for DNS what-if
	// answers. Optional.
	LoadBalancerTTL time.Duration
	Locator         dnsserver.Locator
	// Logger receives a line per committed change. Default: discard.
	Logger *slog.Logger
	// Now returns the time, for zonal shift expiries. Default time.Now.
	Now func() time.Time
}

// API serves the REST API. It is an http.Handler for paths under Prefix.
type API struct {
	// Immutable after New.
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API for cfg. It does no I/O.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.MaxDeletes == 0:
		cfg.MaxDeletes = model.DefaultMaxDeletes
	case cfg.MaxDeletes < 0:
		cfg.MaxDeletes = 0
	}
	a := &API{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	a.routes()
	return a
}

// ServeHTTP authenticates the request and serves it. A panic in a handler
// is recovered here, the request boundary, and answered 500.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("api: panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", p)
			writeError(w, &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"})
		}
	}()
	who, err := a.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	r = r.WithContext(withAuthor(r.Context(), who))
	a.mux.ServeHTTP(w, r)
}

// allowed lists the methods an endpoint at r's path takes.
func (a *API) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := a.mux.Handler(r2); pattern != Prefix && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

func (a *API) routes() {
	m := a.mux
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				writeError(w, err)
			}
		})
	}
	for _, k := range kinds() {
		base := Prefix + k.name
		handle("GET "+base, a.list(k))
		handle("POST "+base, a.create(k))
		handle("GET "+base+"/{name}", a.get(k))
		handle("PUT "+base+"/{name}", a.put(k))
		handle("DELETE "+base+"/{name}", a.remove(k))
	}
	handle("GET "+Prefix+"hosted_zones/{zone}/records", a.listRecords)
	handle("POST "+Prefix+"hosted_zones/{zone}/records", a.createRecord)
	handle("GET "+Prefix+"hosted_zones/{zone}/records/{name}/{type}", a.getRecord)
	handle("PUT "+Prefix+"hosted_zones/{zone}/records/{name}/{type}", a.putRecord)
	handle("DELETE "+Prefix+"hosted_zones/{zone}/records/{name}/{type}", a.deleteRecord)
	handle("POST "+Prefix+"target_groups/{name}/targets", a.registerTargets)
	handle("POST "+Prefix+"target_groups/{name}/targets/deregister", a.deregisterTargets)

	a.listenerRoutes(handle)

	handle("GET "+Prefix+"zonal_shifts", a.listShifts)
	handle("POST "+Prefix+"zonal_shifts", a.startShift)
	handle("PATCH "+Prefix+"zonal_shifts/{kind}/{name}", a.extendShift)
	handle("DELETE "+Prefix+"zonal_shifts/{kind}/{name}", a.cancelShift)

	handle("GET "+Prefix+"state", a.getState)
	handle("PUT "+Prefix+"state", a.putState)
	handle("GET "+Prefix+"versions/{version}", a.getVersion)
	handle("GET "+Prefix+"history", a.history)
	handle("POST "+Prefix+"rollback", a.rollback)

	handle("GET "+Prefix+"health", a.healthAll)
	handle("GET "+Prefix+"health/checks/{name}", a.healthCheck)
	handle("GET "+Prefix+"health/target_groups/{name}", a.healthGroup)
	handle("GET "+Prefix+"health/zones", a.healthZones)

	handle("GET "+Prefix+"answer", a.answer)
	handle("GET "+Prefix+"route", a.route)

	handle(Prefix, func(w http.ResponseWriter, r *http.Request) error {
		if allowed := a.allowed(r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: r.URL.Path + " takes " + strings.Join(allowed, ", ") + ", not " + r.Method}
		}
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: r.Method + " " + r.URL.Path + " is not an API endpoint"}
	})
}
