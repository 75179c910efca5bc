package audit_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/vigil-soc/vigil/internal/audit"
)

var base = time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)

var actions = []string{"tool.call", "llm.prompt", "llm.reply", "verdict", "approval.grant", "response.execute", "feedback", "incident.merge"}

// entryFor is a varied, deterministic entry; every field is non-empty so any byte can be flipped.
func entryFor(i int) audit.Entry {
	return audit.Entry{
		Time:    base.Add(time.Duration(i) * time.Second),
		Actor:   []string{"analyst:alice", "system:investigate", "llm:gpt-x", "system:respond"}[i%4],
		Action:  actions[i%len(actions)],
		Subject: fmt.Sprintf("INC-%04d", i%13),
		Data:    json.RawMessage(fmt.Sprintf(`{"i": %d, "tool": "whois", "args": {"ip": "10.0.0.%d"}, "note": "<ok> & \u00e9"}`, i, i%250)),
	}
}

func open(t testing.TB, dir string, every int) *audit.Log {
	t.Helper()
	l, err := audit.Open(context.Background(), dir, audit.Options{CheckpointEvery: every})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// build creates a closed log of n entries in a new folder.
func build(t testing.TB, n, every int) string {
	t.Helper()
	dir := t.TempDir()
	l := open(t, dir, every)
	ctx := context.Background()
	for i := 0; i < n; i += 25 {
		batch := make([]audit.Entry, 0, 25)
		for j := i; j < min(i+25, n); j++ {
			batch = append(batch, entryFor(j))
		}
		if _, err := l.AppendBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func verifyDir(t testing.TB, dir string) audit.Report {
	t.Helper()
	rep, err := audit.VerifyDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestIntactLogVerifies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := open(t, dir, 100)
	var last audit.Entry
	for i := range 250 {
		e, err := l.Append(ctx, entryFor(i))
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(i+1) || (i > 0 && e.PrevHash != last.Hash) {
			t.Fatalf("entry %d: seq %d, prev %s, want prev %s", i, e.Seq, e.PrevHash, last.Hash)
		}
		last = e
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (audit.Report{OK: true, Entries: 250, Checkpoints: 2}); rep != want {
		t.Fatalf("open log: got %+v, want %+v", rep, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Close added a checkpoint at 250.
	if rep, want := verifyDir(t, dir), (audit.Report{OK: true, Entries: 250, Checkpoints: 3}); rep != want {
		t.Fatalf("closed log: got %+v, want %+v", rep, want)
	}
	if got := verifyDir(t, dir).String(); got != "ok 250 entries, 3 checkpoints" {
		t.Fatalf("String: %q", got)
	}

	// Reopened, the chain continues; Close without new entries adds no checkpoint.
	l = open(t, dir, 100)
	e, err := l.Append(ctx, entryFor(250))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 251 || e.PrevHash != last.Hash {
		t.Fatalf("after reopen: seq %d prev %s, want 251 %s", e.Seq, e.PrevHash, last.Hash)
	}
	l.Close()
	l = open(t, dir, 100)
	l.Close()
	if rep, want := verifyDir(t, dir), (audit.Report{OK: true, Entries: 251, Checkpoints: 4}); rep != want {
		t.Fatalf("reopened log: got %+v, want %+v", rep, want)
	}
}

func TestEmptyLogVerifies(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 0)
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (audit.Report{OK: true}); rep != want {
		t.Fatalf("got %+v, want %+v", rep, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, want := verifyDir(t, dir), (audit.Report{OK: true}); rep != want {
		t.Fatalf("VerifyDir: got %+v, want %+v", rep, want)
	}
	if _, err := audit.VerifyDir(context.Background(), t.TempDir()); !errors.Is(err, audit.ErrNoLog) {
		t.Fatalf("VerifyDir of an empty folder: %v, want ErrNoLog", err)
	}
}

func TestAppendStoresCanonicalEntry(t *testing.T) {
	ctx := context.Background()
	l := open(t, t.TempDir(), 0)
	defer l.Close()
	before := time.Now()
	e, err := l.Append(ctx, audit.Entry{Actor: "analyst:alice", Action: "feedback", Data: json.RawMessage(` {"z": [1, 2.50, {"b": "<x>", "a": null}], "a": "é"} `)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(e.Data), `{"a":"é","z":[1,2.50,{"a":null,"b":"<x>"}]}`; got != want {
		t.Errorf("data %s, want %s", got, want)
	}
	if e.Time.Before(before) || e.Time.Location() != time.UTC {
		t.Errorf("time %v: not filled with now in UTC", e.Time)
	}
	e2, err := l.Append(ctx, audit.Entry{Actor: "a", Action: "b", Time: time.Date(2026, 1, 1, 1, 0, 0, 7, time.FixedZone("x", 3600))})
	if err != nil {
		t.Fatal(err)
	}
	if string(e2.Data) != "null" || !e2.Time.Equal(time.Date(2026, 1, 1, 0, 0, 0, 7, time.UTC)) || e2.Time.Location() != time.UTC {
		t.Errorf("got data %s time %v", e2.Data, e2.Time)
	}
	got, err := l.Entries(ctx, audit.Query{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !equalEntry(got[0], e2) || !equalEntry(got[1], e) {
		t.Errorf("Entries returned %+v, want what Append returned", got)
	}
}

func equalEntry(a, b audit.Entry) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.Actor == b.Actor && a.Action == b.Action &&
		a.Subject == b.Subject && string(a.Data) == string(b.Data) && a.PrevHash == b.PrevHash && a.Hash == b.Hash
}

func TestAppendRejectsInvalidEntries(t *testing.T) {
	ctx := context.Background()
	l := open(t, t.TempDir(), 0)
	defer l.Close()
	ok := audit.Entry{Actor: "system:x", Action: "tool.call", Data: json.RawMessage(`{}`)}
	tests := []struct {
		name string
		edit func(*audit.Entry)
	}{
		{"no actor", func(e *audit.Entry) { e.Actor = "" }},
		{"no action", func(e *audit.Entry) { e.Action = "" }},
		{"actor not UTF-8", func(e *audit.Entry) { e.Actor = "a\xff" }},
		{"subject not UTF-8", func(e *audit.Entry) { e.Subject = "\xc3" }},
		{"data not JSON", func(e *audit.Entry) { e.Data = json.RawMessage(`{"a":`) }},
		{"data with trailing value", func(e *audit.Entry) { e.Data = json.RawMessage(`{} {}`) }},
		{"data too large", func(e *audit.Entry) { e.Data = json.RawMessage(`"` + strings.Repeat("x", 9<<20) + `"`) }},
		{"time out of range", func(e *audit.Entry) { e.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.edit(&e)
			if _, err := l.Append(ctx, e); !errors.Is(err, audit.ErrInvalidEntry) {
				t.Fatalf("got %v, want ErrInvalidEntry", err)
			}
		})
	}
	// A rejected entry in a batch rejects the batch and records nothing.
	if _, err := l.AppendBatch(ctx, []audit.Entry{ok, {Actor: "x"}}); !errors.Is(err, audit.ErrInvalidEntry) {
		t.Fatalf("batch: got %v, want ErrInvalidEntry", err)
	}
	if rep, err := l.Verify(ctx); err != nil || rep.Entries != 0 || !rep.OK {
		t.Fatalf("after rejected entries: %+v, %v", rep, err)
	}
	e, err := l.Append(ctx, ok)
	if err != nil || e.Seq != 1 {
		t.Fatalf("valid entry after rejected ones: seq %d, %v", e.Seq, err)
	}
}

func TestConcurrentAppendsKeepChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := open(t, dir, 37)
	const workers, each = 16, 40
	var wg sync.WaitGroup
	seqs := make(chan uint64, workers*each)
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				if i%10 == 9 { // some batches mixed in
					var es []audit.Entry
					es, err = l.AppendBatch(ctx, []audit.Entry{entryFor(w*each + i)})
					if err == nil {
						seqs <- es[0].Seq
					}
				} else {
					var e audit.Entry
					e, err = l.Append(ctx, entryFor(w*each+i))
					seqs <- e.Seq
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var vg sync.WaitGroup
	vg.Go(func() { // verify while appending: every snapshot must be a valid chain
		for {
			select {
			case <-stop:
				return
			default:
			}
			rep, err := l.Verify(ctx)
			if err != nil || !rep.OK {
				errs <- fmt.Errorf("verify during appends: %+v, %v", rep, err)
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	vg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] || s < 1 || s > workers*each {
			t.Fatalf("seq %d duplicated or out of range", s)
		}
		seen[s] = true
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK || rep.Entries != workers*each {
		t.Fatalf("after concurrent appends: %+v, %v", rep, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := verifyDir(t, dir); !rep.OK || rep.Entries != workers*each {
		t.Fatalf("VerifyDir: %+v", rep)
	}
}

func TestClosedLog(t *testing.T) {
	ctx := context.Background()
	l := open(t, t.TempDir(), 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Append(ctx, entryFor(1)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Append: %v", err)
	}
	if _, err := l.Verify(ctx); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Verify: %v", err)
	}
	if _, err := l.Entries(ctx, audit.Query{}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Entries: %v", err)
	}
	if err := l.Export(ctx, io.Discard, time.Time{}, time.Time{}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Export: %v", err)
	}
}

func TestEntriesQuery(t *testing.T) {
	ctx := context.Background()
	l := open(t, t.TempDir(), 0)
	defer l.Close()
	for i := range 200 {
		if _, err := l.Append(ctx, entryFor(i)); err != nil {
			t.Fatal(err)
		}
	}
	// want lists the expected Seqs, newest first, computed from entryFor.
	want := func(limit int, keep func(i int, e audit.Entry) bool) []uint64 {
		var out []uint64
		for i := 199; i >= 0 && len(out) < limit; i-- {
			if keep(i, entryFor(i)) {
				out = append(out, uint64(i+1))
			}
		}
		return out
	}
	tests := []struct {
		name string
		q    audit.Query
		want []uint64
	}{
		{"default limit", audit.Query{}, want(100, func(int, audit.Entry) bool { return true })},
		{"subject", audit.Query{Subject: "INC-0003", Limit: 1000}, want(1000, func(_ int, e audit.Entry) bool { return e.Subject == "INC-0003" })},
		{"actor", audit.Query{Actor: "llm:gpt-x", Limit: 5}, want(5, func(_ int, e audit.Entry) bool { return e.Actor == "llm:gpt-x" })},
		{"action and subject", audit.Query{Action: "verdict", Subject: "INC-0005", Limit: 1000}, want(1000, func(_ int, e audit.Entry) bool { return e.Action == "verdict" && e.Subject == "INC-0005" })},
		{"time range", audit.Query{From: base.Add(10 * time.Second), To: base.Add(20 * time.Second), Limit: 1000}, want(1000, func(i int, _ audit.Entry) bool { return i >= 10 && i < 20 })},
		{"before", audit.Query{Before: 51, Limit: 3}, []uint64{50, 49, 48}},
		{"none", audit.Query{Subject: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Entries(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
				if w := entryFor(int(e.Seq) - 1); e.Subject != w.Subject || e.Actor != w.Actor || !e.Time.Equal(w.Time) {
					t.Fatalf("entry %d is %+v", e.Seq, e)
				}
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", seqs, tt.want)
			}
		})
	}
}

// rawDB opens the audit database directly, bypassing the package, and drops its triggers.
func rawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'trigger'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := db.Exec(`DROP TRIGGER ` + n); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestTriggersRefuseChanges(t *testing.T) {
	dir := build(t, 120, 50)
	db, err := sql.Open("sqlite", filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`UPDATE entries SET actor = 'mallory' WHERE seq = 5`,
		`DELETE FROM entries WHERE seq = 120`,
		`INSERT INTO entries SELECT seq + 1000, time, actor, action, subject, data, prev_hash, hash FROM entries WHERE seq = 1`,
		`INSERT OR REPLACE INTO entries SELECT * FROM entries WHERE seq = 3`,
		`UPDATE checkpoints SET time = 0`,
		`DELETE FROM checkpoints`,
		`UPDATE meta SET value = 'x' WHERE key = 'chain_id'`,
		`DELETE FROM meta`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s: succeeded", stmt)
		}
	}
	if rep := verifyDir(t, dir); !rep.OK || rep.Entries != 120 {
		t.Fatalf("after refused changes: %+v", rep)
	}
}

func TestFilePermissions(t *testing.T) {
	dir := build(t, 3, 0)
	for name, want := range map[string]os.FileMode{"audit.key": 0o600, "audit.pub": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
}
