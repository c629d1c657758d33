package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
)

// Version is one entry of the history.
type Version struct {
	Version uint64    `json:"version"`
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`
	Author  string    `json:"author,omitempty"`
	Summary string    `json:"summary"`
}

// history lists changes newest first: ?limit= (default 50) and ?before=
// (a version, exclusive) page through it.
func (a *API) history(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, before := 50, uint64(0)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return badRequest("limit", "%q is not a number from 1 to 10000", s)
		}
		limit = n
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return badRequest("before", "%q is not a version", s)
		}
		before = n
	}
	changes, err := a.cfg.Store.History(r.Context(), before, limit)
	if err != nil {
		return err
	}
	out := make([]Version, len(changes))
	for i, c := range changes {
		out[i] = Version{c.Version, c.Time, c.Source, c.Author, c.Summary}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) snapshot(r *http.Request, s string) (*store.Snapshot, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, badRequest("version", "%q is not a version", s)
	}
	snap, err := a.cfg.Store.Get(r.Context(), v)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("version %d does not exist or has been pruned", v)
	}
	return snap, err
}

// getVersion returns the state at one version.
func (a *API) getVersion(w http.ResponseWriter, r *http.Request) error {
	snap, err := a.snapshot(r, r.PathValue("version"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(snap.Version))
	return writeJSON(w, http.StatusOK, snap.State)
}

// RollbackRequest asks for the state of an earlier version.
type RollbackRequest struct {
	Version uint64 `json:"version"`
}

// rollback commits the state of an earlier version as a new version: the
// history only grows, and the rollback itself can be rolled back. It is
// validated and budgeted like every change.
func (a *API) rollback(w http.ResponseWriter, r *http.Request) error {
	var req RollbackRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	old, err := a.snapshot(r, strconv.FormatUint(req.Version, 10))
	if err != nil {
		return err
	}
	return a.commit(w, r, "rollback", fmt.Sprintf("rollback to %d: ", old.Version), func(s *model.State) error {
		*s = *old.State
		return nil
	})
}
