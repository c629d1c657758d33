package cli

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

func TestParseArgsInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := fs.String("o", "table", "")
	n := fs.Int("n", 0, "")
	pos, err := parseArgs(fs, []string{"a", "-o", "json", "b", "-n", "3"})
	if err != nil || !slices.Equal(pos, []string{"a", "b"}) || *o != "json" || *n != 3 {
		t.Errorf("parseArgs = %v, %v, o=%s n=%d; want [a b], json, 3", pos, err, *o, *n)
	}
}

func TestFieldDiff(t *testing.T) {
	w := 2
	old := model.TargetGroup{Name: "web", Port: 80, Targets: []model.Target{{Zone: "a"}}}
	new := model.TargetGroup{Name: "web", Port: 81, Targets: []model.Target{{Zone: "b", Weight: &w}}}
	got := fieldDiff(old, new)
	want := []string{"port: 80 → 81", "targets[0].weight: (none) → 2", `targets[0].zone: "a" → "b"`}
	if !slices.Equal(got, want) {
		t.Errorf("fieldDiff = %q, want %q", got, want)
	}
}

func TestPrintYAMLKeepsOrderAndQuotes(t *testing.T) {
	var b strings.Builder
	if err := printYAML(&b, map[string]any{"b": "yes", "a": "1"}); err != nil {
		t.Fatal(err)
	}
	// A map has no order of its own; strings that YAML would read as
	// something else are quoted.
	if got := b.String(); got != "a: \"1\"\nb: yes\n" {
		t.Errorf("printYAML = %q", got)
	}
	b.Reset()
	printYAML(&b, model.Zone{Name: "z", Region: "r"})
	if got := b.String(); got != "name: z\nregion: r\n" {
		t.Errorf("printYAML(zone) = %q, want the struct's field order", got)
	}
}
