package cli

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/ingest"
)

// importMemoryLimit is vigil import's default soft memory limit for the Go heap.
const importMemoryLimit = 200 << 20

func runImport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("import", e)
	var c common
	c.register(fs, true)
	format := fs.String("format", "", "input format: "+strings.Join(ingest.Formats, ", ")+" (default: detect)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := expandPaths(fs.Args())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return &exitError{code: 2, err: errors.New("usage: vigil import [--data DIR] [--rules DIR] [--format F] FILE...")}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// An import's working set is bounded by design (the pipeline's backlog, stage batches
		// and graph window); a soft limit keeps the garbage collector from letting the heap
		// double beyond it. GOMEMLIMIT overrides.
		debug.SetMemoryLimit(importMemoryLimit)
	}
	log := newLogger(e.stderr, cfg.Log)
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	bar := newProgressBar(e.stderr)
	rep, err := a.Import(ctx, files, app.ImportOptions{Format: *format, Progress: bar.update})
	bar.finish()
	if err != nil {
		return err
	}
	for _, f := range rep.Files {
		if f.Err != "" {
			fmt.Fprintf(e.stderr, "vigil import: %s\n", f.Err)
		}
	}
	if rep.Malformed > 0 {
		fmt.Fprintf(e.stderr, "vigil import: %d malformed records set aside as dead letters (see GET /api/v1/dead-letters)\n", rep.Malformed)
	}
	fmt.Fprintf(e.stdout, "imported %d of %d files: %d records (%d malformed), %d events, %d alerts, %d incidents, %d dead letters in %.1fs (%.0f records/s)\n",
		len(rep.Files)-rep.FailedFiles, len(rep.Files), rep.Records, rep.Malformed, rep.Events, rep.Alerts, rep.Incidents, rep.DeadLetters,
		rep.Elapsed.Seconds(), float64(rep.Records)/max(rep.Elapsed.Seconds(), 0.001))
	if rep.FailedFiles > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// expandPaths replaces folders by the files under them (recursively, in lexical order).
// Paths that do not exist are kept, so that the import reports them.
func expandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d iofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read folder %s: %w", p, err)
		}
	}
	return out, nil
}
