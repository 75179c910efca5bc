package investigate

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-soc/vigil/internal/event"
)

//go:embed recipes/*.yml
var builtinRecipes embed.FS

// Recipe is a plan of tool calls for one kind of incident, written as data so that users can
// add their own (a folder of YAML files).
type Recipe struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Priority orders recipes whose steps all apply (higher first).
	Priority int    `yaml:"priority"`
	Match    Match  `yaml:"match"`
	Steps    []Step `yaml:"steps"`
	// Recommend lists actions to recommend per verdict when findings do not name any.
	Recommend []Recommendation `yaml:"recommend"`
	File      string           `yaml:"-"`

	titles []*regexp.Regexp
}

// Match says which incidents a recipe applies to: any of the conditions (an empty match
// applies to every incident).
type Match struct {
	Tactics    []string `yaml:"tactics"`
	Techniques []string `yaml:"techniques"`
	// Titles are case-insensitive regular expressions over alert titles.
	Titles []string `yaml:"titles"`
	// Entities are entity kinds the incident must hold one of (host, user, ip, app).
	Entities []string `yaml:"entities"`
}

// Step is one tool call of a recipe, made once per entity of a kind (for_each) or once.
type Step struct {
	Tool    string         `yaml:"tool"`
	ForEach string         `yaml:"for_each"` // host, user, ip, app, alert, incident, "" (once)
	Args    map[string]any `yaml:"args"`
	// When makes the step conditional on earlier findings (branching).
	When *Condition `yaml:"when"`
	// Limit bounds how many entities a for_each step covers.
	Limit int `yaml:"limit"`
}

// Condition is a branch on findings made so far.
type Condition struct {
	// Finding holds when a finding of this name exists.
	Finding string `yaml:"finding"`
	// NotFinding holds when no finding of this name exists.
	NotFinding string `yaml:"not_finding"`
}

// Recommendation names actions for a verdict, optionally only when a finding exists.
type Recommendation struct {
	Verdict string   `yaml:"verdict"`
	Finding string   `yaml:"finding"`
	Actions []string `yaml:"actions"` // "revoke_sessions user", "contain_host host", ...
}

func (r *Recipe) compile() error {
	if r.Name == "" {
		return fmt.Errorf("recipe %s: name is required", r.File)
	}
	if len(r.Steps) == 0 {
		return fmt.Errorf("recipe %s: no steps", r.Name)
	}
	for _, t := range r.Match.Titles {
		re, err := regexp.Compile("(?i)" + t)
		if err != nil {
			return fmt.Errorf("recipe %s: title %q: %w", r.Name, t, err)
		}
		r.titles = append(r.titles, re)
	}
	for i, s := range r.Steps {
		if s.Tool == "" {
			return fmt.Errorf("recipe %s: step %d has no tool", r.Name, i+1)
		}
		switch s.ForEach {
		case "", "host", "user", "ip", "app", "alert", "incident":
		default:
			return fmt.Errorf("recipe %s: step %d: for_each %q (want host, user, ip, app, alert or incident)", r.Name, i+1, s.ForEach)
		}
	}
	return nil
}

// Applies reports whether the recipe matches the incident and its alerts.
func (r *Recipe) Applies(inc *event.Incident, alerts []event.Alert) bool {
	m := r.Match
	if len(m.Tactics) == 0 && len(m.Techniques) == 0 && len(r.titles) == 0 && len(m.Entities) == 0 {
		return true
	}
	for _, t := range inc.Tactics {
		if slices.Contains(m.Tactics, t) {
			return true
		}
	}
	for _, t := range inc.Techniques {
		for _, want := range m.Techniques {
			if t == want || strings.HasPrefix(t, want+".") {
				return true
			}
		}
	}
	for i := range alerts {
		for _, re := range r.titles {
			if re.MatchString(alerts[i].RuleTitle) {
				return true
			}
		}
	}
	for _, e := range inc.Entities {
		if slices.Contains(m.Entities, string(e.Kind)) {
			return true
		}
	}
	return false
}

// LoadRecipes returns the built-in recipes plus those in dirs (a user recipe replaces a
// built-in one of the same name). Errors name the file.
func LoadRecipes(dirs ...string) ([]*Recipe, error) {
	byName := map[string]*Recipe{}
	load := func(fsys fs.FS, root, prefix string) error {
		return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				return nil
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			var r Recipe
			dec := yaml.NewDecoder(strings.NewReader(string(b)))
			dec.KnownFields(true)
			if err := dec.Decode(&r); err != nil {
				return fmt.Errorf("recipe %s: %w", filepath.Join(prefix, p), err)
			}
			r.File = filepath.Join(prefix, p)
			if err := r.compile(); err != nil {
				return err
			}
			byName[r.Name] = &r
			return nil
		})
	}
	if err := load(builtinRecipes, "recipes", "builtin"); err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if err := load(os.DirFS(d), ".", d); err != nil {
			return nil, err
		}
	}
	out := make([]*Recipe, 0, len(byName))
	for _, r := range byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
