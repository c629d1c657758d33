package health

// Metric expressions: the condition of a metric check over this process's
// own metrics (a PromQL subset plus percentile functions).
//
// The parser is written by hand, after trying the two candidates:
//
//   - github.com/prometheus/prometheus/promql/parser parses the selectors,
//     and v0.316 (the newest served) takes extra functions such as p99
//     through parser.Options.Functions. But its semantics are not ours:
//     max, min, avg and count aggregate instant vectors, so max(x[1m]) is a
//     type error there; and, or and unless are set operations on vectors,
//     not boolean logic, and there is no not; a comparison filters series
//     instead of giving a truth value. We would walk its AST to refuse
//     most of PromQL (offset, @, subqueries, by/without, on/ignoring,
//     bool, ...) and re-word its errors. And it is heavy for a dozen rules:
//     the module's graph has 256 modules (the AWS and Azure SDKs among
//     them, for its service discovery), and the parser alone links about
//     60 packages, protobuf and client_golang included.
//   - github.com/expr-lang/expr is a fine boolean/arithmetic language but
//     cannot lex name{label=~"re"}[1m]; we would have to rewrite the input
//     before parsing it, and its error columns would point into the
//     rewritten text.
//
// The grammar, loosest binding first:
//
//	expr     = and { "or" and }
//	and      = not { "and" not }
//	not      = "not" not | cmp
//	cmp      = sum [ (">" | ">=" | "<" | "<=" | "==" | "!=") sum ]
//	sum      = product { ("+" | "-") product }
//	product  = unary { ("*" | "/") unary }
//	unary    = ("-" | "+") unary | primary
//	primary  = number | "(" expr ")" | function "(" selector ")"
//	selector = name [ "{" [ matcher { "," matcher } [ "," ] ] "}" ] "[" window "]"
//	matcher  = label ("=" | "!=" | "=~" | "!~") string
//
// Functions: rate (per-second increase of a counter), increase, p1 to p99
// and p999 (percentiles of histogram samples), avg, min, max and count
// (number of samples). Each merges every series its selector matches: the
// sum of the counters, the percentile of all the samples. rate and
// increase of a histogram count its samples. Regular expressions are RE2,
// anchored at both ends, as in PromQL. Strings are quoted with ", ' or `
// with Go's escapes. A window is a Go duration (1m30s, 1.5h) or a
// Prometheus one (90s, 1d, 1w), in whole milliseconds. It ends with the
// registry's current time bucket (see Metrics), and rate divides the
// increase in it by its length.
//
// Evaluation works on three truth values. A comparison whose side has no
// data is unknown; "a and b" is false when either side is false, "a or b"
// is true when either side is true, and otherwise unknown propagates, so
// that Eval returns ErrNoData only when the missing data decides. A side
// has no data when a percentile, avg, min or max has no samples in its
// window, when an expression divides by zero, or when rate, increase or
// count names a metric that has no series at all within the registry's
// retention. rate, increase and count of a metric that exists are 0 when
// no series matches: a proxy that has served no 5xx yet has no 5xx series, and
// rate(responses_total{code=~"5.."}[1m]) must be 0 then, not missing.

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNoData is the error of an evaluation whose outcome depends on data
// that is missing. The caller applies the check's insufficient_data setting.
var ErrNoData = errors.New("health: no data")

// Source is where an expression's selectors find their data. *Metrics is
// the only one; the interface keeps expressions apart from how the registry
// stores series.
type Source interface {
	selectRange(sel *selector, now time.Time) (*metricRange, error)
}

var _ Source = (*Metrics)(nil)

// Expr is a parsed metric expression. It is immutable and safe for
// concurrent use.
type Expr struct {
	src  string
	root exprNode
}

// ExprError is a syntax error in an expression, at a position people can
// find: Line and Column count from 1, in characters; Offset is in bytes.
type ExprError struct {
	Offset int
	Line   int
	Column int
	Msg    string
}

func (e *ExprError) Error() string {
	if e.Line > 1 {
		return fmt.Sprintf("at line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("at column %d: %s", e.Column, e.Msg)
}

// ValidateExpr reports whether s is a valid metric expression, for the
// configuration layer: the error is an *ExprError with the position. It
// applies to checks on the local registry; with a Prometheus source the
// expression is PromQL, which only the server can judge.
func ValidateExpr(s string) error {
	_, err := ParseExpr(s)
	return err
}

// exprMaxDepth bounds the nesting of an expression, so that "((((…" cannot
// exhaust the stack.
const exprMaxDepth = 64

// ParseExpr parses a metric expression; see the grammar above. It must be
// a condition: a comparison, or comparisons joined by and, or and not.
// Errors are *ExprError.
func ParseExpr(s string) (*Expr, error) {
	p := &exprParser{src: s}
	if err := p.next(); err != nil {
		return nil, err
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if err := p.wantBool(root); err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf(p.tok.pos, "expected an operator or the end of the expression, found %s", p.tok)
	}
	return &Expr{src: s, root: root}, nil
}

// String returns the expression in canonical form, which parses to the same expression.
func (e *Expr) String() string {
	var b strings.Builder
	writeNode(&b, e.root)
	return b.String()
}

// Eval evaluates the expression over src at now. It returns ErrNoData
// (wrapped, with what was missing) when missing data decides the outcome,
// and other errors when a selector cannot be evaluated at all (a window
// longer than the registry's retention, a percentile of a counter).
func (e *Expr) Eval(src Source, now time.Time) (bool, error) {
	v, _, err := e.explain(src, now)
	return v, err
}

// explain evaluates e and also says why: the top comparisons with their
// values, such as "0.31 > 0.25 and no data > 0.05".
func (e *Expr) explain(src Source, now time.Time) (bool, string, error) {
	ev := &exprEval{src: src, now: now}
	t, why, err := ev.truth(e.root)
	if err != nil {
		return false, "", err
	}
	if t == truthUnknown {
		return false, why, ev.missing
	}
	return t == truthTrue, why, nil
}

// selectors calls f for each selector of e.
func (e *Expr) selectors(f func(*selector)) {
	var walk func(exprNode)
	walk = func(n exprNode) {
		switch n := n.(type) {
		case *callNode:
			f(&n.sel)
		case *unaryNode:
			walk(n.x)
		case *binaryNode:
			walk(n.l)
			walk(n.r)
		}
	}
	walk(e.root)
}

// selector picks series by name and labels, over the window before now.
type selector struct {
	name     string
	matchers []labelMatcher
	window   time.Duration
}

func (s *selector) matches(labels Labels) bool {
	for i := range s.matchers {
		if !s.matchers[i].matches(labels[s.matchers[i].label]) {
			return false
		}
	}
	return true
}

// labelMatcher is one label="value" of a selector.
type labelMatcher struct {
	label string
	op    tokenKind // tokAssign, tokNE, tokRegexMatch or tokRegexNoMatch
	value string
	re    *regexp.Regexp // the anchored value, for =~ and !~
}

func (m *labelMatcher) matches(v string) bool {
	switch m.op {
	case tokAssign:
		return v == m.value
	case tokNE:
		return v != m.value
	case tokRegexMatch:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// Expression nodes.
type (
	exprNode interface {
		isBool() bool // a condition rather than a number
		position() int
	}
	numberNode struct {
		pos int
		v   float64
	}
	callNode struct {
		pos      int
		fn       string // rate, increase, avg, min, max, count or pNN
		permille int    // pNN: NN×10, p999: 999
		sel      selector
	}
	unaryNode struct {
		pos int
		op  tokenKind // tokMinus, tokPlus or tokNot
		x   exprNode
	}
	binaryNode struct {
		pos  int // of the operator
		op   tokenKind
		l, r exprNode
	}
)

func (*numberNode) isBool() bool   { return false }
func (*callNode) isBool() bool     { return false }
func (n *unaryNode) isBool() bool  { return n.op == tokNot }
func (n *binaryNode) isBool() bool { return n.op.precedence() <= precCompare }

func (n *numberNode) position() int { return n.pos }
func (n *callNode) position() int   { return n.pos }
func (n *unaryNode) position() int  { return n.pos }
func (n *binaryNode) position() int { return n.l.position() }

// Precedence levels, loosest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCompare
	precSum
	precProduct
	precUnary
	precPrimary
)

func (k tokenKind) precedence() int {
	switch k {
	case tokOr:
		return precOr
	case tokAnd:
		return precAnd
	case tokNot:
		return precNot
	case tokGT, tokGE, tokLT, tokLE, tokEQ, tokNE:
		return precCompare
	case tokPlus, tokMinus:
		return precSum
	case tokStar, tokSlash:
		return precProduct
	}
	return 0
}

func nodePrecedence(n exprNode) int {
	switch n := n.(type) {
	case *binaryNode:
		return n.op.precedence()
	case *unaryNode:
		if n.op == tokNot {
			return precNot
		}
		return precUnary
	}
	return precPrimary
}

// Tokens.
type tokenKind int

const (
	tokEOF tokenKind = iota
	tokIdent
	tokNumber
	tokString
	tokWindow
	tokLParen
	tokRParen
	tokLBrace
	tokRBrace
	tokLBracket
	tokRBracket
	tokComma
	tokPlus
	tokMinus
	tokStar
	tokSlash
	tokAssign       // =
	tokEQ           // ==
	tokNE           // !=
	tokGT           // >
	tokGE           // >=
	tokLT           // <
	tokLE           // <=
	tokRegexMatch   // =~
	tokRegexNoMatch // !~
	tokAnd
	tokOr
	tokNot
)

var tokenText = map[tokenKind]string{
	tokLParen: "(", tokRParen: ")", tokLBrace: "{", tokRBrace: "}", tokLBracket: "[", tokRBracket: "]",
	tokComma: ",", tokPlus: "+", tokMinus: "-", tokStar: "*", tokSlash: "/",
	tokAssign: "=", tokEQ: "==", tokNE: "!=", tokGT: ">", tokGE: ">=", tokLT: "<", tokLE: "<=",
	tokRegexMatch: "=~", tokRegexNoMatch: "!~", tokAnd: "and", tokOr: "or", tokNot: "not",
}

func (k tokenKind) String() string { return tokenText[k] }

type exprToken struct {
	kind tokenKind
	pos  int    // byte offset in the source
	text string // as written
	num  float64
	str  string // a string's value
}

// String describes the token for "found …" in errors.
func (t exprToken) String() string {
	if t.kind == tokEOF {
		return "the end of the expression"
	}
	return strconv.Quote(t.text)
}

// exprParser is a recursive-descent parser with one token of look-ahead,
// scanned on demand so that the text after "[" can be scanned as a window.
type exprParser struct {
	src   string
	off   int // where the next token starts
	tok   exprToken
	depth int
}

func (p *exprParser) errorf(pos int, format string, args ...any) *ExprError {
	line, col := 1, 1
	for _, r := range p.src[:pos] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &ExprError{Offset: pos, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// next scans the next token into p.tok.
func (p *exprParser) next() error {
	s := p.src
	for p.off < len(s) && strings.IndexByte(" \t\r\n", s[p.off]) >= 0 {
		p.off++
	}
	start := p.off
	p.tok = exprToken{pos: start}
	if start == len(s) {
		p.tok.kind = tokEOF
		return nil
	}
	c := s[start]
	switch {
	case isExprNameStart(c):
		end := start + 1
		for end < len(s) && (isExprNameStart(s[end]) || isExprDigit(s[end])) {
			end++
		}
		p.tok.kind, p.tok.text = tokIdent, s[start:end]
		switch p.tok.text {
		case "and":
			p.tok.kind = tokAnd
		case "or":
			p.tok.kind = tokOr
		case "not":
			p.tok.kind = tokNot
		}
		p.off = end
		return nil
	case isExprDigit(c) || c == '.':
		return p.scanNumber()
	case c == '"' || c == '\'' || c == '`':
		return p.scanString()
	}
	two := ""
	if start+1 < len(s) {
		two = s[start : start+2]
	}
	for _, k := range []tokenKind{tokEQ, tokNE, tokGE, tokLE, tokRegexMatch, tokRegexNoMatch} {
		if two == tokenText[k] {
			p.tok.kind, p.tok.text, p.off = k, two, start+2
			return nil
		}
	}
	for _, k := range []tokenKind{tokLParen, tokRParen, tokLBrace, tokRBrace, tokLBracket, tokRBracket,
		tokComma, tokPlus, tokMinus, tokStar, tokSlash, tokAssign, tokGT, tokLT} {
		if s[start] == tokenText[k][0] {
			p.tok.kind, p.tok.text, p.off = k, s[start:start+1], start+1
			return nil
		}
	}
	r, _ := utf8.DecodeRuneInString(s[start:])
	return p.errorf(start, "unexpected character %q", r)
}

func isExprNameStart(c byte) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isExprDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans a decimal number: 12, 0.5, .5, 1e-3.
func (p *exprParser) scanNumber() error {
	s, start := p.src, p.off
	end := start
	for end < len(s) && (isExprDigit(s[end]) || s[end] == '.') {
		end++
	}
	if end < len(s) && (s[end] == 'e' || s[end] == 'E') {
		exp := end + 1
		if exp < len(s) && (s[exp] == '+' || s[exp] == '-') {
			exp++
		}
		if exp < len(s) && isExprDigit(s[exp]) {
			for end = exp; end < len(s) && isExprDigit(s[end]); end++ {
			}
		}
	}
	text := s[start:end]
	if end < len(s) && (isExprNameStart(s[end]) || s[end] == '.') {
		return p.errorf(start, "%q is not a number", text+string(s[end]))
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) {
		return p.errorf(start, "%q is not a number", text)
	}
	p.tok.kind, p.tok.text, p.tok.num, p.off = tokNumber, text, v, end
	return nil
}

// scanString scans a quoted string: "…" and '…' with Go's escapes, `…` raw.
func (p *exprParser) scanString() error {
	s, start := p.src, p.off
	q := s[start]
	if q == '`' {
		end := strings.IndexByte(s[start+1:], '`')
		if end < 0 {
			return p.errorf(start, "string not terminated")
		}
		end += start + 1
		p.tok.kind, p.tok.text, p.tok.str, p.off = tokString, s[start:end+1], s[start+1:end], end+1
		return nil
	}
	var buf []byte
	rest := s[start+1:]
	for {
		if rest == "" || rest[0] == '\n' {
			return p.errorf(start, "string not terminated")
		}
		if rest[0] == q {
			break
		}
		at := len(s) - len(rest)
		c, multibyte, tail, err := strconv.UnquoteChar(rest, q)
		if err != nil {
			return p.errorf(at, "invalid escape in string")
		}
		if c < utf8.RuneSelf || !multibyte {
			buf = append(buf, byte(c))
		} else {
			buf = utf8.AppendRune(buf, c)
		}
		rest = tail
	}
	end := len(s) - len(rest) + 1
	p.tok.kind, p.tok.text, p.tok.str, p.off = tokString, s[start:end], string(buf), end
	return nil
}

// nextWindow scans the text after "[" as a window, up to "]".
func (p *exprParser) nextWindow() error {
	s := p.src
	for p.off < len(s) && (s[p.off] == ' ' || s[p.off] == '\t') {
		p.off++
	}
	start, end := p.off, p.off
	for end < len(s) {
		switch c := s[end]; {
		case isExprDigit(c) || c == '.' || 'a' <= c && c <= 'z':
			end++
			continue
		case strings.HasPrefix(s[end:], "µ"): // Go's "1µs"
			end += len("µ")
			continue
		}
		break
	}
	text := s[start:end]
	if text == "" {
		p.tok = exprToken{pos: start}
		if err := p.next(); err != nil {
			return err
		}
		return p.errorf(start, "expected a window such as 1m, found %s", p.tok)
	}
	d, err := parseWindow(text)
	if err != nil {
		return p.errorf(start, "%s", err)
	}
	p.tok = exprToken{kind: tokWindow, pos: start, text: text, num: float64(d)}
	p.off = end
	return nil
}

// parseWindow parses a Go duration (1m30s, 1.5h, 500ms) or a Prometheus
// one (90s, 1d, 2w, 1y = 365d). It must be a positive whole number of
// milliseconds, at most a year.
func parseWindow(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		d, err = parsePromDuration(s)
		if err != nil {
			return 0, err
		}
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("window %s is not positive", s)
	case d%time.Millisecond != 0:
		return 0, fmt.Errorf("window %s is not a whole number of milliseconds", s)
	case d > 365*24*time.Hour:
		return 0, fmt.Errorf("window %s is longer than a year", s)
	}
	return d, nil
}

// parsePromDuration parses Prometheus's duration syntax: integers with
// units y, w, d, h, m, s and ms, largest first, each at most once.
func parsePromDuration(s string) (time.Duration, error) {
	units := []struct {
		name string
		d    time.Duration
	}{{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour},
		{"h", time.Hour}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}}
	order := map[string]int{"y": 0, "w": 1, "d": 2, "h": 3, "m": 4, "s": 5, "ms": 6}
	bad := fmt.Errorf("%q is not a window such as 30s, 5m or 1h", s)
	var total time.Duration
	last := -1
	for rest := s; rest != ""; {
		n := 0
		for n < len(rest) && isExprDigit(rest[n]) {
			n++
		}
		if n == 0 || n > 9 {
			return 0, bad
		}
		v, _ := strconv.Atoi(rest[:n])
		rest = rest[n:]
		found := false
		for _, u := range units {
			if strings.HasPrefix(rest, u.name) {
				if order[u.name] <= last {
					return 0, bad
				}
				last = order[u.name]
				total += time.Duration(v) * u.d
				rest = rest[len(u.name):]
				found = true
				break
			}
		}
		if !found || total > 100*365*24*time.Hour {
			return 0, bad
		}
	}
	return total, nil
}

// expect consumes a token of kind k, or fails with what was expected.
func (p *exprParser) expect(k tokenKind, what string) error {
	if p.tok.kind != k {
		return p.errorf(p.tok.pos, "expected %s, found %s", what, p.tok)
	}
	return p.next()
}

// wantBool fails unless n is a condition. The parser has just read n, so
// the token after it is where a comparison operator should have been.
func (p *exprParser) wantBool(n exprNode) error {
	if n.isBool() {
		return nil
	}
	return p.errorf(p.tok.pos, "expected a comparison (>, >=, <, <=, == or !=), found %s", p.tok)
}

// wantNumber fails unless n is a number; op is the operator that needs one.
func (p *exprParser) wantNumber(n exprNode, op exprToken) error {
	if !n.isBool() {
		return nil
	}
	return p.errorf(n.position(), "%s needs a number, found a condition", op.text)
}

func (p *exprParser) enter() error {
	p.depth++
	if p.depth > exprMaxDepth {
		return p.errorf(p.tok.pos, "expression nested deeper than %d", exprMaxDepth)
	}
	return nil
}

func (p *exprParser) parseOr() (exprNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	return p.parseLogic(tokOr, p.parseAnd)
}

func (p *exprParser) parseAnd() (exprNode, error) { return p.parseLogic(tokAnd, p.parseNot) }

// parseLogic parses operands joined by op (and, or), left-associative.
func (p *exprParser) parseLogic(op tokenKind, operand func() (exprNode, error)) (exprNode, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == op {
		if err := p.wantBool(l); err != nil {
			return nil, err
		}
		pos := p.tok.pos
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := operand()
		if err != nil {
			return nil, err
		}
		if err := p.wantBool(r); err != nil {
			return nil, err
		}
		l = &binaryNode{pos: pos, op: op, l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) parseNot() (exprNode, error) {
	if p.tok.kind != tokNot {
		return p.parseCompare()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	pos := p.tok.pos
	if err := p.next(); err != nil {
		return nil, err
	}
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	if err := p.wantBool(x); err != nil {
		return nil, err
	}
	return &unaryNode{pos: pos, op: tokNot, x: x}, nil
}

func (p *exprParser) parseCompare() (exprNode, error) {
	l, err := p.parseArith(precSum)
	if err != nil {
		return nil, err
	}
	if p.tok.kind.precedence() != precCompare {
		return l, nil
	}
	op := p.tok
	if err := p.wantNumber(l, op); err != nil {
		return nil, err
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	r, err := p.parseArith(precSum)
	if err != nil {
		return nil, err
	}
	if err := p.wantNumber(r, op); err != nil {
		return nil, err
	}
	if p.tok.kind.precedence() == precCompare {
		return nil, p.errorf(p.tok.pos, "comparisons do not chain; join them with and")
	}
	return &binaryNode{pos: op.pos, op: op.kind, l: l, r: r}, nil
}

// parseArith parses sums (prec precSum) or products (precProduct).
func (p *exprParser) parseArith(prec int) (exprNode, error) {
	operand := func() (exprNode, error) { return p.parseArith(prec + 1) }
	if prec == precProduct {
		operand = p.parseUnary
	}
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for p.tok.kind.precedence() == prec {
		op := p.tok
		if err := p.wantNumber(l, op); err != nil {
			return nil, err
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := operand()
		if err != nil {
			return nil, err
		}
		if err := p.wantNumber(r, op); err != nil {
			return nil, err
		}
		l = &binaryNode{pos: op.pos, op: op.kind, l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) parseUnary() (exprNode, error) {
	if p.tok.kind != tokMinus && p.tok.kind != tokPlus {
		return p.parsePrimary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	op := p.tok
	if err := p.next(); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if err := p.wantNumber(x, op); err != nil {
		return nil, err
	}
	return &unaryNode{pos: op.pos, op: op.kind, x: x}, nil
}

func (p *exprParser) parsePrimary() (exprNode, error) {
	t := p.tok
	switch t.kind {
	case tokNumber:
		return &numberNode{pos: t.pos, v: t.num}, p.next()
	case tokLParen:
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		return x, p.expect(tokRParen, `")"`)
	case tokIdent:
		return p.parseCall()
	}
	return nil, p.errorf(t.pos, "expected a number, a function or \"(\", found %s", t)
}

// functionNames lists the functions for errors.
const functionNames = "rate, increase, avg, min, max, count, p1 to p99 or p999"

func (p *exprParser) parseCall() (exprNode, error) {
	t := p.tok
	if err := p.next(); err != nil {
		return nil, err
	}
	c := &callNode{pos: t.pos, fn: t.text}
	known := true
	switch t.text {
	case "rate", "increase", "avg", "min", "max", "count":
	case "p999":
		c.permille = 999
	default:
		nn, err := strconv.Atoi(strings.TrimPrefix(t.text, "p"))
		known = err == nil && nn >= 1 && nn <= 99 && t.text == "p"+strconv.Itoa(nn)
		c.permille = nn * 10
	}
	switch {
	case known:
		if err := p.expect(tokLParen, `"(" after `+t.text); err != nil {
			return nil, err
		}
	case p.tok.kind == tokLParen || p.tok.kind == tokIdent:
		return nil, p.errorf(t.pos, "unknown function %q; want %s", t.text, functionNames)
	default:
		return nil, p.errorf(t.pos, "%s needs a function, such as rate(%s[1m]) or p99(%s[1m])", t.text, t.text, t.text)
	}
	if err := p.parseSelector(&c.sel); err != nil {
		return nil, err
	}
	return c, p.expect(tokRParen, `")"`)
}

func (p *exprParser) parseSelector(sel *selector) error {
	if p.tok.kind != tokIdent && p.tok.kind != tokAnd && p.tok.kind != tokOr && p.tok.kind != tokNot {
		return p.errorf(p.tok.pos, "expected a metric name, found %s", p.tok)
	}
	sel.name = p.tok.text
	if err := p.next(); err != nil {
		return err
	}
	if p.tok.kind == tokLBrace {
		if err := p.next(); err != nil {
			return err
		}
		for p.tok.kind != tokRBrace {
			m, err := p.parseMatcher()
			if err != nil {
				return err
			}
			sel.matchers = append(sel.matchers, m)
			if p.tok.kind == tokRBrace {
				break
			}
			if err := p.expect(tokComma, `"," or "}"`); err != nil {
				return err
			}
		}
		if err := p.next(); err != nil { // "}"
			return err
		}
	}
	if p.tok.kind != tokLBracket {
		return p.errorf(p.tok.pos, "expected a window such as [1m], found %s", p.tok)
	}
	if err := p.nextWindow(); err != nil {
		return err
	}
	sel.window = time.Duration(p.tok.num)
	if err := p.next(); err != nil {
		return err
	}
	return p.expect(tokRBracket, `"]"`)
}

func (p *exprParser) parseMatcher() (labelMatcher, error) {
	var m labelMatcher
	t := p.tok
	if t.kind != tokIdent && t.kind != tokAnd && t.kind != tokOr && t.kind != tokNot {
		return m, p.errorf(t.pos, "expected a label name, found %s", t)
	}
	if strings.Contains(t.text, ":") {
		return m, p.errorf(t.pos, "%q is not a label name", t.text)
	}
	m.label = t.text
	if err := p.next(); err != nil {
		return m, err
	}
	switch p.tok.kind {
	case tokAssign, tokNE, tokRegexMatch, tokRegexNoMatch:
		m.op = p.tok.kind
	default:
		return m, p.errorf(p.tok.pos, "expected =, !=, =~ or !~, found %s", p.tok)
	}
	if err := p.next(); err != nil {
		return m, err
	}
	if p.tok.kind != tokString {
		return m, p.errorf(p.tok.pos, "expected a quoted string, found %s", p.tok)
	}
	m.value = p.tok.str
	if m.op == tokRegexMatch || m.op == tokRegexNoMatch {
		_, err := regexp.Compile(m.value) // for an error that quotes what was written
		if err == nil {
			m.re, err = regexp.Compile("^(?:" + m.value + ")$")
		}
		if err != nil {
			return m, p.errorf(p.tok.pos, "invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	}
	return m, p.next()
}

// writeNode writes n in canonical form, with only the parentheses that precedence needs.
func writeNode(b *strings.Builder, n exprNode) {
	switch n := n.(type) {
	case *numberNode:
		b.WriteString(strconv.FormatFloat(n.v, 'g', -1, 64))
	case *callNode:
		b.WriteString(n.fn)
		b.WriteByte('(')
		b.WriteString(n.sel.String())
		b.WriteByte(')')
	case *unaryNode:
		b.WriteString(n.op.String())
		if n.op == tokNot {
			b.WriteByte(' ')
		}
		writeOperand(b, n.x, nodePrecedence(n))
	case *binaryNode:
		prec := n.op.precedence()
		writeOperand(b, n.l, prec)
		b.WriteString(" " + n.op.String() + " ")
		writeOperand(b, n.r, prec+1) // left-associative; comparisons don't chain
	}
}

func writeOperand(b *strings.Builder, n exprNode, prec int) {
	if nodePrecedence(n) < prec {
		b.WriteByte('(')
		writeNode(b, n)
		b.WriteByte(')')
		return
	}
	writeNode(b, n)
}

// String returns the selector as PromQL writes it: name{label="v"}[1m].
func (s *selector) String() string {
	var b strings.Builder
	b.WriteString(s.name)
	if len(s.matchers) > 0 {
		b.WriteByte('{')
		for i, m := range s.matchers {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(m.label + m.op.String() + strconv.Quote(m.value))
		}
		b.WriteByte('}')
	}
	b.WriteString("[" + formatWindow(s.window) + "]")
	return b.String()
}

// formatWindow writes d as Prometheus does: 1h30m, 90s → 1m30s, 500ms.
func formatWindow(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.d
		}
	}
	if d > 0 {
		b.WriteString(strconv.FormatInt(int64(d), 10) + "ns")
	}
	return b.String()
}

// Truth values of a condition.
type truth int8

const (
	truthFalse truth = iota
	truthTrue
	truthUnknown // depends on missing data
)

// evalError is an error of evaluation; noData ones are ErrNoData.
type evalError struct {
	msg    string
	noData bool
}

func (e *evalError) Error() string {
	if e.noData {
		return "health: no data: " + e.msg
	}
	return "health: " + e.msg
}

func (e *evalError) Is(target error) bool { return e.noData && target == ErrNoData }

// exprEval is one evaluation.
type exprEval struct {
	src     Source
	now     time.Time
	missing *evalError // the first missing data, for the reason
}

func (ev *exprEval) noData(format string, args ...any) error {
	err := &evalError{msg: fmt.Sprintf(format, args...), noData: true}
	if ev.missing == nil {
		ev.missing = err
	}
	return err
}

// truth evaluates a condition, and says why: each comparison with its
// values ("0.31 > 0.25"), joined as in the expression.
func (ev *exprEval) truth(n exprNode) (truth, string, error) {
	switch n := n.(type) {
	case *unaryNode: // not
		t, why, err := ev.truth(n.x)
		if err != nil {
			return 0, "", err
		}
		if nodePrecedence(n.x) < precNot {
			why = "(" + why + ")"
		}
		switch t {
		case truthTrue:
			t = truthFalse
		case truthFalse:
			t = truthTrue
		}
		return t, "not " + why, nil
	case *binaryNode:
		if n.op == tokAnd || n.op == tokOr {
			return ev.logic(n)
		}
		return ev.compare(n)
	}
	return 0, "", fmt.Errorf("health: %T is not a condition", n) // the parser prevents this
}

// logic evaluates and/or in three-valued logic.
func (ev *exprEval) logic(n *binaryNode) (truth, string, error) {
	l, lwhy, err := ev.truth(n.l)
	if err != nil {
		return 0, "", err
	}
	r, rwhy, err := ev.truth(n.r)
	if err != nil {
		return 0, "", err
	}
	if nodePrecedence(n.l) < n.op.precedence() {
		lwhy = "(" + lwhy + ")"
	}
	if nodePrecedence(n.r) <= n.op.precedence() {
		rwhy = "(" + rwhy + ")"
	}
	why := lwhy + " " + n.op.String() + " " + rwhy
	decisive := truthFalse // and: false decides
	if n.op == tokOr {
		decisive = truthTrue
	}
	switch {
	case l == decisive || r == decisive:
		return decisive, why, nil
	case l == truthUnknown || r == truthUnknown:
		return truthUnknown, why, nil
	}
	return 1 - decisive, why, nil
}

// compare evaluates a comparison; a side without data makes it unknown.
func (ev *exprEval) compare(n *binaryNode) (truth, string, error) {
	l, lerr := ev.number(n.l)
	r, rerr := ev.number(n.r)
	if err := worseErr(lerr, rerr); err != nil && !errors.Is(err, ErrNoData) {
		return 0, "", err
	}
	ls, rs := formatValues(l, r)
	if lerr != nil {
		ls = "no data"
	}
	if rerr != nil {
		rs = "no data"
	}
	why := ls + " " + n.op.String() + " " + rs
	if lerr != nil || rerr != nil {
		return truthUnknown, why, nil
	}
	var v bool
	switch n.op {
	case tokGT:
		v = l > r
	case tokGE:
		v = l >= r
	case tokLT:
		v = l < r
	case tokLE:
		v = l <= r
	case tokEQ:
		v = l == r
	case tokNE:
		v = l != r
	}
	if v {
		return truthTrue, why, nil
	}
	return truthFalse, why, nil
}

// formatValues formats two values briefly, but with enough digits to tell them apart.
func formatValues(l, r float64) (string, string) {
	ls, rs := strconv.FormatFloat(l, 'g', 4, 64), strconv.FormatFloat(r, 'g', 4, 64)
	if ls == rs && l != r {
		ls, rs = strconv.FormatFloat(l, 'g', -1, 64), strconv.FormatFloat(r, 'g', -1, 64)
	}
	return ls, rs
}

// worseErr returns the error that matters more: one that prevents evaluation
// rather than missing data. Both sides are always evaluated, so that every
// comparison can show its values.
func worseErr(a, b error) error {
	if a == nil || errors.Is(a, ErrNoData) && b != nil && !errors.Is(b, ErrNoData) {
		return b
	}
	return a
}

// number evaluates an arithmetic expression.
func (ev *exprEval) number(n exprNode) (float64, error) {
	switch n := n.(type) {
	case *numberNode:
		return n.v, nil
	case *unaryNode:
		x, err := ev.number(n.x)
		if n.op == tokMinus {
			x = -x
		}
		return x, err
	case *binaryNode:
		l, lerr := ev.number(n.l)
		r, rerr := ev.number(n.r)
		if err := worseErr(lerr, rerr); err != nil {
			return 0, err
		}
		switch n.op {
		case tokPlus:
			return l + r, nil
		case tokMinus:
			return l - r, nil
		case tokStar:
			return l * r, nil
		}
		if r == 0 {
			var b strings.Builder
			writeNode(&b, n.r)
			return 0, ev.noData("%s is 0, and the expression divides by it", b.String())
		}
		return l / r, nil
	case *callNode:
		return ev.call(n)
	}
	return 0, fmt.Errorf("health: %T is not a number", n) // the parser prevents this
}

func (ev *exprEval) call(c *callNode) (float64, error) {
	r, err := ev.src.selectRange(&c.sel, ev.now)
	if err != nil {
		return 0, &evalError{msg: fmt.Sprintf("%s(%s): %v", c.fn, c.sel.String(), err)}
	}
	switch c.fn {
	case "rate", "increase":
		if !r.known {
			return 0, ev.noData("no series named %s", c.sel.name)
		}
		if c.fn == "rate" {
			return r.increase / c.sel.window.Seconds(), nil
		}
		return r.increase, nil
	}
	// The functions of samples.
	if r.histograms == 0 && r.counters > 0 {
		return 0, &evalError{msg: fmt.Sprintf("%s(%s): %s is a counter; %s needs a histogram (samples recorded with Observe)", c.fn, c.sel.String(), c.sel.name, c.fn)}
	}
	if c.fn == "count" {
		if !r.known {
			return 0, ev.noData("no series named %s", c.sel.name)
		}
		return float64(r.count), nil
	}
	if r.count == 0 {
		return 0, ev.noData("%s(%s) has no samples in the last %s", c.fn, c.sel.String(), formatWindow(c.sel.window))
	}
	switch c.fn {
	case "avg":
		return r.sum / float64(r.count), nil
	case "min":
		return r.min, nil
	case "max":
		return r.max, nil
	}
	return r.quantile(c.permille), nil
}
