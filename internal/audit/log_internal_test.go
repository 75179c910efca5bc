package audit

import (
	"context"
	"testing"
)

// TestWriterPragmas: the writer commits durably (WAL, synchronous FULL) and readers cannot write.
func TestWriterPragmas(t *testing.T) {
	ctx := context.Background()
	l, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mode string
	var sync int
	if err := l.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := l.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %s, synchronous %d; want wal, 2 (FULL)", mode, sync)
	}
	if _, err := l.r.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('x', 'y')`); err == nil {
		t.Error("a reader connection could write")
	}
}
