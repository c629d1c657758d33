package model

import (
	"errors"
	"testing"
	"time"
)

func TestShiftLifecycle(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var s State
	web := ZonalShift{TargetGroup: "web", AwayFrom: "a", Comment: "drain a"}
	for _, d := range []time.Duration{59 * time.Second, 72*time.Hour + time.Second} {
		if err := s.StartShift(web, d, now); !errors.Is(err, ErrShiftLength) {
			t.Errorf("StartShift for %v = %v, want ErrShiftLength", d, err)
		}
	}
	if err := s.StartShift(ZonalShift{AwayFrom: "a"}, time.Hour, now); err == nil {
		t.Error("a shift of no resource was started")
	}
	if err := s.StartShift(web, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	if got := s.ZonalShifts[0].ExpiresAt; !got.Equal(now.Add(time.Minute)) {
		t.Errorf("expires at %v, want %v", got, now.Add(time.Minute))
	}
	if err := s.StartShift(ZonalShift{TargetGroup: "web", AwayFrom: "b"}, time.Hour, now); !errors.Is(err, ErrShiftActive) {
		t.Errorf("a second shift of an active one = %v, want ErrShiftActive", err)
	}
	if err := s.ExtendShift("", "web", 72*time.Hour, "", now); err != nil || !s.ZonalShifts[0].ExpiresAt.Equal(now.Add(72*time.Hour)) || s.ZonalShifts[0].Comment != "drain a" {
		t.Errorf("ExtendShift = %v, shift %+v", err, s.ZonalShifts[0])
	}
	later := now.Add(73 * time.Hour)
	if err := s.ExtendShift("", "web", time.Hour, "", later); !errors.Is(err, ErrNoShift) {
		t.Errorf("extending an expired shift = %v, want ErrNoShift", err)
	}
	// An expired shift gives way to a new one.
	if err := s.StartShift(ZonalShift{TargetGroup: "web", AwayFrom: "b"}, time.Hour, later); err != nil || len(s.ZonalShifts) != 1 || s.ZonalShifts[0].AwayFrom != "b" {
		t.Errorf("start after expiry = %v, shifts %+v", err, s.ZonalShifts)
	}
	if err := s.CancelShift("", "web"); err != nil || len(s.ZonalShifts) != 0 {
		t.Errorf("CancelShift = %v, shifts %+v", err, s.ZonalShifts)
	}
	if err := s.CancelShift("", "web"); !errors.Is(err, ErrNoShift) {
		t.Errorf("cancelling again = %v, want ErrNoShift", err)
	}
}
