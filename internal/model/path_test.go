// path_test.go tests how paths render for people (String) and for position
// lookups (Key), and the error types built on them.

package model

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPathRender(t *testing.T) {
	for _, tt := range []struct {
		name     string
		path     Path
		str, key string
	}{
		{"empty", Path{}, "", ""},
		{"field", Path{}.Field("zones"), "zones", "zones"},
		{"nested-fields", Path{}.Field("server").Field("admin").Field("listen"), "server.admin.listen", "server.admin.listen"},
		{"named-element", Path{}.Field("target_groups").Index(0, "web").Field("port"), "target_groups[web].port", "target_groups[0].port"},
		{"unnamed-element", Path{}.Field("zonal_shifts").Index(3, ""), "zonal_shifts[3]", "zonal_shifts[3]"},
		{
			"named-then-unnamed",
			Path{}.Field("target_groups").Index(1, "web").Field("targets").Index(2, "").Field("port"),
			"target_groups[web].targets[2].port", "target_groups[1].targets[2].port",
		},
		{"map-key", Path{}.Field("labels").MapKey("env"), "labels[env]", "labels[env]"},
		{"map-key-then-field", Path{}.Field("backends").MapKey("x").Field("path"), "backends[x].path", "backends[x].path"},
		{"leading-index", Path{}.Index(4, "name"), "[name]", "[4]"},
		{"name-with-dots", Path{}.Field("hosted_zones").Index(0, "example.com").Field("records").Index(5, "www.example.com"), "hosted_zones[example.com].records[www.example.com]", "hosted_zones[0].records[5]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.path.String(); got != tt.str {
				t.Errorf("Path.String() = %q, want %q", got, tt.str)
			}
			if got := tt.path.Key(); got != tt.key {
				t.Errorf("Path.Key() = %q, want %q", got, tt.key)
			}
		})
	}
}

// TestPathExtendDoesNotAlias checks that extending one path twice gives two
// independent paths, so validation can hand out paths freely.
func TestPathExtendDoesNotAlias(t *testing.T) {
	p := Path{}.Field("target_groups").Index(0, "web")
	a := p.Field("port")
	b := p.Field("protocol")
	c := a.Field("x")
	_ = a.Field("y")
	for _, tt := range []struct{ got, want string }{
		{p.String(), "target_groups[web]"},
		{a.String(), "target_groups[web].port"},
		{b.String(), "target_groups[web].protocol"},
		{c.String(), "target_groups[web].port.x"},
	} {
		if tt.got != tt.want {
			t.Errorf("Path.String() = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestFieldErrorError(t *testing.T) {
	p := Path{}.Field("health_checks").Index(0, "web").Field("interval")
	for _, tt := range []struct {
		in   *FieldError
		want string
	}{
		{&FieldError{Path: p, Msg: "50ms is below the minimum 100ms", Allowed: "100ms to 5m"}, "health_checks[web].interval: 50ms is below the minimum 100ms (100ms to 5m)"},
		{&FieldError{Path: p, Msg: "is required"}, "health_checks[web].interval: is required"},
	} {
		if got := tt.in.Error(); got != tt.want {
			t.Errorf("FieldError.Error() = %q, want %q", got, tt.want)
		}
	}
	for _, tt := range []struct {
		in   *ValueError
		want string
	}{
		{&ValueError{Msg: `"x" is not a protocol`, Allowed: "one of http, tcp"}, `"x" is not a protocol (one of http, tcp)`},
		{&ValueError{Msg: `"x" is not a protocol`}, `"x" is not a protocol`},
	} {
		if got := tt.in.Error(); got != tt.want {
			t.Errorf("ValueError.Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorsAndAsErrors(t *testing.T) {
	es := Errors{
		{Path: Path{}.Field("a"), Msg: "is required"},
		{Path: Path{}.Field("b").Index(1, ""), Msg: "is bad", Allowed: "good"},
	}
	if got, want := es.Error(), "a: is required\nb[1]: is bad (good)"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	for _, tt := range []struct {
		name string
		err  error
		want Errors
		ok   bool
	}{
		{"direct", es, es, true},
		{"wrapped", fmt.Errorf("config: %w", error(es)), es, true},
		{"other", errors.New("boom"), nil, false},
		{"nil", nil, nil, false},
	} {
		got, ok := AsErrors(tt.err)
		if ok != tt.ok || !cmp.Equal(got, tt.want) {
			t.Errorf("AsErrors(%s) = %v, %t, want %v, %t", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestValidateErrorsInDocumentOrder checks that Validate reports problems
// in the order of the document, resources before the references between them.
func TestValidateErrorsInDocumentOrder(t *testing.T) {
	d := base()
	d.Zones[0].Region = "nope"
	hc(d).Port = 70000
	tg(d).Port = 70000
	tg(d).Targets[0].Port, tg(d).Targets[1].Port = 8080, 8080
	d.SetDefaults()
	es, ok := AsErrors(d.Validate())
	if !ok {
		t.Fatalf("Validate() returned no Errors")
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Path.Key())
	}
	want := []string{"zones[0].region", "health_checks[0].port", "target_groups[0].port"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate() error order mismatch (-want +got):\n%s", diff)
	}
}
