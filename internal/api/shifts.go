package api

import (
	"fmt"
	"net/http"
	"slices"
	"time"

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

// Shift bounds.
const (
	MinShift = time.Minute
	MaxShift = 72 * time.Hour
)

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

func (a *API) expiry(d model.Duration) (time.Time, error) {
	if d.D() < MinShift || d.D() > MaxShift {
		return time.Time{}, badRequest("expires_in", "%s is outside 1m–72h", d)
	}
	return a.cfg.Now().Add(d.D()).UTC().Truncate(time.Second), nil
}

func (a *API) startShift(w http.ResponseWriter, r *http.Request) error {
	var req ShiftRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if (req.LoadBalancer == "") == (req.TargetGroup == "") {
		return badRequest("", "name exactly one of load_balancer and target_group")
	}
	if req.AwayFrom == "" {
		return badRequest("away_from", "name the zone to shift away from")
	}
	exp, err := a.expiry(req.ExpiresIn)
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	return a.commit(w, r, "api", "", func(s *model.State) error {
		i := shiftIndex(s, req.LoadBalancer, req.TargetGroup)
		shift := model.ZonalShift{LoadBalancer: req.LoadBalancer, TargetGroup: req.TargetGroup, AwayFrom: req.AwayFrom, ExpiresAt: exp, Comment: req.Comment}
		switch {
		case i < 0:
			s.ZonalShifts = append(s.ZonalShifts, shift)
		case now.Before(s.ZonalShifts[i].ExpiresAt):
			return conflict("%s is already shifted away from %s until %s; extend or cancel that shift", resourceOf(req.LoadBalancer, req.TargetGroup), s.ZonalShifts[i].AwayFrom, s.ZonalShifts[i].ExpiresAt.Format(time.RFC3339))
		default: // an expired shift gives way to the new one
			s.ZonalShifts[i] = shift
		}
		return nil
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
	exp, err := a.expiry(req.ExpiresIn)
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	return a.commit(w, r, "api", "", func(s *model.State) error {
		i := shiftIndex(s, lb, tg)
		if i < 0 || !now.Before(s.ZonalShifts[i].ExpiresAt) {
			return notFound("%s has no active zonal shift", resourceOf(lb, tg))
		}
		s.ZonalShifts[i].ExpiresAt = exp
		if req.Comment != "" {
			s.ZonalShifts[i].Comment = req.Comment
		}
		return nil
	})
}

func (a *API) cancelShift(w http.ResponseWriter, r *http.Request) error {
	lb, tg, err := shiftTarget(r)
	if err != nil {
		return err
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		i := shiftIndex(s, lb, tg)
		if i < 0 {
			return notFound("%s has no zonal shift", resourceOf(lb, tg))
		}
		s.ZonalShifts = slices.Delete(s.ZonalShifts, i, i+1)
		return nil
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

func shiftIndex(s *model.State, lb, tg string) int {
	return slices.IndexFunc(s.ZonalShifts, func(z model.ZonalShift) bool { return z.LoadBalancer == lb && z.TargetGroup == tg })
}

func resourceOf(lb, tg string) string {
	if lb != "" {
		return fmt.Sprintf("load balancer %s", lb)
	}
	return fmt.Sprintf("target group %s", tg)
}
