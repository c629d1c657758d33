package model

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// ParseStatusRanges parses "200", "200,202" or "200-399,404" into ranges of
// codes 100–599.
func ParseStatusRanges(s string) ([]StatusRange, error) {
	var out []StatusRange
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseStatus(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseStatus(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %q ends before it starts", part)
			}
		}
		out = append(out, StatusRange{a, b})
	}
	return out, nil
}

func parseStatus(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("%q is not a status code 100–599", s)
	}
	return n, nil
}

// Match reports whether code is in one of rs.
func Match(rs []StatusRange, code int) bool {
	for _, r := range rs {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}
