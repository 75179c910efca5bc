package jsontext

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var validCases = []string{
	``, ` `, `{}`, `[]`, ` { } `, "\t[\r\n]\n", `{"a":1}`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":}`, `{a:1}`,
	`[1,2,3]`, `[1,,2]`, `[1,]`, `[,1]`, `[1 2]`, `{"a":[{"b":[]},{}]}`, `{"a":{"b":{"c":null}}}`, `[}`, `{]`,
	`[[[]]`, `[]]`, `{}}`, `{"a":1}{"b":2}`, `1 2`, `"x" "y"`,
	`0`, `-0`, `01`, `-`, `-01`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-05`, `1e`, `1e+`, `1.e5`, `-1.5e10`, `+1`,
	`12345678901234567890123`, `1.0.0`, `0x10`, `NaN`, `Infinity`,
	`true`, `false`, `null`, `tru`, `nul`, `True`, `nulll`, `truefalse`, `[true,false,null]`,
	`""`, `"abc"`, `"a\"b"`, `"a\\"`, `"\/\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, `"\u00g0"`, `"\u00"`, `"\x"`, `"\'"`,
	`"unterminated`, `"tab	inside"`, "\"nl\ninside\"", "\"nul\x00\"", "\"del\x7f\"", "\"bad utf8 \xff\xfe\"",
	"\"ünïcödé 漢字 🙂\"", `"a long string with no specials at all, well past eight bytes"`, `"0123456\"`, `"01234567"`,
	`"\`, `"\u`, `"\u1`, `{"a":"b\"}`, `{"\"":"\\"}`, "\xef\xbb\xbf{}", "{}\x00", "\x00{}",
	`{"EventID":4624,"Channel":"Security","Message":"An account was successfully logged on.\r\n\r\nSubject:\t..."}`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

// TestValidDepth checks the limit of nesting encoding/json.Valid keeps: 10,000 levels are
// valid, 10,001 are not, for arrays and objects.
func TestValidDepth(t *testing.T) {
	for _, open := range []struct{ in, inner, out string }{{"[", "[]", "]"}, {`{"a":`, "{}", "}"}} {
		for _, n := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
			doc := []byte(strings.Repeat(open.in, n-1) + open.inner + strings.Repeat(open.out, n-1))
			if got, want := Valid(doc), json.Valid(doc); got != want || want != (n <= maxDepth) {
				t.Errorf("%d levels of %s: Valid %v, encoding/json %v", n, open.in, got, want)
			}
		}
	}
	unclosed := []byte(strings.Repeat("[", maxDepth+5))
	if Valid(unclosed) {
		t.Error("unclosed arrays deeper than the limit are valid")
	}
}

// TestValidDatasets checks Valid against encoding/json on every line of the JSON files of
// the shared datasets, and on each line cut short, which makes them invalid in many places.
func TestValidDatasets(t *testing.T) {
	files := regressionJSON(t)
	if len(files) < 10 {
		t.Fatalf("found %d JSON files in the shared data", len(files))
	}
	lines := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range append(bytes.Split(data, []byte("\n")), data) {
			lines++
			for _, cut := range []int{len(line), len(line) / 2, len(line) - 1, len(line) / 3} {
				if cut < 0 {
					continue
				}
				if got, want := Valid(line[:cut]), json.Valid(line[:cut]); got != want {
					t.Fatalf("%s: Valid(%.80q...) = %v, encoding/json says %v", f, line[:cut], got, want)
				}
			}
		}
	}
	t.Logf("%d files, %d texts", len(files), lines)
}

// regressionJSON lists the JSON files of SigmaHQ's regression data: the JSON renderings of
// Windows events.
func regressionJSON(t testing.TB) []string {
	var files []string
	err := filepath.WalkDir("../../../shared/data/sigma/regression_data", func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	// An array of the files that hold one event (others hold several, one after the other).
	data := []byte{'['}
	for _, f := range regressionJSON(b) {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if json.Valid(d) {
			data = append(append(data, bytes.TrimSpace(d)...), ',')
		}
	}
	data[len(data)-1] = ']'
	for _, impl := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsontext", Valid}, {"encoding_json", json.Valid}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if !impl.valid(data) {
					b.Fatal("not valid")
				}
			}
		})
	}
}
