// Package detect is the detection stage: it runs vigil's Sigma engine (detection rules,
// correlation rules and meta filters, from the rule folders the user gives plus vigil's embedded
// rules) over normalized events and turns matches into alerts that carry the rule, the matched
// events, the matched field values as evidence, ATT&CK tactics and techniques, and the rule's
// false-positive notes. Rules reload from their folders while the stage runs; a bad rule is
// reported and skipped, never taking the others down.
package detect

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/sigma"
	"github.com/vigil-soc/vigil/internal/ueba"
)

//go:embed rules/*.yml
var builtin embed.FS

// Options configure a Detector.
type Options struct {
	// Dirs are Sigma rule folders.
	Dirs []string
	// NoBuiltin leaves vigil's embedded rules out.
	NoBuiltin bool
	// MappingFiles add log source and field mappings to the embedded default.
	MappingFiles []string
	// Placeholders give the values of `expand` placeholders.
	Placeholders map[string][]string
	// Lateness is how late an event may arrive and still count for correlations.
	Lateness time.Duration
	// Behavior configures the behavioural detections; NoBehavior turns them off.
	Behavior   ueba.Options
	NoBehavior bool
	Log        *slog.Logger
}

// ruleset is one loaded, compiled generation of rules.
type ruleset struct {
	rules    *sigma.RuleSet
	engine   *sigma.Engine
	refusals []sigma.Refusal
	finger   string
	loaded   time.Time
}

// Detector runs the rules over events. Detect may be called from one goroutine at a time (the
// correlator keeps state in event order); Reload and Refusals are safe from any goroutine.
type Detector struct {
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[ruleset]

	// mu guards the matcher, the record and the correlator, which Detect uses.
	mu      sync.Mutex
	matcher *sigma.Matcher
	rec     sigma.Record
	corr    *sigma.Correlator
	corrGen *ruleset

	// behavior judges events against the entities' behavioural profiles (nil when off).
	behavior *ueba.Detector

	// replay remembers the stateful alerts of the last deliveries DetectOnce saw.
	replay replayMemory
	// pending holds restored correlation windows until the correlator exists.
	pending *sigma.CorrelatorState
}

// replayWindow is how many recent deliveries DetectOnce remembers: more than a stage ever
// has unacknowledged, so that any redelivery finds its first delivery.
const replayWindow = 8192

// replayMemory maps recent delivery keys to the correlation and behavioural alerts their
// events produced (most produce none), in a bounded ring.
type replayMemory struct {
	ring   []string
	next   int
	alerts map[string][]event.Alert
}

func (r *replayMemory) get(key string) ([]event.Alert, bool) {
	a, ok := r.alerts[key]
	return a, ok
}

func (r *replayMemory) put(key string, alerts []event.Alert) {
	if r.alerts == nil {
		r.alerts = make(map[string][]event.Alert)
		r.ring = make([]string, replayWindow)
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.alerts, old)
	}
	r.ring[r.next] = key
	r.next = (r.next + 1) % len(r.ring)
	r.alerts[key] = alerts
}

// New loads the rules and compiles them.
func New(opts Options) (*Detector, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Lateness <= 0 {
		opts.Lateness = 2 * time.Minute
	}
	d := &Detector{opts: opts, log: opts.Log.With("component", "detect")}
	if !opts.NoBehavior {
		d.behavior = ueba.New(opts.Behavior)
	}
	rs, err := d.load()
	if err != nil {
		return nil, err
	}
	d.install(rs)
	return d, nil
}

// load reads and compiles every rule source.
func (d *Detector) load() (*ruleset, error) {
	mapping := sigma.DefaultMapping()
	for _, f := range d.opts.MappingFiles {
		m, err := sigma.LoadMappingFile(f)
		if err != nil {
			return nil, fmt.Errorf("load mapping %s: %w", f, err)
		}
		mapping = mapping.Merge(m)
	}
	var sources []sigma.Source
	if !d.opts.NoBuiltin {
		sources = append(sources, sigma.Source{FS: builtin, Root: "rules", Prefix: "vigil-builtin"})
	}
	finger, err := fingerprint(d.opts.Dirs)
	if err != nil {
		return nil, err
	}
	for _, dir := range d.opts.Dirs {
		sources = append(sources, sigma.DirSource(dir))
	}
	all, refusals := sigma.LoadSources(sources, sigma.LoadOptions{})
	eng, more := sigma.NewEngine(all, sigma.EngineOptions{Mapping: mapping, Placeholders: d.opts.Placeholders})
	refusals = append(refusals, more...)
	return &ruleset{rules: all, engine: eng, refusals: refusals, finger: finger, loaded: time.Now()}, nil
}

func (d *Detector) install(rs *ruleset) {
	d.cur.Store(rs)
	for _, r := range rs.refusals {
		d.log.Warn("rule refused", "file", r.File, "err", r.Err)
	}
	d.log.Info("rules loaded", "rules", len(rs.engine.Rules()), "refused", len(rs.refusals))
}

// Refusals returns the rules the current generation refused, each naming file and reason.
func (d *Detector) Refusals() []sigma.Refusal { return d.cur.Load().refusals }

// RuleCount returns how many rules are active.
func (d *Detector) RuleCount() int { return len(d.cur.Load().engine.Rules()) }

// Reload reloads the rule folders when their content changed since the last load. It reports
// whether a new generation was installed.
func (d *Detector) Reload() (bool, error) {
	finger, err := fingerprint(d.opts.Dirs)
	if err != nil {
		return false, err
	}
	if finger == d.cur.Load().finger {
		return false, nil
	}
	rs, err := d.load()
	if err != nil {
		return false, err
	}
	d.install(rs)
	return true, nil
}

// Watch reloads the rules every interval until ctx ends. A failing reload keeps the current
// rules and is logged.
func (d *Detector) Watch(ctx context.Context, every time.Duration) {
	if len(d.opts.Dirs) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := d.Reload(); err != nil {
				d.log.Error("rule reload failed; keeping the current rules", "err", err)
			} else if changed {
				d.log.Info("rules reloaded")
			}
		}
	}
}

// fingerprint summarises the rule files of dirs: names, sizes and modification times.
func fingerprint(dirs []string) (string, error) {
	var parts []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() || !(strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
				return nil
			}
			info, err := de.Info()
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				return err
			}
			parts = append(parts, fmt.Sprintf("%s|%d|%d", path, info.Size(), info.ModTime().UnixNano()))
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("read rule folder %s: %w", dir, err)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n"), nil
}

// Detect matches events against the rules and returns the alerts, including those of
// correlation rules whose windows the events completed. Alert IDs derive from the rule and the
// event, so detecting the same event twice yields the same alert.
func (d *Detector) Detect(evs []event.Event) []event.Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, _ := d.detect(evs, true)
	return out
}

// DetectOnce is Detect for one delivery of the bus, named by key (the message ID). The bus
// delivers at least once: when key is among the last deliveries DetectOnce saw, the events
// are matched against the single-event rules again, but neither correlation windows nor
// behavioural profiles count them a second time, and the correlation and behavioural alerts
// of the first delivery are returned again (with the same IDs, so later stages, idempotent
// on IDs, see each alert once).
func (d *Detector) DetectOnce(key string, evs []event.Event) []event.Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.replay.get(key); ok {
		out, _ := d.detect(evs, false)
		return append(out, prev...)
	}
	out, stateful := d.detect(evs, true)
	d.replay.put(key, stateful)
	return out
}

// detect matches evs and returns their alerts in event order. When stateful it also counts
// them in correlation windows and behavioural profiles, and returns the alerts that produced
// separately as well; otherwise it returns single-event rule alerts only. d.mu is held.
func (d *Detector) detect(evs []event.Event, stateful bool) (out, state []event.Alert) {
	rs := d.cur.Load()
	if d.matcher == nil || d.corrGen != rs {
		d.matcher = rs.engine.NewMatcher()
		d.newCorrelator(rs)
	}
	for i := range evs {
		ev := &evs[i]
		fillRecord(&d.rec, ev)
		for _, m := range d.matcher.Match(&d.rec) {
			if stateful && len(m.Rule.CorrelationUsers()) > 0 {
				for _, ca := range d.corr.Observe(sigma.Detection{Rule: m.Rule, Time: ev.Time, Record: &d.rec, Ref: ev.ID}) {
					a := correlationAlert(ca, ev)
					out, state = append(out, a), append(state, a)
				}
			}
			if m.Rule.CorrelationOnly {
				continue
			}
			out = append(out, ruleAlert(m, ev))
		}
		if stateful && d.behavior != nil {
			for _, f := range d.behavior.Observe(ev) {
				a := behaviorAlert(f, ev)
				out, state = append(out, a), append(state, a)
			}
		}
	}
	return out, state
}

// newCorrelator starts the correlator of rule generation rs with the open windows of the
// previous one (a reload keeps the windows of correlations it did not change) or those
// RestoreCorrelations gave. d.mu is held.
func (d *Detector) newCorrelator(rs *ruleset) {
	corr := sigma.NewCorrelator(rs.rules, sigma.CorrelatorOptions{AllowedLateness: d.opts.Lateness})
	var st *sigma.CorrelatorState
	switch {
	case d.corr != nil:
		s := d.corr.State()
		st = &s
	case d.pending != nil:
		st, d.pending = d.pending, nil
	}
	if st != nil {
		if restored, skipped := corr.Restore(*st); restored+skipped > 0 {
			d.log.Info("correlation windows carried over", "matches", restored, "dropped", skipped)
		}
	}
	d.corr, d.corrGen = corr, rs
}

// CorrelationState returns the open correlation windows as JSON, for a snapshot.
func (d *Detector) CorrelationState() ([]byte, error) {
	d.mu.Lock()
	var st *sigma.CorrelatorState
	switch {
	case d.corr != nil:
		s := d.corr.State() // a copy: encoded without holding up Detect
		st = &s
	case d.pending != nil:
		st = d.pending
	}
	d.mu.Unlock()
	if st == nil {
		return nil, nil
	}
	return json.Marshal(st)
}

// RestoreCorrelations takes CorrelationState's output back, before the first Detect: the
// windows of correlations still loaded and unchanged go on where they were.
func (d *Detector) RestoreCorrelations(b []byte) error {
	var st sigma.CorrelatorState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("correlation windows: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.corr != nil {
		d.corr.Restore(st)
		return nil
	}
	d.pending = &st
	return nil
}

// Behavior returns the behavioural detector (nil when the detections are off), for its
// profile summaries.
func (d *Detector) Behavior() *ueba.Detector { return d.behavior }

// BehaviorState returns the behavioural profiles as JSON (nil when the detections are off).
func (d *Detector) BehaviorState() ([]byte, error) {
	if d.behavior == nil {
		return nil, nil
	}
	return d.behavior.MarshalState()
}

// RestoreBehavior restores the behavioural profiles from BehaviorState's output.
func (d *Detector) RestoreBehavior(b []byte) error {
	if d.behavior == nil {
		return nil
	}
	return d.behavior.RestoreState(b)
}

// Flush closes every open correlation window (end of an import or scan) and returns the alerts
// that completes.
func (d *Detector) Flush() []event.Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.corr == nil {
		return nil
	}
	var out []event.Alert
	for _, ca := range d.corr.Flush() {
		out = append(out, correlationAlert(ca, nil))
	}
	return out
}
