package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/query"
)

// runHunt runs a hunting query over the stored events: vigil hunt 'class = authentication ...'.
func runHunt(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("hunt", e)
	var c common
	c.register(fs, false)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fields := fs.Bool("fields", false, "list the fields queries can use, and exit")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *fields {
		return printFields(e)
	}
	text := strings.Join(pos, " ")
	if strings.TrimSpace(text) == "" {
		return &exitError{code: 2, err: errors.New(`usage: vigil hunt [--data DIR] [--json] QUERY   (e.g. 'class = authentication status = failure | since 24h | count by user'; --fields lists the fields)`)}
	}
	q, err := query.Parse(text)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	res, err := runQuery(ctx, cfg, q)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "query: %s\n\n", res.Query)
	return printResult(e, res)
}

// runAsk compiles a question in plain English into a query, shows it, and runs it.
func runAsk(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("ask", e)
	var c common
	c.register(fs, false)
	asJSON := fs.Bool("json", false, "print the question, the query, the notes and the result as JSON")
	only := fs.Bool("query-only", false, "show the query without running it")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	question := strings.Join(pos, " ")
	if strings.TrimSpace(question) == "" {
		return &exitError{code: 2, err: errors.New(`usage: vigil ask [--data DIR] [--json] [--query-only] QUESTION   (e.g. "failed logins for alice from new countries this week")`)}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	tr, err := app.NewTranslator(cfg, newLogger(e.stderr, cfg.Log))
	if err != nil {
		return err
	}
	t, err := tr.Translate(ctx, question)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	ans := api.Answer{Translation: t}
	if !*only {
		q, err := query.Parse(t.Query)
		if err != nil {
			return err
		}
		if ans.Result, err = runQuery(ctx, cfg, q); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(ans)
	}
	fmt.Fprintf(e.stdout, "query: %s\n", t.Query)
	for _, n := range t.Notes {
		fmt.Fprintf(e.stdout, "  %s\n", n)
	}
	if ans.Result == nil {
		return nil
	}
	fmt.Fprintln(e.stdout)
	return printResult(e, ans.Result)
}

// runQuery runs q over the data directory's events and alerts.
func runQuery(ctx context.Context, cfg config.Config, q *query.Query) (*query.Result, error) {
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return query.Run(ctx, query.WithAlerts(st, st), q, query.Options{Now: time.Now().UTC()})
}

func printFields(e *env) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tALIAS\tMEANING")
	for _, f := range query.Fields() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, f.Alias, f.Doc)
	}
	return tw.Flush()
}

// printResult prints a query's rows (count) or events as a table.
func printResult(e *env, res *query.Result) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	switch {
	case len(res.Columns) > 0:
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(res.Columns, "\t")))
		for _, r := range res.Rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
	case len(res.Events) == 0:
		fmt.Fprintln(tw, "no events")
	default:
		fmt.Fprintln(tw, "TIME\tCLASS\tSTATUS\tHOST\tUSER\tSOURCE\tWHAT\tID")
		for i := range res.Events {
			ev := &res.Events[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(time.RFC3339), ev.Class, ev.Status,
				hostOf(ev), userOf(ev), sourceOf(ev), clip(whatOf(ev), 60), ev.ID)
		}
	}
	if res.Truncated {
		fmt.Fprintln(tw, "(more matched: narrow the query or raise its limit)")
	}
	return tw.Flush()
}

func hostOf(ev *event.Event) string {
	if ev.Device != nil {
		return ev.Device.Hostname
	}
	return ""
}

func userOf(ev *event.Event) string {
	if ev.User == nil {
		return ""
	}
	if ev.User.Domain != "" && ev.User.Name != "" {
		return ev.User.Domain + `\` + ev.User.Name
	}
	return ev.User.Name
}

func sourceOf(ev *event.Event) string {
	if ev.Src == nil {
		return ""
	}
	s := ev.Src.IP
	if ev.Src.Country != "" {
		s += " (" + ev.Src.Country + ")"
	}
	return s
}

// whatOf is the event's most telling detail: a command line, a DNS query, a URL, a message.
func whatOf(ev *event.Event) string {
	switch {
	case ev.Process != nil && ev.Process.CommandLine != "":
		return ev.Process.CommandLine
	case ev.DNS != nil && ev.DNS.Query != "":
		return ev.DNS.Query
	case ev.HTTP != nil && ev.HTTP.URL != "":
		return ev.HTTP.URL
	case ev.Finding != nil && ev.Finding.Title != "":
		return ev.Finding.Title
	}
	return ev.Message
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
