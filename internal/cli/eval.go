package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/app"
)

func runEval(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "triage" {
		return &exitError{code: 2, err: errors.New("usage: vigil eval triage --input FILE [--format ait-ads] [--feedback-budget F] [--decisions OUT] --json")}
	}
	fs := newFlagSet("eval triage", e)
	input := fs.String("input", "", "labelled alert file (the AIT-ADS CSV, .gz allowed)")
	format := fs.String("format", "ait-ads", "input format")
	budget := fs.Float64("feedback-budget", 0, "share of surfaced incidents a simulated analyst labels (0: labels are never read during the replay)")
	decisions := fs.String("decisions", "", "write one JSON line per input alert here, in input order")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	explain := fs.Bool("explain", false, "add each decision's reason to the decisions file")
	var sets multiFlag
	fs.Var(&sets, "set", "override a model coefficient or a window for experiments: coef.FEATURE=X, window.NAME=DURATION, threshold=P (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *input == "" {
		return &exitError{code: 2, err: errors.New("usage: vigil eval triage --input FILE [--format ait-ads] [--feedback-budget F] [--decisions OUT] --json")}
	}
	if *budget < 0 || *budget > 1 {
		return &exitError{code: 2, err: fmt.Errorf("--feedback-budget %v: want a share between 0 and 1", *budget)}
	}
	opt := app.EvalOptions{Input: *input, Format: *format, FeedbackBudget: *budget, Explain: *explain}
	if err := applySets(&opt, sets); err != nil {
		return &exitError{code: 2, err: err}
	}
	if *decisions != "" {
		f, err := os.Create(*decisions)
		if err != nil {
			return err
		}
		defer f.Close()
		opt.Decisions = f
	}
	rep, err := app.EvalTriage(ctx, opt)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(e.stdout, "%d alerts in %.1fs (%.0f/s): %v; %d surfaced incidents\n", rep.Alerts, rep.Seconds, rep.AlertsPerSec, rep.Dispositions, rep.Incidents)
	if ev := rep.Evaluation; ev != nil {
		fmt.Fprintf(e.stdout, "phases kept %d/%d (lost %v); false-positive-only incidents %d (%.2f%% of %d naive groups); incidents with attack alerts %d\n",
			ev.PhasesKept, ev.Phases, ev.PhasesLost, ev.FPOnlyIncidents, 100*ev.FPOnlyShare, ev.NaiveGroups, ev.AttackIncidents)
	}
	return nil
}

func applySets(opt *app.EvalOptions, sets []string) error {
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("--set %q: want key=value", s)
		}
		switch {
		case strings.HasPrefix(k, "coef."):
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("--set %s: %w", k, err)
			}
			if opt.Triage.Coef == nil {
				opt.Triage.Coef = map[string]float64{}
			}
			opt.Triage.Coef[strings.TrimPrefix(k, "coef.")] = f
		case k == "threshold":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("--set %s: %w", k, err)
			}
			opt.Triage.Threshold = f
		case k == "context_min_score":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("--set %s: %w", k, err)
			}
			opt.Correl.ContextMinScore = f
		case strings.HasPrefix(k, "window."):
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("--set %s: %w", k, err)
			}
			switch strings.TrimPrefix(k, "window.") {
			case "share":
				opt.Correl.ShareWindow = d
			case "campaign":
				opt.Correl.CampaignWindow = d
			case "context":
				opt.Correl.ContextWindow = d
			case "lookback":
				opt.Correl.Lookback = d
			case "halo":
				opt.Correl.Halo = d
			case "span":
				opt.Correl.CampaignSpan = d
			case "warmup":
				opt.Triage.Warmup = d
			case "halflife":
				opt.Triage.HalfLife = d
			case "dormancy":
				opt.Triage.Dormancy = d
			case "dedup":
				opt.Triage.DedupWindow = d
			default:
				return fmt.Errorf("--set %s: unknown window", k)
			}
		default:
			return fmt.Errorf("--set %s: unknown key", k)
		}
	}
	return nil
}
