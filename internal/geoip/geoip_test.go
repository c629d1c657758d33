package geoip_test

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/switchboard/switchboard/internal/geoip"
	"github.com/switchboard/switchboard/internal/geoip/geoiptest"
)

var (
	berlin  = geoip.Location{Continent: "EU", Country: "DE", Latitude: 52.52, Longitude: 13.405, HasCoordinates: true}
	usCA    = geoip.Location{Continent: "NA", Country: "US", Subdivision: "CA"}
	usNV    = geoip.Location{Continent: "NA", Country: "US", Subdivision: "NV", Latitude: 36.17, Longitude: -115.14, HasCoordinates: true}
	tokyo   = geoip.Location{Continent: "AS", Country: "JP", Subdivision: "13", Latitude: 35.69, Longitude: 139.69, HasCoordinates: true}
	oceania = geoip.Location{Continent: "OC"}
	// nullIsland has coordinates that are zero but present.
	nullIsland = geoip.Location{Latitude: 0, Longitude: 0, HasCoordinates: true}
)

// entries is the database most tests use. The prefixes are documentation and
// benchmarking ranges, which geoiptest.Write allows.
var entries = map[netip.Prefix]geoip.Location{
	netip.MustParsePrefix("192.0.2.0/24"):     berlin,
	netip.MustParsePrefix("198.18.0.0/16"):    usCA,
	netip.MustParsePrefix("198.18.42.0/24"):   usNV, // inside the /16
	netip.MustParsePrefix("2001:db8:1::/48"):  tokyo,
	netip.MustParsePrefix("203.0.113.0/24"):   oceania,
	netip.MustParsePrefix("100.64.0.0/24"):    nullIsland,
	netip.MustParsePrefix("100.64.1.0/24"):    {}, // in the database, nothing known
	netip.MustParsePrefix("2001:db8:2::/127"): berlin,
}

// openTestDB writes entries to a fresh database and opens it.
func openTestDB(tb testing.TB, entries map[netip.Prefix]geoip.Location) *geoip.DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "test.mmdb")
	if err := geoiptest.Write(path, entries); err != nil {
		tb.Fatal(err)
	}
	db, err := geoip.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestLookup(t *testing.T) {
	db := openTestDB(t, entries)
	for _, tt := range []struct {
		name   string
		addr   string
		want   geoip.Location
		wantOK bool
	}{
		{name: "v4/24/first", addr: "192.0.2.0", want: berlin, wantOK: true},
		{name: "v4/24/last", addr: "192.0.2.255", want: berlin, wantOK: true},
		{name: "v4/24/below", addr: "192.0.1.255"},
		{name: "v4/24/above", addr: "192.0.3.0"},
		{name: "v4/16/first", addr: "198.18.0.0", want: usCA, wantOK: true},
		{name: "v4/16/last", addr: "198.18.255.255", want: usCA, wantOK: true},
		{name: "v4/16/above", addr: "198.19.0.0"},
		{name: "nested/inner", addr: "198.18.42.7", want: usNV, wantOK: true},
		{name: "nested/inner-last", addr: "198.18.42.255", want: usNV, wantOK: true},
		{name: "nested/outer-before", addr: "198.18.41.255", want: usCA, wantOK: true},
		{name: "nested/outer-after", addr: "198.18.43.0", want: usCA, wantOK: true},
		{name: "continent-only", addr: "203.0.113.9", want: oceania, wantOK: true},
		{name: "zero-coordinates", addr: "100.64.0.1", want: nullIsland, wantOK: true},
		{name: "empty-record", addr: "100.64.1.1", want: geoip.Location{}, wantOK: true},
		{name: "v4/elsewhere", addr: "8.8.8.8"},
		// The test database also aliases ::ffff:0:0/96 to IPv4, so these
		// would pass without Lookup's unmapping; TestLookupIPv4OnlyDatabase
		// has no aliases.
		{name: "v4-mapped/inside", addr: "::ffff:192.0.2.1", want: berlin, wantOK: true},
		{name: "v4-mapped/nested", addr: "::ffff:198.18.42.1", want: usNV, wantOK: true},
		{name: "v4-mapped/outside", addr: "::ffff:192.0.3.1"},
		// The database maps 6to4 (2002::/16) onto IPv4, as MaxMind's do.
		{name: "6to4", addr: "2002:c000:201::1", want: berlin, wantOK: true},
		{name: "v6/48/first", addr: "2001:db8:1::", want: tokyo, wantOK: true},
		{name: "v6/48/last", addr: "2001:db8:1:ffff:ffff:ffff:ffff:ffff", want: tokyo, wantOK: true},
		{name: "v6/48/zone", addr: "2001:db8:1::1%eth0", want: tokyo, wantOK: true},
		{name: "v6/48/below", addr: "2001:db8:0:ffff:ffff:ffff:ffff:ffff"},
		{name: "v6/48/above", addr: "2001:db8:2::2"},
		{name: "v6/127", addr: "2001:db8:2::1", want: berlin, wantOK: true},
		{name: "v6/loopback", addr: "::1"},
		// ::c000:201 is where the IPv4 tree keeps 192.0.2.1. It is not an
		// IPv4-mapped address, but the tree cannot tell.
		{name: "v4-compatible", addr: "::192.0.2.1", want: berlin, wantOK: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := netip.MustParseAddr(tt.addr)
			got, ok := db.Lookup(addr)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Lookup(%v) = %+v, %v, want %+v, %v", addr, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestLookupInvalidAddr(t *testing.T) {
	db := openTestDB(t, entries)
	if got, ok := db.Lookup(netip.Addr{}); ok || got != (geoip.Location{}) {
		t.Errorf("Lookup(%v) = %+v, %v, want zero, false", netip.Addr{}, got, ok)
	}
}

func TestLookupAfterClose(t *testing.T) {
	db := openTestDB(t, entries)
	addr := netip.MustParseAddr("192.0.2.1")
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got, ok := db.Lookup(addr); ok {
		t.Errorf("after Close, Lookup(%v) = %+v, %v, want false", addr, got, ok)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

// TestLookupConcurrent is for -race: lookups from many goroutines, then a
// Close while they run.
func TestLookupConcurrent(t *testing.T) {
	db := openTestDB(t, entries)
	cases := []struct {
		addr netip.Addr
		want geoip.Location
	}{
		{netip.MustParseAddr("192.0.2.1"), berlin},
		{netip.MustParseAddr("198.18.1.1"), usCA},
		{netip.MustParseAddr("198.18.42.1"), usNV},
		{netip.MustParseAddr("2001:db8:1::1"), tokyo},
		{netip.MustParseAddr("::ffff:203.0.113.1"), oceania},
	}
	const goroutines, rounds = 8, 500
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			for i := range rounds {
				c := cases[i%len(cases)]
				// After Close, a miss is the right answer.
				if got, ok := db.Lookup(c.addr); ok && got != c.want {
					t.Errorf("Lookup(%v) = %+v, %v, want %+v, true", c.addr, got, ok, c.want)
					return
				}
			}
		})
	}
	close(start)
	if err := db.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	wg.Wait()
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("this is not a MaxMind database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.mmdb")

	for _, tt := range []struct {
		name     string
		path     string
		wantIs   error
		wantText string
	}{
		{name: "missing", path: missing, wantIs: fs.ErrNotExist, wantText: "no such file"},
		{name: "directory", path: dir, wantText: "is a directory"},
		{name: "garbage", path: garbage, wantText: "not a MaxMind database"},
		{name: "empty", path: empty, wantText: "not a MaxMind database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := geoip.Open(tt.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) = _, nil, want an error", tt.path)
			}
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Open(%q) = %q, want an error naming the path and saying %q", tt.path, err, tt.wantText)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open(%q) = %q, want one that is %v", tt.path, err, tt.wantIs)
			}
		})
	}
}

// writeRaw writes a database with one network whose record is value, using
// options that geoiptest.Write does not offer.
func writeRaw(t *testing.T, opts mmdbwriter.Options, network string, value mmdbtype.DataType) string {
	t.Helper()
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, ipnet, err := net.ParseCIDR(network)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Insert(ipnet, value); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), opts.DatabaseType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenDatabaseType(t *testing.T) {
	de := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}}
	asn := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64496)}
	for _, tt := range []struct {
		typ    string
		record mmdbtype.Map
		wantOK bool
	}{
		{typ: "GeoLite2-City", record: de, wantOK: true},
		{typ: "GeoIP2-Country", record: de, wantOK: true},
		{typ: "GeoIP2-Enterprise", record: de, wantOK: true},
		{typ: "DBIP-City-Lite", record: de, wantOK: true},
		{typ: "GeoLite2-ASN", record: asn},
		{typ: "GeoIP2-Anonymous-IP", record: asn},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			path := writeRaw(t, mmdbwriter.Options{DatabaseType: tt.typ}, "1.0.0.0/24", tt.record)
			db, err := geoip.Open(path)
			if !tt.wantOK {
				if err == nil {
					db.Close()
					t.Fatalf("Open(%q) of a %s database = _, nil, want an error", path, tt.typ)
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.typ) {
					t.Errorf("Open(%q) = %q, want an error naming the path and the type", path, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			defer db.Close()
			addr := netip.MustParseAddr("1.0.0.1")
			if got, ok := db.Lookup(addr); !ok || got.Country != "DE" {
				t.Errorf("Lookup(%v) = %+v, %v, want country DE, true", addr, got, ok)
			}
		})
	}
}

func TestLookupIPv4OnlyDatabase(t *testing.T) {
	path := writeRaw(t, mmdbwriter.Options{DatabaseType: "Test-City", IPVersion: 4}, "1.0.0.0/24",
		mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("AU")}})
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		addr   string
		wantOK bool
	}{
		{addr: "1.0.0.1", wantOK: true},
		{addr: "::ffff:1.0.0.1", wantOK: true},
		{addr: "2001:db8::1"},
	} {
		addr := netip.MustParseAddr(tt.addr)
		if got, ok := db.Lookup(addr); ok != tt.wantOK || (ok && got.Country != "AU") {
			t.Errorf("Lookup(%v) = %+v, %v, want AU, %v", addr, got, ok, tt.wantOK)
		}
	}
}

// TestLookupSubdivisions checks that Lookup keeps the first subdivision, the
// largest, when a record has several, and reads the fields around them.
func TestLookupSubdivisions(t *testing.T) {
	path := writeRaw(t, mmdbwriter.Options{DatabaseType: "GeoIP2-City"}, "2.0.0.0/24", mmdbtype.Map{
		"city":      mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("London")}},
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148)},
		"country":   mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "is_in_european_union": mmdbtype.Bool(false)},
		"location": mmdbtype.Map{
			"accuracy_radius": mmdbtype.Uint16(10),
			"latitude":        mmdbtype.Float64(51.5),
			"longitude":       mmdbtype.Float64(-0.12),
			"time_zone":       mmdbtype.String("Europe/London"),
		},
		"subdivisions": mmdbtype.Slice{
			mmdbtype.Map{"geoname_id": mmdbtype.Uint32(6269131), "iso_code": mmdbtype.String("ENG")},
			mmdbtype.Map{"iso_code": mmdbtype.String("LND")},
		},
	})
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	addr := netip.MustParseAddr("2.0.0.1")
	want := geoip.Location{Continent: "EU", Country: "GB", Subdivision: "ENG", Latitude: 51.5, Longitude: -0.12, HasCoordinates: true}
	if got, ok := db.Lookup(addr); !ok || got != want {
		t.Errorf("Lookup(%v) = %+v, %v, want %+v, true", addr, got, ok, want)
	}
}

// BenchmarkLookup measures a hit on a City record with every field set, the
// common case on the DNS path.
func BenchmarkLookup(b *testing.B) {
	db := openTestDB(b, entries)
	addr := netip.MustParseAddr("198.18.42.7")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := db.Lookup(addr); !ok {
			b.Fatalf("Lookup(%v) missed", addr)
		}
	}
}
