package model

import (
	"fmt"
	"regexp"
	"strings"
)

// identRE is what a resource name may be: short, readable in a metric label
// and a URL path without escaping.
var identRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

const identAllowed = "1–63 letters, digits, '.', '_' or '-', starting with a letter or digit"

// CanonicalName returns the DNS name s in lower case with a trailing dot.
func CanonicalName(s string) string {
	s = strings.ToLower(s)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// InZone reports whether name is zone or below it. Both must be canonical.
func InZone(name, zone string) bool {
	return name == zone || zone == "." || strings.HasSuffix(name, "."+zone)
}

// checkDNSName reports what is wrong with the domain name s, or "" when it is
// valid. A trailing dot is optional. wildcard allows "*" as the first label.
func checkDNSName(s string, wildcard bool) string {
	if s == "" {
		return "is empty"
	}
	if s == "." {
		return ""
	}
	t := strings.TrimSuffix(s, ".")
	if len(t) > 253 {
		return fmt.Sprintf("is %d characters long, above the maximum 253", len(t))
	}
	for i, label := range strings.Split(t, ".") {
		switch {
		case label == "":
			return "has an empty label"
		case len(label) > 63:
			return fmt.Sprintf("has a label of %d characters, above the maximum 63", len(label))
		case label == "*":
			if !wildcard || i != 0 {
				return `has "*" where only a first label of a record name may have it`
			}
		default:
			for _, c := range label {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
					return fmt.Sprintf("has %q in label %q", c, label)
				}
			}
		}
	}
	return ""
}

const dnsNameAllowed = "labels of letters, digits, '-' and '_', each 1–63 chars, 253 in all"
