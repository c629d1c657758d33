package model

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A 32-byte secret and one too short, in base64.
const (
	secret32 = "c3dpdGNoYm9hcmQtdGVzdC1rZXktMzItYnl0ZXMtISE="
	secret8  = "c2hvcnRrZXk="
)

// Secondaries (zone transfer and NOTIFY) and response rate limiting.
func TestValidateSecondariesAndRRL(t *testing.T) {
	sec := func(s DNSSecondary) func(d *Document) {
		return func(d *Document) { d.Server.DNS.Secondaries = append(d.Server.DNS.Secondaries, s) }
	}
	key := func(name string, alg TSIGAlgorithm, secret string) *TSIGKey {
		return &TSIGKey{Name: name, Algorithm: alg, Secret: secret}
	}
	rrl := func(f func(r *RRL)) func(d *Document) { return func(d *Document) { f(&d.Server.DNS.RRL) } }
	const p0 = "server.dns.secondaries[0]"
	runValidate(t, []validateCase{
		{name: "secondary/address-valid", mut: sec(DNSSecondary{Address: "127.0.0.1:5300"})},
		{name: "secondary/ipv6-valid", mut: sec(DNSSecondary{Address: "[::1]:53", Zones: []string{"example.com."}})},
		{name: "secondary/allow-only-valid", mut: sec(DNSSecondary{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/28")}})},
		{name: "secondary/tsig-valid", mut: sec(DNSSecondary{Address: "127.0.0.1:5300", TSIG: key("xfr-key", "", secret32)})},
		{name: "secondary/tsig-sha512-valid", mut: sec(DNSSecondary{Address: "127.0.0.1:5300", TSIG: key("xfr-key.", HMACSHA512, secret32)})},
		{name: "secondary/same-key-twice-valid", mut: func(d *Document) {
			sec(DNSSecondary{Address: "127.0.0.1:5300", TSIG: key("k", HMACSHA256, secret32)})(d)
			sec(DNSSecondary{Address: "127.0.0.2:5300", TSIG: key("K.", HMACSHA256, secret32)})(d)
		}},
		{name: "secondary/empty", mut: sec(DNSSecondary{}),
			want: []wantErr{{p0, "neither an address to notify nor networks to allow"}}},
		{name: "secondary/address-no-port", mut: sec(DNSSecondary{Address: "127.0.0.1"}),
			want: []wantErr{{p0 + ".address", `"127.0.0.1" is not an address and port`}}},
		{name: "secondary/address-port-0", mut: sec(DNSSecondary{Address: "127.0.0.1:0", Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}),
			want: []wantErr{{p0 + ".address", `"127.0.0.1:0" is not an address and port`}}},
		{name: "secondary/address-twice", mut: func(d *Document) {
			sec(DNSSecondary{Address: "127.0.0.1:5300"})(d)
			sec(DNSSecondary{Address: "127.0.0.1:5300"})(d)
		}, want: []wantErr{{"server.dns.secondaries[1].address", "127.0.0.1:5300 is also at server.dns.secondaries[0]"}}},
		{name: "secondary/allow-host-bits", mut: sec(DNSSecondary{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/28")}}),
			want: []wantErr{{p0 + ".allow[0]", "192.0.2.1/28 has host bits set"}}},
		{name: "secondary/bad-zone", mut: sec(DNSSecondary{Address: "127.0.0.1:53", Zones: []string{"example..com"}}),
			want: []wantErr{{p0 + ".zones[0]", `"example..com" is not a zone name`}}},
		{name: "secondary/tsig-bad-name", mut: sec(DNSSecondary{Address: "127.0.0.1:53", TSIG: key("bad key", "", secret32)}),
			want: []wantErr{{p0 + ".tsig.name", `"bad key" is not a key name`}}},
		{name: "secondary/tsig-bad-algorithm", mut: sec(DNSSecondary{Address: "127.0.0.1:53", TSIG: key("k", "hmac-md5", secret32)}),
			want: []wantErr{{p0 + ".tsig.algorithm", `"hmac-md5" is not a TSIG algorithm`}}},
		{name: "secondary/tsig-no-secret", mut: sec(DNSSecondary{Address: "127.0.0.1:53", TSIG: key("k", "", "")}),
			want: []wantErr{{p0 + ".tsig.secret", "is empty"}}},
		{name: "secondary/tsig-not-base64", mut: sec(DNSSecondary{Address: "127.0.0.1:53", TSIG: key("k", "", "not base64!")}),
			want: []wantErr{{p0 + ".tsig.secret", "is not base64"}}},
		{name: "secondary/tsig-short", mut: sec(DNSSecondary{Address: "127.0.0.1:53", TSIG: key("k", "", secret8)}),
			want: []wantErr{{p0 + ".tsig.secret", "is 8 bytes once decoded"}}},
		{name: "secondary/tsig-same-name-other-secret", mut: func(d *Document) {
			sec(DNSSecondary{Address: "127.0.0.1:5300", TSIG: key("k", HMACSHA256, secret32)})(d)
			sec(DNSSecondary{Address: "127.0.0.2:5300", TSIG: key("k", HMACSHA512, secret32)})(d)
		}, want: []wantErr{{"server.dns.secondaries[1].tsig", `key "k" differs from the key of that name at server.dns.secondaries[0].tsig`}}},

		{name: "rrl/valid", mut: rrl(func(r *RRL) {
			r.ResponsesPerSecond, r.Slip, r.Window, r.IPv4Prefix, r.IPv6Prefix = 5, ptr(0), dur("1h"), 32, 128
		})},
		{name: "rrl/negative-rate", mut: rrl(func(r *RRL) { r.ResponsesPerSecond = -1 }),
			want: []wantErr{{"server.dns.rrl.responses_per_second", "-1 is out of range"}}},
		{name: "rrl/slip-11", mut: rrl(func(r *RRL) { r.Slip = ptr(11) }),
			want: []wantErr{{"server.dns.rrl.slip", "11 is out of range"}}},
		{name: "rrl/window-below-1s", mut: rrl(func(r *RRL) { r.Window = dur("500ms") }),
			want: []wantErr{{"server.dns.rrl.window", "500ms is below the minimum 1s"}}},
		{name: "rrl/window-above-1h", mut: rrl(func(r *RRL) { r.Window = dur("2h") }),
			want: []wantErr{{"server.dns.rrl.window", "2h0m0s is above the maximum 1h"}}},
		{name: "rrl/ipv4-prefix-33", mut: rrl(func(r *RRL) { r.IPv4Prefix = 33 }),
			want: []wantErr{{"server.dns.rrl.ipv4_prefix", "33 is out of range"}}},
		{name: "rrl/ipv6-prefix-129", mut: rrl(func(r *RRL) { r.IPv6Prefix = 129 }),
			want: []wantErr{{"server.dns.rrl.ipv6_prefix", "129 is out of range"}}},
	})
}

func TestSecondaryAndRRLDefaults(t *testing.T) {
	d := base()
	d.Server.DNS.Secondaries = []DNSSecondary{
		{Address: "127.0.0.1:5300", TSIG: &TSIGKey{Name: "k", Secret: secret32}},
		{Address: "[::ffff:127.0.0.2]:53"},
		{Address: "[2001:db8::53]:53", Allow: []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")}},
	}
	d.SetDefaults()
	secs := d.Server.DNS.Secondaries
	if secs[0].TSIG.Algorithm != HMACSHA256 {
		t.Errorf("default TSIG algorithm = %q, want %q", secs[0].TSIG.Algorithm, HMACSHA256)
	}
	for i, want := range []string{"127.0.0.1/32", "127.0.0.2/32", "2001:db8::/64"} {
		if diff := cmp.Diff([]netip.Prefix{netip.MustParsePrefix(want)}, secs[i].Allow, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("secondaries[%d].allow mismatch (-want +got):\n%s", i, diff)
		}
	}
	r := d.Server.DNS.RRL
	if r.ResponsesPerSecond != 0 || r.Slip == nil || *r.Slip != 2 || r.Window.D() != 15*time.Second || r.IPv4Prefix != 24 || r.IPv6Prefix != 56 {
		t.Errorf("RRL defaults = %+v (slip %v), want off, slip 2, window 15s, /24, /56", r, r.Slip)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}
