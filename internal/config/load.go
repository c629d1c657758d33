package config

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
)

// Error is one problem in a configuration file, with where it is.
type Error struct {
	File    string
	Pos     Pos
	Path    string // e.g. target_groups[web].health_check.interval
	Msg     string // what is wrong
	Allowed string // what is allowed, may be empty
}

// Error renders e as FILE:LINE:COL: path: what is wrong (what is allowed).
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Pos.Line, e.Pos.Col)
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	if e.Allowed != "" {
		b.WriteString(" (" + e.Allowed + ")")
	}
	return b.String()
}

// ErrorList is every problem of one or more files, in file and line order.
type ErrorList []*Error

// Error renders one problem per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Load reads, decodes, defaults and validates the file at path. On any
// problem it returns an ErrorList with every problem found and no document.
func Load(path string) (*model.Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{File: path, Pos: Pos{1, 1}, Msg: "cannot read: " + unwrapPathError(err)}}
	}
	return Parse(path, data)
}

func unwrapPathError(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse is Load for data already read; file names it in errors.
func Parse(file string, data []byte) (*model.Document, error) {
	doc := &model.Document{}
	pos, derrs := decode(data, doc)
	var list ErrorList
	bad := map[string]bool{} // fields whose value could not be decoded
	for _, e := range derrs {
		bad[e.Path.Key()] = true
		list = append(list, &Error{File: file, Pos: e.Pos, Path: e.Path.String(), Msg: e.Msg, Allowed: e.Allowed})
	}
	doc.SetDefaults()
	if err := doc.Validate(); err != nil {
		ferrs, ok := model.AsErrors(err)
		if !ok {
			return nil, fmt.Errorf("config: %s: %w", file, err)
		}
		for _, fe := range ferrs {
			if bad[fe.Path.Key()] {
				continue // a consequence of a value that did not decode
			}
			list = append(list, &Error{File: file, Pos: lookup(pos, fe.Path), Path: fe.Path.String(), Msg: fe.Msg, Allowed: fe.Allowed})
		}
	}
	list = append(list, checkExpressions(file, doc, pos)...)
	if len(list) > 0 {
		slices.SortStableFunc(list, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
		})
		return nil, list
	}
	return doc, nil
}

// lookup finds the position of p's value, or of its nearest parent that the
// file has (a missing field is reported at the mapping that lacks it).
func lookup(pos map[string]Pos, p model.Path) Pos {
	for i := len(p); i >= 0; i-- {
		if at, ok := pos[p[:i].Key()]; ok {
			return at
		}
	}
	return Pos{1, 1}
}

// checkExpressions parses the expression of every metric check that this
// process evaluates (those without a Prometheus server, whose PromQL the
// server checks), so a typo is refused with the file rather than found at
// the first probe.
func checkExpressions(file string, doc *model.Document, pos map[string]Pos) ErrorList {
	var list ErrorList
	for i, hc := range doc.HealthChecks {
		if hc.Type != model.CheckMetric || hc.Prometheus != nil || hc.Expression == "" {
			continue
		}
		if err := health.ValidateExpr(hc.Expression); err != nil {
			p := model.Path{}.Field("health_checks").Index(i, hc.Name).Field("expression")
			list = append(list, &Error{File: file, Pos: lookup(pos, p), Path: p.String(), Msg: "is not a metric expression: " + err.Error(),
				Allowed: `a condition such as p99(name{label="v"}[1m]) > 0.25`})
		}
	}
	return list
}
