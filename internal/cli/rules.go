package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"

	"github.com/vigil-soc/vigil/internal/evtx"
	"github.com/vigil-soc/vigil/internal/sigma"
)

func runRules(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return &exitError{code: 2, err: errors.New("usage: vigil rules check|test ...")}
	}
	switch args[0] {
	case "check":
		return rulesCheck(e, args[1:])
	case "test":
		return rulesTest(ctx, e, args[1:])
	}
	return &exitError{code: 2, err: fmt.Errorf("unknown rules command %q (want check or test)", args[0])}
}

func rulesCheck(e *env, args []string) error {
	fs := newFlagSet("rules check", e)
	var dirs multiFlag
	fs.Var(&dirs, "rules", "folder of Sigma rules (repeatable: the folders load as one rule set)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(dirs) == 0 {
		return &exitError{code: 2, err: errors.New("usage: vigil rules check --rules DIR [--rules DIR...] --json")}
	}
	rep := sigma.CheckRules(dirs, sigma.LoadOptions{}, sigma.EngineOptions{})
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		for _, x := range rep.Errors {
			fmt.Fprintf(e.stdout, "%s: %s\n", x.File, x.Error)
		}
		fmt.Fprintf(e.stdout, "%d of %d rules loaded (%.2f%%)\n", rep.Loaded, rep.Total, 100*float64(rep.Loaded)/float64(max(rep.Total, 1)))
	}
	for _, x := range rep.Errors {
		if x.Unreadable {
			return &exitError{code: 2, err: fmt.Errorf("%s: %s", x.File, x.Error)}
		}
	}
	return nil
}

// loadRules loads the rule folders (or files) as one rule set, failing (exit 2) when one
// cannot be read at all, or when none of their rules loads: a mistyped path must not pass
// for a clean result. With allowEmpty, folders that hold no rule file at all (nothing
// refused either) give an empty rule set instead.
func loadRules(dirs []string, allowEmpty bool) (*sigma.RuleSet, []sigma.Refusal, error) {
	var sources []sigma.Source
	for _, d := range dirs {
		sources = append(sources, sigma.DirSource(d))
	}
	rs, refusals := sigma.LoadSources(sources, sigma.LoadOptions{})
	for _, r := range refusals {
		if errors.Is(r.Err, sigma.ErrUnreadableSource) {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("%s: %s", r.File, r.Error)}
		}
	}
	if rs.Empty() && !(allowEmpty && len(refusals) == 0) {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("no rule loaded from %s (%d refused)", strings.Join(dirs, ", "), len(refusals))}
	}
	return rs, refusals, nil
}

func rulesTest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("rules test", e)
	var dirs multiFlag
	fs.Var(&dirs, "rules", "folder of Sigma rules (repeatable)")
	reg := fs.String("regression", "", "folder of SigmaHQ regression tests (info.yml beside each sample)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	atLeast := fs.Bool("at-least", false, "pass a test when at least match_count events match (SigmaHQ's own reading)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(dirs) == 0 || *reg == "" {
		return &exitError{code: 2, err: errors.New("usage: vigil rules test --rules DIR --regression DIR --json")}
	}
	rs, _, err := loadRules(dirs, false)
	if err != nil {
		return err
	}
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	rep, err := sigma.RunRegression(ctx, eng, *reg, openEVTXRecords, sigma.RegressionOptions{AtLeast: *atLeast})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(rep)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(e.stdout, "FAIL %s %s: expected %d, got %d %s\n", f.RuleID, f.File, f.Expected, f.Got, f.Error)
	}
	fmt.Fprintf(e.stdout, "%d of %d regression tests passed\n", rep.Passed, rep.Total)
	return nil
}

// openEVTXRecords opens an EVTX sample as Sigma records, straight from the parser's fields.
func openEVTXRecords(path string) (sigma.RecordSeq, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rd, err := evtx.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return iter.Seq2[*sigma.Record, error](func(yield func(*sigma.Record, error) bool) {
		defer f.Close()
		var rec sigma.Record
		add := func(n, v string) { rec.Add(n, v) }
		for {
			r, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			rec.Reset()
			r.Fields(add)
			if !yield(&rec, nil) {
				return
			}
		}
	}), nil
}
