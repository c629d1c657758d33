package model

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Bounds of a zonal shift's length, as AWS ARC has them.
const (
	MinShift = time.Minute
	MaxShift = 72 * time.Hour
)

// Zonal shift errors, for callers that answer with different statuses.
var (
	// ErrShiftActive: the resource is already shifted; extend or cancel that shift.
	ErrShiftActive = errors.New("already shifted")
	// ErrNoShift: the resource has no (active) zonal shift.
	ErrNoShift = errors.New("no zonal shift")
	// ErrShiftLength: the length is outside MinShift–MaxShift.
	ErrShiftLength = errors.New("zonal shift length is outside 1m–72h")
)

// StartShift shifts the traffic of z's resource (a load balancer or a
// target group) away from z.AwayFrom for d from now; z.ExpiresAt is set
// here. One shift per resource, as ARC: while one is active the answer is
// ErrShiftActive, and an expired one gives way. Whether the shift names
// things that exist is for Validate.
func (s *State) StartShift(z ZonalShift, d time.Duration, now time.Time) error {
	if d < MinShift || d > MaxShift {
		return fmt.Errorf("%w: %s", ErrShiftLength, d)
	}
	if (z.LoadBalancer == "") == (z.TargetGroup == "") {
		return errors.New("name exactly one of load_balancer and target_group")
	}
	z.ExpiresAt = now.Add(d).UTC().Truncate(time.Second)
	i := s.shiftIndex(z.LoadBalancer, z.TargetGroup)
	switch {
	case i < 0:
		s.ZonalShifts = append(s.ZonalShifts, z)
	case now.Before(s.ZonalShifts[i].ExpiresAt):
		old := s.ZonalShifts[i]
		return fmt.Errorf("%w: %s is shifted away from %s until %s; extend or cancel that shift",
			ErrShiftActive, shiftResource(z.LoadBalancer, z.TargetGroup), old.AwayFrom, old.ExpiresAt.Format(time.RFC3339))
	default:
		s.ZonalShifts[i] = z
	}
	return nil
}

// ExtendShift makes the active shift of a resource end d from now, and
// replaces its comment when comment is not empty.
func (s *State) ExtendShift(lb, tg string, d time.Duration, comment string, now time.Time) error {
	if d < MinShift || d > MaxShift {
		return fmt.Errorf("%w: %s", ErrShiftLength, d)
	}
	i := s.shiftIndex(lb, tg)
	if i < 0 || !now.Before(s.ZonalShifts[i].ExpiresAt) {
		return fmt.Errorf("%w: %s has no active zonal shift", ErrNoShift, shiftResource(lb, tg))
	}
	s.ZonalShifts[i].ExpiresAt = now.Add(d).UTC().Truncate(time.Second)
	if comment != "" {
		s.ZonalShifts[i].Comment = comment
	}
	return nil
}

// CancelShift removes the shift of a resource, active or expired.
func (s *State) CancelShift(lb, tg string) error {
	i := s.shiftIndex(lb, tg)
	if i < 0 {
		return fmt.Errorf("%w: %s has no zonal shift", ErrNoShift, shiftResource(lb, tg))
	}
	s.ZonalShifts = slices.Delete(s.ZonalShifts, i, i+1)
	return nil
}

func (s *State) shiftIndex(lb, tg string) int {
	return slices.IndexFunc(s.ZonalShifts, func(z ZonalShift) bool { return z.LoadBalancer == lb && z.TargetGroup == tg })
}

func shiftResource(lb, tg string) string {
	if lb != "" {
		return "load balancer " + lb
	}
	return "target group " + tg
}
