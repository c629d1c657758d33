// decode.go decodes the YAML of one file into Go values by reflection. yaml.v3
// only parses; the decoding is ours so that every problem is reported, each
// with its line, column and path, and so that the position of every value is
// known to the validation that runs afterwards.

// Package config turns YAML files into model documents, with exact positions for every error.
package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard/switchboard/internal/model"
	"go.yaml.in/yaml/v3"
)

const (
	// A few kilobytes of nested aliases can stand for billions of values (the
	// "billion laughs"). decode visits at most valuesPerNode values for each
	// node the document holds, counting each expansion of an alias anew, plus
	// minValues, and never more than maxValues.
	valuesPerNode = 10
	minValues     = 10_000
	maxValues     = 1_000_000
	// maxDepth bounds nesting, so that a recursive Go type fed a chain of
	// aliases cannot exhaust the stack. Configurations nest a handful deep.
	maxDepth = 100
	// maxKnownFields is the most known fields an unknown-field error lists.
	maxKnownFields = 12
)

// Pos is a place in a file: 1-based line and column.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }

// decodeError is a problem found while decoding, before validation.
type decodeError struct {
	Pos     Pos
	Path    model.Path // where, see internal/model/path.go
	Msg     string     // what is wrong
	Allowed string     // what is allowed, may be ""
}

func (e *decodeError) Error() string {
	s := e.Pos.String() + ": "
	if len(e.Path) > 0 {
		s += e.Path.String() + ": "
	}
	s += e.Msg
	if e.Allowed != "" {
		s += " (" + e.Allowed + ")"
	}
	return s
}

// decode parses data (the YAML of one file) into out (a non-nil pointer to a struct).
// It returns the position of every node it visited keyed by Path.Key() (the index-only
// rendering, e.g. "target_groups[0].targets[2].port"; "" for the document root), and
// every problem found. It keeps going after a problem so that all problems are reported.
//
// Value positions are keyed by the path; the key of a mapping entry is also
// recorded under path+"#key". A value given by an alias is recorded where the
// alias is written; the values inside it, and problems with them, where the
// anchored text is. Problems come sorted by position.
func decode(data []byte, out any) (map[string]Pos, []*decodeError) {
	d := &decoder{
		pos:    map[string]Pos{"": {Line: 1, Col: 1}},
		active: map[*yaml.Node]bool{},
		fields: map[reflect.Type]*fieldSet{},
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return d.pos, []*decodeError{{Pos: Pos{1, 1}, Msg: fmt.Sprintf("internal: decode needs a non-nil pointer, got %T", out)}}
	}
	root, perr := parseOne(data)
	if perr != nil {
		return d.pos, []*decodeError{perr}
	}
	if root != nil {
		d.budget = min(maxValues, minValues+valuesPerNode*countNodes(root))
		d.value(root, rv.Elem(), nil)
	}
	slices.SortStableFunc(d.errs, func(a, b *decodeError) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	return d.pos, d.errs
}

// parseOne parses data into the content node of its only document. It
// returns nil when there is no document. Empty documents after the first
// (a trailing "---") are allowed.
func parseOne(data []byte) (*yaml.Node, *decodeError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(data, err)
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(data, err)
		}
		if !emptyDocument(&next) {
			return nil, &decodeError{Pos: posOf(&next), Msg: "only one YAML document per file", Allowed: `remove the "---" line or split the file`}
		}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// countNodes returns the number of nodes in the tree under n, each alias counted once.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, child := range n.Content {
		c += countNodes(child)
	}
	return c
}

func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Value == ""
}

// syntaxError turns a yaml.v3 parse error into a decodeError. yaml.v3 gives
// the line only in its message text ("yaml: line 3: did not find expected key")
// and no column. It leaves the line out when it is the first.
func syntaxError(data []byte, err error) *decodeError {
	msg, _ := strings.CutPrefix(err.Error(), "yaml: ")
	pos := Pos{Line: 1, Col: 1}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n >= 1 {
				pos.Line, msg = n, after
				if parserProblem(msg) {
					pos.Line++
				}
			}
		}
	}
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		pos = findAlias(data, strings.TrimSuffix(name, "' referenced"))
	}
	return &decodeError{Pos: pos, Msg: "invalid YAML: " + msg}
}

// parserProblem reports whether msg is an error of yaml.v3's parser rather
// than its scanner. yaml.v3 (v3.0.6) counts the lines of parser errors from 0
// and those of scanner errors from 1; TestDecodeProblems checks both.
func parserProblem(msg string) bool {
	switch msg {
	case "did not find expected <stream-start>",
		"did not find expected <document start>",
		"found undefined tag handle",
		"did not find expected node content",
		"did not find expected '-' indicator",
		"did not find expected key",
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"found duplicate %YAML directive",
		"found incompatible YAML document",
		"found duplicate %TAG directive":
		return true
	}
	return false
}

// findAlias returns the position of the first alias *name in data, or 1:1.
// yaml.v3 does not say where an alias to an unknown anchor is.
func findAlias(data []byte, name string) Pos {
	alias := "*" + name
	for i, line := range strings.Split(string(data), "\n") {
		for off := 0; ; {
			j := strings.Index(line[off:], alias)
			if j < 0 {
				break
			}
			end := off + j + len(alias)
			if end == len(line) || strings.ContainsRune(" \t\r,]}", rune(line[end])) {
				return Pos{Line: i + 1, Col: utf8.RuneCountInString(line[:off+j]) + 1}
			}
			off = end
		}
	}
	return Pos{Line: 1, Col: 1}
}

// decoder holds the state of one call to decode.
type decoder struct {
	pos    map[string]Pos
	errs   []*decodeError
	fields map[reflect.Type]*fieldSet // cache of fieldsOf

	budget  int                 // how many values decode may visit
	visited int                 // values visited, against budget
	depth   int                 // current nesting, against maxDepth
	stopped bool                // maxValues was reached: decode nothing more
	active  map[*yaml.Node]bool // anchored nodes being decoded, to refuse an alias inside its own anchor
}

func (d *decoder) fail(n *yaml.Node, path model.Path, allowed, format string, args ...any) {
	d.errs = append(d.errs, &decodeError{Pos: posOf(n), Path: path, Msg: fmt.Sprintf(format, args...), Allowed: allowed})
}

func posOf(n *yaml.Node) Pos { return Pos{Line: max(n.Line, 1), Col: max(n.Column, 1)} }

// value decodes n into v and records where n is.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path model.Path) {
	d.pos[path.Key()] = posOf(n)
	n, ok := d.enter(n, path)
	if !ok {
		return
	}
	defer d.leave(n)
	d.into(n, v, path)
}

// enter resolves an alias and counts n against the limits. It reports false
// when n must not be decoded; each enter that reports true needs a leave.
func (d *decoder) enter(n *yaml.Node, path model.Path) (*yaml.Node, bool) {
	if d.stopped {
		return nil, false
	}
	d.visited++
	if d.visited > d.budget {
		d.stopped = true
		d.fail(n, path, "", "aliases expand to too many values (more than %d)", d.budget)
		return nil, false
	}
	target := n
	if n.Kind == yaml.AliasNode {
		target = n.Alias
	}
	switch {
	case target == nil || target.Kind == yaml.AliasNode:
		d.fail(n, path, "", "alias *%s refers to nothing", n.Value)
		return nil, false
	case d.active[target]:
		d.fail(n, path, "", "alias *%s is used inside its own anchor", n.Value)
		return nil, false
	case d.depth >= maxDepth:
		d.fail(n, path, "", "values are nested more than %d deep", maxDepth)
		return nil, false
	}
	d.depth++
	if target.Anchor != "" {
		d.active[target] = true
	}
	return target, true
}

func (d *decoder) leave(n *yaml.Node) {
	d.depth--
	delete(d.active, n)
}

// isTextUnmarshaler reports whether values of type t decode themselves from text.
func isTextUnmarshaler(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// into decodes n, an alias already resolved, into v.
func (d *decoder) into(n *yaml.Node, v reflect.Value, path model.Path) {
	if !v.CanSet() {
		d.fail(n, path, "", "internal: cannot set Go value of type %s", v.Type())
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null leaves the zero value
	}
	if isTextUnmarshaler(v.Type()) {
		d.text(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.into(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.list(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// describe names what n is, for "expected …, got …" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	}
	return "a string"
}

// text decodes a scalar with the UnmarshalText method of v's pointer.
func (d *decoder) text(n *yaml.Node, v reflect.Value, path model.Path) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", "expected a string, got %s", describe(n))
		return
	}
	p := v.Addr().Interface()
	err := p.(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value))
	if err == nil {
		return
	}
	msg, allowed := err.Error(), ""
	if ve, ok := errors.AsType[*model.ValueError](err); ok {
		msg, allowed = ve.Msg, ve.Allowed
	} else if what, ok := textKinds[v.Type()]; ok {
		// The standard library's messages name its functions; say what
		// the field wants instead.
		msg, allowed = fmt.Sprintf("%s is not %s", quoteShort(n.Value), what[0]), what[1]
	}
	if e, ok := p.(interface{ Values() []string }); ok {
		if s, ok := closest(n.Value, e.Values()); ok {
			allowed = didYouMean(s)
		}
	}
	d.fail(n, path, allowed, "%s", msg)
}

// textKinds describes standard-library text types: what they are and an example.
var textKinds = map[reflect.Type][2]string{
	reflect.TypeFor[netip.Addr]():   {"an IP address", "such as 192.0.2.1 or 2001:db8::1"},
	reflect.TypeFor[netip.Prefix](): {"a network", "an address and prefix length such as 192.0.2.0/24 or 2001:db8::/48"},
	reflect.TypeFor[time.Time]():    {"a time", "RFC 3339, such as 2026-01-02T15:04:05Z"},
}

func didYouMean(s string) string { return fmt.Sprintf("did you mean %q?", s) }

// entry is one key and value of a mapping.
type entry struct {
	key, value *yaml.Node
	merged     bool // brought in by a "<<" merge key; the mapping's own keys win
}

// entries lists the entries of mapping n: its own, in order, then those its
// "<<" merge keys bring in, in order. A key that appears twice among them
// counts the first time (YAML's merge rule).
func (d *decoder) entries(n *yaml.Node, path model.Path) []entry {
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, path, true)...)
			continue
		}
		own = append(own, entry{key: k, value: v})
	}
	return append(own, merged...)
}

// merge returns the entries a "<<" value brings in: those of a mapping or,
// if list is true, of each mapping in a list.
func (d *decoder) merge(n *yaml.Node, path model.Path, list bool) []entry {
	n, ok := d.enter(n, path)
	if !ok {
		return nil
	}
	defer d.leave(n)
	var es []entry
	switch {
	case n.Kind == yaml.MappingNode:
		es = d.entries(n, path)
	case n.Kind == yaml.SequenceNode && list:
		for _, item := range n.Content {
			es = append(es, d.merge(item, path, false)...)
		}
	default:
		d.fail(n, path, "a mapping, or a list of mappings", "cannot merge %s", describe(n))
		return nil
	}
	// Count what is copied: merging a mapping of many keys many times is
	// the same bomb as expanding many aliases.
	d.visited += len(es)
	for i := range es {
		es[i].merged = true
	}
	return es
}

// keyName returns the text of mapping key k.
func (d *decoder) keyName(k *yaml.Node, path model.Path) (string, bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		d.fail(k, path, "", "expected a name as key, got %s", describe(k))
		return "", false
	}
	return k.Value, true
}

// structure decodes mapping n into struct v, field by field.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path model.Path) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "", "expected a mapping, got %s", describe(n))
		return
	}
	fs, err := d.fieldsOf(v.Type())
	if err != nil {
		d.fail(n, path, "", "internal: %v", err)
		return
	}
	seen := map[string]*yaml.Node{}
	for _, e := range d.entries(n, path) {
		name, ok := d.keyName(e.key, path)
		if !ok {
			continue
		}
		f, ok := fs.byName[name]
		if !ok {
			d.fail(e.key, path, fs.hint(name), "unknown field %s", quoteShort(name))
			continue
		}
		fp := path.Field(name)
		if first := seen[name]; first != nil {
			if !e.merged {
				d.fail(e.key, fp, fmt.Sprintf("first set at line %d", posOf(first).Line), "duplicate field %s", quoteShort(name))
			}
			continue
		}
		seen[name] = e.key
		d.pos[fp.Key()+"#key"] = posOf(e.key)
		d.value(e.value, v.FieldByIndex(f.index), fp)
	}
}

// list decodes sequence n into slice v. An empty list leaves v nil.
func (d *decoder) list(n *yaml.Node, v reflect.Value, path model.Path) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "", "expected a list, got %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, s.Index(i), path.Index(i, elemName(item)))
	}
	v.Set(s)
}

// elemName returns the scalar "name" of a list element that is a mapping, or "".
func elemName(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if k.Kind == yaml.ScalarNode && k.Value == "name" && v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
			return v.Value
		}
	}
	return ""
}

// dict decodes mapping n into map v, whose keys are strings. An empty mapping leaves v nil.
func (d *decoder) dict(n *yaml.Node, v reflect.Value, path model.Path) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "", "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.fail(n, path, "", "internal: cannot decode into Go type %s: keys must be strings", t)
		return
	}
	seen := map[string]*yaml.Node{}
	for _, e := range d.entries(n, path) {
		k, ok := d.keyName(e.key, path)
		if !ok {
			continue
		}
		kp := path.MapKey(k)
		if first := seen[k]; first != nil {
			if !e.merged {
				d.fail(e.key, kp, fmt.Sprintf("first set at line %d", posOf(first).Line), "duplicate key %s", quoteShort(k))
			}
			continue
		}
		seen[k] = e.key
		d.pos[kp.Key()+"#key"] = posOf(e.key)
		elem := reflect.New(t.Elem()).Elem()
		d.value(e.value, elem, kp)
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		v.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), elem)
	}
}

// scalar decodes scalar n into a string, bool or number v.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path model.Path) {
	want, ok := scalarWant(v.Kind())
	if !ok {
		d.fail(n, path, "", "internal: cannot decode into Go type %s", v.Type())
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", "expected %s, got %s", want, describe(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		d.setBool(n, v, path)
	case reflect.Float32, reflect.Float64:
		d.setFloat(n, v, path)
	default:
		d.setInt(n, v, path)
	}
}

// scalarWant names what a scalar kind takes, and reports whether decode supports it.
func scalarWant(k reflect.Kind) (string, bool) {
	switch k {
	case reflect.String:
		return "a string", true
	case reflect.Bool:
		return "a boolean", true
	case reflect.Float32, reflect.Float64:
		return "a number", true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer", true
	}
	return "", false
}

// setBool accepts the booleans of YAML 1.2: true and false. YAML 1.1's yes,
// no, on and off are refused: "country: no" should not mean false.
func (d *decoder) setBool(n *yaml.Node, v reflect.Value, path model.Path) {
	switch n.Value {
	case "true", "True", "TRUE":
		v.SetBool(true)
	case "false", "False", "FALSE":
		v.SetBool(false)
	default:
		d.fail(n, path, "true or false", "%s is not a boolean", quoteShort(n.Value))
	}
}

func (d *decoder) setFloat(n *yaml.Node, v reflect.Value, path model.Path) {
	f, err := parseFloat(n.Value, v.Type().Bits())
	switch {
	case errors.Is(err, strconv.ErrRange):
		d.fail(n, path, "", "%s is out of range", shorten(n.Value))
	case err != nil:
		d.fail(n, path, "a number", "%s is not a number", quoteShort(n.Value))
	default:
		v.SetFloat(f)
	}
}

// parseFloat reads a decimal number or one of YAML's .inf, -.inf and .nan.
func parseFloat(s string, bits int) (float64, error) {
	switch strings.ToLower(s) {
	case ".inf", "+.inf":
		return math.Inf(1), nil
	case "-.inf":
		return math.Inf(-1), nil
	case ".nan":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, bits)
}

// setInt decodes a whole number, decimal or 0x hexadecimal, into any int or uint kind.
func (d *decoder) setInt(n *yaml.Node, v reflect.Value, path model.Path) {
	neg, mag, err := parseWhole(n.Value)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		if n.ShortTag() == "!!float" {
			d.fail(n, path, "a whole number", "%s is not a whole number", shorten(n.Value))
		} else {
			d.fail(n, path, "a whole number", "%s is not an integer", quoteShort(n.Value))
		}
		return
	}
	bits := v.Type().Bits()
	if v.CanUint() {
		if err == nil && (!neg || mag == 0) && !v.OverflowUint(mag) {
			v.SetUint(mag)
			return
		}
		d.fail(n, path, "0 to "+strconv.FormatUint(math.MaxUint64>>(64-bits), 10), "%s is out of range", shorten(n.Value))
		return
	}
	lo, hi := int64(-1)<<(bits-1), int64(math.MaxInt64>>(64-bits))
	if err == nil && !neg && mag <= uint64(hi) {
		v.SetInt(int64(mag))
		return
	}
	if err == nil && neg && mag <= uint64(hi)+1 {
		v.SetInt(int64(-mag)) // two's complement: right for mag == -lo too
		return
	}
	d.fail(n, path, strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10), "%s is out of range", shorten(n.Value))
}

// parseWhole reads an optionally signed decimal or 0x-hexadecimal whole
// number as a sign and magnitude. Unlike strconv with base 0 it takes no
// octal, binary or underscores: "010" is ten.
func parseWhole(s string) (neg bool, mag uint64, err error) {
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		neg, digits = digits[0] == '-', digits[1:]
	}
	base := 10
	if len(digits) > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') {
		base, digits = 16, digits[2:]
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return false, 0, strconv.ErrSyntax
	}
	mag, err = strconv.ParseUint(digits, base, 64)
	return neg, mag, err
}

// quoteShort quotes s for a message, cut short if it is long.
func quoteShort(s string) string {
	short := shorten(s)
	if short == s {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.TrimSuffix(short, "…")) + "…"
}

// shorten cuts s to its first 64 characters and an ellipsis, so that a long
// value cannot swamp a message.
func shorten(s string) string {
	const most = 64
	if utf8.RuneCountInString(s) <= most {
		return s
	}
	return string([]rune(s)[:most]) + "…"
}

// field is a struct field that YAML sets.
type field struct {
	name  string              // YAML key
	index []int               // for reflect.Value.FieldByIndex
	owner reflect.Type        // the struct that declares the field, maybe inline in another
	sf    reflect.StructField // the field in owner
}

// yamlFields lists the fields of struct type t that YAML sets, in
// declaration order: exported fields with a yaml:"name" tag, and the fields
// of struct fields tagged yaml:",inline" in their place. Fields without a
// yaml tag, or tagged yaml:"-", are not set. Two fields with one name are an error.
func yamlFields(t reflect.Type) ([]field, error) {
	var fs []field
	if err := appendFields(&fs, t, nil); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.name] {
			return nil, fmt.Errorf("Go type %s has two fields named %q", t, f.name)
		}
		seen[f.name] = true
	}
	return fs, nil
}

func appendFields(fs *[]field, t reflect.Type, prefix []int) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("yaml")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := append(slices.Clone(prefix), i)
		switch {
		case name == "" && slices.Contains(strings.Split(opts, ","), "inline"):
			if sf.Type.Kind() != reflect.Struct {
				return fmt.Errorf("Go type %s: inline field %s is not a struct", t, sf.Name)
			}
			if err := appendFields(fs, sf.Type, index); err != nil {
				return err
			}
		case name == "":
			return fmt.Errorf("Go type %s: field %s has a yaml tag without a name", t, sf.Name)
		case !sf.IsExported():
			return fmt.Errorf("Go type %s: field %s has a yaml tag but is not exported", t, sf.Name)
		default:
			*fs = append(*fs, field{name: name, index: index, owner: t, sf: sf})
		}
	}
	return nil
}

// fieldSet is what decoding a mapping into a struct type needs to know.
type fieldSet struct {
	byName map[string]field
	names  []string // sorted
}

// fieldsOf returns the fields of struct type t, from the decoder's cache.
func (d *decoder) fieldsOf(t reflect.Type) (*fieldSet, error) {
	if fs, ok := d.fields[t]; ok {
		return fs, nil
	}
	list, err := yamlFields(t)
	if err != nil {
		return nil, err
	}
	fs := &fieldSet{byName: make(map[string]field, len(list))}
	for _, f := range list {
		fs.byName[f.name] = f
		fs.names = append(fs.names, f.name)
	}
	slices.Sort(fs.names)
	d.fields[t] = fs
	return fs, nil
}

// hint says what an unknown field might have been: the known field it is
// most likely a typo of, else the known fields if there are few.
func (fs *fieldSet) hint(unknown string) string {
	if s, ok := closest(unknown, fs.names); ok {
		return didYouMean(s)
	}
	if len(fs.names) <= maxKnownFields {
		return strings.Join(fs.names, ", ")
	}
	return ""
}

// closest returns the candidate nearest to s by edit distance, ignoring
// case, if it is near enough to be a typo of s: at most 2 edits, or a third
// of its length for long words, and always fewer edits than it has
// characters. Ties go to the earlier candidate.
func closest(s string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	a := []rune(strings.ToLower(s))
	for _, c := range candidates {
		b := []rune(strings.ToLower(c))
		limit := min(max(2, len(b)/3), len(b)-1)
		if abs(len(a)-len(b)) > limit {
			continue // cheap, and keeps a huge key from costing much
		}
		if dist := levenshtein(a, b); dist <= limit && (bestDist < 0 || dist < bestDist) {
			best, bestDist = c, dist
		}
	}
	return best, bestDist >= 0
}

func abs(x int) int { return max(x, -x) }

// levenshtein returns the number of single-character insertions, deletions
// and substitutions that turn a into b.
func levenshtein(a, b []rune) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range a {
		cur[0] = i + 1
		for j := range b {
			cost := 1
			if a[i] == b[j] {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
