// schema_test.go checks that the committed JSON Schema is current, and what
// Schema writes: valid JSON, closed objects, descriptions, and types.

package config

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/switchboard/switchboard/internal/model"
)

func TestSchemaUpToDate(t *testing.T) {
	got, err := Schema("../model")
	if err != nil {
		t.Fatalf("Schema(../model): %v", err)
	}
	want, err := os.ReadFile("../../schema/switchboard.schema.json")
	if err != nil {
		t.Fatalf("schema/switchboard.schema.json is stale: run go generate ./internal/config (%v)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("schema/switchboard.schema.json is stale: run go generate ./internal/config")
	}
}

func TestSchemaDocument(t *testing.T) {
	b, err := Schema("../model")
	if err != nil {
		t.Fatalf("Schema(../model): %v", err)
	}
	var s jsonSchema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("Schema(../model) is not valid JSON: %v", err)
	}
	if s.Ref != "#/$defs/Document" || s.Defs["Document"] == nil {
		t.Fatalf("Schema(../model) root $ref = %q, want #/$defs/Document, defined", s.Ref)
	}
	for name, def := range s.Defs {
		if def.Type == "object" && def.AdditionalProperties != false {
			t.Errorf("Schema(../model) $defs.%s additionalProperties = %v, want false", name, def.AdditionalProperties)
		}
	}
	server := s.Defs["Document"].Properties["server"]
	if server == nil || server.Description == "" {
		t.Errorf("Schema(../model) $defs.Document.properties.server = %+v, want a description", server)
	}
}

// schemaLeaf has a field of each kind, refers to itself, and has a field
// without a yaml tag, which the schema leaves out.
type schemaLeaf struct {
	Name      string         `yaml:"name"`
	Kids      []schemaLeaf   `yaml:"kids"`
	Ratio     float32        `yaml:"ratio"`
	On        bool           `yaml:"on"`
	Small     int8           `yaml:"small"`
	Port      uint16         `yaml:"port"`
	Big       int            `yaml:"big"`
	U64       uint64         `yaml:"u64"`
	Addr      *netip.Addr    `yaml:"addr"`
	Tags      map[string]int `yaml:"tags"`
	Mode      testMode       `yaml:"mode"`
	Wait      model.Duration `yaml:"wait"`
	testPlace `yaml:",inline"`
	Skip      string
}

func TestSchemaOf(t *testing.T) {
	g := &schemaGen{docs: map[string]string{}, defs: map[string]*jsonSchema{}, defTypes: map[string]reflect.Type{}}
	got, err := g.schemaOf(reflect.TypeFor[schemaLeaf]())
	if err != nil {
		t.Fatalf("schemaOf(schemaLeaf): %v", err)
	}
	want := map[string]*jsonSchema{
		"schemaLeaf": {
			Type: "object",
			Properties: map[string]*jsonSchema{
				"name":   {Type: "string"},
				"kids":   {Type: "array", Items: &jsonSchema{Ref: "#/$defs/schemaLeaf"}},
				"ratio":  {Type: "number"},
				"on":     {Type: "boolean"},
				"small":  {Type: "integer", Minimum: new(int64(-128)), Maximum: new(uint64(127))},
				"port":   {Type: "integer", Minimum: new(int64(0)), Maximum: new(uint64(65535))},
				"big":    {Type: "integer"},
				"u64":    {Type: "integer", Minimum: new(int64(0))},
				"addr":   {Type: "string"},
				"tags":   {Type: "object", AdditionalProperties: &jsonSchema{Type: "integer"}},
				"mode":   {Type: "string", Enum: []string{"fast", "safe"}},
				"wait":   {Type: "string", Pattern: durationPattern},
				"region": {Type: "string"},
				"zone":   {Type: "string"},
			},
			AdditionalProperties: false,
		},
	}
	if got.Ref != "#/$defs/schemaLeaf" {
		t.Errorf("schemaOf(schemaLeaf) = %+v, want a $ref to #/$defs/schemaLeaf", got)
	}
	if diff := cmp.Diff(want, g.defs); diff != "" {
		t.Errorf("schemaOf(schemaLeaf) $defs mismatch (-want +got):\n%s", diff)
	}
}

func TestReadDocs(t *testing.T) {
	dir := t.TempDir()
	src := `// Package model is a stand-in.
package model

// Document is a file.
type Document struct {
	// Server holds
	// settings.
	Server Server ` + "`yaml:\"server\"`" + `
	Port   int ` + "`yaml:\"port\"`" + ` // Port listens;   default 80.
	quiet  int
}

type (
	// Server is grouped.
	Server struct{}
)
`
	if err := os.WriteFile(dir+"/doc.go", []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readDocs(dir)
	if err != nil {
		t.Fatalf("readDocs(%q): %v", dir, err)
	}
	want := map[string]string{
		"Document":        "Document is a file.",
		"Document.Server": "Server holds settings.",
		"Document.Port":   "Port listens; default 80.",
		"Server":          "Server is grouped.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readDocs(%q) mismatch (-want +got):\n%s", dir, diff)
	}
}

// TestDurationPattern checks the schema's pattern against what
// model.Duration (time.ParseDuration) accepts.
func TestDurationPattern(t *testing.T) {
	re := regexp.MustCompile(durationPattern)
	for _, s := range []string{
		"0", "1s", "250ms", "1h30m", "1.5h", ".5s", "5.s", "-3m", "+2us", "1µs", "1μs", "10ns",
		"", "10", "s", ".s", "1d", "1 s", "1s ", "--1s", "1S", "0s0", "00",
	} {
		_, err := time.ParseDuration(s)
		if got, want := re.MatchString(s), err == nil; got != want {
			t.Errorf("duration pattern matches %q = %v, want %v (time.ParseDuration: %v)", s, got, want, err)
		}
	}
}
