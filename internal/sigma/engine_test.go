package sigma

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentMatchers runs one engine from several goroutines, each with its own Matcher,
// and checks they all see the same matches (run with -race).
func TestConcurrentMatchers(t *testing.T) {
	eng, _ := NewEngine(windowsRuleSet(t), EngineOptions{})
	events := regressionEvents(t)
	want := 0
	m := eng.NewMatcher()
	recs := buildRecords(t, events)
	for _, r := range recs {
		want += len(m.Match(r))
	}
	var wg sync.WaitGroup
	got := make([]int, 4)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := eng.NewMatcher()
			var rec Record
			for _, ev := range events {
				if err := rec.ResetJSON(ev); err != nil {
					t.Error(err)
					return
				}
				got[g] += len(m.Match(&rec))
			}
		}()
	}
	wg.Wait()
	for g, n := range got {
		if n != want {
			t.Errorf("goroutine %d: %d matches, want %d", g, n, want)
		}
	}
}

func TestCheckRulesReport(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"good.yml":             "title: ok\nlogsource: {product: windows}\ndetection: {s: {A: x}, condition: s}\n",
		"sub/bad_modifier.yml": "title: bad\nlogsource: {product: windows}\ndetection: {s: {A|nope: x}, condition: s}\n",
		"sub/placeholder.yml":  "title: ph\nlogsource: {product: windows}\ndetection: {s: {A|expand: '%Admins%'}, condition: s}\n",
		"README.md":            "not a rule",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep := CheckRules([]string{dir}, LoadOptions{}, EngineOptions{})
	if rep.Total != 3 || rep.Loaded != 1 || len(rep.Errors) != 2 {
		t.Fatalf("report %+v: want total 3, loaded 1, 2 errors", rep)
	}
	out, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{`"total":3`, `"loaded":1`, `bad_modifier.yml","error":"detection: search identifier \"s\": field \"A|nope\": unknown modifier \"nope\""`, `placeholder %Admins% is not defined`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON %s lacks %s", s, want)
		}
	}
}
