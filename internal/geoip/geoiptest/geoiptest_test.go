package geoiptest_test

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/geoip"
	"github.com/switchboard/switchboard/internal/geoip/geoiptest"
)

func TestWriteRefuses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		prefix netip.Prefix
		want   string
	}{
		{name: "host-bits", prefix: netip.MustParsePrefix("192.0.2.7/24"), want: "host bits"},
		{name: "v4-mapped", prefix: netip.MustParsePrefix("::ffff:192.0.2.0/120"), want: "IPv4-mapped"},
		{name: "invalid", prefix: netip.Prefix{}, want: "invalid prefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.mmdb")
			err := geoiptest.Write(path, map[netip.Prefix]geoip.Location{tt.prefix: {Country: "DE"}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write(%v) = %v, want an error saying %q", tt.prefix, err, tt.want)
			}
		})
	}
}

func TestWriteEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.mmdb")
	if err := geoiptest.Write(path, nil); err != nil {
		t.Fatalf("Write(nil) = %v", err)
	}
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	addr := netip.MustParseAddr("192.0.2.1")
	if got, ok := db.Lookup(addr); ok {
		t.Errorf("Lookup(%v) = %+v, %v, want false", addr, got, ok)
	}
}
