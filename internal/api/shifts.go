package api

import (
	"errors"
	"net/http"

	"github.com/switchboard/switchboard/internal/model"
)

// Zonal shifts, as AWS ARC's: one per load balancer or target group, for
// 1 minute to 72 hours from when it starts or is extended.
//
//	GET    /api/v1/zonal_shifts                         list, with whether each is active
//	POST   /api/v1/zonal_shifts                         start: ShiftRequest
//	PATCH  /api/v1/zonal_shifts/{kind}/{name}           extend: ShiftRequest with expires_in
//	DELETE /api/v1/zonal_shifts/{kind}/{name}           cancel
//
// kind is load_balancer or target_group.

// ShiftRequest starts or extends a zonal shift.
type ShiftRequest struct {
	LoadBalancer string `json:"load_balancer,omitempty"`
	TargetGroup  string `json:"target_group,omitempty"`
	AwayFrom     string `json:"away_from,omitempty"`
	// ExpiresIn is how long from now the shift lasts, 1m–72h, such as "2h".
	ExpiresIn model.Duration `json:"expires_in"`
	Comment   string         `json:"comment,omitempty"`
}

// Shift is one zonal shift as listed.
type Shift struct {
	model.ZonalShift
	// Active is true until it expires.
	Active bool `json:"active"`
}

func (a *API) listShifts(w http.ResponseWriter, r *http.Request) error {
	head, err := a.cfg.Store.Head(r.Context())
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	out := []Shift{}
	for _, s := range head.State.ZonalShifts {
		out = append(out, Shift{s, now.Before(s.ExpiresAt)})
	}
	w.Header().Set("ETag", etag(head.Version))
	return writeJSON(w, http.StatusOK, out)
}

// shiftErr turns the model's zonal shift errors into API errors.
func shiftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, model.ErrShiftLength):
		return badRequest("expires_in", "%v", err)
	case errors.Is(err, model.ErrShiftActive):
		return conflict("%v", err)
	case errors.Is(err, model.ErrNoShift):
		return notFound("%v", err)
	}
	return badRequest("", "%v", err)
}

func (a *API) startShift(w http.ResponseWriter, r *http.Request) error {
	var req ShiftRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.AwayFrom == "" {
		return badRequest("away_from", "name the zone to shift away from")
	}
	shift := model.ZonalShift{LoadBalancer: req.LoadBalancer, TargetGroup: req.TargetGroup, AwayFrom: req.AwayFrom, Comment: req.Comment}
	// Checked before the commit too, so bad input is a 400 without a store read.
	if err := shiftErr(new(model.State).StartShift(shift, req.ExpiresIn.D(), a.cfg.Now())); err != nil {
		return err
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		return shiftErr(s.StartShift(shift, req.ExpiresIn.D(), a.cfg.Now()))
	})
}

func (a *API) extendShift(w http.ResponseWriter, r *http.Request) error {
	var req ShiftRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	lb, tg, err := shiftTarget(r)
	if err != nil {
		return err
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		return shiftErr(s.ExtendShift(lb, tg, req.ExpiresIn.D(), req.Comment, a.cfg.Now()))
	})
}

func (a *API) cancelShift(w http.ResponseWriter, r *http.Request) error {
	lb, tg, err := shiftTarget(r)
	if err != nil {
		return err
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		return shiftErr(s.CancelShift(lb, tg))
	})
}

func shiftTarget(r *http.Request) (lb, tg string, err error) {
	switch k, n := r.PathValue("kind"), r.PathValue("name"); k {
	case "load_balancer":
		return n, "", nil
	case "target_group":
		return "", n, nil
	default:
		return "", "", badRequest("", "%q is not load_balancer or target_group", k)
	}
}
