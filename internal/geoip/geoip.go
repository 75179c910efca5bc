// Package geoip locates IP addresses with a MaxMind DB file (GeoLite2/GeoIP2 City or Country,
// or any database of the same shape: country.iso_code, location.latitude/longitude). It fills
// the country, city and coordinates of events' public addresses the source did not locate, so
// that analysts see where a connection came from and behavioural profiles can learn countries
// and judge travel. Databases are read with a memory map; lookups
// are safe for concurrent use.
package geoip

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what the database knows of an address.
type Location struct {
	Country string // ISO 3166-1 alpha-2
	City    string
	Lat     float64
	Lon     float64
	// Geo is set when the database gave coordinates.
	Geo bool
}

// DB is an open MaxMind DB file.
type DB struct {
	r *maxminddb.Reader
}

// Open opens the database at path.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	return &DB{r: r}, nil
}

// Close releases the database.
func (d *DB) Close() error { return d.r.Close() }

// record is the subset of the GeoIP2 City/Country schema vigil reads.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// Lookup locates ip (any spelling netip parses). Private, loopback and unparsable addresses,
// and addresses the database does not hold, are not found.
func (d *DB) Lookup(ip string) (Location, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return Location{}, false
	}
	a = a.Unmap()
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
		return Location{}, false
	}
	res := d.r.Lookup(a)
	if res.Err() != nil || !res.Found() {
		return Location{}, false
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		return Location{}, false
	}
	loc := Location{Country: rec.Country.ISOCode, City: rec.City.Names["en"]}
	if loc.Country == "" {
		loc.Country = rec.RegisteredCountry.ISOCode
	}
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		loc.Lat, loc.Lon, loc.Geo = *rec.Location.Latitude, *rec.Location.Longitude, true
	}
	return loc, loc.Country != "" || loc.Geo
}
