package geoip

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// DB is an open MaxMind-format database with country data: a GeoIP2 or
// GeoLite2 City or Country database, or one with the same layout.
//
// A DB is safe for concurrent use, and Close may race with Lookup.
type DB struct {
	// Immutable after Open.
	ipv4Only bool

	// reader is nil once the DB is closed. It is read on every Lookup.
	reader atomic.Pointer[maxminddb.Reader]
}

// Open reads the database at path into memory.
//
// It reads the file rather than mapping it, for two reasons. A mapped file
// that is rewritten in place (cp over it, rather than rename) changes under
// the reader, and a truncation kills the process with SIGBUS. And unmapping
// on Close would fault lookups still running on other goroutines, so Close
// could not be safe while a DNS server drains queries after a reload. The
// cost is the file's size in heap (GeoLite2 City is about 60 MB), and twice
// that while a reload holds both; the bytes hold no pointers, so the garbage
// collector does not scan them.
//
// Open refuses a file that is not a MaxMind database, and a database whose
// type suggests it has no country data (ASN, ISP, Anonymous-IP,
// Connection-Type, Domain): only types whose name contains City, Country or
// Enterprise are accepted.
func Open(path string) (*DB, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	r, err := maxminddb.OpenBytes(buf)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s is not a MaxMind database: %w", path, err)
	}
	if !hasCountryData(r.Metadata.DatabaseType) {
		return nil, fmt.Errorf("geoip: %s: database type %q has no country data; want a City or Country database",
			path, r.Metadata.DatabaseType)
	}
	db := &DB{ipv4Only: r.Metadata.IPVersion == 4}
	db.reader.Store(r)
	return db, nil
}

// hasCountryData reports whether a database of type typ, such as
// GeoLite2-City, GeoIP2-Country or DBIP-City-Lite, has the City/Country
// layout.
func hasCountryData(typ string) bool {
	typ = strings.ToLower(typ)
	return strings.Contains(typ, "city") ||
		strings.Contains(typ, "country") ||
		strings.Contains(typ, "enterprise")
}

// record is the part of a City or Country record that Lookup reads. The
// decoder skips every other field (names, geoname IDs, postal codes, …)
// without allocating.
type record struct {
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Subdivision firstSubdivision `maxminddb:"subdivisions"`
	Location    struct {
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// Lookup returns where addr is. It reports false when the database has no
// record for addr, when addr is invalid or is IPv6 and the database IPv4-only,
// when the record cannot be decoded, and after Close. An IPv4-mapped IPv6
// address (::ffff:192.0.2.1) is looked up as IPv4; a zone is ignored.
//
// Lookup is safe for concurrent use, and cheap enough for every DNS query:
// a few hundred nanoseconds and one small allocation, the record that the
// library's Decode takes as an any.
func (db *DB) Lookup(addr netip.Addr) (Location, bool) {
	r := db.reader.Load()
	if r == nil || !addr.IsValid() {
		return Location{}, false
	}
	addr = addr.Unmap()
	if db.ipv4Only && addr.Is6() {
		return Location{}, false
	}
	res := r.Lookup(addr)
	if !res.Found() {
		return Location{}, false
	}
	// The decoder leaves absent fields alone, so NaN marks absent coordinates.
	var rec record
	rec.Location.Latitude, rec.Location.Longitude = math.NaN(), math.NaN()
	if err := res.Decode(&rec); err != nil {
		return Location{}, false
	}
	loc := Location{
		Continent:   rec.Continent.Code,
		Country:     rec.Country.ISOCode,
		Subdivision: rec.Subdivision.ISOCode,
	}
	if !math.IsNaN(rec.Location.Latitude) && !math.IsNaN(rec.Location.Longitude) {
		loc.Latitude, loc.Longitude = rec.Location.Latitude, rec.Location.Longitude
		loc.HasCoordinates = true
	}
	return loc, true
}

// Close releases the database. Lookups already running finish normally;
// later ones report false. The memory goes when the last of them returns.
func (db *DB) Close() error {
	// The reader is not closed: Reader.Close writes fields that concurrent
	// lookups read, and with the file read into memory there is nothing
	// for it to release that the garbage collector would not.
	db.reader.Store(nil)
	return nil
}

// firstSubdivision decodes a subdivisions array, keeping the first
// element's iso_code and skipping the rest. It exists because decoding into
// a slice of structs allocates the slice on every lookup, and Location has
// room for one subdivision only: the largest, such as GB-ENG rather than
// GB-LND.
type firstSubdivision struct {
	ISOCode string
}

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (s *firstSubdivision) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	elems, err := c.Slice()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[[]firstSubdivision](err)
	}
	var next mmdbdata.Cursor
	for {
		i, elem, ok := elems.Next(next)
		if !ok {
			break
		}
		if i == 0 {
			next, err = s.decodeFields(elem)
		} else {
			next, err = elem.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return elems.End()
}

// decodeFields reads iso_code from the subdivision map at c.
func (s *firstSubdivision) decodeFields(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	fields, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[firstSubdivision](err)
	}
	var next mmdbdata.Cursor
	for {
		key, value, ok := fields.Next(next)
		if !ok {
			break
		}
		if string(key) == "iso_code" {
			s.ISOCode, next, err = value.ReadString()
			err = mmdbdata.NormalizeUnmarshalError[string](err)
		} else {
			next, err = value.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return fields.End()
}
