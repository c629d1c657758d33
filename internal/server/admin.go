package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/switchboard/switchboard/internal/api"
	"github.com/switchboard/switchboard/internal/api/route53"
	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/health/state"
)

// adminHandler serves the admin listener:
//
//	GET /healthz  200 while the process runs
//	GET /readyz   200 once a view is published, 503 before and while draining
//	GET /status   JSON: versions, the last configuration error, recent history
//	/api/v1/...   the REST API (internal/api)
func (s *Server) adminHandler(apiHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /status", s.status)
	mux.Handle("/"+route53.APIVersion+"/", s.route53())
	s.mountObserve(mux)                // /metrics and the dashboard
	mux.Handle(api.Prefix, apiHandler) // the REST API: internal/api, wired in api.go
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case draining:
		http.Error(w, "draining", http.StatusServiceUnavailable)
	case s.pub.Load() == nil:
		http.Error(w, "no view yet", http.StatusServiceUnavailable)
	default:
		w.Write([]byte("ready\n"))
	}
}

// Status is the JSON document of GET /status.
type Status struct {
	Version string `json:"version"`
	Started string `json:"started"`
	// DesiredVersion is the newest committed desired-state version.
	DesiredVersion uint64 `json:"desired_version"`
	// ViewVersion is the desired-state version of the published view.
	ViewVersion uint64 `json:"view_version"`
	// HealthVersion counts health snapshots; it grows with every transition.
	HealthVersion uint64       `json:"health_version"`
	Health        HealthCounts `json:"health"`
	DNS           *DNSStatus   `json:"dns,omitempty"`
	// DataPlanes are the kernel data planes' last reports: what is
	// programmed and what could not be done.
	DataPlanes []dataplane.Report `json:"data_planes,omitempty"`
	Config     ConfigStatus       `json:"config"`
	History    []Change           `json:"history"`

	// VIPs are the virtual IPs this node owns or tries to (vip.go).
	VIPs []VIPStatus `json:"vips,omitempty"`
}

// HealthCounts counts the health statuses of checks and targets, with the
// ones that are not healthy by name.
type HealthCounts struct {
	Healthy   int      `json:"healthy"`
	Unhealthy int      `json:"unhealthy"`
	Unknown   int      `json:"unknown"`
	Failing   []string `json:"failing,omitempty"` // "check[target]: reason", sorted
}

// DNSStatus is the DNS server's listeners and counters.
type DNSStatus struct {
	Listen      []string `json:"listen"`
	Queries     uint64   `json:"queries"`
	FormErrs    uint64   `json:"formerr"`
	Truncated   uint64   `json:"truncated"`
	FailingOpen uint64   `json:"record_groups_failing_open"`
}

// ConfigStatus is the state of the configuration file.
type ConfigStatus struct {
	File        string `json:"file"`
	OK          bool   `json:"ok"`
	LastAttempt string `json:"last_attempt,omitempty"`
	LastSuccess string `json:"last_success,omitempty"`
	// Errors are the problems of the last attempt, one per line as
	// FILE:LINE:COL: field: problem (allowed).
	Errors []string `json:"errors,omitempty"`
}

// Change is one entry of the history.
type Change struct {
	Version uint64 `json:"version"`
	Time    string `json:"time"`
	Source  string `json:"source"`
	Author  string `json:"author,omitempty"`
	Summary string `json:"summary"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.store
	dns := s.dns
	dp := s.dataplane
	vips := s.vips
	cs := ConfigStatus{File: s.cfg.ConfigPath, OK: s.configErr == nil, LastAttempt: rfc3339(s.lastLoad), LastSuccess: rfc3339(s.lastOK)}
	cs.Errors = errorLines(s.configErr)
	s.mu.Unlock()

	out := Status{Version: s.cfg.Version, Config: cs, Started: rfc3339(s.boot)}
	if v := s.pub.Load(); v != nil {
		out.ViewVersion = v.Version
	}
	if dns != nil {
		ds := dns.Stats()
		out.DNS = &DNSStatus{Queries: ds.Queries, FormErrs: ds.FormErrs, Truncated: ds.Truncated, FailingOpen: uint64(ds.FailingOpen)}
		for _, a := range dns.Addrs() {
			out.DNS.Listen = append(out.DNS.Listen, a.Network()+"/"+a.String())
		}
	}
	if vips != nil {
		out.VIPs = vips.Status()
	}
	if dp != nil {
		out.DataPlanes = dp.Reports()
	}
	hs := s.health.Snapshot()
	out.HealthVersion = hs.Version()
	hs.Each(func(k state.Key, st state.Status) {
		switch st.Word() {
		case "healthy":
			out.Health.Healthy++
		case "unknown":
			out.Health.Unknown++
		default:
			out.Health.Unhealthy++
			name := k.Check
			if k.Target.IsValid() {
				name += "[" + k.Target.String() + "]"
			}
			out.Health.Failing = append(out.Health.Failing, name+": "+st.Reason)
		}
	})
	slices.Sort(out.Health.Failing)
	if st != nil {
		head, err := st.Head(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out.DesiredVersion = head.Version
		hist, err := st.History(r.Context(), 0, 20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, c := range hist {
			out.History = append(out.History, Change{c.Version, rfc3339(c.Time), c.Source, c.Author, c.Summary})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	var list config.ErrorList
	if errors.As(err, &list) {
		lines := make([]string, len(list))
		for i, e := range list {
			lines[i] = e.Error()
		}
		return lines
	}
	return []string{err.Error()}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
