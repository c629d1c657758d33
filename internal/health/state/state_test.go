package state

import "testing"

func TestIsGroupCheck(t *testing.T) {
	for _, tt := range []struct {
		check string
		want  bool
	}{
		{GroupCheck("web"), true},
		{GroupCheck(""), true},
		{"web", false},
		{"target_groups", false},
		{"x/target_groups/web", false},
	} {
		if got := IsGroupCheck(tt.check); got != tt.want {
			t.Errorf("IsGroupCheck(%q) = %v, want %v", tt.check, got, tt.want)
		}
	}
}
