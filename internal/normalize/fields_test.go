package normalize

import (
	"strings"
	"testing"
)

// parseTimeCases are times in the forms parseUTC reads and in forms close to them.
var parseTimeCases = []string{
	"2020-12-18T17:56:07.017817Z", "2020-12-18 17:56:07Z", "2020-12-18T17:56:07.0178170Z", "2020-12-18T17:56:07.123456789Z",
	"2020-12-18T17:56:07.1234567891Z", "2020-12-18T17:56:07.Z", "2020-12-18T17:56:07,5Z", "2020-12-18T17:56:07.5+00:00",
	"2020-02-29T00:00:00Z", "2021-02-29T00:00:00Z", "2020-04-31T00:00:00Z", "2020-12-31T23:59:59.999999999Z",
	"2020-13-01T00:00:00Z", "2020-00-01T00:00:00Z", "2020-01-00T00:00:00Z", "2020-01-01T24:00:00Z", "2020-01-01T23:60:00Z",
	"2020-01-01T23:59:60Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2020-1-01T00:00:00Z", "2020-01-01T00:00:0aZ",
	"+020-01-01T00:00:00Z", "2020-01-01T00:00:00.-1Z", "2020-01-01t00:00:00Z", "1601-01-01T00:00:00.000000Z",
}

// TestParseUTCLikeTimeParse checks the fast path of ParseTime against the layouts it saves:
// where it reads a time, time.Parse reads the same.
func TestParseUTCLikeTimeParse(t *testing.T) {
	read := 0
	for _, s := range parseTimeCases {
		if checkParseUTC(t, s) {
			read++
		}
	}
	if read < 8 {
		t.Fatalf("the fast path read %d of the cases", read)
	}
}

func checkParseUTC(t *testing.T, s string) bool {
	fast, ok := parseUTC(s)
	slow, slowOK := parseTimeLayouts(s)
	if ok && (!slowOK || !fast.Equal(slow) || fast.Location() != slow.Location()) {
		t.Fatalf("parseUTC(%q) = %v, the layouts give %v, %v", s, fast, slow, slowOK)
	}
	if got, gotOK := ParseTime(s); gotOK != slowOK || !got.Equal(slow) {
		t.Fatalf("ParseTime(%q) = %v, %v; the layouts give %v, %v", s, got, gotOK, slow, slowOK)
	}
	return ok
}

func FuzzParseUTC(f *testing.F) {
	for _, s := range parseTimeCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParseUTC(t, strings.TrimSpace(s)) })
}
