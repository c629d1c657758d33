package model

import "testing"

// Settings of the Route 53-compatible API and the caller references its
// resources carry.
func TestValidateRoute53(t *testing.T) {
	key := func(id, secret, env string) func(*Document) {
		return func(d *Document) {
			d.Server.Route53.AccessKeys = append(d.Server.Route53.AccessKeys, Route53AccessKey{ID: id, Secret: secret, SecretEnv: env})
		}
	}
	runValidate(t, []validateCase{
		{name: "route53/valid", mut: func(d *Document) {
			key("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")(d)
			key("AKIAOTHERKEY0000000", "", "R53_SECRET")(d)
		}},
		{name: "route53/bad-id", mut: key("short", "wJalrXUtnFEMI/K7MDENG", ""),
			want: []wantErr{{"server.route53.access_keys[0].id", `"short" is not an access key id`}}},
		{name: "route53/duplicate-id", mut: func(d *Document) {
			key("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "")(d)
			key("AKIAIOSFODNN7EXAMPLE", "", "X")(d)
		}, want: []wantErr{{"server.route53.access_keys[1].id", `duplicate access key id "AKIAIOSFODNN7EXAMPLE"`}}},
		{name: "route53/no-secret", mut: key("AKIAIOSFODNN7EXAMPLE", "", ""),
			want: []wantErr{{"server.route53.access_keys[0]", "has no secret"}}},
		{name: "route53/both-secrets", mut: key("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "X"),
			want: []wantErr{{"server.route53.access_keys[0]", "sets both secret and secret_env"}}},
		{name: "route53/bad-env", mut: key("AKIAIOSFODNN7EXAMPLE", "", "1X"),
			want: []wantErr{{"server.route53.access_keys[0].secret_env", `"1X" is not a variable name`}}},
		{name: "route53/short-secret", mut: key("AKIAIOSFODNN7EXAMPLE", "abc", ""),
			want: []wantErr{{"server.route53.access_keys[0].secret", "is 3 characters long"}}},
		{name: "route53/bad-region", mut: func(d *Document) { d.Server.Route53.Region = "US East" },
			want: []wantErr{{"server.route53.region", `"US East" is not a region name`}}},
		{name: "route53/caller-reference-too-long", mut: func(d *Document) {
			d.HealthChecks[0].CallerReference = string(make([]byte, 65))
		}, want: []wantErr{{"health_checks[" + base().HealthChecks[0].Name + "].caller_reference", "is 65 characters long"}}},
		{name: "route53/caller-reference-duplicate", mut: func(d *Document) {
			d.HostedZones = append(d.HostedZones, HostedZone{Name: "other.example."})
			d.HostedZones[0].CallerReference = "ref-1"
			d.HostedZones[1].CallerReference = "ref-1"
		}, want: []wantErr{{"hosted_zones[other.example.].caller_reference", `duplicate caller reference "ref-1"`}}},
	})
}
