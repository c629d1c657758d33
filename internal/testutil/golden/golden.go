// Package golden runs golden-file tests: each file holds an input, a
// separator line and the output the code under test must produce from it,
// so that input and expectation are read together. Run the tests with
// -update to rewrite the outputs.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the expected output of golden files")

// Sep separates a golden file's input from its expected output.
const Sep = "\n# ---- want ----\n"

// Input returns the input part of a golden file's contents.
func Input(raw string) string {
	in, _, _ := strings.Cut(raw, Sep)
	return in
}

// Case is one golden file.
type Case struct {
	File  string // its path, as matched by the glob
	Input string
	Want  string // the expected output; empty while -update writes it
}

// Run runs f as a subtest for every file matching glob and compares what f
// returns with the file's expected output (or, with -update, writes it as
// the new output). f may check more with t.
func Run(t *testing.T, glob string, f func(t *testing.T, c Case) string) {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files match %s: %v", glob, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := strings.Cut(string(raw), Sep)
			if !found && !*update {
				t.Fatalf("%s has no %q separator", file, strings.TrimSpace(Sep))
			}
			got := f(t, Case{File: file, Input: input, Want: want})
			if *update {
				if err := os.WriteFile(file, []byte(input+Sep+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: output mismatch (-want +got):\n%s", file, diff)
			}
		})
	}
}
