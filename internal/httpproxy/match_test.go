package httpproxy

import "testing"

func TestPattern(t *testing.T) {
	for _, tt := range []struct {
		pat, in string
		fold    bool
		want    bool
	}{
		{"/api", "/api", false, true},
		{"/api", "/API", false, false},
		{"/api/*", "/api/v1/x", false, true},
		{"/api/*", "/api/", false, true},
		{"/api/*", "/ap", false, false},
		{"*.example.com", "www.EXAMPLE.com", true, true},
		{"*.example.com", "example.com", true, false},
		{"www.example.com", "WWW.Example.Com", true, true},
		{"*", "", false, true},
		{"/img/*.png", "/img/a/b.png", false, true},
		{"/img/*.png", "/img/a/b.jpg", false, false},
		{"/v?/x", "/v1/x", false, true},
		{"/v?/x", "/v12/x", false, false},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"*ab", "aab", false, true},
		{"api-?.Example.*", "API-1.example.org", true, true},
	} {
		p := compilePattern(tt.pat, tt.fold)
		if got := p.match(tt.in); got != tt.want {
			t.Errorf("pattern %q (fold %v) match(%q) = %v, want %v", tt.pat, tt.fold, tt.in, got, tt.want)
		}
	}
}

func FuzzGlob(f *testing.F) {
	f.Add("a*b?c", "aXXbYc")
	f.Add("*.example.com", "www.example.com")
	f.Fuzz(func(t *testing.T, pat, s string) {
		p := compilePattern(pat, false)
		got := p.match(s)
		if want := globSlow(pat, s); got != want {
			t.Errorf("pattern %q match(%q) = %v, want %v", pat, s, got, want)
		}
	})
}

// globSlow is the obvious recursive definition.
func globSlow(pat, s string) bool {
	if pat == "" {
		return s == ""
	}
	switch pat[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globSlow(pat[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globSlow(pat[1:], s[1:])
	}
	return s != "" && s[0] == pat[0] && globSlow(pat[1:], s[1:])
}
