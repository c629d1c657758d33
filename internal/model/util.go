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
