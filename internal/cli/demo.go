package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/demo"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("demo", e)
	var c common
	c.register(fs, true)
	scenario := fs.String("scenario", "", "scenario to play: "+strings.Join(demo.Scenarios, ", ")+" (default: all)")
	asJSON := fs.Bool("json", false, "print one JSON object per incident")
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
	a, err := app.Open(ctx, cfg, newLogger(e.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.RunDemo(ctx, app.DemoOptions{Scenarios: scen})
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
		return nil
	}
	printDemo(e.stdout, rep, cfg.DataDir, c.data != "")
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
	fmt.Fprintf(w, "correlate   %d incidents\n\n", len(rep.Incidents))
	cur := ""
	for _, s := range rep.Steps {
		if s.Scenario != cur {
			cur = s.Scenario
			fmt.Fprintf(w, "attack: %s\n", cur)
		}
		who := s.User
		if s.Src != "" {
			who += " from " + s.Src
		}
		fmt.Fprintf(w, "  %s  %-16s %-18s %-22.22s %-28s %-26s %s\n", s.Time.Format("15:04:05"), s.Kind, s.Class, s.Code, s.Host, who, s.Step)
	}
	fmt.Fprintf(w, "\ndone in %.1fs", rep.Elapsed.Seconds())
	if kept {
		fmt.Fprintf(w, "; the data stays in %s: run 'vigil serve --data %s' to explore it through the API", dir, dir)
	}
	fmt.Fprintln(w)
}
