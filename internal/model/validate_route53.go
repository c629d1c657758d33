package model

import (
	"regexp"
	"strconv"
)

var (
	accessKeyRE = regexp.MustCompile(`^[A-Za-z0-9]{16,128}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	regionRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

// route53 checks the settings of the Route 53-compatible API.
func (v *validator) route53(p Path, r *Route53API) {
	if !regionRE.MatchString(r.Region) {
		v.add(p.Field("region"), "1–63 lowercase letters, digits and '-', such as us-east-1", "%q is not a region name", r.Region)
	}
	seen := map[string]Path{}
	for i, k := range r.AccessKeys {
		kp := p.Field("access_keys").Index(i, "")
		if !accessKeyRE.MatchString(k.ID) {
			v.add(kp.Field("id"), "16–128 letters and digits, such as AKIAIOSFODNN7EXAMPLE", "%q is not an access key id", k.ID)
		} else if first, dup := seen[k.ID]; dup {
			v.add(kp.Field("id"), "ids are unique; first used at "+first.String(), "duplicate access key id %q", k.ID)
		} else {
			seen[k.ID] = kp
		}
		switch {
		case k.Secret == "" && k.SecretEnv == "":
			v.add(kp, "exactly one of secret and secret_env", "has no secret")
		case k.Secret != "" && k.SecretEnv != "":
			v.add(kp, "exactly one of secret and secret_env", "sets both secret and secret_env")
		case k.SecretEnv != "" && !envNameRE.MatchString(k.SecretEnv):
			v.add(kp.Field("secret_env"), "an environment variable name such as ROUTE53_SECRET", "%q is not a variable name", k.SecretEnv)
		case k.Secret != "" && len(k.Secret) < 16:
			v.add(kp.Field("secret"), "at least 16 characters", "is %d characters long", len(k.Secret))
		}
	}
}

// callerReferences checks the Route 53 caller references of hosted zones
// and health checks: their length, and that no two resources share one.
func (v *validator) callerReferences(root Path) {
	zones := map[string]Path{}
	for i, z := range v.s.HostedZones {
		v.callerReference(root.Field("hosted_zones").Index(i, z.Name).Field("caller_reference"), z.CallerReference, 128, zones)
	}
	checks := map[string]Path{}
	for i, hc := range v.s.HealthChecks {
		v.callerReference(root.Field("health_checks").Index(i, hc.Name).Field("caller_reference"), hc.CallerReference, 64, checks)
	}
}

func (v *validator) callerReference(p Path, ref string, limit int, seen map[string]Path) {
	if ref == "" {
		return
	}
	if len(ref) > limit {
		v.add(p, "1–"+strconv.Itoa(limit)+" characters", "is %d characters long", len(ref))
		return
	}
	if first, dup := seen[ref]; dup {
		v.add(p, "unique; first used at "+first.String(), "duplicate caller reference %q", ref)
		return
	}
	seen[ref] = p
}
