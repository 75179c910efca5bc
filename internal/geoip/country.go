package geoip

import "strings"

// CountryCode spells a country as its ISO 3166-1 alpha-2 code, whether the source gave the code
// ("us") or an English name ("United States"), so that sources agree (Okta writes names, Entra
// ID and GeoIP databases codes); unknown names stay as given, in upper case.
func CountryCode(c string) string {
	c = strings.TrimSpace(c)
	if len(c) == 2 {
		return strings.ToUpper(c)
	}
	if code, ok := countryCodes[strings.ToLower(c)]; ok {
		return code
	}
	return strings.ToUpper(c)
}

// CountryByName returns the ISO code of an English country name or common alias ("russia",
// "United Kingdom", "uk"), case-insensitively.
func CountryByName(name string) (string, bool) {
	code, ok := countryCodes[strings.ToLower(strings.TrimSpace(name))]
	return code, ok
}
