package sigma

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// RecordSeq yields the records of one sample file in order. A yielded Record is only valid
// until the next iteration step; an error ends the sample.
type RecordSeq = iter.Seq2[*Record, error]

// Opener opens a regression sample (the path of an .evtx file as info.yml names it, resolved
// against the regression directory) as a sequence of records. It lets the regression runner
// stay independent of any particular EVTX parser.
type Opener func(path string) (RecordSeq, error)

// RegressionReport is the result of RunRegression, in the shape `vigil rules test --json`
// prints.
type RegressionReport struct {
	Total  int                 `json:"total"`
	Passed int                 `json:"passed"`
	Failed []RegressionFailure `json:"failed"`
}

// RegressionFailure is one failed regression test.
type RegressionFailure struct {
	RuleID   string `json:"rule_id"`
	File     string `json:"file"`               // the sample, as named in info.yml
	Expected int    `json:"expected"`           // match_count, or 1 when absent (then: at least 1)
	Got      int    `json:"got"`                // events of the sample the rule matched
	AtLeast  bool   `json:"at_least,omitempty"` // match_count was absent
	RuleFile string `json:"rule_file,omitempty"`
	Error    string `json:"error,omitempty"`
}

// RegressionOptions tunes RunRegression.
type RegressionOptions struct {
	// AtLeast passes a test when at least match_count events match (SigmaHQ's reading)
	// instead of exactly match_count.
	AtLeast bool
}

type regressionInfo struct {
	RuleMetadata []struct {
		ID    string `yaml:"id"`
		Title string `yaml:"title"`
	} `yaml:"rule_metadata"`
	Tests []struct {
		Name       string `yaml:"name"`
		Type       string `yaml:"type"`
		Path       string `yaml:"path"`
		MatchCount *int   `yaml:"match_count"`
	} `yaml:"regression_tests_info"`
}

// RunRegression runs SigmaHQ-style regression tests: for every info.yml under dir and every
// `regression_tests_info` entry of type evtx, it counts the events of the sample that the rule
// named by `rule_metadata[].id` matches, and compares the count with `match_count` (exact), or
// requires at least one match when match_count is absent. Samples are opened with open.
//
// SigmaHQ's own runner fails a test only when fewer events match; set opts.AtLeast for that
// reading. By default the count must equal match_count exactly.
func RunRegression(ctx context.Context, eng *Engine, dir string, open Opener, opts RegressionOptions) (RegressionReport, error) {
	rep := RegressionReport{Failed: []RegressionFailure{}}
	var infos []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "info.yml" {
			infos = append(infos, p)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("walk regression directory %q: %w", dir, err)
	}
	sort.Strings(infos)
	rules := map[string]*Rule{}
	for _, r := range eng.Rules() {
		if r.ID != "" {
			rules[r.ID] = r
		}
	}
	m := eng.NewMatcher()
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		data, err := os.ReadFile(info)
		if err != nil {
			return rep, fmt.Errorf("read %q: %w", info, err)
		}
		var ri regressionInfo
		if err := yaml.Unmarshal(data, &ri); err != nil {
			rep.Total++
			rep.Failed = append(rep.Failed, RegressionFailure{File: info, Error: "invalid info.yml: " + err.Error()})
			continue
		}
		for _, t := range ri.Tests {
			if t.Type != "evtx" {
				continue
			}
			for _, md := range ri.RuleMetadata {
				rep.Total++
				f := RegressionFailure{RuleID: md.ID, File: t.Path, Expected: 1, AtLeast: true}
				if t.MatchCount != nil {
					f.Expected, f.AtLeast = *t.MatchCount, false
				}
				rule := rules[md.ID]
				if rule == nil {
					f.Error = "rule not loaded"
					rep.Failed = append(rep.Failed, f)
					continue
				}
				f.RuleFile = rule.File
				got, err := countMatches(m, rule, resolveSample(dir, info, t.Path), open)
				f.Got = got
				if err != nil {
					f.Error = err.Error()
					rep.Failed = append(rep.Failed, f)
					continue
				}
				if got == f.Expected || (got > f.Expected && (f.AtLeast || opts.AtLeast)) {
					rep.Passed++
					continue
				}
				rep.Failed = append(rep.Failed, f)
			}
		}
	}
	return rep, nil
}

func countMatches(m *Matcher, rule *Rule, path string, open Opener) (int, error) {
	seq, err := open(path)
	if err != nil {
		return 0, fmt.Errorf("open sample: %w", err)
	}
	n := 0
	for rec, err := range seq {
		if err != nil {
			return n, fmt.Errorf("read sample: %w", err)
		}
		for _, hit := range m.Match(rec) {
			if hit.Rule == rule {
				n++
				break
			}
		}
	}
	return n, nil
}

// resolveSample finds the file a sample path of info.yml names. SigmaHQ writes these paths
// relative to the repository root ("regression_data/rules/..."); dir is usually that
// regression_data folder.
func resolveSample(dir, info, p string) string {
	p = filepath.FromSlash(p)
	cands := []string{
		filepath.Join(filepath.Dir(dir), p),
		filepath.Join(dir, p),
	}
	if rest, ok := strings.CutPrefix(filepath.ToSlash(p), "regression_data/"); ok {
		cands = append(cands, filepath.Join(dir, filepath.FromSlash(rest)))
	}
	cands = append(cands, filepath.Join(filepath.Dir(info), filepath.Base(p)))
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[len(cands)-1]
}

// CheckReport is the result of CheckRules, in the shape `vigil rules check --json` prints.
type CheckReport struct {
	Total  int          `json:"total"`
	Loaded int          `json:"loaded"`
	Errors []CheckError `json:"errors"`
	Stats  *EngineStats `json:"stats,omitempty"`
	rules  *RuleSet
	engine *Engine
}

// CheckError is one refused rule document.
type CheckError struct {
	File  string `json:"file"`
	Error string `json:"error"`
	// Unsupported is set when the rule is valid Sigma that this engine cannot run.
	Unsupported bool `json:"unsupported,omitempty"`
	// Unreadable is set when File is a whole rules folder (or file) that cannot be read; it
	// does not count in the report's total.
	Unreadable bool `json:"unreadable,omitempty"`
}

// CheckRules loads every rule under dirs, as one rule set (a correlation may reference a rule
// in another folder), and builds an engine from them, reporting every rule document that was
// refused at either step. Total counts rule documents (and unreadable files).
func CheckRules(dirs []string, lopts LoadOptions, eopts EngineOptions) CheckReport {
	src := make([]Source, len(dirs))
	for i, d := range dirs {
		src[i] = DirSource(d)
	}
	rs, refusals := LoadSources(src, lopts)
	eng, more := NewEngine(rs, eopts)
	refusals = append(refusals, more...)
	loaded := len(rs.Rules) + len(rs.Correlations) + len(rs.Filters) - len(more)
	rep := CheckReport{Total: loaded, Loaded: loaded, Errors: []CheckError{}, rules: rs, engine: eng}
	st := eng.Stats()
	rep.Stats = &st
	for _, r := range refusals {
		ce := CheckError{File: r.File, Error: r.Error, Unsupported: errors.Is(r.Err, ErrUnsupported), Unreadable: errors.Is(r.Err, ErrUnreadableSource)}
		if !ce.Unreadable {
			rep.Total++
		}
		rep.Errors = append(rep.Errors, ce)
	}
	return rep
}

// RuleSet returns the rules CheckRules loaded.
func (c CheckReport) RuleSet() *RuleSet { return c.rules }

// Engine returns the engine CheckRules built.
func (c CheckReport) Engine() *Engine { return c.engine }
