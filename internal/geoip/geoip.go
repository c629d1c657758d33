// Package geoip says where a client address is, from a MaxMind-format
// (.mmdb) database: continent, country, subdivision and coordinates, for
// geolocation and geoproximity routing.
package geoip

// Location is where an address is, as far as the database knows.
type Location struct {
	// Continent code: AF, AN, AS, EU, NA, OC or SA; empty when unknown.
	Continent string
	// Country is the ISO 3166-1 alpha-2 code, such as DE; empty when unknown.
	Country string
	// Subdivision is the first ISO 3166-2 subdivision code within the
	// country, such as CA for US-CA; empty when unknown.
	Subdivision string
	// Latitude and Longitude in degrees, when HasCoordinates.
	Latitude, Longitude float64
	HasCoordinates      bool
}
