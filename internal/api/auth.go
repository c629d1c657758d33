package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/switchboard/switchboard/internal/model"
)

// Environment variables that add tokens to those of the file: each holds
// one secret (16–256 characters) of the scope its name says, named "env-write"
// or "env-read" in the history.
const (
	EnvWriteToken = "SWITCHBOARD_TOKEN_WRITE"
	EnvReadToken  = "SWITCHBOARD_TOKEN_READ"
)

// Token is one accepted bearer token.
type Token struct {
	Name   string
	Scope  model.TokenScope
	Secret string
}

// TokensFrom resolves the tokens of the admin settings (token_env read
// through getenv) and adds those of EnvWriteToken and EnvReadToken. A
// token_env that is unset or empty, or a secret too short, is an error: an
// operator who configured a token must not end up with an API that is open
// on loopback by accident.
func TokensFrom(admin model.Admin, getenv func(string) string) ([]Token, error) {
	var out []Token
	for _, t := range admin.Tokens {
		secret := t.Token
		if t.TokenEnv != "" {
			secret = getenv(t.TokenEnv)
			if secret == "" {
				return nil, fmt.Errorf("api: token %s: environment variable %s is not set", t.Name, t.TokenEnv)
			}
		}
		out = append(out, Token{Name: t.Name, Scope: t.Scope, Secret: secret})
	}
	for _, e := range []struct {
		env, name string
		scope     model.TokenScope
	}{{EnvWriteToken, "env-write", model.ScopeWrite}, {EnvReadToken, "env-read", model.ScopeRead}} {
		if s := getenv(e.env); s != "" {
			out = append(out, Token{Name: e.name, Scope: e.scope, Secret: s})
		}
	}
	for _, t := range out {
		if len(t.Secret) < 16 || len(t.Secret) > 256 {
			return nil, fmt.Errorf("api: token %s: the secret is %d characters long, want 16–256", t.Name, len(t.Secret))
		}
	}
	return out, nil
}

type authorKey struct{}

func withAuthor(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, authorKey{}, who)
}

// author is who made the request, for the history.
func author(r *http.Request) string {
	s, _ := r.Context().Value(authorKey{}).(string)
	return s
}

// authenticate returns who the request comes from, or why it may not go on.
func (a *API) authenticate(r *http.Request) (string, error) {
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if len(a.cfg.Tokens) == 0 {
		// No tokens: only this machine may use the API. The admin listener
		// binds to loopback by default; someone who binds it elsewhere
		// without tokens still gets an API only local users can reach.
		if isLoopback(r.RemoteAddr) {
			return "local", nil
		}
		return "", &Error{Status: http.StatusForbidden, Code: "forbidden",
			Message: "the API has no tokens configured and answers only loopback clients; set server.admin.tokens or " + EnvWriteToken}
	}
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return "", &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "send Authorization: Bearer <token>"}
	}
	secret = strings.TrimSpace(secret)
	var match *Token
	for i := range a.cfg.Tokens {
		// Compare with every token in constant time, so that timing says
		// nothing about which prefix matched.
		if subtle.ConstantTimeCompare([]byte(secret), []byte(a.cfg.Tokens[i].Secret)) == 1 {
			match = &a.cfg.Tokens[i]
		}
	}
	if match == nil {
		return "", &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "the token is not valid"}
	}
	if write && match.Scope != model.ScopeWrite {
		return "", &Error{Status: http.StatusForbidden, Code: "forbidden", Message: fmt.Sprintf("token %s has read scope; %s needs write", match.Name, r.Method)}
	}
	return match.Name, nil
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
