package cef

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora from the test tables")

// TestFuzzCorpus keeps testdata/fuzz in step with the test tables: every table line is a committed
// seed. Run with -update after changing a table.
func TestFuzzCorpus(t *testing.T) {
	var cefSeeds, leefSeeds []string
	for _, tt := range parseTests {
		cefSeeds = append(cefSeeds, corpusFile(tt.line))
	}
	for _, tt := range parseErrorTests {
		cefSeeds = append(cefSeeds, corpusFile(tt.line))
	}
	for _, tt := range leefTests {
		leefSeeds = append(leefSeeds, corpusFile(tt.line))
	}
	for _, tt := range leefErrorTests {
		leefSeeds = append(leefSeeds, corpusFile(tt.line))
	}
	checkCorpus(t, "FuzzParse", cefSeeds)
	checkCorpus(t, "FuzzParseLEEF", leefSeeds)
}

// corpusFile renders a []byte argument in the "go test fuzz v1" format.
func corpusFile(line string) string {
	return fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(line))
}

func checkCorpus(t *testing.T, target string, files []string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	for _, content := range files {
		path := filepath.Join(dir, fmt.Sprintf("seed-%x", sha256.Sum256([]byte(content)))[:5+16])
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("seed corpus out of date: %s missing or different (run go test -run TestFuzzCorpus -update)", path)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := Parse(line)
		if err != nil {
			checkError(t, err, "cef", len(line), ErrNotCEF)
			return
		}
		if ev.Version != 0 && ev.Version != 1 {
			t.Fatalf("Version = %d", ev.Version)
		}
		if ev.Severity < -1 || ev.Severity > 10 || ev.Severity != ParseSeverity(ev.SeverityText) {
			t.Fatalf("Severity = %d for %q", ev.Severity, ev.SeverityText)
		}
		checkExtensions(t, ev.Extensions, ev.Ext)
		_ = ev.Labeled()

		// Written out again with the specification's escaping, the event reads back the same.
		again, err := ParseString(formatCEF(ev))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", formatCEF(ev), err)
		}
		ev.Prefix = ""
		if !reflect.DeepEqual(ev, again) {
			t.Fatalf("round trip through %q changed the event:\n first %#v\n again %#v", formatCEF(ev), ev, again)
		}
	})
}

func FuzzParseLEEF(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := ParseLEEF(line)
		if err != nil {
			checkError(t, err, "leef", len(line), ErrNotLEEF)
			return
		}
		if ev.Version != "1.0" && ev.Version != "2.0" {
			t.Fatalf("Version = %q", ev.Version)
		}
		if ev.Delimiter == "" {
			t.Fatal("empty Delimiter")
		}
		for _, a := range ev.Attributes {
			if a.Key == "" || strings.ContainsAny(a.Key, " \t") {
				t.Fatalf("bad key %q", a.Key)
			}
		}
		if len(ev.Attributes) > 0 {
			checkMap(t, ev.Attributes, ev.Attr)
		}
	})
}

func checkError(t *testing.T, err error, format string, n int, notErr error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if pe.Format != format || pe.Field == "" || pe.Reason == "" || pe.Offset < 0 || pe.Offset > n {
		t.Fatalf("error %+v: wrong format, no field or reason, or offset outside the %d-byte line", pe, n)
	}
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, notErr) {
		t.Fatalf("error %v wraps neither ErrMalformed nor %v", err, notErr)
	}
}

func checkExtensions(t *testing.T, exts []Extension, m map[string]string) {
	t.Helper()
	for _, x := range exts {
		if x.Key == "" || !isKeyStart(x.Key[0]) {
			t.Fatalf("bad key %q", x.Key)
		}
		for i := 0; i < len(x.Key); i++ {
			if !isKeyChar(x.Key[i]) {
				t.Fatalf("bad key %q", x.Key)
			}
		}
	}
	checkMap(t, exts, m)
}

func checkMap(t *testing.T, exts []Extension, m map[string]string) {
	t.Helper()
	want := make(map[string]string, len(exts))
	for _, x := range exts {
		want[x.Key] = x.Value
	}
	if !reflect.DeepEqual(want, m) {
		t.Fatalf("map %v does not match the list %v", m, exts)
	}
}

// formatCEF writes ev as a bare CEF record, escaping as the specification says.
func formatCEF(ev Event) string {
	hdr := strings.NewReplacer(`\`, `\\`, `|`, `\|`)
	val := strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\n", `\n`, "\r", `\r`)
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:%d", ev.Version)
	for _, f := range []string{ev.DeviceVendor, ev.DeviceProduct, ev.DeviceVersion, ev.SignatureID, ev.Name, ev.SeverityText} {
		b.WriteString("|" + hdr.Replace(f))
	}
	b.WriteString("|")
	for i, x := range ev.Extensions {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(x.Key + "=" + val.Replace(x.Value))
	}
	return b.String()
}
