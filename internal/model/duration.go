package model

import (
	"strconv"
	"time"
)

// Duration is a time.Duration written in Go syntax ("250ms", "10s", "1h30m")
// in YAML and JSON. A bare number other than 0 is refused: "10" could mean
// seconds or milliseconds, and a guess would be wrong for someone.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration such as "250ms" or "10s".
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return &ValueError{Msg: strconv.Quote(s) + " has no unit", Allowed: `a duration with a unit, such as "250ms", "10s" or "5m"`}
		}
		return &ValueError{Msg: strconv.Quote(s) + " is not a duration", Allowed: `a duration such as "250ms", "10s" or "5m"`}
	}
	*d = Duration(v)
	return nil
}
