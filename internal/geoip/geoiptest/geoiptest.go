// Package geoiptest writes small MaxMind-format databases for tests, so that
// tests of geoip and of its users need no downloaded GeoLite2 file.
package geoiptest

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/switchboard/switchboard/internal/geoip"
)

// DatabaseType is the database_type that Write records. It names the City
// layout, which geoip.Open accepts, without claiming to be a MaxMind product:
// the GeoIP prefix is reserved for MaxMind's own databases.
const DatabaseType = "Switchboard-Test-City"

// Write writes a City-layout database to path holding entries, replacing any
// file there. Each Location becomes a record with only the fields that are
// set: continent.code, country.iso_code, subdivisions[0].iso_code and
// location.latitude/longitude (when HasCoordinates).
//
// The database is an IPv6 tree with IPv4 at ::/96 and the standard aliases
// (::ffff:0:0/96, 2001::/32, 2002::/16), as in MaxMind's own files, so both
// IPv4 and IPv6 lookups work. Reserved ranges are allowed, so tests may use
// 127.0.0.0/8, 192.0.2.0/24 or 2001:db8::/32.
//
// Prefixes may nest; a lookup finds the longest one. Write refuses prefixes
// with host bits set and IPv4-mapped IPv6 prefixes (write 192.0.2.0/24, not
// ::ffff:192.0.2.0/120).
func Write(path string, entries map[netip.Prefix]geoip.Location) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            DatabaseType,
		Description:             map[string]string{"en": "switchboard test database"},
		IPVersion:               6,
		RecordSize:              28,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return fmt.Errorf("geoiptest: %w", err)
	}

	prefixes := make([]netip.Prefix, 0, len(entries))
	for p := range entries {
		switch {
		case !p.IsValid():
			return fmt.Errorf("geoiptest: invalid prefix %v", p)
		case p != p.Masked():
			return fmt.Errorf("geoiptest: prefix %v has host bits set; want %v", p, p.Masked())
		case p.Addr().Is4In6():
			return fmt.Errorf("geoiptest: prefix %v is IPv4-mapped; write it in IPv4 form", p)
		}
		prefixes = append(prefixes, p)
	}
	// The writer's default inserter replaces everything under the network it
	// inserts, nested networks included, so shorter prefixes must go first
	// for the longer ones inside them to survive.
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int {
		return cmp.Or(cmp.Compare(a.Bits(), b.Bits()), a.Addr().Compare(b.Addr()))
	})
	for _, p := range prefixes {
		// The writer maps a 4-byte IP into the IPv4 subtree at ::/96; a
		// 16-byte one would land elsewhere.
		network := &net.IPNet{
			IP:   p.Addr().AsSlice(),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}
		if err := tree.Insert(network, record(entries[p])); err != nil {
			return fmt.Errorf("geoiptest: insert %v: %w", p, err)
		}
	}

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("geoiptest: %w", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		return errors.Join(fmt.Errorf("geoiptest: write %s: %w", path, err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("geoiptest: %w", err)
	}
	return nil
}

// record is loc in the GeoIP2 City layout, with only the fields that are set.
func record(loc geoip.Location) mmdbtype.Map {
	m := mmdbtype.Map{}
	if loc.Continent != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(loc.Continent)}
	}
	if loc.Country != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(loc.Country)}
	}
	if loc.Subdivision != "" {
		m["subdivisions"] = mmdbtype.Slice{
			mmdbtype.Map{"iso_code": mmdbtype.String(loc.Subdivision)},
		}
	}
	if loc.HasCoordinates {
		m["location"] = mmdbtype.Map{
			"latitude":  mmdbtype.Float64(loc.Latitude),
			"longitude": mmdbtype.Float64(loc.Longitude),
		}
	}
	return m
}
