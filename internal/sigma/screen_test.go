package sigma

import (
	"strings"
	"testing"
)

// TestScreenMayHold checks the keyword screen against a plain search: it must pass every
// value that holds a literal (ASCII letters of any case), every value with non-ASCII bytes,
// and rule out values that hold none of the literals' screened pairs.
func TestScreenMayHold(t *testing.T) {
	lits := []string{"mimikatz", string(rune(markStart)) + "kali" + string(rune(markEnd)), "::", "x"}
	sc := newScreen(lits)
	tests := []struct {
		v    string
		want bool
	}{
		{"", false},
		{"c:\\windows\\system32\\cmd.com", false},
		{"2024-01-02T03:04:05.000Z", false},
		{"run MIMIKATZ now", true},
		{"MiMiKaTz", true},
		{"Kali", true},
		{"sekurlsa::logonpasswords", true},
		{"X", true},
		{"abcx", true},
		{"\xc3\xa9t\xc3\xa9", true}, // not ASCII
		{"abc\x80", true},
	}
	for _, tc := range tests {
		if got := sc.mayHold(tc.v); got != tc.want {
			t.Errorf("mayHold(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
	// Every value holding a literal passes, at every offset and length (the unrolled loop).
	for _, l := range []string{"mimikatz", "kali", "::"} {
		for pre := 0; pre < 9; pre++ {
			for post := 0; post < 6; post++ {
				v := strings.Repeat("0", pre) + strings.ToUpper(l) + strings.Repeat("1", post)
				if !sc.mayHold(v) {
					t.Errorf("mayHold(%q) = false", v)
				}
				if v := strings.Repeat("0", pre) + l + strings.Repeat("1", post); !sc.mayHold(v) {
					t.Errorf("mayHold(%q) = false", v)
				}
			}
		}
	}
}
