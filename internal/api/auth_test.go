package api

import (
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

func TestTokensFrom(t *testing.T) {
	env := map[string]string{"CI_TOKEN": "ci-secret-0123456789", EnvReadToken: "env-read-0123456789"}
	admin := model.Admin{Tokens: []model.APIToken{{Name: "ci", Scope: model.ScopeWrite, TokenEnv: "CI_TOKEN"}, {Name: "dash", Scope: model.ScopeRead, Token: "dash-secret-0123456789"}}}
	got, err := TokensFrom(admin, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Secret != env["CI_TOKEN"] || got[2].Name != "env-read" || got[2].Scope != model.ScopeRead {
		t.Errorf("TokensFrom = %+v; want ci from its variable, dash, env-read", got)
	}
	delete(env, "CI_TOKEN")
	if _, err := TokensFrom(admin, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "CI_TOKEN is not set") {
		t.Errorf("TokensFrom with the variable unset = %v, want an error naming CI_TOKEN", err)
	}
	if _, err := TokensFrom(model.Admin{}, func(k string) string { return map[string]string{EnvWriteToken: "short"}[k] }); err == nil {
		t.Error("TokensFrom accepted a 5-character secret from the environment")
	}
}
