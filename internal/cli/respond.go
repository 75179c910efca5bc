package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/event"
)

// parseInterspersed parses flags that may come before or after positional arguments
// ("vigil approve ID --analyst bob") and returns the positional ones. An argument "--" ends
// the flags: what follows is all positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runApprove(ctx context.Context, e *env, args []string) error {
	return actionCommand(ctx, e, "approve", args)
}

func runDeny(ctx context.Context, e *env, args []string) error {
	return actionCommand(ctx, e, "deny", args)
}

func runRollback(ctx context.Context, e *env, args []string) error {
	return actionCommand(ctx, e, "rollback", args)
}

// actionCommand approves, denies or rolls back an action: directly in the data directory, or
// through the running server's API when a server holds it.
func actionCommand(ctx context.Context, e *env, verb string, args []string) error {
	fs := newFlagSet(verb, e)
	var c common
	c.register(fs, false)
	analyst := fs.String("analyst", os.Getenv("USER"), "your name (recorded in the audit trail)")
	note := fs.String("note", "", "why")
	jsonOut := fs.Bool("json", false, "print the action as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *analyst == "" {
		return &exitError{code: 2, err: fmt.Errorf("usage: vigil %s ACTION_ID --analyst NAME [--note TEXT] [--data DIR]", verb)}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	id := pos[0]
	act, err := localOrAPI(ctx, e, cfg, "/api/v1/actions/"+url.PathEscape(id)+"/"+verb, map[string]string{"analyst": *analyst, "note": *note},
		func(a *app.App) (event.Action, error) {
			switch verb {
			case "approve":
				return a.Approve(ctx, id, *analyst, *note)
			case "deny":
				return a.Deny(ctx, id, *analyst, *note)
			default:
				return a.Rollback(ctx, id, *analyst, *note)
			}
		})
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSON(e.stdout, act)
	}
	fmt.Fprintf(e.stdout, "%s %s on %s: %s", act.ID, act.Name, act.Target, act.Status)
	if act.Verification != "" {
		fmt.Fprintf(e.stdout, " (%s)", act.Verification)
	}
	if act.LastError != "" {
		fmt.Fprintf(e.stdout, " (last error: %s)", act.LastError)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// localOrAPI runs local on the data directory or, when a running server holds it, posts body
// to path on the server's API instead; either way the result is a T.
func localOrAPI[T any](ctx context.Context, e *env, cfg config.Config, path string, body any, local func(*app.App) (T, error)) (T, error) {
	a, err := app.Open(ctx, cfg, newLogger(e.stderr, cfg.Log))
	switch {
	case errors.Is(err, app.ErrLocked):
		var out T
		err = callAPI(ctx, cfg, http.MethodPost, path, body, &out)
		return out, err
	case err != nil:
		var zero T
		return zero, err
	}
	defer a.Close()
	return local(a)
}

// callAPI calls the running server that holds the data directory, with the API token of the
// configuration, the environment or DIR/api-token, and decodes its answer into out.
func callAPI(ctx context.Context, cfg config.Config, method, path string, body, out any) error {
	token := os.Getenv("VIGIL_API_TOKEN")
	if cfg.API.Token.IsSet() {
		t, err := cfg.API.Token.Value()
		if err != nil {
			return err
		}
		token = t
	}
	if token == "" {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "api-token"))
		if err != nil {
			return fmt.Errorf("a server holds %s and its API token is not readable: %w", cfg.DataDir, err)
		}
		token = strings.TrimSpace(string(b))
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+cfg.Listen+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("a server holds %s; calling its API at %s: %w", cfg.DataDir, cfg.Listen, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rb, &e)
		return fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("server answer: %w", err)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runActions lists response actions.
func runActions(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("actions", e)
	var c common
	c.register(fs, false)
	incident := fs.String("incident", "", "only this incident's actions")
	status := fs.String("status", "", "only these statuses (comma-separated), e.g. pending_approval")
	jsonOut := fs.Bool("json", false, "JSON array")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, newLogger(e.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer a.Close()
	var st []string
	if *status != "" {
		st = strings.Split(*status, ",")
	}
	acts, err := a.ListActions(ctx, *incident, st)
	if err != nil {
		return err
	}
	if *jsonOut {
		if acts == nil {
			acts = []event.Action{}
		}
		return printJSON(e.stdout, acts)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINCIDENT\tACTION\tTARGET\tSTATUS\tDECISION\tREASON")
	for _, x := range acts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Incident, x.Name, x.Target, x.Status, x.Decision, x.Reason)
	}
	return tw.Flush()
}

// runAudit verifies or exports the audit trail.
func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		return &exitError{code: 2, err: errors.New("usage: vigil audit verify [--data DIR] | vigil audit export [--from RFC3339] [--to RFC3339] [--data DIR]")}
	}
	fs := newFlagSet("audit "+args[0], e)
	var c common
	c.register(fs, false)
	from := fs.String("from", "", "export entries from this time (RFC 3339)")
	to := fs.String("to", "", "export entries before this time (RFC 3339)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "audit")); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("no audit trail in %s: %w", cfg.DataDir, err)}
	}
	if args[0] == "export" {
		var f, t time.Time
		if *from != "" {
			if f, err = time.Parse(time.RFC3339, *from); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--from: %w", err)}
			}
		}
		if *to != "" {
			if t, err = time.Parse(time.RFC3339, *to); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--to: %w", err)}
			}
		}
		return app.AuditExport(ctx, cfg.DataDir, e.stdout, f, t)
	}
	rep, err := app.AuditVerify(ctx, cfg.DataDir)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if !rep.OK {
		fmt.Fprintln(e.stdout, rep.String())
		return &exitError{code: 1, err: fmt.Errorf("audit chain broken: %s", rep.String())}
	}
	fmt.Fprintf(e.stdout, "ok %d entries\n", rep.Entries)
	return nil
}
