// Package cli implements vigil's commands and flags. It parses arguments, builds the
// configuration and hands over to internal/app; it holds no business logic.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every command gets: its output streams.
type env struct {
	stdout, stderr io.Writer
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func commands() []command {
	return []command{
		{"serve", "run the server: API, syslog listeners and the whole pipeline", runServe},
		{"import", "feed files (EVTX, JSON, CSV, CEF, syslog; .gz/.zip) through the pipeline", runImport},
		{"config", "check a configuration file (config check --config FILE)", runConfig},
		{"demo", "play a simulated organisation and attacks through the whole pipeline", runDemo},
		{"scan", "hunt through EVTX/JSON files (also .gz, and in .zip) with Sigma rules, no server (DFIR)", runScan},
		{"hunt", "search the stored events with a hunting query (hunt 'class = authentication status = failure | since 24h')", runHunt},
		{"ask", "ask in plain English; shows the query it compiles to, and its answer (ask \"failed logins for alice this week\")", runAsk},
		{"incidents", "list incidents, show one as a timeline or an attack graph (DOT, Mermaid), merge or split them", runIncidents},
		{"feedback", "mark an alert or incident true/false positive or benign, with a reason", runFeedback},
		{"eval", "backtest triage and correlation on a labelled alert file (eval triage)", runEval},
		{"rules", "check rules (rules check) or run SigmaHQ regression tests (rules test)", runRules},
		{"actions", "list response actions (pending approval, completed, escalated, ...)", runActions},
		{"approve", "approve a response action awaiting a human (approve ID --analyst NAME)", runApprove},
		{"deny", "refuse a response action awaiting a human (deny ID --analyst NAME)", runDeny},
		{"rollback", "undo a completed response action (rollback ID --analyst NAME)", runRollback},
		{"audit", "verify the tamper-evident audit trail (audit verify) or export it (audit export)", runAudit},
	}
}

// Main runs vigil with args (without the program name) and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if p := os.Getenv("VIGIL_CPUPROFILE"); p != "" {
		// For performance work: VIGIL_CPUPROFILE=cpu.prof vigil serve ...
		if f, err := os.Create(p); err == nil {
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	if p := os.Getenv("VIGIL_MEMPROFILE"); p != "" {
		// For memory work: VIGIL_MEMPROFILE=heap.prof vigil import ... writes the live heap every
		// 5 seconds (the last one written is the latest).
		go func() {
			for range time.Tick(5 * time.Second) {
				if f, err := os.Create(p); err == nil {
					_ = pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}()
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if err == nil {
				return 0
			}
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			var ee *exitError
			if errors.As(err, &ee) {
				if ee.err != nil && ee.err.Error() != "" {
					fmt.Fprintf(stderr, "vigil %s: %v\n", c.name, ee.err)
				}
				return ee.code
			}
			fmt.Fprintf(stderr, "vigil %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "vigil: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vigil COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'vigil COMMAND -h' for a command's flags")
}

// common flags shared by commands that open a data directory.
type common struct {
	data   string
	config string
	rules  multiFlag
	logLvl string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (c *common) register(fs *flag.FlagSet, withRules bool) {
	fs.StringVar(&c.data, "data", "", "data directory (default ./vigil-data)")
	fs.StringVar(&c.config, "config", "", "configuration file (YAML)")
	fs.StringVar(&c.logLvl, "log-level", "", "log level: debug, info, warn, error")
	if withRules {
		fs.Var(&c.rules, "rules", "folder of Sigma rules (repeatable)")
	}
}

// load builds the configuration: defaults, then the file, then flags.
func (c *common) load() (config.Config, error) {
	cfg := config.Default()
	if c.config != "" {
		var err error
		if cfg, err = config.Load(c.config); err != nil {
			return cfg, err
		}
	}
	if c.data != "" {
		cfg.DataDir = c.data
	}
	if len(c.rules) > 0 {
		cfg.Rules = append([]string(nil), c.rules...)
	}
	if c.logLvl != "" {
		cfg.Log.Level = c.logLvl
	}
	return cfg, nil
}

func newLogger(w io.Writer, l config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.SlogLevel()}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newFlagSet(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}
