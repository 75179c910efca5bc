package normalize

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenReceived is the Origin.Received of every golden input: the fallback time and the
// reference year for year-less syslog timestamps.
var goldenReceived = time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)

// goldenInput reads testdata/<dir>/<name>.in (one record; a trailing newline is dropped) and
// the optional <name>.hint beside it.
func goldenInput(t *testing.T, path string) Input {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.TrimRight(raw, "\r\n")
	in := Input{Raw: raw, Origin: event.Origin{
		Source:   "test",
		File:     filepath.ToSlash(strings.TrimPrefix(path, "testdata"+string(filepath.Separator))),
		Received: goldenReceived,
	}}
	if h, err := os.ReadFile(strings.TrimSuffix(path, ".in") + ".hint"); err == nil {
		in.Hint = strings.TrimSpace(string(h))
	}
	return in
}

func checkGolden(t *testing.T, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	golden := strings.TrimSuffix(path, ".in") + ".golden.json"
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", golden, b)
	}
}

// TestGoldenEvents normalizes testdata/<normalizer>/*.in and compares with *.golden.json. The
// directory names the normalizer that must produce the event.
func TestGoldenEvents(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	perKind := map[string]int{}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "alerts" || d.Name() == "fuzz" {
			continue
		}
		kind := d.Name()
		files, _ := filepath.Glob(filepath.Join("testdata", kind, "*.in"))
		for _, path := range files {
			t.Run(kind+"/"+strings.TrimSuffix(filepath.Base(path), ".in"), func(t *testing.T) {
				in := goldenInput(t, path)
				ev, err := Event(in)
				if err != nil {
					t.Fatalf("Event: %v", err)
				}
				if ev.Kind != kind {
					t.Errorf("Kind = %q, want %q", ev.Kind, kind)
				}
				again, _ := Event(in)
				if again.ID != ev.ID {
					t.Errorf("ID not stable: %s then %s", ev.ID, again.ID)
				}
				checkGolden(t, path, ev)
			})
			perKind[kind]++
		}
	}
	for _, id := range Normalizers() {
		if perKind[id] < 3 {
			t.Errorf("normalizer %s has %d golden samples, want at least 3", id, perKind[id])
		}
	}
}

// TestGoldenAlerts runs Alert over testdata/alerts/*.in.
func TestGoldenAlerts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "alerts", "*.in"))
	if len(files) == 0 {
		t.Fatal("no alert samples")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".in"), func(t *testing.T) {
			al, err := Alert(goldenInput(t, path))
			if err != nil {
				t.Fatalf("Alert: %v", err)
			}
			if al.Kind == "" || al.Source == "" || al.RuleTitle == "" || al.ID == "" {
				t.Errorf("incomplete alert: kind %q source %q title %q id %q", al.Kind, al.Source, al.RuleTitle, al.ID)
			}
			checkGolden(t, path, al)
		})
	}
}
