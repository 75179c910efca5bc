package intel

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// snapshotVersion is the version of the snapshot format Save writes.
const snapshotVersion = 1

// snapshotLine is one line of a snapshot: the header, a source, or one of its indicators.
type snapshotLine struct {
	Version   int         `json:"vigil_intel_snapshot,omitempty"`
	SavedAt   time.Time   `json:"saved_at,omitzero"`
	Source    *sourceMeta `json:"source,omitempty"`
	Indicator *Indicator  `json:"indicator,omitempty"`
}

// Save writes every source and indicator as JSON lines: a header line, then each source
// followed by its indicators. LoadSnapshot reads it back.
func (s *Store) Save(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(snapshotLine{Version: snapshotVersion, SavedAt: s.now().UTC()}); err != nil {
		return fmt.Errorf("save intel snapshot: %w", err)
	}
	n := 0
	for _, ix := range s.snapshot() {
		meta := ix.meta
		if err := enc.Encode(snapshotLine{Source: &meta}); err != nil {
			return fmt.Errorf("save intel snapshot: %w", err)
		}
		for i := range ix.inds {
			if err := enc.Encode(snapshotLine{Indicator: &ix.inds[i]}); err != nil {
				return fmt.Errorf("save intel snapshot: %w", err)
			}
			n++
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save intel snapshot: %w", err)
	}
	s.log.Info("saved intel snapshot", "indicators", n)
	return nil
}

// LoadSnapshot reads a snapshot written by Save. Each source in it replaces the store's
// source of that name; other sources are kept. A snapshot that cannot be read whole changes
// nothing.
func (s *Store) LoadSnapshot(r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var (
		done    []*sourceIndex
		cur     *sourceMeta
		b       builder
		line    int
		started bool
	)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrSnapshot, line, fmt.Sprintf(format, args...))
	}
	flush := func() {
		if cur != nil {
			done = append(done, b.build(*cur))
		}
		b = builder{}
	}
	for {
		var l snapshotLine
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			return fail("%v", err)
		}
		switch {
		case l.Version != 0:
			if l.Version != snapshotVersion {
				return fail("version %d is not %d", l.Version, snapshotVersion)
			}
			started = true
		case !started:
			return fail("no snapshot header")
		case l.Source != nil:
			if l.Source.Name == "" {
				return fail("source without a name")
			}
			flush()
			cur = l.Source
		case l.Indicator != nil:
			if cur == nil {
				return fail("indicator before any source")
			}
			ind := *l.Indicator
			if ind.Source != cur.Name {
				return fail("indicator of source %q under source %q", ind.Source, cur.Name)
			}
			var p *Pattern
			if ind.Type == TypePattern {
				if p, err = ParsePattern(ind.Pattern); err != nil {
					return fail("indicator %q: %v", ind.ID, err)
				}
			} else {
				v, err := parseValue(ind.Type, ind.Value)
				if err != nil {
					return fail("indicator %q: %v", ind.ID, err)
				}
				if v.text != ind.Value {
					return fail("indicator %q: value %q is not normalised", ind.ID, ind.Value)
				}
			}
			b.add(ind, p)
		default:
			return fail("empty line")
		}
	}
	if !started {
		return fmt.Errorf("%w: empty", ErrSnapshot)
	}
	flush()
	for _, ix := range done {
		s.swap(ix.meta.Name, ix)
	}
	s.log.Info("loaded intel snapshot", "sources", len(done))
	return nil
}
