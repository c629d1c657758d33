package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
)

// Change is one resource a change adds (+), changes (~) or removes (-).
type Change struct {
	Op   string `json:"op"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Result is the answer to every change.
type Result struct {
	// Version is the head after the change: the new version, or the
	// unchanged head when the change changed nothing or was a dry run.
	Version uint64 `json:"version"`
	// Previous is the version the change was applied to.
	Previous uint64 `json:"previous_version"`
	// Committed is false for a dry run and for a change that changed nothing.
	Committed bool     `json:"committed"`
	Summary   string   `json:"summary"`
	Changes   []Change `json:"changes"`
}

// Changes converts a model diff.
func Changes(d []model.ResourceChange) []Change {
	out := make([]Change, len(d))
	for i, c := range d {
		out[i] = Change{Op: string(rune(c.Op)), Kind: c.Kind, Name: c.Name}
	}
	return out
}

// budgeted are the kinds whose deletions count against the budget.
var budgeted = map[string]bool{"records": true, "target_groups": true, "load_balancers": true}

// MassDeletes returns the deletions of d that count against the deletion
// budget: records, target groups and load balancers.
func MassDeletes(d []model.ResourceChange) []model.ResourceChange {
	var out []model.ResourceChange
	for _, c := range d {
		if c.Op == model.Remove && budgeted[c.Kind] {
			out = append(out, c)
		}
	}
	return out
}

// ifMatch returns the version the request is conditional on, if any: the
// If-Match header (an entity tag, quoted or not, weak or not) or ?version=.
func ifMatch(r *http.Request) (*uint64, error) {
	s := r.Header.Get("If-Match")
	if s == "" {
		s = r.URL.Query().Get("version")
	}
	if s == "" || s == "*" {
		return nil, nil
	}
	s = strings.Trim(strings.TrimPrefix(s, "W/"), `"`)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, badRequest("If-Match", "%q is not a version number", s)
	}
	return &v, nil
}

func flag(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

// commit is the one way the API changes the state: mutate a copy of the
// head, default and validate it, check the deletion budget, and commit it
// with IfVersion = the head read. note starts the history's summary.
// mutate may return an *Error; it must depend only on the state it is
// given, since a request without If-Match that loses a race with another
// writer is applied again to the new head (a few times at most). It writes
// the Result, or returns the error to write.
func (a *API) commit(w http.ResponseWriter, r *http.Request, source, note string, mutate func(s *model.State) error) error {
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	const attempts = 5
	for try := 1; ; try++ {
		err := a.commitOnce(w, r, source, note, want, mutate)
		var e *Error
		if want != nil || try == attempts || !errors.As(err, &e) || e.Code != "version_mismatch" {
			return err
		}
	}
}

func (a *API) commitOnce(w http.ResponseWriter, r *http.Request, source, note string, want *uint64, mutate func(s *model.State) error) error {
	head, err := a.cfg.Store.Head(r.Context())
	if err != nil {
		return err
	}
	if want != nil && *want != head.Version {
		return mismatch(head.Version, *want)
	}
	old, err := a.unchanged(r, head.Version)
	if err != nil {
		return err
	}
	next := head.State
	if err := mutate(next); err != nil {
		return err
	}
	next.SetDefaults()
	if err := next.Validate(); err != nil {
		return invalid(err)
	}
	diff := model.Diff(old, next)
	res := Result{Version: head.Version, Previous: head.Version, Summary: note + model.Summary(diff), Changes: Changes(diff)}
	if dels := MassDeletes(diff); len(dels) > a.cfg.MaxDeletes && !flag(r, "allow_mass_delete") {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "mass_delete", Changes: Changes(dels),
			Message: fmt.Sprintf("the change deletes %d records, target groups and load balancers, more than the budget of %d; repeat it with allow_mass_delete=true if you mean it", len(dels), a.cfg.MaxDeletes)}
	}
	if len(diff) == 0 || flag(r, "dry_run") {
		w.Header().Set("ETag", etag(head.Version))
		return writeJSON(w, http.StatusOK, res)
	}
	v := head.Version
	snap, err := a.cfg.Store.Commit(r.Context(), store.Batch{State: next, IfVersion: &v, Source: source, Author: author(r), Summary: res.Summary})
	if errors.Is(err, store.ErrConflict) {
		cur, herr := a.cfg.Store.Head(r.Context())
		if herr != nil {
			return herr
		}
		return mismatch(cur.Version, v)
	}
	if err != nil {
		return err
	}
	a.log.Info("api: change committed", "version", snap.Version, "source", source, "author", author(r), "changes", res.Summary)
	res.Version, res.Committed = snap.Version, true
	w.Header().Set("ETag", etag(snap.Version))
	return writeJSON(w, http.StatusOK, res)
}

// unchanged returns a read-only copy of version v to diff against: the live
// view's state when the view is of v (it is immutable, and saves decoding
// the whole state a second time), else a fresh read of the head.
func (a *API) unchanged(r *http.Request, v uint64) (*model.State, error) {
	if cur := a.cfg.Views.Load(); cur != nil && cur.Version == v && cur.State != nil {
		return cur.State, nil
	}
	old, err := a.cfg.Store.Head(r.Context())
	if err != nil {
		return nil, err
	}
	if old.Version != v {
		return nil, mismatch(old.Version, v)
	}
	return old.State, nil
}

func mismatch(current, want uint64) *Error {
	return &Error{Status: http.StatusPreconditionFailed, Code: "version_mismatch", CurrentVersion: &current,
		Message: fmt.Sprintf("the state is at version %d, not %d: someone changed it; read it again and retry", current, want)}
}
