package sigma

import (
	"math/rand/v2"
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

// TestScreenGrams checks the gram form of the screen (every literal at least minGramLiteral
// bytes long): values holding a literal pass wherever it sits, values with non-ASCII bytes
// pass, and most others are ruled out.
func TestScreenGrams(t *testing.T) {
	lits := []string{"sekurlsa::", string(rune(markStart)) + "mimidrv.sys", "kerberos::golden" + string(rune(markEnd))}
	sc := newScreen(lits)
	if sc.stride != len("sekurlsa::")-3 {
		t.Fatalf("stride %d, want the gram form with stride %d", sc.stride, len("sekurlsa::")-3)
	}
	tests := []struct {
		v    string
		want bool
	}{
		{"", false},
		{"mimidrv", false}, // shorter than every literal
		{"c:\\windows\\system32\\cmd.exe", false},
		{"2024-01-02T03:04:05.000Z", false},
		{"{0197231E-E9EE-692F-B004-000000000900}", false},
		{"run SEKURLSA::logonpasswords", true},
		{"C:\\x\\MimiDrv.SYS", true},
		{"kerberos::golden /user:x", true},
		{"\xc3\xa9", true}, // not ASCII, even when short
		{"plain text then \x80", true},
	}
	for _, tc := range tests {
		if got := sc.mayHold(tc.v); got != tc.want {
			t.Errorf("mayHold(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestScreenProperty checks both forms of the screen against a plain search on random
// literals and values: a value whose ASCII lower-case form holds a literal always passes, and
// so does a value with a byte that is not ASCII, wherever it is.
func TestScreenProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdeKLMxyz:\\. 01"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for round := 0; round < 300; round++ {
		minLen := 1 + rng.IntN(10)
		var lits []string
		for range 1 + rng.IntN(6) {
			lits = append(lits, strings.ToLower(word(minLen+rng.IntN(6))))
		}
		sc := newScreen(lits)
		for range 200 {
			v := word(rng.IntN(70))
			if rng.IntN(2) == 0 {
				// Plant a literal, in random case.
				l := []byte(lits[rng.IntN(len(lits))])
				for i := range l {
					if rng.IntN(2) == 0 {
						l[i] = otherCase(l[i])
					}
				}
				at := rng.IntN(len(v) + 1)
				v = v[:at] + string(l) + v[at:]
			}
			lower := strings.Map(func(r rune) rune { return rune(asciiLower[byte(r)]) }, v)
			holds := false
			for _, l := range lits {
				holds = holds || strings.Contains(lower, l)
			}
			if holds && !sc.mayHold(v) {
				t.Fatalf("literals %q (stride %d): mayHold(%q) = false", lits, sc.stride, v)
			}
			if len(v) > 0 {
				b := []byte(v)
				b[rng.IntN(len(b))] = byte(0x80 + rng.IntN(128))
				if !sc.mayHold(string(b)) {
					t.Fatalf("literals %q (stride %d): mayHold(%q) = false (not ASCII)", lits, sc.stride, b)
				}
			}
		}
	}
}

// FuzzScreen checks the keyword screen against a plain search: the input is a list of
// literals separated by '|', a newline, and the value. A value with a byte that is not ASCII,
// or whose ASCII lower-case form (between the anchor bytes) holds a literal, must pass.
func FuzzScreen(f *testing.F) {
	f.Add("sekurlsa::|\x00mimidrv.sys|kerberos::golden\x01\nrun SEKURLSA::logonpasswords")
	f.Add("lsadump::|eo.oe.kiwi\nC:\\Windows\\System32\\cmd.exe /c whoami")
	f.Add("abcdefgh\nxxxxxxxabcdefgh\xc3\xa9")
	f.Add("ab|c\nxxAB")
	f.Fuzz(func(t *testing.T, in string) {
		spec, v, ok := strings.Cut(in, "\n")
		if !ok {
			return
		}
		lits := fuzzLiterals(spec, 0)
		if len(lits) == 0 {
			return
		}
		sc := newScreen(lits)
		ascii := true
		lower := []byte{markStart}
		for i := 0; i < len(v); i++ {
			ascii = ascii && v[i] < 0x80
			lower = append(lower, asciiLower[v[i]])
		}
		lower = append(lower, markEnd)
		want := !ascii
		for _, l := range lits {
			want = want || strings.Contains(string(lower), l)
		}
		if want && !sc.mayHold(v) {
			t.Fatalf("literals %q (stride %d): mayHold(%q) = false", lits, sc.stride, v)
		}
	})
}
