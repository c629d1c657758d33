// duration_test.go tests Duration's text form: Go syntax in, Go syntax out,
// and a bare number refused with a message that says why.

package model

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDurationUnmarshalText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"250ms", 250 * time.Millisecond},
		{"10s", 10 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"1.5s", 1500 * time.Millisecond},
		{"-1s", -time.Second},
		{"100us", 100 * time.Microsecond},
		{"0", 0}, // time.ParseDuration's one unitless value: zero is zero in every unit
		{"0s", 0},
	} {
		d := Duration(time.Hour)
		if err := d.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q) = %v, want nil", tt.in, err)
			continue
		}
		if got := d.D(); got != tt.want {
			t.Errorf("UnmarshalText(%q) set %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDurationUnmarshalTextErrors(t *testing.T) {
	const (
		withUnit = `a duration with a unit, such as "250ms", "10s" or "5m"`
		anyDur   = `a duration such as "250ms", "10s" or "5m"`
	)
	for _, tt := range []struct {
		in   string
		want ValueError
	}{
		{"10", ValueError{Msg: `"10" has no unit`, Allowed: withUnit}},
		{"1.5", ValueError{Msg: `"1.5" has no unit`, Allowed: withUnit}},
		{"-30", ValueError{Msg: `"-30" has no unit`, Allowed: withUnit}},
		{"abc", ValueError{Msg: `"abc" is not a duration`, Allowed: anyDur}},
		{"", ValueError{Msg: `"" is not a duration`, Allowed: anyDur}},
		{"10 s", ValueError{Msg: `"10 s" is not a duration`, Allowed: anyDur}},
		{"10d", ValueError{Msg: `"10d" is not a duration`, Allowed: anyDur}},
	} {
		d := Duration(time.Hour)
		err := d.UnmarshalText([]byte(tt.in))
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Errorf("UnmarshalText(%q) = %v (%T), want *ValueError", tt.in, err, err)
			continue
		}
		if diff := cmp.Diff(tt.want, *ve); diff != "" {
			t.Errorf("UnmarshalText(%q) error mismatch (-want +got):\n%s", tt.in, diff)
		}
		if d != Duration(time.Hour) {
			t.Errorf("UnmarshalText(%q) changed the value to %v, want it unchanged", tt.in, d)
		}
	}
}

func TestDurationMarshalText(t *testing.T) {
	for _, tt := range []struct {
		in   Duration
		want string
	}{
		{Duration(250 * time.Millisecond), "250ms"},
		{Duration(10 * time.Second), "10s"},
		{Duration(90 * time.Minute), "1h30m0s"},
		{0, "0s"},
		{Duration(-time.Second), "-1s"},
	} {
		b, err := tt.in.MarshalText()
		if err != nil || string(b) != tt.want {
			t.Errorf("Duration(%d).MarshalText() = %q, %v, want %q, nil", int64(tt.in), b, err, tt.want)
		}
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Duration(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != tt.in {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v, nil (round trip)", b, back, err, tt.in)
		}
	}
}

// TestDurationJSON checks that encoding/json, which the store and API use,
// goes through the text form.
func TestDurationJSON(t *testing.T) {
	type probe struct {
		Interval Duration `json:"interval"`
	}
	b, err := json.Marshal(probe{Interval: Duration(250 * time.Millisecond)})
	if err != nil || string(b) != `{"interval":"250ms"}` {
		t.Errorf("json.Marshal = %s, %v, want {\"interval\":\"250ms\"}, nil", b, err)
	}
	var p probe
	if err := json.Unmarshal([]byte(`{"interval":"10s"}`), &p); err != nil || p.Interval.D() != 10*time.Second {
		t.Errorf("json.Unmarshal(10s) = %v, %v, want 10s, nil", p.Interval, err)
	}
	err = json.Unmarshal([]byte(`{"interval":"10"}`), &p)
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Msg != `"10" has no unit` {
		t.Errorf("json.Unmarshal(\"10\") = %v, want a ValueError saying it has no unit", err)
	}
}
