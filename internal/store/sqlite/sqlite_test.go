package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
)

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutEvents(ctx, []event.Event{storetest.Event("ev_x", 1, "h", "u")}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetEvent(ctx, "ev_x"); err != nil {
		t.Fatalf("event lost across reopen: %v", err)
	}
}

func BenchmarkPutEvents(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "vigil.db"), Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const batch = 1000
			evs := make([]event.Event, batch)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for i := range evs {
					evs[i] = storetest.Event(fmt.Sprintf("ev_%09d", n), n%100000, "host", "user")
					n++
				}
				if _, err := s.PutEvents(context.Background(), evs, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// Blocks written before bare user names were keys (only "u:alice@example.com") are still found
// by a bare name.
func TestBareUserFindsOlderBlocks(t *testing.T) {
	s := open(t)
	defer s.Close()
	ctx := context.Background()
	evs := []event.Event{storetest.Event("ev_okta", 1, "idp", "alice@example.com"), storetest.Event("ev_win", 2, "ws01", `EXAMPLE\alice`)}
	if _, err := s.PutEvents(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM event_keys WHERE key = ?`, keyUser+"alice")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("no bare user key was written")
	}
	s.blocks = newBlockCache(8)
	got, err := s.SearchEvents(ctx, store.EventQuery{User: "alice"})
	if err != nil || len(got) != 2 {
		t.Fatalf("bare name over older blocks: %d events, %v", len(got), err)
	}
	// LIKE wildcards in a name are literal.
	if got, _ := s.SearchEvents(ctx, store.EventQuery{User: "al_ce"}); len(got) != 0 {
		t.Fatalf("al_ce found %d events", len(got))
	}
}
