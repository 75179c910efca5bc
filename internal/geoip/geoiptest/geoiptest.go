// Package geoiptest writes small MaxMind DB files, shaped as GeoIP2 City, for tests.
package geoiptest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Write builds a GeoIP2-City-shaped database in a temporary directory and returns its path.
// It holds 81.2.69.0/24 (GB, London, with coordinates), 203.0.113.0/24 (registered
// country BR only) and 2001:db8::/32 (DE, with coordinates).
func Write(t testing.TB) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	add := func(cidr string, v mmdbtype.Map) {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, v); err != nil {
			t.Fatal(err)
		}
	}
	add("81.2.69.0/24", mmdbtype.Map{
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
		"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("London")}},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931)},
	})
	add("203.0.113.0/24", mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("BR")}})
	add("2001:db8::/32", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(52.52), "longitude": mmdbtype.Float64(13.40)}})
	path := filepath.Join(t.TempDir(), "city.mmdb")
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
