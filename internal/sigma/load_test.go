package sigma

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const sigmaData = "../../../shared/data/sigma"

var ruleDirs = []string{"rules", "rules-emerging-threats", "rules-threat-hunting"}

var sigmaHQ struct {
	once     sync.Once
	rs       *RuleSet
	refusals []Refusal
}

// loadSigmaHQ loads the three SigmaHQ rule folders once per test binary.
func loadSigmaHQ(t testing.TB) (*RuleSet, []Refusal) {
	t.Helper()
	sigmaHQ.once.Do(func() { sigmaHQ.rs, sigmaHQ.refusals = loadSigmaHQDirs() })
	if sigmaHQ.rs == nil {
		t.Skip("SigmaHQ rules not available")
	}
	return sigmaHQ.rs, sigmaHQ.refusals
}

func loadSigmaHQDirs() (*RuleSet, []Refusal) {
	var all []*Rule
	var refusals []Refusal
	sets := []*RuleSet{}
	for _, d := range ruleDirs {
		rs, rf := LoadDir(sigmaData+"/"+d, LoadOptions{})
		if len(rs.Rules) == 0 && len(rf) == 1 {
			return nil, rf
		}
		sets = append(sets, rs)
		all = append(all, rs.Rules...)
		refusals = append(refusals, rf...)
	}
	merged := newLinkedSet(nil, nil)
	for _, s := range sets {
		for _, r := range s.Rules {
			merged.Rules = append(merged.Rules, r)
			if r.ID != "" {
				merged.byRef[r.ID] = r
			}
		}
	}
	return merged, refusals
}

func TestLoadSigmaHQRules(t *testing.T) {
	rs, refusals := loadSigmaHQ(t)
	total := len(rs.Rules) + len(refusals)
	for _, r := range refusals {
		kind := "invalid"
		if errors.Is(r.Err, ErrUnsupported) {
			kind = "unsupported"
		}
		t.Logf("refused (%s): %s", kind, r)
	}
	t.Logf("loaded %d of %d rules (%.2f%%)", len(rs.Rules), total, 100*float64(len(rs.Rules))/float64(total))
	if total != 3754 {
		t.Errorf("total = %d, want 3754 rule documents", total)
	}
	if float64(len(rs.Rules)) < 0.995*float64(total) {
		t.Errorf("loaded %d of %d rules, want at least 99.5%%", len(rs.Rules), total)
	}
	eng, engRefusals := NewEngine(rs, EngineOptions{})
	for _, r := range engRefusals {
		t.Logf("engine refused: %s", r)
	}
	t.Logf("%s; stats %+v", eng, eng.Stats())
	for _, r := range rs.Rules {
		if r.Title == "" || r.LogSource == (LogSource{}) && !strings.Contains(r.File, "placeholder") {
			t.Errorf("%s: missing title or logsource", r.File)
		}
	}
}

// TestUnreadableSource checks that a rules path that cannot be read is one refusal naming
// it (ErrUnreadableSource, the system's reason, not an inner "stat ."), that the other
// sources still load, that a rule file stands for a folder, and that rules check does not
// count the path as a rule.
func TestUnreadableSource(t *testing.T) {
	dir := t.TempDir()
	rule := filepath.Join(dir, "r.yml")
	if err := os.WriteFile(rule, []byte("title: r\nlogsource: {product: windows}\ndetection:\n  sel: {EventID: 1}\n  condition: sel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	rs, refusals := LoadSources([]Source{DirSource(missing), DirSource(dir)}, LoadOptions{})
	if len(rs.Rules) != 1 || len(refusals) != 1 {
		t.Fatalf("%d rules, refusals %v", len(rs.Rules), refusals)
	}
	r := refusals[0]
	if r.File != missing || !errors.Is(r.Err, ErrUnreadableSource) || !errors.Is(r.Err, fs.ErrNotExist) || strings.Contains(r.Error, "stat") {
		t.Fatalf("refusal %+v", r)
	}
	rs, refusals = LoadSources([]Source{DirSource(rule)}, LoadOptions{})
	if len(rs.Rules) != 1 || len(refusals) != 0 || rs.Rules[0].File != rule {
		t.Fatalf("one rule file: %d rules, refusals %v", len(rs.Rules), refusals)
	}
	rep := CheckRules([]string{missing, dir}, LoadOptions{}, EngineOptions{})
	if rep.Total != 1 || rep.Loaded != 1 || len(rep.Errors) != 1 || !rep.Errors[0].Unreadable {
		t.Fatalf("check report %+v", rep)
	}
}
