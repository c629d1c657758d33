package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Path locates a field inside a Document, for example
// target_groups[web].health_check.interval. It is how validation errors say
// where they are, and how internal/config finds the line and column of the
// YAML that produced the field.
type Path []PathElem

// PathElem is one step of a Path: a struct field or map entry (Key), or a
// list element (Index, with Name when the element has a "name" field).
type PathElem struct {
	Key   string // field name as written in YAML, or a map key when IsMapKey
	Index int    // list index; used only when Key is empty and !IsMapKey
	Name  string // display name of a list element (its "name" field), may be empty
	// IsMapKey marks a map entry: rendered as [key] rather than .key.
	IsMapKey bool
}

// Field returns p extended by the struct field key.
func (p Path) Field(key string) Path { return p.with(PathElem{Key: key}) }

// Index returns p extended by list element i whose "name" field is name (may be "").
func (p Path) Index(i int, name string) Path { return p.with(PathElem{Index: i, Name: name}) }

// MapKey returns p extended by the map entry key.
func (p Path) MapKey(key string) Path { return p.with(PathElem{Key: key, IsMapKey: true}) }

func (p Path) with(e PathElem) Path {
	q := make(Path, len(p), len(p)+1)
	copy(q, p)
	return append(q, e)
}

// String renders p for people: list elements that have a name show it,
// as in target_groups[web].targets[2].port.
func (p Path) String() string { return p.render(true) }

// Key renders p with list indices only, as in target_groups[0].targets[2].port.
// It is unique within a document, which makes it the key for position lookups.
func (p Path) Key() string { return p.render(false) }

func (p Path) render(names bool) string {
	var b strings.Builder
	for i, e := range p {
		switch {
		case e.IsMapKey:
			b.WriteString("[" + e.Key + "]")
		case e.Key != "":
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.Key)
		case names && e.Name != "":
			b.WriteString("[" + e.Name + "]")
		default:
			b.WriteString("[" + strconv.Itoa(e.Index) + "]")
		}
	}
	return b.String()
}

// FieldError is one problem with one field: what is wrong and what is allowed.
type FieldError struct {
	Path    Path
	Msg     string // what is wrong, e.g. `300 is above the maximum 255`
	Allowed string // what is allowed, e.g. `0–255`; may be empty
}

func (e *FieldError) Error() string {
	s := e.Path.String() + ": " + e.Msg
	if e.Allowed != "" {
		s += " (" + e.Allowed + ")"
	}
	return s
}

// ValueError is returned by UnmarshalText of model types. Decoders turn it
// into a FieldError at the position of the offending value.
type ValueError struct {
	Msg     string
	Allowed string
}

func (e *ValueError) Error() string {
	if e.Allowed == "" {
		return e.Msg
	}
	return e.Msg + " (" + e.Allowed + ")"
}

// Errors is every problem Validate found, in document order.
type Errors []*FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// AsErrors returns the FieldErrors inside err, if err came from Validate.
func AsErrors(err error) (Errors, bool) {
	var es Errors
	if errors.As(err, &es) {
		return es, true
	}
	return nil, false
}

// problems collects FieldErrors during validation.
type problems struct{ list Errors }

func (p *problems) add(path Path, allowed, format string, args ...any) {
	p.list = append(p.list, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Allowed: allowed})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}
