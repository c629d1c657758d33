package server

import (
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

func TestNextExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	shift := func(d time.Duration) model.ZonalShift { return model.ZonalShift{ExpiresAt: now.Add(d)} }
	for _, tt := range []struct {
		name   string
		shifts []model.ZonalShift
		want   time.Duration
	}{
		{"none", nil, time.Hour},
		{"soonest wins", []model.ZonalShift{shift(30 * time.Minute), shift(5 * time.Minute)}, 5 * time.Minute},
		{"expired ones are ignored", []model.ZonalShift{shift(-time.Minute), shift(2 * time.Minute)}, 2 * time.Minute},
		{"capped at an hour", []model.ZonalShift{shift(72 * time.Hour)}, time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextExpiry(&model.State{ZonalShifts: tt.shifts}, now); got != tt.want {
				t.Errorf("nextExpiry(%v) = %v, want %v", tt.shifts, got, tt.want)
			}
		})
	}
}

func TestNewRefusesMissingPaths(t *testing.T) {
	if _, err := New(Config{DataDir: "d"}); err == nil {
		t.Error("New without a config path = nil error, want one")
	}
	if _, err := New(Config{ConfigPath: "c"}); err == nil {
		t.Error("New without a data dir = nil error, want one")
	}
}
