package model

import "testing"

// Settings added with the REST API: tokens, TLS and the deletion budget.
func TestValidateAdminAPI(t *testing.T) {
	tok := func(name string, scope TokenScope, secret, env string) APIToken {
		return APIToken{Name: name, Scope: scope, Token: secret, TokenEnv: env}
	}
	const secret = "0123456789abcdef"
	runValidate(t, []validateCase{
		{name: "tokens/valid", mut: func(d *Document) {
			d.Server.Admin.Tokens = []APIToken{tok("ci", ScopeWrite, secret, ""), tok("dash", ScopeRead, "", "DASH_TOKEN")}
		}},
		{name: "tokens/no-secret", mut: func(d *Document) { d.Server.Admin.Tokens = []APIToken{tok("ci", ScopeRead, "", "")} },
			want: []wantErr{{"server.admin.tokens[ci]", "has no secret"}}},
		{name: "tokens/two-secrets", mut: func(d *Document) { d.Server.Admin.Tokens = []APIToken{tok("ci", ScopeRead, secret, "X")} },
			want: []wantErr{{"server.admin.tokens[ci]", "has two secrets"}}},
		{name: "tokens/short", mut: func(d *Document) { d.Server.Admin.Tokens = []APIToken{tok("ci", ScopeRead, "short", "")} },
			want: []wantErr{{"server.admin.tokens[ci].token", "is 5 characters long"}}},
		{name: "tokens/bad-scope", mut: func(d *Document) { d.Server.Admin.Tokens = []APIToken{tok("ci", "admin", secret, "")} },
			want: []wantErr{{"server.admin.tokens[ci].scope", `"admin" is not a scope`}}},
		{name: "tokens/duplicate", mut: func(d *Document) {
			d.Server.Admin.Tokens = []APIToken{tok("ci", ScopeRead, secret, ""), tok("ci", ScopeRead, secret+"x", "")}
		}, want: []wantErr{{"server.admin.tokens[ci].name", `"ci" is also the name of server.admin.tokens[ci]`}}},
		{name: "tokens/same-secret", mut: func(d *Document) {
			d.Server.Admin.Tokens = []APIToken{tok("a", ScopeRead, secret, ""), tok("b", ScopeWrite, secret, "")}
		}, want: []wantErr{{"server.admin.tokens[b].token", "is the secret of another token"}}},
		{name: "tls/no-key", mut: func(d *Document) { d.Server.Admin.TLS = &Certificate{CertFile: "c.pem"} },
			want: []wantErr{{"server.admin.tls.key_file", "is required"}}},
		{name: "max-deletes/negative", mut: func(d *Document) { n := -1; d.Server.Admin.MaxDeletes = &n },
			want: []wantErr{{"server.admin.max_deletes", "-1 is out of range"}}},
	})
}
