package intel

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// now is the clock of the tests: the fixtures' indicators are current on 1 June 2024.
var now = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func newStore() *Store {
	return New(Options{Now: func() time.Time { return now }})
}

// load loads a source and checks the number of errors; every error must be an *EntryError
// naming the source's file.
func load(t *testing.T, s *Store, src Source, wantErrs int) Stats {
	t.Helper()
	st, errs := s.Load(context.Background(), src)
	for _, err := range errs {
		var ee *EntryError
		if !errors.As(err, &ee) {
			t.Errorf("error %v is not an *EntryError", err)
			continue
		}
		if ee.File != src.Path || !strings.HasPrefix(err.Error(), src.Path+": ") {
			t.Errorf("error %q does not name the file %s", err, src.Path)
		}
	}
	if len(errs) != wantErrs {
		t.Errorf("loading %s: %d errors, want %d:", src.Path, len(errs), wantErrs)
		for _, err := range errs {
			t.Errorf("  %v", err)
		}
	}
	return st
}

// errorFor returns the error whose entry contains entry.
func errorFor(errs []error, entry string) error {
	for _, err := range errs {
		var ee *EntryError
		if errors.As(err, &ee) && strings.Contains(ee.Entry, entry) {
			return err
		}
	}
	return nil
}

// only returns the single match of value, failing when there is not exactly one.
func only(t *testing.T, s *Store, value string, at time.Time) Match {
	t.Helper()
	ms := s.Lookup(value, at)
	if len(ms) != 1 {
		t.Fatalf("Lookup(%q) = %d matches, want 1: %s", value, len(ms), describe(ms))
	}
	return ms[0]
}

func describe(ms []Match) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, string(m.How)+" "+string(m.Type)+" "+m.Value+" from "+strings.Join(m.Sources(), ","))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func none(t *testing.T, s *Store, value string, at time.Time) {
	t.Helper()
	if ms := s.Lookup(value, at); len(ms) != 0 {
		t.Errorf("Lookup(%q) = %s, want no match", value, describe(ms))
	}
}
