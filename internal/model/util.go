package model

import (
	"maps"
	"slices"
	"strings"
)

// keys returns the sorted keys of m.
func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// join lists names for an error message.
func join(names []string) string { return strings.Join(names, ", ") }

// article puts "a" or "an" before a protocol or check type as it is read
// aloud: "an http check", "a tcp listener".
func article[T ~string](s T) string {
	if strings.HasPrefix(string(s), "http") {
		return "an " + string(s)
	}
	return "a " + string(s)
}
