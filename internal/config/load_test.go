package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/testutil/golden"
)

// TestGoldenErrors loads each testdata/errors/*.yaml and compares every
// reported problem, with its line and column, to the file's expected output.
func TestGoldenErrors(t *testing.T) {
	golden.Run(t, "testdata/errors/*.yaml", func(t *testing.T, c golden.Case) string {
		_, err := Parse(c.File, []byte(c.Input))
		var list ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("Parse = %v, want an ErrorList", err)
		}
		return list.Error() + "\n"
	})
}

// TestExamples loads every example configuration: they are documentation,
// and documentation that does not load is wrong.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("want an example per major feature, found %d: %v", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := Load(file); err != nil {
				t.Errorf("Load(%s):\n%v", file, err)
			}
		})
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocs loads every ```yaml block of README.md and docs/*.md.
func TestDocs(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/*.md")
	docs = append(docs, "../../README.md")
	n := 0
	for _, doc := range docs {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range yamlBlock.FindAllStringSubmatch(string(raw), -1) {
			n++
			name := filepath.Base(doc) + "#" + string(rune('0'+i))
			if _, err := Parse(name, []byte(m[1])); err != nil {
				t.Errorf("YAML block %d of %s does not load:\n%v", i, doc, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("README.md has no ```yaml block; the config tour must be one")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || !strings.Contains(list[0].Error(), "nope.yaml:1:1: cannot read: no such file or directory") {
		t.Errorf("Load(missing) = %v, want one error naming the file", err)
	}
}

func TestEmptyFileIsValid(t *testing.T) {
	doc, err := Parse("empty.yaml", nil)
	if err != nil {
		t.Fatalf("Parse(empty) = %v, want no error", err)
	}
	if doc.Server.Admin.Listen != "127.0.0.1:9090" {
		t.Errorf("Parse(empty).Server.Admin.Listen = %q, want the default 127.0.0.1:9090", doc.Server.Admin.Listen)
	}
}
