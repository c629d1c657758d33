package httpproxy

import "strings"

// pattern is a compiled host, path, header or query pattern.
type pattern struct {
	kind patternKind
	s    string // the pattern; lower case when fold
	fold bool   // compare case-insensitively (ASCII)
}

type patternKind uint8

const (
	patExact  patternKind = iota // no wildcard
	patPrefix                    // one trailing '*' and no other wildcard: s is the prefix
	patSuffix                    // one leading '*' and no other wildcard: s is the suffix
	patGlob                      // '*' (any run) and '?' (one byte) anywhere
	patAny                       // "*"
)

func compilePattern(p string, fold bool) pattern {
	if fold {
		p = strings.ToLower(p)
	}
	n := strings.Count(p, "*") + strings.Count(p, "?")
	switch {
	case n == 0:
		return pattern{kind: patExact, s: p, fold: fold}
	case p == "*":
		return pattern{kind: patAny}
	case n == 1 && strings.HasSuffix(p, "*"):
		return pattern{kind: patPrefix, s: p[:len(p)-1], fold: fold}
	case n == 1 && strings.HasPrefix(p, "*"):
		return pattern{kind: patSuffix, s: p[1:], fold: fold}
	}
	return pattern{kind: patGlob, s: p, fold: fold}
}

func (p *pattern) match(s string) bool {
	switch p.kind {
	case patAny:
		return true
	case patExact:
		return len(s) == len(p.s) && hasPrefix(s, p.s, p.fold)
	case patPrefix:
		return len(s) >= len(p.s) && hasPrefix(s, p.s, p.fold)
	case patSuffix:
		return len(s) >= len(p.s) && hasPrefix(s[len(s)-len(p.s):], p.s, p.fold)
	}
	return glob(p.s, s, p.fold)
}

// hasPrefix reports whether s starts with prefix (already lower case when
// fold), without allocating.
func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	for i := 0; i < len(prefix); i++ {
		if lower(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// glob matches s against pat with '*' (any run, also empty) and '?' (one
// byte), in linear time for the one-star case and without allocating: on a
// mismatch it backtracks to the last star only.
func glob(pat, s string, fold bool) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(pat) {
			switch c := pat[pi]; {
			case c == '*':
				star, mark = pi, si
				pi++
				continue
			case c == '?':
				pi++
				si++
				continue
			default:
				sc := s[si]
				if fold {
					sc = lower(sc)
				}
				if sc == c {
					pi++
					si++
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		mark++
		pi, si = star+1, mark
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}
