package cli

import (
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/testutil/golden"
)

// newSep separates the running state from the file in a plan golden input.
const newSep = "# ---- file ----\n"

// TestPlanGolden prints the plan from a running state to a file, for each
// testdata/plan/*.golden.
func TestPlanGolden(t *testing.T) {
	golden.Run(t, "testdata/plan/*.golden", func(t *testing.T, c golden.Case) string {
		oldYAML, newYAML, ok := strings.Cut(c.Input, newSep)
		if !ok {
			t.Fatalf("%s: no %q line", c.File, strings.TrimSpace(newSep))
		}
		parse := func(s string) *model.State {
			doc, err := config.Parse(c.File, []byte(s))
			if err != nil {
				t.Fatal(err)
			}
			return &doc.State
		}
		var b strings.Builder
		printPlan(&b, model.Diff(parse(oldYAML), parse(newYAML)), 7, "next.yaml")
		return b.String()
	})
}
