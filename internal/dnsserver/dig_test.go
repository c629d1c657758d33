// Tests through dig, the client operators use, from Debian's dnsutils.

package dnsserver

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDig(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig is not installed (Debian: apt-get install dnsutils; scripts/test.sh installs it)")
	}
	static := start(t, staticDoc, nil)
	geo := start(t, policyDoc, nil, withLocator(geoDB(t)))
	for _, tt := range []struct {
		name   string
		hs     *harness
		args   []string
		want   []string // regular expressions, each must match the output
		reject []string
	}{
		{name: "A over UDP", hs: static, args: []string{"www.example.com", "A"},
			want: []string{`status: NOERROR`, `flags: qr aa;`, `www\.example\.com\.\s+300\s+IN\s+A\s+192\.0\.2\.1`, `www\.example\.com\.\s+300\s+IN\s+A\s+192\.0\.2\.2`, `EDNS: version: 0, flags:; udp: 1232`}},
		{name: "AAAA over TCP", hs: static, args: []string{"+tcp", "www.example.com", "AAAA"},
			want: []string{`status: NOERROR`, `www\.example\.com\.\s+300\s+IN\s+AAAA\s+2001:db8::1`}},
		{name: "NXDOMAIN with SOA", hs: static, args: []string{"nope.example.com", "A"},
			want: []string{`status: NXDOMAIN`, `flags: qr aa;`, `example\.com\.\s+60\s+IN\s+SOA\s+ns1\.example\.com\. hostmaster\.example\.com\. 1 `}},
		{name: "referral without AA", hs: static, args: []string{"www.dept.example.com", "A"},
			want: []string{`status: NOERROR`, `flags: qr;`, `dept\.example\.com\.\s+3600\s+IN\s+NS\s+ns1\.dept\.example\.com\.`, `ns1\.dept\.example\.com\.\s+300\s+IN\s+A\s+192\.0\.2\.54`}},
		{name: "REFUSED outside", hs: static, args: []string{"www.example.org", "A"},
			want: []string{`status: REFUSED`}, reject: []string{`flags: qr aa`}},
		{name: "ANY minimal", hs: static, args: []string{"www.example.com", "ANY"},
			want: []string{`ANSWER: 2,`}},
		{name: "BADVERS", hs: static, args: []string{"+edns=1", "+noednsneg", "www.example.com", "A"},
			want: []string{`status: BADVERS`}},
		{name: "geolocation by client subnet", hs: geo, args: []string{"+subnet=10.10.1.0/24", "geo.p.test", "A"},
			want: []string{`geo\.p\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.41`, `CLIENT-SUBNET: 10\.10\.1\.0/24/24`}},
		{name: "geolocation by source address", hs: geo, args: []string{"geo.p.test", "A"},
			want: []string{`geo\.p\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.45`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host, port, _ := strings.Cut(tt.hs.addr, ":")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := append([]string{"@" + host, "-p", port, "+norec", "+time=5", "+tries=1"}, tt.args...)
			out, err := exec.CommandContext(ctx, dig, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			for _, w := range tt.want {
				if !regexp.MustCompile(w).Match(out) {
					t.Errorf("dig %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
			for _, r := range tt.reject {
				if regexp.MustCompile(r).Match(out) {
					t.Errorf("dig %s: output has %q:\n%s", strings.Join(tt.args, " "), r, out)
				}
			}
		})
	}
}
