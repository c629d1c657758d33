package model

import "testing"

func TestValidateUIToken(t *testing.T) {
	runValidate(t, []validateCase{
		{name: "ui-token/unset", mut: func(d *Document) { d.Server.Admin.UIToken = "" }},
		{name: "ui-token/valid", mut: func(d *Document) { d.Server.Admin.UIToken = "0123456789abcdef-._~" }},
		{name: "ui-token/short", mut: func(d *Document) { d.Server.Admin.UIToken = "secret" },
			want: []wantErr{{"server.admin.ui_token", "is 6 characters"}}},
		{name: "ui-token/space", mut: func(d *Document) { d.Server.Admin.UIToken = "0123456789 abcdef" },
			want: []wantErr{{"server.admin.ui_token", "holds a space, control or non-ASCII character"}}},
		{name: "ui-token/non-ascii", mut: func(d *Document) { d.Server.Admin.UIToken = "0123456789abcdéf" },
			want: []wantErr{{"server.admin.ui_token", "holds a space, control or non-ASCII character"}}},
	})
}

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
