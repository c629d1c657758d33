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

// admin checks the admin listener's API settings: tokens, TLS and the
// deletion budget.
func (v *validator) admin(p Path, a *Admin) {
	seen := map[string]Path{}
	secrets := map[string]bool{}
	for i, t := range a.Tokens {
		tp := p.Field("tokens").Index(i, t.Name)
		if t.Name == "" || len(t.Name) > 63 {
			v.add(tp.Field("name"), "1–63 characters", "%q is not a token name", t.Name)
		} else if prev, dup := seen[t.Name]; dup {
			v.add(tp.Field("name"), "each name once", "%q is also the name of %s", t.Name, prev)
		}
		seen[t.Name] = tp
		if t.Scope == "" || !enumOK(t.Scope, t.Scope.Values()) {
			v.add(tp.Field("scope"), "read or write", "%q is not a scope", t.Scope)
		}
		switch {
		case t.Token == "" && t.TokenEnv == "":
			v.add(tp, "token or token_env", "has no secret")
		case t.Token != "" && t.TokenEnv != "":
			v.add(tp, "token or token_env, not both", "has two secrets")
		case t.Token != "" && (len(t.Token) < 16 || len(t.Token) > 256):
			v.add(tp.Field("token"), "16–256 characters", "is %d characters long", len(t.Token))
		case t.Token != "" && secrets[t.Token]:
			v.add(tp.Field("token"), "a secret of its own", "is the secret of another token")
		}
		secrets[t.Token] = true
	}
	if c := a.TLS; c != nil {
		if c.CertFile == "" {
			v.add(p.Field("tls").Field("cert_file"), "a path to a PEM certificate chain", "is required")
		}
		if c.KeyFile == "" {
			v.add(p.Field("tls").Field("key_file"), "a path to a PEM private key", "is required")
		}
	}
	if a.MaxDeletes != nil {
		v.intRange(p.Field("max_deletes"), *a.MaxDeletes, 0, 100000)
	}
}
