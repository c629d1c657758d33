package web

import (
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestNoExternalResources: the dashboard loads nothing from elsewhere (no
// CDN, no fonts, no analytics), so it works offline and under its
// Content-Security-Policy.
func TestNoExternalResources(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>)]*`)
	// The SVG namespace is an identifier, not something fetched.
	allowed := map[string]bool{"http://www.w3.org/2000/svg": true}
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		b, err := fs.ReadFile(Files, name)
		if err != nil {
			t.Fatalf("embedded %s: %v", name, err)
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if !allowed[m] {
				t.Errorf("%s refers to %s: the dashboard must not load anything from elsewhere", name, m)
			}
		}
		if strings.Contains(string(b), "<script>") || strings.Contains(string(b), " style=\"") {
			t.Errorf("%s has inline script or style, which the Content-Security-Policy refuses", name)
		}
	}
}

// TestContrast checks every text and background pair of style.css, in the
// light and the dark scheme, against WCAG AA (4.5:1 for body text).
func TestContrast(t *testing.T) {
	b, err := fs.ReadFile(Files, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	dark := strings.Index(css, "prefers-color-scheme: dark")
	if dark < 0 {
		t.Fatal("style.css has no dark scheme")
	}
	light := colors(t, css[:dark])
	darkColors := colors(t, css[dark:])
	for name, scheme := range map[string]map[string]string{"light": light, "dark": darkColors} {
		for _, pair := range [][2]string{
			{"fg", "bg"}, {"muted", "bg"}, {"fg", "panel"}, {"muted", "panel"}, {"link", "bg"}, {"on-link", "link"},
			{"ok-fg", "ok-bg"}, {"bad-fg", "bad-bg"}, {"warn-fg", "warn-bg"}, {"unk-fg", "unk-bg"},
		} {
			fg, bg := scheme[pair[0]], scheme[pair[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s scheme lacks --%s or --%s", name, pair[0], pair[1])
				continue
			}
			if r := contrast(fg, bg); r < 4.5 {
				t.Errorf("%s scheme: --%s %s on --%s %s has contrast %.2f:1, want at least 4.5:1", name, pair[0], fg, pair[1], bg, r)
			}
		}
	}
}

var customProperty = regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`)

func colors(t *testing.T, css string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range customProperty.FindAllStringSubmatch(css, -1) {
		if _, dup := out[m[1]]; !dup {
			out[m[1]] = m[2]
		}
	}
	return out
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}
