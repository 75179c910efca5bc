package jsontext

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// encodingJSON is what AppendString must equal: encoding/json without HTML escaping.
func encodingJSON(t testing.TB, s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

var samples = []string{"", "plain", `C:\Windows\System32\cmd.exe /c "whoami"`, "tab\tnew\nline\r\x00\x01\x1f\b\f",
	"<script>&amp;</script>", "ünïcödé ж 漢字 🙂", "bad \xff\xfe utf-8 \xc3", "sep \u2028 \u2029 end", "\x7f del"}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		if got, want := string(AppendString([]byte("x"), s)), "x"+encodingJSON(t, s); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestAppendStringWordBoundaries puts each kind of byte that needs escaping (or is not
// ASCII) at every position of plain text, so that the eight-byte fast path meets it in
// every lane of a word and in the tail.
func TestAppendStringWordBoundaries(t *testing.T) {
	for _, special := range []string{`"`, `\`, "\x00", "\x1f", "\n", "\x7f", "é", "\xff", "\u2028"} {
		for pos := 0; pos <= 19; pos++ {
			s := strings.Repeat("a", pos) + special + strings.Repeat("b", 19-pos)
			if got, want := string(AppendString(nil, s)), encodingJSON(t, s); got != want {
				t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), encodingJSON(t, s); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		if got, want := AppendStringHTML(nil, s), must(json.Marshal(s)); !bytes.Equal(got, want) {
			t.Fatalf("AppendStringHTML(%q) = %s, want %s", s, got, want)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestAppendStringHTMLMatchesMarshal: AppendStringHTML writes what json.Marshal writes.
func TestAppendStringHTMLMatchesMarshal(t *testing.T) {
	for _, s := range append(samples, "a<b>c&d", "<<&&>>", "\xff<\u2028&\"") {
		want, _ := json.Marshal(s)
		if got := string(AppendStringHTML([]byte("x"), s)); got != "x"+string(want) {
			t.Errorf("AppendStringHTML(%q) = %s, want x%s", s, got, want)
		}
	}
}

// TestHasHTML puts each of <, > and & at every position of plain text (every lane of a word
// and the tail), and bytes next to them in value, which must not count.
func TestHasHTML(t *testing.T) {
	for _, c := range []string{"<", ">", "&", "=", ";", "%", "'", "?", "\xbc", "\xa6"} {
		for pos := 0; pos <= 19; pos++ {
			s := strings.Repeat("a", pos) + c + strings.Repeat("b", 19-pos)
			if got, want := hasHTML(s), strings.ContainsAny(s, "<>&"); got != want {
				t.Errorf("hasHTML(%q) = %v, want %v", s, got, want)
			}
		}
	}
}
