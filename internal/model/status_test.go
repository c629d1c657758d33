// status_test.go tests the expected_status syntax: codes and ranges of 100–599.

package model

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatusRanges(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []StatusRange
	}{
		{"200", []StatusRange{{200, 200}}},
		{"200,202", []StatusRange{{200, 200}, {202, 202}}},
		{"200-399", []StatusRange{{200, 399}}},
		{"200-399,404", []StatusRange{{200, 399}, {404, 404}}},
		{" 200 - 299 , 404 ", []StatusRange{{200, 299}, {404, 404}}},
		{"100-599", []StatusRange{{100, 599}}},
		{"204-204", []StatusRange{{204, 204}}},
	} {
		got, err := ParseStatusRanges(tt.in)
		if err != nil {
			t.Errorf("ParseStatusRanges(%q) = %v, want nil error", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseStatusRanges(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseStatusRangesErrors(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"", `"" is not a status code 100–599`},
		{"99", `"99" is not a status code 100–599`},
		{"600", `"600" is not a status code 100–599`},
		{"abc", `"abc" is not a status code 100–599`},
		{"200,", `"" is not a status code 100–599`},
		{"200,,300", `"" is not a status code 100–599`},
		{"200-", `"" is not a status code 100–599`},
		{"-200", `"" is not a status code 100–599`},
		{"200-600", `"600" is not a status code 100–599`},
		{"200-300-400", `"300-400" is not a status code 100–599`},
		{"399-200", `range "399-200" ends before it starts`},
		{"200,300-299", `range "300-299" ends before it starts`},
		{"2xx", `"2xx" is not a status code 100–599`},
	} {
		got, err := ParseStatusRanges(tt.in)
		if err == nil {
			t.Errorf("ParseStatusRanges(%q) = %v, nil, want error %q", tt.in, got, tt.want)
			continue
		}
		if err.Error() != tt.want || got != nil {
			t.Errorf("ParseStatusRanges(%q) = %v, %q, want nil, %q", tt.in, got, err, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	rs := []StatusRange{{200, 299}, {404, 404}}
	for _, tt := range []struct {
		code int
		want bool
	}{
		{199, false}, {200, true}, {250, true}, {299, true}, {300, false},
		{403, false}, {404, true}, {405, false},
	} {
		if got := Match(rs, tt.code); got != tt.want {
			t.Errorf("Match(%v, %d) = %t, want %t", rs, tt.code, got, tt.want)
		}
	}
	if Match(nil, 200) {
		t.Errorf("Match(nil, 200) = true, want false")
	}
}
