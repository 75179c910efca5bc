package app

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/investigate"
)

// openIntel loads the configured threat-intelligence feeds into the local indicator store and
// exposes it to triage (a known indicator raises an alert's score) and to the investigation
// tool intel.lookup.
func (a *App) openIntel(ctx context.Context) {
	a.intel = intel.New(intel.Options{Logger: a.Log})
	a.loadIntel(ctx)
	a.intelLookup = func(value string, at time.Time) []investigate.IntelMatch {
		ms := a.intel.Lookup(value, at)
		out := make([]investigate.IntelMatch, 0, len(ms))
		for _, m := range ms {
			im := investigate.IntelMatch{Value: m.Value, Type: string(m.Type), Confidence: m.Confidence, Name: m.Name}
			var srcs []string
			for _, s := range m.Sightings {
				srcs = append(srcs, s.Source)
			}
			im.Source = strings.Join(uniqueStrings(srcs), ",")
			im.Related = append(append(im.Related, m.Malware...), m.Actors...)
			out = append(out, im)
		}
		return out
	}
}

// intelHit adapts the store for triage.
func (a *App) intelHit(value string) (bool, string) {
	if a.intel == nil {
		return false, ""
	}
	return a.intel.Hit(value, time.Now())
}

// loadIntel (re)loads every feed file named in the configuration (files or folders of .json,
// .csv, .txt, optionally gzipped). A bad entry is logged with its file and entry; the rest loads.
func (a *App) loadIntel(ctx context.Context) {
	for _, p := range a.Cfg.Intel.Feeds {
		for _, f := range feedFiles(p) {
			st, errs := a.intel.Load(ctx, intel.Source{Name: f, Path: f})
			for i, err := range errs {
				if i == 20 {
					a.Log.Warn("more intel feed errors", "feed", f, "count", len(errs))
					break
				}
				a.Log.Warn("intel feed entry skipped", "err", err)
			}
			a.Log.Info("intel feed loaded", "feed", f, "indicators", st.Indicators)
		}
	}
}

func feedFiles(p string) []string {
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return []string{p}
	}
	var out []string
	_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		name := strings.TrimSuffix(strings.ToLower(d.Name()), ".gz")
		switch filepath.Ext(name) {
		case ".json", ".csv", ".txt", ".stix":
			out = append(out, path)
		}
		return nil
	})
	return out
}

// runIntelReload re-reads the feeds now and then and drops expired indicators.
func (a *App) runIntelReload(ctx context.Context) error {
	every := a.Cfg.Intel.Reload.Std()
	if len(a.Cfg.Intel.Feeds) == 0 || every <= 0 {
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.loadIntel(ctx)
			a.intel.Prune(time.Now())
		}
	}
}

func uniqueStrings(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
