package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

func runIncidents(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return &exitError{code: 2, err: errors.New("usage: vigil incidents list|show|merge|split ...")}
	}
	switch args[0] {
	case "list":
		return incidentsList(ctx, e, args[1:])
	case "show":
		return incidentsShow(ctx, e, args[1:])
	case "merge":
		return incidentsMerge(ctx, e, args[1:])
	case "split":
		return incidentsSplit(ctx, e, args[1:])
	}
	return &exitError{code: 2, err: fmt.Errorf("unknown incidents command %q (want list, show, merge or split)", args[0])}
}

// incidentsMerge folds one incident into another: in the data directory, or through the
// running server's API when a server holds it.
func incidentsMerge(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("incidents merge", e)
	var c common
	c.register(fs, false)
	into := fs.String("into", "", "the incident to merge into")
	reason := fs.String("reason", "", "why (recorded in the audit trail)")
	analyst := fs.String("analyst", os.Getenv("USER"), "your name (recorded in the audit trail)")
	jsonOut := fs.Bool("json", false, "print the resulting incident as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *into == "" || *analyst == "" {
		return &exitError{code: 2, err: errors.New("usage: vigil incidents merge ID --into ID2 [--reason TEXT] [--analyst NAME] [--data DIR]")}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	id := pos[0]
	inc, err := localOrAPI(ctx, e, cfg, "/api/v1/incidents/"+url.PathEscape(id)+"/merge",
		map[string]string{"into": *into, "reason": *reason, "analyst": *analyst},
		func(a *app.App) (event.Incident, error) {
			return a.MergeIncidents(ctx, id, *into, "analyst:"+*analyst, *reason)
		})
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSON(e.stdout, inc)
	}
	fmt.Fprintf(e.stdout, "merged %s into %s: %d alerts, hosts %s, users %s\n", id, inc.ID, inc.AlertCount, short(inc.Hosts), short(inc.Users))
	return nil
}

// incidentsSplit moves alerts out of an incident into a new one: in the data directory, or
// through the running server's API when a server holds it.
func incidentsSplit(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("incidents split", e)
	var c common
	c.register(fs, false)
	alerts := fs.String("alerts", "", "comma-separated IDs of the alerts to move to a new incident")
	reason := fs.String("reason", "", "why (recorded in the audit trail)")
	analyst := fs.String("analyst", os.Getenv("USER"), "your name (recorded in the audit trail)")
	jsonOut := fs.Bool("json", false, "print the new incident as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var ids []string
	for _, x := range strings.Split(*alerts, ",") {
		if x = strings.TrimSpace(x); x != "" {
			ids = append(ids, x)
		}
	}
	if len(pos) != 1 || len(ids) == 0 || *analyst == "" {
		return &exitError{code: 2, err: errors.New("usage: vigil incidents split ID --alerts A1,A2 [--reason TEXT] [--analyst NAME] [--data DIR]")}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	id := pos[0]
	inc, err := localOrAPI(ctx, e, cfg, "/api/v1/incidents/"+url.PathEscape(id)+"/split",
		map[string]any{"alerts": ids, "reason": *reason, "analyst": *analyst},
		func(a *app.App) (event.Incident, error) {
			return a.SplitIncident(ctx, id, ids, "analyst:"+*analyst, *reason)
		})
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSON(e.stdout, inc)
	}
	fmt.Fprintf(e.stdout, "split %d alerts of %s into %s: hosts %s, users %s\n", inc.AlertCount, id, inc.ID, short(inc.Hosts), short(inc.Users))
	return nil
}

func incidentsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("incidents list", e)
	var c common
	c.register(fs, false)
	asJSON := fs.Bool("json", false, "print a JSON array")
	status := fs.String("status", "", "only incidents with this status")
	limit := fs.Int("limit", 1000, "most incidents to list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	incs, err := st.ListIncidents(ctx, store.IncidentQuery{Status: *status, Limit: *limit})
	if err != nil {
		return err
	}
	rows := make([]api.IncidentSummary, len(incs))
	for i := range incs {
		rows[i] = api.Summarize(&incs[i])
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSEVERITY\tALERTS\tSTEPS\tHOSTS\tUSERS\tVERDICT\tTITLE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Severity, r.Alerts, r.Steps, short(r.Hosts), short(r.Users), r.Verdict, r.Title)
	}
	return tw.Flush()
}

func short(xs []string) string {
	if len(xs) > 3 {
		return strings.Join(xs[:3], ",") + fmt.Sprintf(",+%d", len(xs)-3)
	}
	return strings.Join(xs, ",")
}

func incidentsShow(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("incidents show", e)
	var c common
	c.register(fs, false)
	format := fs.String("format", "text", "text (timeline), json, dot or mermaid (the attack graph)")
	// Accept the ID before or after the flags.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if id == "" {
		return &exitError{code: 2, err: errors.New("usage: vigil incidents show ID [--data DIR] [--format text|json|dot|mermaid]")}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		return err
	}
	d, err := api.Detail(ctx, st, inc, api.DetailOptions{})
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	case "dot":
		writeDOT(e.stdout, &d)
		return nil
	case "mermaid":
		writeMermaid(e.stdout, &d)
		return nil
	case "text":
		writeTimeline(e.stdout, &d)
		return nil
	}
	return &exitError{code: 2, err: fmt.Errorf("--format %q: want text, json, dot or mermaid", *format)}
}

func writeTimeline(w io.Writer, d *api.IncidentDetail) {
	fmt.Fprintf(w, "%s  %s\n", d.ID, d.Title)
	fmt.Fprintf(w, "status %s, severity %s, score %.2f, %d alerts, %s .. %s\n", d.Status, d.Severity, d.Score, d.AlertCount,
		d.FirstSeen.UTC().Format(time.RFC3339), d.LastSeen.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "hosts: %s\nusers: %s\ntactics: %s\n", strings.Join(d.Hosts, ", "), strings.Join(d.Users, ", "), strings.Join(d.Tactics, ", "))
	if d.Report.Verdict != "" {
		fmt.Fprintf(w, "verdict: %s (confidence %.2f)\n%s\n", d.Report.Verdict, d.Report.Confidence, d.Report.Summary)
	}
	fmt.Fprintln(w, "\nattack chain:")
	if len(d.Chain.Steps) == 0 {
		fmt.Fprintln(w, "  (no chain yet)")
	}
	for _, s := range d.Chain.Steps {
		tech := strings.TrimSpace(s.Tactic + " " + s.Technique)
		fmt.Fprintf(w, "  %2d. %s  %-24s %-18s %-28s %s\n", s.Index, s.Time.UTC().Format("2006-01-02 15:04:05"), s.Host, s.User, tech, s.Title)
		if s.Link != "" {
			fmt.Fprintf(w, "      ↳ %s\n", s.Link)
		}
	}
	if len(d.Chain.Blast) > 0 {
		fmt.Fprintln(w, "\nblast radius:")
		for _, b := range d.Chain.Blast {
			state := "seen"
			if b.Active {
				state = "active"
			}
			fmt.Fprintf(w, "  %-10s %-40s %s (last %s)\n", b.Entity.Kind, b.Entity.Value, state, b.LastSeen.UTC().Format("15:04:05"))
		}
	}
}

func nodeID(key string) string {
	r := strings.NewReplacer(":", "_", ".", "_", "\\", "_", "-", "_", "@", "_at_", " ", "_", "/", "_", "%", "_", "$", "_", "{", "_", "}", "_")
	return "n_" + r.Replace(key)
}

func chainEdges(d *api.IncidentDetail) []event.ChainEdge {
	return d.Chain.Edges
}

func writeDOT(w io.Writer, d *api.IncidentDetail) {
	fmt.Fprintf(w, "digraph %q {\n  rankdir=LR;\n  label=%q;\n", d.ID, d.Title)
	nodes := map[string]bool{}
	for _, e := range chainEdges(d) {
		for _, n := range []string{e.From, e.To} {
			if !nodes[n] {
				nodes[n] = true
				fmt.Fprintf(w, "  %s [label=%q];\n", nodeID(n), n)
			}
		}
		fmt.Fprintf(w, "  %s -> %s [label=%q];\n", nodeID(e.From), nodeID(e.To), e.Kind+" "+e.Time.UTC().Format("15:04:05"))
	}
	fmt.Fprintln(w, "}")
}

func writeMermaid(w io.Writer, d *api.IncidentDetail) {
	fmt.Fprintln(w, "flowchart LR")
	nodes := map[string]bool{}
	for _, e := range chainEdges(d) {
		for _, n := range []string{e.From, e.To} {
			if !nodes[n] {
				nodes[n] = true
				fmt.Fprintf(w, "  %s[\"%s\"]\n", nodeID(n), strings.ReplaceAll(n, `"`, "'"))
			}
		}
		fmt.Fprintf(w, "  %s -->|%s| %s\n", nodeID(e.From), e.Kind, nodeID(e.To))
	}
}
