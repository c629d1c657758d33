package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard/switchboard/internal/testutil/golden"
)

// FuzzParse feeds arbitrary files through decoding, defaults and validation:
// whatever the input, Parse returns a document or positioned errors, and
// never panics. Seeds are the examples and the golden error files; a crash
// this finds is added to testdata/fuzz/FuzzParse with the issue it reproduces.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*.yaml")
	errFiles, _ := filepath.Glob("testdata/errors/*.yaml")
	for _, file := range append(seeds, errFiles...) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(golden.Input(string(b))))
	}
	// A record group mixing weighted and failover records once made the
	// weighted rules read a nil weight (found while writing the golden files).
	f.Add([]byte("hosted_zones:\n- name: e.com\n  records:\n  - {name: w.e.com, type: A, weight: 1, set_identifier: a, values: [192.0.2.1]}\n  - {name: w.e.com, type: A, failover: PRIMARY, set_identifier: b, values: [192.0.2.2]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse("fuzz.yaml", data)
		if (doc == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want exactly one of a document and an error", doc, err)
		}
		if list, ok := err.(ErrorList); ok {
			for _, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("error without a position: %v", e)
				}
			}
		}
	})
}
