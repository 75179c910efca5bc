package intel

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a Store.
type Options struct {
	// Logger receives one line per load, prune and snapshot; nil discards.
	Logger *slog.Logger
	// Now is the store's clock (load times, TTLs counted from the load, Stats' expired
	// counts); nil means time.Now.
	Now func() time.Time
}

// Store holds indicators from any number of sources. It is safe for concurrent use: lookups
// run in parallel with each other and with loads, which build a source's new index aside and
// swap it in.
type Store struct {
	log *slog.Logger
	now func() time.Time

	// mu guards sources. The slice is never changed in place (a change makes a new one) and
	// the indexes are immutable, so a lookup holds the lock only to read the slice.
	mu      sync.RWMutex
	sources []*sourceIndex // sorted by name
}

// New returns an empty store.
func New(opts Options) *Store {
	s := &Store{log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "intel")
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// loadCheckEvery is how many entries a loader reads between checks of its context.
const loadCheckEvery = 1024

// Load reads the source's file and replaces what the store held under its name. Entries that
// cannot be loaded are reported, each as an *EntryError naming the file and the entry, and the
// rest of the feed loads. A feed broken part way (truncated JSON, a read error) loads what came
// before the break, which is reported too. When the file cannot be opened, its gzip header is
// broken, or ctx is cancelled, the store keeps what it held and that error is the only one
// returned. Load blocks for the time it takes to read the file; lookups go on meanwhile.
func (s *Store) Load(ctx context.Context, src Source) (Stats, []error) {
	if err := src.check(); err != nil {
		return Stats{Source: src.Name}, []error{err}
	}
	if src.Path == "" {
		return Stats{Source: src.Name}, []error{fmt.Errorf("%w: source %q has no path", ErrSource, src.Name)}
	}
	f, err := os.Open(src.Path)
	if err != nil {
		return Stats{Source: src.Name}, []error{fmt.Errorf("load intel source %q: %w", src.Name, err)}
	}
	defer f.Close()
	return s.LoadReader(ctx, src, f)
}

// LoadReader is Load reading the feed from r; src.Path, if set, names it in errors and helps
// tell its format.
func (s *Store) LoadReader(ctx context.Context, src Source, r io.Reader) (Stats, []error) {
	if err := src.check(); err != nil {
		return Stats{Source: src.Name}, []error{err}
	}
	now := s.now()
	ix, st, errs := readSource(ctx, src, r, now)
	if ix == nil {
		return st, errs
	}
	s.swap(src.Name, ix)
	full := ix.stats(now)
	full.Entries, full.Skipped, full.Errors = st.Entries, st.Skipped, len(errs)
	st = full
	s.log.Info("loaded intel source", "source", src.Name, "format", st.Format, "indicators", st.Indicators,
		"skipped", st.Skipped, "errors", st.Errors)
	return st, errs
}

func (src *Source) check() error {
	if strings.TrimSpace(src.Name) == "" {
		return fmt.Errorf("%w: a source needs a name", ErrSource)
	}
	if src.Confidence < 0 || src.Confidence > 100 {
		return fmt.Errorf("%w: source %q: confidence %d is not 0-100", ErrSource, src.Name, src.Confidence)
	}
	if src.Type != "" && maskOf(src.Type) == 0 {
		return fmt.Errorf("%w: source %q: %w %q", ErrSource, src.Name, ErrUnknownType, src.Type)
	}
	return nil
}

// readSource reads a whole feed into a new index. A nil index means nothing is to change.
func readSource(ctx context.Context, src Source, r io.Reader, now time.Time) (*sourceIndex, Stats, []error) {
	name := src.Path
	if name == "" {
		name = src.Name
	}
	st := Stats{Source: src.Name, Path: src.Path}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, st, []error{&EntryError{File: name, Err: fmt.Errorf("%w: gzip: %v", ErrMalformed, err)}}
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	format := src.Format
	if format == "" {
		format = sniffFormat(src.Path, br)
	}
	st.Format = format
	fr := &feedReader{src: src, file: name, now: now, ctx: ctx}
	var err error
	switch format {
	case FormatSTIX:
		err = fr.readSTIX(br)
	case FormatMISP:
		err = fr.readMISP(br)
	case FormatMISPCSV:
		err = fr.readCSV(br, true)
	case FormatCSV:
		err = fr.readCSV(br, false)
	case FormatList:
		err = fr.readList(br)
	default:
		return nil, st, []error{fmt.Errorf("%w: %q for source %q", ErrFormat, format, src.Name)}
	}
	if err != nil && ctx.Err() != nil {
		return nil, st, []error{fmt.Errorf("load intel source %q: %w", src.Name, ctx.Err())}
	}
	if err != nil {
		fr.errs = append(fr.errs, err)
	}
	ix := fr.b.build(sourceMeta{Name: src.Name, Format: format, Path: src.Path, LoadedAt: now, TTL: src.TTL})
	st.Entries, st.Skipped = fr.entries, fr.skipped
	return ix, st, fr.errs
}

// sniffFormat tells a feed's format from its file name and first bytes.
func sniffFormat(path string, br *bufio.Reader) Format {
	head, _ := br.Peek(4096)
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		switch {
		case bytes.Contains(head, []byte(`"objects"`)), bytes.Contains(head, []byte(`"bundle"`)):
			return FormatSTIX
		case bytes.Contains(head, []byte(`"Event"`)), bytes.Contains(head, []byte(`"response"`)),
			bytes.Contains(head, []byte(`"Attribute"`)):
			return FormatMISP
		default:
			return FormatSTIX
		}
	}
	ext := strings.ToLower(filepath.Ext(strings.TrimSuffix(strings.ToLower(path), ".gz")))
	first, _, _ := bytes.Cut(trimmed, []byte("\n"))
	first = bytes.ReplaceAll(bytes.TrimSpace(first), []byte(`"`), nil)
	if bytes.HasPrefix(first, []byte("uuid,event_id,category,type,value")) {
		return FormatMISPCSV
	}
	if ext == ".csv" {
		return FormatCSV
	}
	return FormatList
}

// swap installs ix as the source's index.
func (s *Store) swap(name string, ix *sourceIndex) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := slices.BinarySearchFunc(s.sources, name, func(x *sourceIndex, n string) int { return strings.Compare(x.meta.Name, n) })
	next := slices.Clone(s.sources)
	if found {
		next[i] = ix
	} else {
		next = slices.Insert(next, i, ix)
	}
	s.sources = next
}

// Remove drops a source and everything it held; it reports whether the source was loaded.
func (s *Store) Remove(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := slices.BinarySearchFunc(s.sources, name, func(x *sourceIndex, n string) int { return strings.Compare(x.meta.Name, n) })
	if found {
		s.sources = slices.Delete(slices.Clone(s.sources), i, i+1)
	}
	return found
}

func (s *Store) snapshot() []*sourceIndex {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sources
}

// Lookup returns what the store knows of value at time at: one Match per indicator value that
// holds it (the value itself, a range, a parent domain, a URL's host, a pattern), each listing
// the sightings of every source, exact matches first. The value's type is told from its shape:
// an address (with or without a port), a CIDR range (ranges that hold it match), a URL, an
// e-mail address, an MD5/SHA-1/SHA-256/SHA-512 digest or a domain name. Expired, not yet
// valid and revoked indicators never match. Nil when nothing matches.
func (s *Store) Lookup(value string, at time.Time) []Match {
	q, ok := newQuery(value)
	if !ok {
		return nil
	}
	var buf [8]hit
	hits := buf[:0]
	for _, ix := range s.snapshot() {
		hits = ix.lookup(&q, at, hits)
	}
	if len(hits) == 0 {
		return nil
	}
	return merge(hits)
}

var howOrder = map[How]int{HowExact: 0, HowRange: 1, HowSubdomain: 2, HowHost: 3, HowPattern: 4}

// merge groups hits by indicator value into matches.
func merge(hits []hit) []Match {
	out := make([]Match, 0, len(hits))
	for _, h := range hits {
		i := slices.IndexFunc(out, func(m Match) bool { return m.Type == h.typ && m.Value == h.value && m.How == h.how })
		if i < 0 {
			out = append(out, Match{Type: h.typ, Value: h.value, How: h.how, Partial: true})
			i = len(out) - 1
		}
		m := &out[i]
		ind := h.src.inds[h.ind]
		m.Sightings = append(m.Sightings, Sighting{Indicator: ind, Partial: h.partial})
	}
	for i := range out {
		m := &out[i]
		best := -1
		open := false
		for j := range m.Sightings {
			sg := &m.Sightings[j]
			m.Partial = m.Partial && sg.Partial
			m.Malware = appendUnique(m.Malware, sg.Malware...)
			m.Actors = appendUnique(m.Actors, sg.Actors...)
			if sg.Confidence > m.Confidence {
				m.Confidence = sg.Confidence
			}
			if (sg.Name != "" || sg.Description != "") && (best < 0 || sg.Confidence > m.Sightings[best].Confidence) {
				best = j
			}
			if !sg.ValidFrom.IsZero() && (m.ValidFrom.IsZero() || sg.ValidFrom.Before(m.ValidFrom)) {
				m.ValidFrom = sg.ValidFrom
			}
			if sg.ValidUntil.IsZero() {
				open = true
			} else if sg.ValidUntil.After(m.ValidUntil) {
				m.ValidUntil = sg.ValidUntil
			}
		}
		if open {
			m.ValidUntil = time.Time{}
		}
		if best >= 0 {
			m.Name, m.Description = m.Sightings[best].Name, m.Sightings[best].Description
		}
	}
	slices.SortStableFunc(out, func(a, b Match) int { return howOrder[a.How] - howOrder[b.How] })
	return out
}

// Hit reports whether value is a known indicator at time at, with a one-line summary for an
// analyst: the shape triage's Intel option takes (wrap it with the clock).
func (s *Store) Hit(value string, at time.Time) (hit bool, detail string) {
	ms := s.Lookup(value, at)
	if len(ms) == 0 {
		return false, ""
	}
	return true, Summary(ms)
}

// Summary describes matches in one line: "listed by feodo, misp-circl as 203.0.113.7
// (confidence 90): Dridex C2; malware Dridex; actor TA505".
func Summary(ms []Match) string {
	var parts []string
	for _, m := range ms {
		var b strings.Builder
		fmt.Fprintf(&b, "listed by %s", strings.Join(m.Sources(), ", "))
		switch m.How {
		case HowRange:
			fmt.Fprintf(&b, " in range %s", m.Value)
		case HowSubdomain:
			fmt.Fprintf(&b, " under %s", m.Value)
		case HowHost:
			fmt.Fprintf(&b, " (host %s)", m.Value)
		case HowPattern:
			fmt.Fprintf(&b, " by pattern %s", clip(m.Value))
		}
		if m.Partial {
			b.WriteString(" (partial)")
		}
		if m.Confidence > 0 {
			fmt.Fprintf(&b, " (confidence %d)", m.Confidence)
		}
		if m.Name != "" {
			fmt.Fprintf(&b, ": %s", m.Name)
		} else if m.Description != "" {
			fmt.Fprintf(&b, ": %s", clip(m.Description))
		}
		if len(m.Malware) > 0 {
			fmt.Fprintf(&b, "; malware %s", strings.Join(m.Malware, ", "))
		}
		if len(m.Actors) > 0 {
			fmt.Fprintf(&b, "; actor %s", strings.Join(m.Actors, ", "))
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, " | ")
}

// Prune removes the indicators that are revoked or no longer valid at now, and reports how
// many it removed.
func (s *Store) Prune(now time.Time) int {
	// Build the pruned indexes outside the lock; a source reloaded meanwhile is left alone.
	old := s.snapshot()
	type repl struct {
		old, new *sourceIndex
	}
	var repls []repl
	removed := 0
	for _, ix := range old {
		var b builder
		for i := range ix.inds {
			ind := &ix.inds[i]
			if ind.Revoked || (!ind.ValidUntil.IsZero() && !now.Before(ind.ValidUntil)) {
				continue
			}
			b.add(*ind, ix.pats[i])
		}
		if n := len(ix.inds) - b.len(); n > 0 {
			removed += n
			repls = append(repls, repl{ix, b.build(ix.meta)})
		}
	}
	if len(repls) > 0 {
		s.mu.Lock()
		next := slices.Clone(s.sources)
		for _, r := range repls {
			for i, cur := range next {
				if cur == r.old {
					next[i] = r.new
				}
			}
		}
		s.sources = next
		s.mu.Unlock()
	}
	s.log.Info("pruned intel", "removed", removed)
	return removed
}

// Stats counts each source's indicators, in source-name order.
func (s *Store) Stats() []Stats {
	now := s.now()
	var out []Stats
	for _, ix := range s.snapshot() {
		out = append(out, ix.stats(now))
	}
	return out
}

func (ix *sourceIndex) stats(now time.Time) Stats {
	st := Stats{Source: ix.meta.Name, Format: ix.meta.Format, Path: ix.meta.Path, LoadedAt: ix.meta.LoadedAt,
		Indicators: len(ix.inds), ByType: map[Type]int{}}
	for i := range ix.inds {
		ind := &ix.inds[i]
		st.ByType[ind.Type]++
		switch {
		case ind.Revoked:
			st.Revoked++
		case !ind.ValidUntil.IsZero() && !now.Before(ind.ValidUntil):
			st.Expired++
		}
	}
	return st
}

// Indicators returns a copy of the indicators a source holds, nil for an unknown source.
func (s *Store) Indicators(source string) []Indicator {
	for _, ix := range s.snapshot() {
		if ix.meta.Name == source {
			return slices.Clone(ix.inds)
		}
	}
	return nil
}
