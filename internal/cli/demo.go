package cli

import (
	"slices"

	"context"
	"encoding/json"
	"fmt"
	"github.com/vigil-soc/vigil/internal/ask"
	"github.com/vigil-soc/vigil/internal/query"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/event"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("demo", e)
	var c common
	c.register(fs, true)
	scenario := fs.String("scenario", "", "scenario to play: "+strings.Join(demo.Scenarios, ", ")+" (default: all)")
	asJSON := fs.Bool("json", false, "print one JSON object per incident")
	injected := fs.Bool("injected", false, "play the variants whose attacker-controlled fields carry instructions to an AI")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if c.data == "" && c.config == "" {
		dir, err := os.MkdirTemp("", "vigil-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	if c.logLvl == "" {
		cfg.Log.Level = "warn"
	}
	var scen []string
	if *scenario != "" {
		scen = []string{*scenario}
	}
	now := time.Now().UTC()
	stop, err := app.PrepareDemo(&cfg, now, scen)
	if err != nil {
		return err
	}
	defer stop()
	a, err := app.Open(ctx, cfg, newLogger(e.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.RunDemo(ctx, app.DemoOptions{Scenarios: scen, Now: now, Injected: *injected})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, inc := range rep.Incidents {
			if err := enc.Encode(inc); err != nil {
				return err
			}
		}
	} else {
		printDemo(e.stdout, rep, cfg.DataDir, c.data != "")
		printDemoAsks(ctx, e.stdout, a, rep)
		printDemoEnd(e.stdout, rep, cfg.DataDir, c.data != "")
	}
	if !rep.Audit.OK {
		return &exitError{code: 1, err: fmt.Errorf("audit verify failed: %s", rep.Audit.String())}
	}
	return nil
}

func printDemo(w io.Writer, rep app.DemoReport, dir string, kept bool) {
	fmt.Fprintf(w, "vigil demo: Example Corp, a normal working day and %d attack scenarios (%s)\n\n", len(rep.Scenarios), strings.Join(rep.Scenarios, ", "))
	fmt.Fprintf(w, "ingest      %d records sent (%d of them by the attacker) in the sources' own formats\n", rep.Records, rep.Malicious)
	kinds := make([]string, 0, len(rep.ByKind))
	for k := range rep.ByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, rep.ByKind[k]))
	}
	fmt.Fprintf(w, "normalize   %d events stored, %d dead letters: %s\n", rep.Events, rep.DeadLetters, strings.Join(parts, ", "))
	fmt.Fprintf(w, "detect      %d alerts\n", rep.Alerts)
	fmt.Fprintf(w, "correlate   %d incidents\n", len(rep.Incidents))
	for _, name := range rep.Scenarios {
		fmt.Fprintf(w, "\n== attack: %s\n", name)
		for _, s := range rep.Steps {
			if s.Scenario != name {
				continue
			}
			who := s.User
			if s.Src != "" {
				who += " from " + s.Src
			}
			fmt.Fprintf(w, "  %s  %-16s %-22.22s %-28s %-26s %s\n", s.Time.Format("15:04:05"), s.Kind, s.Code, s.Host, who, s.Step)
		}
		for _, inc := range rep.Incidents {
			if inc.Scenario == name {
				printIncidentStory(w, inc)
			}
		}
	}
	var other []app.DemoIncident
	for _, inc := range rep.Incidents {
		if inc.Scenario == "" {
			other = append(other, inc)
		}
	}
	if len(other) > 0 {
		fmt.Fprintf(w, "\n== incidents from the normal day (%d)\n", len(other))
		for _, inc := range other {
			printIncidentStory(w, inc)
		}
	}
}

func printDemoEnd(w io.Writer, rep app.DemoReport, dir string, kept bool) {
	fmt.Fprintf(w, "\naudit verify: %s\n", rep.Audit.String())
	fmt.Fprintf(w, "done in %.1fs", rep.Elapsed.Seconds())
	if kept {
		fmt.Fprintf(w, "; the data stays in %s: run 'vigil serve --data %s' to explore it through the API", dir, dir)
	}
	fmt.Fprintln(w)
}

// demoQuestions are asked after the demo's attacks, per scenario (empty: always).
var demoQuestions = []struct{ scenario, question string }{
	{"password-spray", "sign-ins from new countries in the last 6 hours"},
	{"ransomware", "processes spawned by winword.exe"},
	{"", "how many alerts per rule in the last 6 hours"},
}

// printDemoAsks asks a few questions in plain English of the demo's stored events and alerts,
// showing the query each compiles to, as a junior analyst would see them.
func printDemoAsks(ctx context.Context, w io.Writer, a *app.App, rep app.DemoReport) {
	fmt.Fprintf(w, "\n== ask in plain English (vigil ask \"...\"; the query is shown)\n")
	for _, dq := range demoQuestions {
		if dq.scenario != "" && !slices.Contains(rep.Scenarios, dq.scenario) {
			continue
		}
		tr, err := ask.Compile(dq.question, time.Now().UTC())
		if err != nil {
			continue
		}
		q, err := query.Parse(tr.Query)
		if err != nil {
			continue
		}
		res, err := query.Run(ctx, query.WithAlerts(a.Store, a.Store), q, query.Options{Now: time.Now().UTC()})
		if err != nil {
			fmt.Fprintf(w, "  %s: %v\n", dq.question, err)
			continue
		}
		fmt.Fprintf(w, "  %q\n    query  %s\n", dq.question, tr.Query)
		switch {
		case len(res.Columns) > 0:
			for i, r := range res.Rows {
				if i == 4 {
					fmt.Fprintf(w, "    ... %d more rows\n", len(res.Rows)-4)
					break
				}
				fmt.Fprintf(w, "    %s\n", strings.Join(r, "  "))
			}
		case len(res.Events) == 0:
			fmt.Fprintf(w, "    no events\n")
		default:
			for i := range res.Events {
				if i == 4 {
					fmt.Fprintf(w, "    ... %d more events\n", len(res.Events)-4)
					break
				}
				ev := &res.Events[i]
				fmt.Fprintf(w, "    %s  %-16s %-22s %-20s %s\n", ev.Time.Format("15:04:05"), ev.Kind, hostOf(ev), userOf(ev)+" "+sourceOf(ev), clip(whatOf(ev), 70))
			}
		}
	}
}

// printIncidentStory prints one incident: detection, triage reasoning, investigation, verdict,
// actions and time to containment.
func printIncidentStory(w io.Writer, inc app.DemoIncident) {
	fmt.Fprintf(w, "\n  incident %s: %s\n", inc.ID, inc.Title)
	rules := map[string]int{}
	var order []string
	for _, al := range inc.Alerts {
		if rules[al.RuleTitle] == 0 {
			order = append(order, al.RuleTitle)
		}
		rules[al.RuleTitle]++
	}
	fmt.Fprintf(w, "    detection   %d alerts:", len(inc.Alerts))
	for i, r := range order {
		if i == 6 {
			fmt.Fprintf(w, " and %d more", len(order)-6)
			break
		}
		fmt.Fprintf(w, " %s (%d);", r, rules[r])
	}
	fmt.Fprintln(w)
	if best := strongest(inc); best != nil && best.Triage != nil {
		t := best.Triage
		fmt.Fprintf(w, "    triage      score %.2f (%s) on %q because:", t.Score, t.Disposition, best.RuleTitle)
		ex := append([]event.Contribution(nil), t.Explanation...)
		sort.Slice(ex, func(i, j int) bool { return abs(ex[i].Weight*ex[i].Value) > abs(ex[j].Weight*ex[j].Value) })
		for i, c := range ex {
			if i == 4 {
				break
			}
			fmt.Fprintf(w, " %s %+.2f;", c.Feature, c.Weight*c.Value)
		}
		fmt.Fprintln(w)
	}
	rep := inc.Report
	fmt.Fprintf(w, "    investigate %d steps, %d evidence items (planner: %s)\n", len(rep.Steps), len(rep.Evidence), rep.Planner)
	for i, st := range rep.Steps {
		if i == 8 {
			fmt.Fprintf(w, "      ... %d more steps\n", len(rep.Steps)-8)
			break
		}
		fmt.Fprintf(w, "      - %s [%s]\n", st.Text, strings.Join(firstN(st.Evidence, 3), ", "))
	}
	fmt.Fprintf(w, "    verdict     %s, confidence %.2f\n", rep.Verdict, rep.Confidence)
	if rep.Summary != "" {
		fmt.Fprintf(w, "    summary     %s\n", rep.Summary)
	}
	for _, act := range inc.Actions {
		fmt.Fprintf(w, "    action      %-18s %-34s %-16s policy %s", act.Name, act.Target, act.Status, act.PolicyRule)
		switch act.Status {
		case event.ActionCompleted:
			fmt.Fprintf(w, "; verified: %s", act.Verification)
		case event.ActionPending:
			fmt.Fprintf(w, "; approve with: vigil approve %s --analyst NAME", act.ID)
		case event.ActionEscalated, event.ActionFailed:
			fmt.Fprintf(w, "; %s", act.LastError)
		}
		fmt.Fprintln(w)
	}
	if inc.ContainmentSeconds != nil {
		fmt.Fprintf(w, "    contained   %.2fs after the first malicious event reached vigil\n", *inc.ContainmentSeconds)
	} else if len(inc.Actions) > 0 {
		fmt.Fprintln(w, "    contained   not yet: the actions await a human")
	}
}

func strongest(inc app.DemoIncident) *event.Alert {
	var best *event.Alert
	for i := range inc.Alerts {
		al := &inc.Alerts[i]
		if al.Triage == nil {
			continue
		}
		if best == nil || al.Triage.Score > best.Triage.Score {
			best = al
		}
	}
	return best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], fmt.Sprintf("+%d", len(xs)-n))
	}
	return xs
}
