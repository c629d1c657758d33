package model

// uiToken checks the dashboard's write token: long enough not to be
// guessed, and sendable in an Authorization header as it is.
func (v *validator) uiToken(p Path, tok string) {
	if tok == "" {
		return
	}
	if len(tok) < 16 || len(tok) > 256 {
		v.add(p, "16–256 characters", "is %d characters", len(tok))
		return
	}
	for _, c := range []byte(tok) {
		if c <= ' ' || c > '~' {
			v.add(p, "printable ASCII without spaces", "holds a space, control or non-ASCII character")
			return
		}
	}
}
