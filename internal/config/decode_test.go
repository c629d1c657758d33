// decode_test.go tests decode: values of every kind, positions, and every
// kind of problem, each with its exact line and column.

package config

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/switchboard/switchboard/internal/model"
)

// testDoc has a field of every kind decode supports. It has more than
// maxKnownFields fields, so an unknown field at its top level lists none.
type testDoc struct {
	Name      string               `yaml:"name"`
	Port      uint16               `yaml:"port"`
	Count     int                  `yaml:"count"`
	Small     int8                 `yaml:"small"`
	Big       uint64               `yaml:"big"`
	Ratio     float64              `yaml:"ratio"`
	Enabled   bool                 `yaml:"enabled"`
	Timeout   model.Duration       `yaml:"timeout"`
	Addr      netip.Addr           `yaml:"addr"`
	Mode      testMode             `yaml:"mode"`
	Limit     *int                 `yaml:"limit"`
	Check     *testCheck           `yaml:"check"`
	Groups    []testGroup          `yaml:"groups"`
	Labels    map[string]string    `yaml:"labels"`
	Backends  map[string]testCheck `yaml:"backends"`
	testPlace `yaml:",inline"`
	Note      string // no yaml tag: not decodable
	Secret    string `yaml:"-"`
}

type testPlace struct {
	Region string `yaml:"region"`
	Zone   string `yaml:"zone"`
}

type testCheck struct {
	Path             string         `yaml:"path"`
	Interval         model.Duration `yaml:"interval"`
	HealthyThreshold int            `yaml:"healthy_threshold"`
}

type testGroup struct {
	Name    string       `yaml:"name"`
	Targets []netip.Addr `yaml:"targets"`
	Weights []int        `yaml:"weights"`
	Check   testCheck    `yaml:"health_check"`
}

// testTree is recursive, for aliases that nest without end.
type testTree struct {
	Name     string     `yaml:"name"`
	Children []testTree `yaml:"children"`
}

// testMode is an enum, as the model's are: UnmarshalText refuses other
// values with a *model.ValueError, and Values lists the valid ones.
type testMode string

func (testMode) Values() []string { return []string{"fast", "safe"} }

func (m *testMode) UnmarshalText(b []byte) error {
	if !slices.Contains(m.Values(), string(b)) {
		return &model.ValueError{Msg: fmt.Sprintf("%q is not a mode", b), Allowed: "fast or safe"}
	}
	*m = testMode(b)
	return nil
}

// flatProblem is a decodeError with its path rendered, for comparing.
type flatProblem struct {
	Pos     Pos
	Path    string
	Msg     string
	Allowed string
}

func flatProblems(errs []*decodeError) []flatProblem {
	var ps []flatProblem
	for _, e := range errs {
		ps = append(ps, flatProblem{Pos: e.Pos, Path: e.Path.String(), Msg: e.Msg, Allowed: e.Allowed})
	}
	return ps
}

func TestDecodeValues(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want testDoc
	}{
		{name: "empty", in: "", want: testDoc{}},
		{name: "comment-only", in: "# nothing here\n", want: testDoc{}},
		{name: "empty-document", in: "---\n", want: testDoc{}},
		{name: "null-document", in: "~\n", want: testDoc{}},
		{name: "trailing-empty-document", in: "name: a\n---\n", want: testDoc{Name: "a"}},
		{
			name: "every-kind",
			in: `name: web
port: 8080
count: -3
small: -128
big: 18446744073709551615
ratio: 0.25
enabled: true
timeout: 1m30s
addr: 2001:db8::1
mode: safe
limit: 5
check: {path: /healthz, interval: 5s, healthy_threshold: 3}
groups:
  - name: a
    targets: [10.0.0.1, 10.0.0.2]
    weights: [1, 2]
  - name: b
labels: {env: prod, team: edge}
backends:
  x: {path: /x}
region: eu-west-1
zone: eu-west-1a
`,
			want: testDoc{
				Name: "web", Port: 8080, Count: -3, Small: -128, Big: 1<<64 - 1, Ratio: 0.25, Enabled: true,
				Timeout: model.Duration(90 * time.Second), Addr: netip.MustParseAddr("2001:db8::1"), Mode: "safe",
				Limit: new(5),
				Check: &testCheck{Path: "/healthz", Interval: model.Duration(5 * time.Second), HealthyThreshold: 3},
				Groups: []testGroup{
					{Name: "a", Targets: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}, Weights: []int{1, 2}},
					{Name: "b"},
				},
				Labels:    map[string]string{"env": "prod", "team": "edge"},
				Backends:  map[string]testCheck{"x": {Path: "/x"}},
				testPlace: testPlace{Region: "eu-west-1", Zone: "eu-west-1a"},
			},
		},
		{name: "hex", in: "port: 0xFFFF\ncount: -0x10\n", want: testDoc{Port: 65535, Count: -16}},
		{name: "leading-zero-is-decimal", in: "count: 010\n", want: testDoc{Count: 10}},
		{name: "plus-sign", in: "count: +7\n", want: testDoc{Count: 7}},
		{name: "number-into-string", in: "name: 80\nzone: 1.5\n", want: testDoc{Name: "80", testPlace: testPlace{Zone: "1.5"}}},
		{name: "quoted-number-into-int", in: `count: "12"`, want: testDoc{Count: 12}},
		{name: "bool-title-case", in: "enabled: True\n", want: testDoc{Enabled: true}},
		{name: "float-specials", in: "ratio: -.inf\n", want: testDoc{Ratio: math.Inf(-1)}},
		{name: "integer-into-float", in: "ratio: 2\n", want: testDoc{Ratio: 2}},
		{
			name: "null-leaves-zero",
			in:   "name: ~\nlimit: null\ncheck:\ngroups: ~\nlabels:\ntimeout: ~\n",
			want: testDoc{},
		},
		{name: "empty-list-and-map-leave-nil", in: "groups: []\nlabels: {}\n", want: testDoc{}},
		{name: "pointer-to-empty-struct", in: "check: {}\n", want: testDoc{Check: &testCheck{}}},
		{
			name: "alias",
			in:   "check: &c {path: /hc}\ngroups:\n  - name: a\n    health_check: *c\n",
			want: testDoc{Check: &testCheck{Path: "/hc"}, Groups: []testGroup{{Name: "a", Check: testCheck{Path: "/hc"}}}},
		},
		{
			name: "alias-of-scalar-and-list",
			in:   "name: &n web\nzone: *n\ngroups: &g [{name: a}]\n",
			want: testDoc{Name: "web", Groups: []testGroup{{Name: "a"}}, testPlace: testPlace{Zone: "web"}},
		},
		{
			name: "merge-key",
			in:   "check: &c {path: /hc, interval: 5s}\nbackends:\n  x:\n    <<: *c\n    path: /x\n",
			want: testDoc{
				Check:    &testCheck{Path: "/hc", Interval: model.Duration(5 * time.Second)},
				Backends: map[string]testCheck{"x": {Path: "/x", Interval: model.Duration(5 * time.Second)}},
			},
		},
		{
			name: "merge-list-first-wins",
			in:   "backends:\n  a: &a {path: /a, healthy_threshold: 1}\n  b: &b {path: /b, interval: 2s}\n  c: {<<: [*a, *b]}\n",
			want: testDoc{Backends: map[string]testCheck{
				"a": {Path: "/a", HealthyThreshold: 1},
				"b": {Path: "/b", Interval: model.Duration(2 * time.Second)},
				"c": {Path: "/a", HealthyThreshold: 1, Interval: model.Duration(2 * time.Second)},
			}},
		},
		{name: "untagged-fields-stay-unset", in: "name: a\n", want: testDoc{Name: "a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got testDoc
			_, errs := decode([]byte(tt.in), &got)
			if len(errs) != 0 {
				t.Fatalf("decode(%q) problems: %v", tt.in, errs)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(testDoc{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("decode(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDecodeProblems(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want []flatProblem
	}{
		{
			name: "unknown-field/did-you-mean",
			in:   "check:\n  intervl: 5s\n",
			want: []flatProblem{{Pos{2, 3}, "check", `unknown field "intervl"`, `did you mean "interval"?`}},
		},
		{
			name: "unknown-field/transposed",
			in:   "groups:\n  - name: web\n    helth_check: {}\n",
			want: []flatProblem{{Pos{3, 5}, "groups[web]", `unknown field "helth_check"`, `did you mean "health_check"?`}},
		},
		{
			name: "unknown-field/case",
			in:   "Name: web\n",
			want: []flatProblem{{Pos{1, 1}, "", `unknown field "Name"`, `did you mean "name"?`}},
		},
		{
			name: "unknown-field/lists-known",
			in:   "check:\n  bogus: 1\n",
			want: []flatProblem{{Pos{2, 3}, "check", `unknown field "bogus"`, "healthy_threshold, interval, path"}},
		},
		{
			name: "unknown-field/too-many-to-list",
			in:   "secret: x\n",
			want: []flatProblem{{Pos{1, 1}, "", `unknown field "secret"`, ""}},
		},
		{
			name: "unknown-field/untagged",
			in:   "Note: x\n",
			want: []flatProblem{{Pos{1, 1}, "", `unknown field "Note"`, `did you mean "mode"?`}},
		},
		{
			name: "duplicate-field",
			in:   "name: a\nport: 1\nname: b\n",
			want: []flatProblem{{Pos{3, 1}, "name", `duplicate field "name"`, "first set at line 1"}},
		},
		{
			name: "duplicate-unknown-field",
			in:   "bogus: 1\nbogus: 2\n",
			want: []flatProblem{
				{Pos{1, 1}, "", `unknown field "bogus"`, ""},
				{Pos{2, 1}, "", `unknown field "bogus"`, ""},
			},
		},
		{
			name: "duplicate-map-key",
			in:   "labels:\n  env: a\n  env: b\n",
			want: []flatProblem{{Pos{3, 3}, "labels[env]", `duplicate key "env"`, "first set at line 2"}},
		},
		{
			name: "not-an-integer",
			in:   "count: abc\n",
			want: []flatProblem{{Pos{1, 8}, "count", `"abc" is not an integer`, "a whole number"}},
		},
		{
			name: "not-a-whole-number",
			in:   "count: 1.5\n",
			want: []flatProblem{{Pos{1, 8}, "count", "1.5 is not a whole number", "a whole number"}},
		},
		{
			name: "underscores-refused",
			in:   "count: 1_000\n",
			want: []flatProblem{{Pos{1, 8}, "count", `"1_000" is not an integer`, "a whole number"}},
		},
		{
			name: "uint16-overflow",
			in:   "port: 70000\n",
			want: []flatProblem{{Pos{1, 7}, "port", "70000 is out of range", "0 to 65535"}},
		},
		{
			name: "negative-uint",
			in:   "port: -1\n",
			want: []flatProblem{{Pos{1, 7}, "port", "-1 is out of range", "0 to 65535"}},
		},
		{
			name: "int8-underflow",
			in:   "small: -129\n",
			want: []flatProblem{{Pos{1, 8}, "small", "-129 is out of range", "-128 to 127"}},
		},
		{
			name: "uint64-overflow",
			in:   "big: 18446744073709551616\n",
			want: []flatProblem{{Pos{1, 6}, "big", "18446744073709551616 is out of range", "0 to 18446744073709551615"}},
		},
		{
			name: "not-a-boolean",
			in:   "enabled: yes please\n",
			want: []flatProblem{{Pos{1, 10}, "enabled", `"yes please" is not a boolean`, "true or false"}},
		},
		{
			name: "yaml-1.1-boolean",
			in:   "enabled: yes\n",
			want: []flatProblem{{Pos{1, 10}, "enabled", `"yes" is not a boolean`, "true or false"}},
		},
		{
			name: "not-a-number",
			in:   "ratio: half\n",
			want: []flatProblem{{Pos{1, 8}, "ratio", `"half" is not a number`, "a number"}},
		},
		{
			name: "expected-list",
			in:   "groups:\n  a: 1\n",
			want: []flatProblem{{Pos{2, 3}, "groups", "expected a list, got a mapping", ""}},
		},
		{
			name: "expected-mapping",
			in:   "check: fast\n",
			want: []flatProblem{{Pos{1, 8}, "check", "expected a mapping, got a string", ""}},
		},
		{
			name: "expected-mapping-for-map",
			in:   "labels: [a]\n",
			want: []flatProblem{{Pos{1, 9}, "labels", "expected a mapping, got a list", ""}},
		},
		{
			name: "expected-string",
			in:   "name: [a]\n",
			want: []flatProblem{{Pos{1, 7}, "name", "expected a string, got a list", ""}},
		},
		{
			name: "expected-integer",
			in:   "count: {a: 1}\n",
			want: []flatProblem{{Pos{1, 8}, "count", "expected an integer, got a mapping", ""}},
		},
		{
			name: "expected-scalar-for-text",
			in:   "timeout: [1s]\n",
			want: []flatProblem{{Pos{1, 10}, "timeout", "expected a string, got a list", ""}},
		},
		{
			name: "root-not-a-mapping",
			in:   "- a\n",
			want: []flatProblem{{Pos{1, 1}, "", "expected a mapping, got a list", ""}},
		},
		{
			name: "key-not-a-name",
			in:   "? [a]\n: 1\n",
			want: []flatProblem{{Pos{1, 3}, "", "expected a name as key, got a list", ""}},
		},
		{
			name: "duration-value-error",
			in:   "timeout: 10\n",
			want: []flatProblem{{Pos{1, 10}, "timeout", `"10" has no unit`, `a duration with a unit, such as "250ms", "10s" or "5m"`}},
		},
		{
			name: "addr-plain-error",
			in:   "addr: 10.0.0.300\n",
			want: []flatProblem{{Pos{1, 7}, "addr", `"10.0.0.300" is not an IP address`, "such as 192.0.2.1 or 2001:db8::1"}},
		},
		{
			name: "enum/did-you-mean",
			in:   "mode: fsat\n",
			want: []flatProblem{{Pos{1, 7}, "mode", `"fsat" is not a mode`, `did you mean "fast"?`}},
		},
		{
			name: "enum/not-close",
			in:   "mode: turbo\n",
			want: []flatProblem{{Pos{1, 7}, "mode", `"turbo" is not a mode`, "fast or safe"}},
		},
		{
			name: "list-element-named-in-path",
			in:   "groups:\n  - name: web\n    weights: [1, x]\n  - weights: [y]\n",
			want: []flatProblem{
				{Pos{3, 18}, "groups[web].weights[1]", `"x" is not an integer`, "a whole number"},
				{Pos{4, 15}, "groups[1].weights[0]", `"y" is not an integer`, "a whole number"},
			},
		},
		{
			name: "alias-inside-its-anchor",
			in:   "groups: &g\n  - name: a\n    targets: *g\n",
			want: []flatProblem{{Pos{3, 14}, "groups[a].targets", "alias *g is used inside its own anchor", ""}},
		},
		{
			name: "alias-problem-at-anchor",
			in:   "name: &n [x]\nzone: *n\n",
			want: []flatProblem{
				{Pos{1, 7}, "name", "expected a string, got a list", ""},
				{Pos{1, 7}, "zone", "expected a string, got a list", ""},
			},
		},
		{
			name: "merge-not-a-mapping",
			in:   "check: {<<: 5}\n",
			want: []flatProblem{{Pos{1, 13}, "check", "cannot merge an integer", "a mapping, or a list of mappings"}},
		},
		{
			name: "merged-unknown-field",
			in:   "name: &x {pth: /}\ncheck: {<<: *x}\n",
			want: []flatProblem{
				{Pos{1, 7}, "name", "expected a string, got a mapping", ""},
				{Pos{1, 11}, "check", `unknown field "pth"`, `did you mean "path"?`},
			},
		},
		{
			name: "second-document",
			in:   "name: a\n---\nname: b\n",
			want: []flatProblem{{Pos{2, 1}, "", "only one YAML document per file", `remove the "---" line or split the file`}},
		},
		{
			name: "syntax-error",
			in:   "name: a\ngroups:\n  - name: b\n    port: [1\n",
			want: []flatProblem{{Pos{4, 1}, "", "invalid YAML: did not find expected ',' or ']'", ""}},
		},
		{
			name: "syntax-error/parser",
			in:   "groups:\n  - name: a\n targets: []\n",
			want: []flatProblem{{Pos{3, 1}, "", "invalid YAML: did not find expected key", ""}},
		},
		{
			name: "syntax-error/scanner",
			in:   "name: a\nzone: \"b\n",
			want: []flatProblem{{Pos{2, 1}, "", "invalid YAML: found unexpected end of stream", ""}},
		},
		{
			name: "syntax-error/unknown-anchor",
			in:   "check: *hc\nbackends:\n  x: &hc {}\n  y: [*hc2, *hc]\n",
			want: []flatProblem{{Pos{1, 8}, "", "invalid YAML: unknown anchor 'hc' referenced", ""}},
		},
		{
			name: "syntax-error-first-line",
			in:   "a: b: c\n",
			want: []flatProblem{{Pos{1, 1}, "", "invalid YAML: mapping values are not allowed in this context", ""}},
		},
		{
			name: "syntax-error-in-second-document",
			in:   "name: a\n---\n\tname: b\n",
			want: []flatProblem{{Pos{3, 1}, "", "invalid YAML: found character that cannot start any token", ""}},
		},
		{
			name: "long-value-cut-short",
			in:   "count: " + strings.Repeat("x", 100) + "\n",
			want: []flatProblem{{Pos{1, 8}, "count", `"` + strings.Repeat("x", 64) + `"… is not an integer`, "a whole number"}},
		},
		{
			name: "all-problems-in-document-order",
			in: `name: &bad [1]
port: many
check:
  interval: 5
  paht: /
groups:
  - name: web
    targets: [10.0.0.1, nope]
    health_check: {healthy_threshold: x}
  - name: api
    weights: [1, 2, three]
labels:
  a: [b]
zone: *bad
enabled: maybe
`,
			want: []flatProblem{
				{Pos{1, 7}, "name", "expected a string, got a list", ""},
				{Pos{1, 7}, "zone", "expected a string, got a list", ""},
				{Pos{2, 7}, "port", `"many" is not an integer`, "a whole number"},
				{Pos{4, 13}, "check.interval", `"5" has no unit`, `a duration with a unit, such as "250ms", "10s" or "5m"`},
				{Pos{5, 3}, "check", `unknown field "paht"`, `did you mean "path"?`},
				{Pos{8, 25}, "groups[web].targets[1]", `"nope" is not an IP address`, "such as 192.0.2.1 or 2001:db8::1"},
				{Pos{9, 39}, "groups[web].health_check.healthy_threshold", `"x" is not an integer`, "a whole number"},
				{Pos{11, 21}, "groups[api].weights[2]", `"three" is not an integer`, "a whole number"},
				{Pos{13, 6}, "labels[a]", "expected a string, got a list", ""},
				{Pos{15, 10}, "enabled", `"maybe" is not a boolean`, "true or false"},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got testDoc
			_, errs := decode([]byte(tt.in), &got)
			if diff := cmp.Diff(tt.want, flatProblems(errs)); diff != "" {
				t.Errorf("decode(%q) problems mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDecodePositions(t *testing.T) {
	in := `name: web
groups:
  - name: a
    targets: [10.0.0.1, 10.0.0.2]
  - weights:
      - 3
labels:
  env: prod
check: &hc
  interval: 5s
region: eu
backends:
  x: *hc
`
	want := map[string]Pos{
		"":                         {1, 1},
		"name#key":                 {1, 1},
		"name":                     {1, 7},
		"groups#key":               {2, 1},
		"groups":                   {3, 3},
		"groups[0]":                {3, 5},
		"groups[0].name#key":       {3, 5},
		"groups[0].name":           {3, 11},
		"groups[0].targets#key":    {4, 5},
		"groups[0].targets":        {4, 14},
		"groups[0].targets[0]":     {4, 15},
		"groups[0].targets[1]":     {4, 25},
		"groups[1]":                {5, 5},
		"groups[1].weights#key":    {5, 5},
		"groups[1].weights":        {6, 7},
		"groups[1].weights[0]":     {6, 9},
		"labels#key":               {7, 1},
		"labels":                   {8, 3},
		"labels[env]#key":          {8, 3},
		"labels[env]":              {8, 8},
		"check#key":                {9, 1},
		"check":                    {9, 8}, // an anchored value starts at its anchor
		"check.interval#key":       {10, 3},
		"check.interval":           {10, 13},
		"region#key":               {11, 1},
		"region":                   {11, 9},
		"backends#key":             {12, 1},
		"backends":                 {13, 3},
		"backends[x]#key":          {13, 3},
		"backends[x]":              {13, 6}, // where the alias is used
		"backends[x].interval#key": {10, 3}, // inside the alias: where the anchored text is
		"backends[x].interval":     {10, 13},
	}
	var doc testDoc
	got, errs := decode([]byte(in), &doc)
	if len(errs) != 0 {
		t.Fatalf("decode(%q) problems: %v", in, errs)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decode(%q) positions mismatch (-want +got):\n%s", in, diff)
	}
}

func TestDecodeRootPosition(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want Pos
	}{
		{name: "empty", in: "", want: Pos{1, 1}},
		{name: "comments-first", in: "# a\n# b\n\nname: a\n", want: Pos{4, 1}},
		{name: "document-marker", in: "---\n  name: a\n", want: Pos{2, 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc testDoc
			pos, _ := decode([]byte(tt.in), &doc)
			if got := pos[""]; got != tt.want {
				t.Errorf("decode(%q) root at %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestDecodeLimits feeds documents that expand to far more values than they
// hold, and checks that decode stops with an error rather than run out of
// time, memory or stack.
func TestDecodeLimits(t *testing.T) {
	// Nine levels of ten aliases each: 10^9 values.
	var laughs strings.Builder
	laughs.WriteString("name: x\nchildren:\n  - &l0 {name: lol}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&laughs, "  - &l%d {children: [%s]}\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	// Nodes: the root mapping, its two keys and values, lol's mapping with one
	// key and value, and nine mappings of one key and a list of ten aliases.
	const countLaughs = 1 + 4 + 3 + 9*(1+2+10)
	// A chain of anchors, each holding the one before: deeper than maxDepth.
	// The anchors sit under an unknown key, which decode does not descend into.
	var chain strings.Builder
	chain.WriteString("anchors:\n  - &c0 {name: leaf}\n")
	const links = maxDepth/2 + 10
	for i := 1; i <= links; i++ {
		fmt.Fprintf(&chain, "  - &c%d {children: [*c%d]}\n", i, i-1)
	}
	fmt.Fprintf(&chain, "children: [*c%d]\n", links)

	for _, tt := range []struct {
		name string
		in   string
		want []string // messages
	}{
		{name: "billion-laughs", in: laughs.String(), want: []string{fmt.Sprintf("aliases expand to too many values (more than %d)", minValues+valuesPerNode*countLaughs)}},
		{name: "deep-chain", in: chain.String(), want: []string{`unknown field "anchors"`, fmt.Sprintf("values are nested more than %d deep", maxDepth)}},
		{name: "cycle", in: "children: &a [{children: *a}]\n", want: []string{"alias *a is used inside its own anchor"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc testTree
			_, errs := decode([]byte(tt.in), &doc)
			var got []string
			for _, e := range errs {
				got = append(got, e.Msg)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decode(%.40q…) messages mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestDecodeBadTarget checks that Go types decode cannot fill are
// reported, not panicked on.
func TestDecodeBadTarget(t *testing.T) {
	for _, tt := range []struct {
		name string
		out  any
		in   string
		want string
	}{
		{name: "nil", out: nil, in: "a: 1", want: "internal: decode needs a non-nil pointer, got <nil>"},
		{name: "not-a-pointer", out: testDoc{}, in: "a: 1", want: "internal: decode needs a non-nil pointer, got config.testDoc"},
		{name: "unsupported-kind", out: &struct {
			C chan int `yaml:"c"`
		}{}, in: "c: 1", want: "internal: cannot decode into Go type chan int"},
		{name: "map-key-kind", out: &struct {
			M map[int]string `yaml:"m"`
		}{}, in: "m: {1: a}", want: "internal: cannot decode into Go type map[int]string: keys must be strings"},
		{name: "tag-without-name", out: &badTag{}, in: "a: 1", want: "internal: Go type config.badTag: field A has a yaml tag without a name"},
		{name: "unexported", out: &badUnexported{}, in: "a: 1", want: "internal: Go type config.badUnexported: field a has a yaml tag but is not exported"},
		{name: "two-fields-one-name", out: &badTwice{}, in: "a: 1", want: `internal: Go type config.badTwice has two fields named "region"`},
		{name: "inline-not-struct", out: &badInline{}, in: "a: 1", want: "internal: Go type config.badInline: inline field M is not a struct"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := decode([]byte(tt.in), tt.out)
			var got []string
			for _, e := range errs {
				got = append(got, e.Msg)
			}
			if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
				t.Errorf("decode(%q, %T) mismatch (-want +got):\n%s", tt.in, tt.out, diff)
			}
		})
	}
}

type badTag struct {
	A string `yaml:",omitempty"`
}

type badUnexported struct {
	a string `yaml:"a"`
}

type badTwice struct {
	A         string `yaml:"a"`
	testPlace `yaml:",inline"`
	B         string `yaml:"region"`
}

type badInline struct {
	M map[string]string `yaml:",inline"`
}

func TestClosest(t *testing.T) {
	names := []string{"health_check", "healthy_threshold", "id", "interval", "name", "port"}
	for _, tt := range []struct {
		in   string
		want string // "" for none
	}{
		{in: "helth_check", want: "health_check"},
		{in: "healthcheck", want: "health_check"},
		{in: "HEALTH_CHECK", want: "health_check"},
		{in: "intreval", want: "interval"},
		{in: "prot", want: "port"},
		{in: "ip", want: "id"},
		{in: "x", want: ""},
		{in: "timeout", want: ""},
		{in: strings.Repeat("a", 10000), want: ""},
	} {
		got, ok := closest(tt.in, names)
		if !ok {
			got = ""
		}
		if got != tt.want {
			t.Errorf("closest(%.20q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// fuzzDoc adds to testDoc the kinds and shapes it lacks.
type fuzzDoc struct {
	testDoc `yaml:",inline"`
	Tree    testTree                           `yaml:"tree"`
	F32     float32                            `yaml:"f32"`
	I16     int16                              `yaml:"i16"`
	I32     int32                              `yaml:"i32"`
	I64     int64                              `yaml:"i64"`
	U8      uint8                              `yaml:"u8"`
	U32     uint32                             `yaml:"u32"`
	U       uint                               `yaml:"u"`
	Prefix  *netip.Prefix                      `yaml:"prefix"`
	Nested  map[string][]map[string]*testCheck `yaml:"nested"`
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"",
		"name: web\nport: 80\ngroups: [{name: a, targets: [10.0.0.1]}]\n",
		"tree: &t {children: [*t]}\n",
		"nested: {a: [{b: {path: /, interval: 1s}}]}\n",
		"check: &c {path: /}\nbackends: {x: {<<: [*c, *c]}}\n",
		"prefix: 10.0.0.0/8\nf32: 1e39\ni16: 0x8000\nu: -0\n",
		"a: b: c",
		"name: a\n---\nname: b\n",
		"? [a]\n: 1\n",
		"mode: fsat\nenabled: yes\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc fuzzDoc
		pos, errs := decode(data, &doc)
		for _, e := range errs {
			if e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Errorf("decode(%q) problem at %v: %v", data, e.Pos, e)
			}
		}
		for _, e := range errs {
			if _, ok := pos[e.Path.Key()]; !ok {
				t.Errorf("decode(%q) problem %v has a path without a position", data, e)
			}
		}
	})
}
