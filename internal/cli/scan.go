package cli

import (
	"bufio"
	"log/slog"
	"time"

	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/store"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"

	"github.com/vigil-soc/vigil/internal/scan"
	"github.com/vigil-soc/vigil/internal/sigma"
)

func runScan(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("scan", e)
	var rules multiFlag
	fs.Var(&rules, "rules", "folder of Sigma rules (repeatable; required)")
	output := fs.String("output", "table", "output format: jsonl, csv or table")
	stats := fs.Bool("stats", false, `print {"records":N,"detections":N,"errors":N,"seconds":S} as the last line on stderr`)
	workers := fs.Int("workers", 0, "files, and 4 MB parts of large EVTX and NDJSON files, scanned in parallel (default: number of CPUs)")
	parseOnly := fs.Bool("parse-only", false, "read every record but match nothing (to measure parsing alone)")
	quiet := fs.Bool("quiet", false, "no summary on stderr")
	incidents := fs.Bool("incidents", false, "also group the detections into incidents with attack chains (runs the full pipeline in a temporary data directory) and print them")
	minLevel := fs.String("min-level", "", "leave out detections below this level: informational, low, medium, high or critical")
	timeline := fs.Bool("timeline", false, "print the detections of all files in time order (held in memory until the scan ends) rather than file by file")
	paths, err := parseInterspersed(fs, args) // flags may follow the paths
	if err != nil {
		return err
	}
	usage := errors.New("usage: vigil scan --rules DIR [--output jsonl|csv|table] [--min-level LEVEL] [--timeline] [--stats] PATH...")
	if len(rules) == 0 && !*parseOnly || len(paths) == 0 {
		return &exitError{code: 2, err: usage}
	}
	switch *output {
	case "jsonl", "csv", "table":
	default:
		return &exitError{code: 2, err: fmt.Errorf("--output %q: want jsonl, csv or table", *output)}
	}
	floor := 0 // rank of the lowest level printed (see levelOrder: lower ranks are higher levels)
	if *minLevel != "" {
		r, ok := levelOrder[strings.ToLower(*minLevel)]
		if !ok {
			return &exitError{code: 2, err: fmt.Errorf("--min-level %q: want informational, low, medium, high or critical", *minLevel)}
		}
		floor = r
	}
	files, err := scan.Files(paths)
	if err != nil {
		return err
	}
	var rs *sigma.RuleSet
	var refusals []sigma.Refusal
	if len(rules) == 0 { // --parse-only
		rs, _ = sigma.LoadSources(nil, sigma.LoadOptions{})
	} else if rs, refusals, err = loadRules(rules, true); err != nil {
		return err
	} else if rs.Empty() {
		// Folders without a single rule file: the scan reads every record and matches
		// nothing, as --parse-only does (no matcher call per record), which is the baseline
		// for measuring the cost of matching. Said even with --quiet: an empty result must
		// not pass for a clean one.
		fmt.Fprintf(e.stderr, "vigil scan: no rule files in %s: reading the records without matching\n", strings.Join(rules, ", "))
		*parseOnly = true
	}
	eng, more := sigma.NewEngine(rs, sigma.EngineOptions{Fields: scan.EngineFields()})
	refusals = append(refusals, more...)
	if !*quiet {
		fmt.Fprintf(e.stderr, "vigil scan: %d rules loaded, %d refused, %d files\n", len(eng.Rules()), len(refusals), len(files))
	}
	// Loading and compiling the rules leaves tens of megabytes of garbage (parsed YAML,
	// compiler scratch). Collect it before the scan: a collection still running when the
	// workers start takes one of the CPUs for its mark worker and makes the workers' first
	// allocations (their matchers' scratch) assist it, which slows the scan more than this
	// pause costs.
	runtime.GC()
	bar := newProgressBar(e.stderr)
	var problems atomic.Int64
	out := newScanWriter(e.stdout, *output)
	perRule := map[string]int{}
	perLevel := map[string]int{}
	var printed int64
	var held []scan.Detection // --timeline
	st, err := scan.Run(ctx, files, scan.Options{
		Engine: eng, Rules: rs, Workers: *workers, ParseOnly: *parseOnly,
		Progress: func(done, total int64) { bar.update("scan", done, total, 0) },
		Problem: func(file string, err error) {
			if problems.Add(1) <= 20 {
				bar.finish()
				fmt.Fprintf(e.stderr, "vigil scan: %s: %v\n", file, err)
			}
		},
	}, func(d scan.Detection) {
		if *minLevel != "" && rank(strings.ToLower(d.Level)) > floor {
			return
		}
		printed++
		perRule[d.RuleTitle]++
		perLevel[d.Level]++
		if *timeline {
			held = append(held, d)
			return
		}
		out.write(d)
	})
	bar.finish()
	st.Detections = printed
	if *timeline {
		// Stable: detections of one instant keep their file and record order.
		sort.SliceStable(held, func(i, j int) bool { return held[i].Timestamp.Before(held[j].Timestamp) })
		for _, d := range held {
			out.write(d)
		}
	}
	if ferr := out.flush(); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if !*quiet {
		printScanSummary(e.stderr, st, perRule, perLevel)
	}
	if *incidents {
		if err := scanIncidents(ctx, e, rules, files, *output); err != nil {
			return err
		}
	}
	if *stats {
		b, _ := json.Marshal(map[string]any{"records": st.Records, "detections": st.Detections, "errors": st.Errors, "seconds": st.Seconds})
		fmt.Fprintln(e.stderr, string(b))
	}
	return nil
}

// scanIncidents feeds the files through the whole pipeline (normalize, detect, triage with
// every detection surfaced, correlate, the entity graph) in a temporary data directory and
// prints the incidents with their attack chains: for offline DFIR.
func scanIncidents(ctx context.Context, e *env, rules, files []string, output string) error {
	dir, err := os.MkdirTemp("", "vigil-scan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Rules = rules
	cfg.Triage.Threshold = 0.01 // offline: every detection is worth a look
	cfg.Triage.Warmup = config.Duration(time.Nanosecond)
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Import(ctx, files, app.ImportOptions{}); err != nil {
		return err
	}
	incs, err := a.Store.ListIncidents(ctx, store.IncidentQuery{Limit: 10000})
	if err != nil {
		return err
	}
	sort.Slice(incs, func(i, j int) bool { return incs[i].FirstSeen.Before(incs[j].FirstSeen) })
	for i := range incs {
		d, err := api.Detail(ctx, a.Store, incs[i], api.DetailOptions{MaxAlerts: 50})
		if err != nil {
			return err
		}
		if output == "jsonl" {
			if err := json.NewEncoder(e.stdout).Encode(map[string]any{"incident": d}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(e.stdout)
		writeTimeline(e.stdout, &d)
	}
	fmt.Fprintf(e.stderr, "vigil scan: %d incidents\n", len(incs))
	return nil
}

// scanWriter prints detections in one of the output formats.
type scanWriter struct {
	format string
	w      io.Writer
	// jsonl: one line per detection, encoded by enc into line and written through buf (not
	// one write per detection).
	buf  *bufio.Writer
	enc  scan.JSONEncoder
	line []byte
	csv  *csv.Writer
	tab  *tabwriter.Writer
	// table: the header is written with the first detection (none: nothing is printed, the
	// summary says so).
	header bool
}

func newScanWriter(w io.Writer, format string) *scanWriter {
	s := &scanWriter{format: format, w: w}
	switch format {
	case "jsonl":
		s.buf = bufio.NewWriterSize(w, 64<<10)
	case "csv":
		s.csv = csv.NewWriter(w)
		s.csv.Write([]string{"timestamp", "level", "rule_title", "rule_id", "computer", "channel", "event_id", "file", "record", "tags", "matches"})
	case "table":
		s.tab = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	}
	return s
}

func matchesText(d scan.Detection) string {
	var parts []string
	for _, m := range d.Matches {
		v := m.Value
		if len(v) > 80 {
			v = v[:77] + "..."
		}
		parts = append(parts, m.Field+"="+v)
	}
	return strings.Join(parts, "; ")
}

func (s *scanWriter) write(d scan.Detection) {
	switch s.format {
	case "jsonl":
		line, err := s.enc.Append(s.line[:0], &d)
		if err != nil {
			return // as json.Encoder: a detection that cannot be encoded is left out
		}
		s.line = append(line, '\n')
		s.buf.Write(s.line)
	case "csv":
		s.csv.Write([]string{d.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), d.Level, d.RuleTitle, d.RuleID, d.Computer, d.Channel, d.EventID,
			d.File, strconv.FormatInt(d.Record, 10), strings.Join(d.Tags, " "), matchesText(d)})
	case "table":
		if !s.header {
			fmt.Fprintln(s.tab, "TIMESTAMP\tLEVEL\tRULE\tCOMPUTER\tEVENT\tFILE:RECORD")
			s.header = true
		}
		file := d.File
		if i := strings.LastIndexByte(file, os.PathSeparator); i >= 0 {
			file = file[i+1:]
		}
		title := d.RuleTitle
		if len(title) > 60 {
			title = title[:57] + "..."
		}
		fmt.Fprintf(s.tab, "%s\t%s\t%s\t%s\t%s\t%s:%d\n", d.Timestamp.UTC().Format("2006-01-02 15:04:05"), d.Level, title, d.Computer, d.EventID, file, d.Record)
	}
}

func (s *scanWriter) flush() error {
	switch s.format {
	case "jsonl":
		return s.buf.Flush()
	case "csv":
		s.csv.Flush()
		return s.csv.Error()
	case "table":
		return s.tab.Flush()
	}
	return nil
}

var levelOrder = map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}

func printScanSummary(w io.Writer, st scan.Stats, perRule, perLevel map[string]int) {
	rate := float64(st.Records) / max(st.Seconds, 1e-9)
	fmt.Fprintf(w, "\nvigil scan: %d files, %d records, %d detections, %d errors in %.2fs (%.0f records/s)\n", st.Files, st.Records, st.Detections, st.Errors, st.Seconds, rate)
	levels := make([]string, 0, len(perLevel))
	for l := range perLevel {
		levels = append(levels, l)
	}
	sort.Slice(levels, func(i, j int) bool { return rank(levels[i]) < rank(levels[j]) })
	var parts []string
	for _, l := range levels {
		parts = append(parts, fmt.Sprintf("%s %d", l, perLevel[l]))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "by level: %s\n", strings.Join(parts, ", "))
	}
	type rc struct {
		rule string
		n    int
	}
	var rcs []rc
	for r, n := range perRule {
		rcs = append(rcs, rc{r, n})
	}
	sort.Slice(rcs, func(i, j int) bool { return rcs[i].n > rcs[j].n || rcs[i].n == rcs[j].n && rcs[i].rule < rcs[j].rule })
	if len(rcs) > 0 {
		fmt.Fprintln(w, "top rules:")
		for i, r := range rcs {
			if i == 15 {
				fmt.Fprintf(w, "  ... and %d more rules\n", len(rcs)-15)
				break
			}
			fmt.Fprintf(w, "  %6d  %s\n", r.n, r.rule)
		}
	}
}

func rank(level string) int {
	if r, ok := levelOrder[level]; ok {
		return r
	}
	return 5
}
