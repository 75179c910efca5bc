package geoip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/geoip/geoiptest"
)

func writeDB(t *testing.T) string { return geoiptest.Write(t) }

func TestLookup(t *testing.T) {
	db, err := Open(writeDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		ip      string
		found   bool
		country string
		geo     bool
	}{
		{"81.2.69.142", true, "GB", true},
		{"::ffff:81.2.69.1", true, "GB", true},
		{" 203.0.113.9 ", true, "BR", false}, // registered country only
		{"2001:db8::1", true, "DE", true},
		{"10.1.2.3", false, "", false}, // private: never looked up
		{"127.0.0.1", false, "", false},
		{"8.8.8.8", false, "", false}, // not in the database
		{"not an address", false, "", false},
		{"", false, "", false},
	} {
		loc, ok := db.Lookup(c.ip)
		if ok != c.found || loc.Country != c.country || loc.Geo != c.geo {
			t.Errorf("Lookup(%q) = %+v, %v; want country %q geo %v found %v", c.ip, loc, ok, c.country, c.geo, c.found)
		}
	}
	if loc, _ := db.Lookup("81.2.69.142"); loc.City != "London" || loc.Lat < 51 || loc.Lon > 0 {
		t.Errorf("London: %+v", loc)
	}
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "broken.mmdb")
	if err := os.WriteFile(bad, []byte("not a maxmind database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bad, filepath.Join(t.TempDir(), "missing.mmdb")} {
		if _, err := Open(p); err == nil || !contains(err.Error(), p) {
			t.Errorf("Open(%s): %v", p, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestCountryCodesAgreeAcrossSources(t *testing.T) {
	for in, want := range map[string]string{"US": "US", "us": "US", "United States": "US", " united kingdom ": "GB", "Britain": "GB",
		"Russian Federation": "RU", "Germany": "DE", "Korea (South)": "KR", "Atlantis": "ATLANTIS", "": ""} {
		if got := CountryCode(in); got != want {
			t.Errorf("CountryCode(%q) = %q, want %q", in, got, want)
		}
	}
	if code, ok := CountryByName("Russia"); !ok || code != "RU" {
		t.Errorf("CountryByName(Russia) = %q, %v", code, ok)
	}
	if _, ok := CountryByName("Atlantis"); ok {
		t.Error("Atlantis has a code")
	}
}
