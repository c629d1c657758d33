package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
)

// ShiftRequest is the body of POST /ui/api/shifts: move the traffic of one
// load balancer or target group away from a zone.
type ShiftRequest struct {
	// LoadBalancer or TargetGroup names the resource; exactly one is set.
	LoadBalancer string `json:"load_balancer,omitempty"`
	TargetGroup  string `json:"target_group,omitempty"`
	// AwayFrom is the zone traffic leaves.
	AwayFrom string `json:"away_from"`
	// ExpiresIn is how long the shift lasts, such as "1h": 1m–72h.
	ExpiresIn string `json:"expires_in"`
	// Comment says why, for people.
	Comment string `json:"comment,omitempty"`
}

// ShiftResult is the answer to a shift request that was committed.
type ShiftResult struct {
	// Version is the desired-state version that holds the change.
	Version uint64 `json:"version"`
	Summary string `json:"summary"`
}

// shiftError is the answer to a shift request that was refused.
type shiftError struct {
	Error string `json:"error"`
	// Problems are the validation problems, one per line, when the state
	// with the change would not be valid.
	Problems []string `json:"problems,omitempty"`
}

// uiToken is the dashboard's write token: SWITCHBOARD_UI_TOKEN, else
// server.admin.ui_token; empty when neither is set.
func (s *Server) uiToken() string {
	if t := os.Getenv("SWITCHBOARD_UI_TOKEN"); t != "" {
		return t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.Admin.UIToken
}

// shiftsWritable reports whether some token may start shifts from the page.
func (s *Server) shiftsWritable() bool {
	if s.uiToken() != "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.apiTokens {
		if t.Scope == model.ScopeWrite {
			return true
		}
	}
	return false
}

// authorizeShift answers and returns false unless r carries the UI token
// or a write token of the REST API, so that an operator needs one secret
// for both.
func (s *Server) authorizeShift(w http.ResponseWriter, r *http.Request) bool {
	var accepted []string
	if tok := s.uiToken(); tok != "" {
		if len(tok) < 16 {
			writeJSON(w, http.StatusForbidden, shiftError{Error: "the UI token is shorter than 16 characters: shifts from the dashboard are refused"})
			return false
		}
		accepted = append(accepted, tok)
	}
	s.mu.Lock()
	for _, t := range s.apiTokens {
		if t.Scope == model.ScopeWrite {
			accepted = append(accepted, t.Secret)
		}
	}
	s.mu.Unlock()
	if len(accepted) == 0 {
		writeJSON(w, http.StatusForbidden, shiftError{Error: "the dashboard is read-only: set server.admin.ui_token (or SWITCHBOARD_UI_TOKEN) or a write token of the API to start zonal shifts from it"})
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	match := 0
	for _, tok := range accepted {
		match |= subtle.ConstantTimeCompare([]byte(got), []byte(tok))
	}
	if !ok || match != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
		writeJSON(w, http.StatusUnauthorized, shiftError{Error: "a valid UI token or API write token is required (Authorization: Bearer …)"})
		return false
	}
	return true
}

func (s *Server) startShift(w http.ResponseWriter, r *http.Request) {
	if !s.authorizeShift(w, r) {
		return
	}
	var req ShiftRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, shiftError{Error: "body: " + err.Error()})
		return
	}
	d, err := time.ParseDuration(req.ExpiresIn)
	if err != nil || d < model.MinShift || d > model.MaxShift {
		writeJSON(w, http.StatusBadRequest, shiftError{Error: fmt.Sprintf("expires_in: %q is not a duration of 1m–72h, such as 1h", req.ExpiresIn)})
		return
	}
	shift := model.ZonalShift{LoadBalancer: req.LoadBalancer, TargetGroup: req.TargetGroup, AwayFrom: req.AwayFrom, Comment: req.Comment}
	// The same rules as the REST API's: one shift per resource, as ARC.
	s.commitShift(w, r, func(st *model.State) error { return st.StartShift(shift, d, s.now()) })
}

func (s *Server) cancelShift(w http.ResponseWriter, r *http.Request) {
	if !s.authorizeShift(w, r) {
		return
	}
	q := r.URL.Query()
	target := model.ZonalShift{LoadBalancer: q.Get("load_balancer"), TargetGroup: q.Get("target_group")}
	if (target.LoadBalancer == "") == (target.TargetGroup == "") {
		writeJSON(w, http.StatusBadRequest, shiftError{Error: "give exactly one of ?load_balancer= and ?target_group="})
		return
	}
	s.commitShift(w, r, func(st *model.State) error { return st.CancelShift(target.LoadBalancer, target.TargetGroup) })
}

// commitShift applies change to the head state and commits the result as
// one version, if the head did not move meanwhile (IfVersion); when it did,
// it starts again from the new head, a few times.
func (s *Server) commitShift(w http.ResponseWriter, r *http.Request, change func(*model.State) error) {
	s.mu.Lock()
	st := s.store
	s.mu.Unlock()
	if st == nil {
		writeJSON(w, http.StatusServiceUnavailable, shiftError{Error: "the store is not open yet"})
		return
	}
	ctx := r.Context()
	for range 3 {
		head, err := st.Head(ctx)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, shiftError{Error: err.Error()})
			return
		}
		next := head.State // our own copy
		// change edits zonal shifts only, in place: keep the old ones for the diff.
		old := *next
		old.ZonalShifts = slices.Clone(next.ZonalShifts)
		if err := change(next); err != nil {
			code := http.StatusBadRequest
			switch {
			case errors.Is(err, model.ErrNoShift):
				code = http.StatusNotFound
			case errors.Is(err, model.ErrShiftActive):
				code = http.StatusConflict
			}
			writeJSON(w, code, shiftError{Error: err.Error()})
			return
		}
		if err := next.Validate(); err != nil {
			var list model.Errors
			out := shiftError{Error: "the zonal shift was refused"}
			if errors.As(err, &list) {
				for _, e := range list {
					out.Problems = append(out.Problems, e.Error())
				}
			} else {
				out.Problems = []string{err.Error()}
			}
			writeJSON(w, http.StatusUnprocessableEntity, out)
			return
		}
		v := head.Version
		summary := model.Summary(model.Diff(&old, next))
		snap, err := st.Commit(ctx, store.Batch{State: next, IfVersion: &v, Source: "dashboard", Author: "ui token", Summary: summary})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, shiftError{Error: err.Error()})
			return
		}
		s.log.Info("zonal shift changed from the dashboard", "version", snap.Version, "changes", summary, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusOK, ShiftResult{Version: snap.Version, Summary: summary})
		return
	}
	writeJSON(w, http.StatusConflict, shiftError{Error: "the desired state kept changing; try again"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
