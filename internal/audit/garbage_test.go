package audit_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/audit"
)

// loosen recreates a table without types or constraints, keeping its rows, so that any value can
// be stored in any column, as an attacker with the file could.
func loosen(t testing.TB, dir string, table, columns string) {
	t.Helper()
	db := rawDB(t, dir)
	mustExec(t, db, `ALTER TABLE `+table+` RENAME TO old_`+table)
	mustExec(t, db, `CREATE TABLE `+table+`(`+columns+`)`)
	mustExec(t, db, `INSERT INTO `+table+` SELECT * FROM old_`+table)
	mustExec(t, db, `DROP TABLE old_`+table)
	db.Close()
}

const (
	entryCols = "seq, time, actor, action, subject, data, prev_hash, hash"
	cpCols    = "n, seq, hash, time, public_key, signature, prev_key, endorsement"
)

// TestGarbageNeverPanics stores values of every wrong type and size in every column and checks
// that Verify, Open, Entries and Export report them as errors or problems.
func TestGarbageNeverPanics(t *testing.T) {
	pristine := build(t, 40, 10) // batches of 25: checkpoints at 25 and 40
	tests := []struct {
		name    string
		table   string // loosened first: "entries" or "checkpoints"
		stmt    string
		problem string // expected Problem prefix, or "" for any failure
	}{
		{"all NULL entry", "entries", `INSERT INTO entries VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, "row with seq NULL"},
		{"text seq", "entries", `INSERT INTO entries SELECT 'abc', time, actor, action, subject, data, prev_hash, hash FROM entries WHERE seq = 3`, "row with seq text"},
		{"real seq", "entries", `INSERT INTO entries SELECT 2.5, time, actor, action, subject, data, prev_hash, hash FROM entries WHERE seq = 3`, "row with seq real"},
		{"blob seq", "entries", `INSERT INTO entries SELECT x'01', time, actor, action, subject, data, prev_hash, hash FROM entries WHERE seq = 3`, "row with seq blob"},
		{"duplicate entry", "entries", `INSERT INTO entries SELECT * FROM entries WHERE seq = 5`, "entry 5: stored twice"},
		{"huge seq", "entries", `INSERT INTO entries SELECT 9223372036854775807, time, actor, action, subject, data, prev_hash, hash FROM entries WHERE seq = 40`, "entry 41 missing"},
		{"lowest seq", "entries", `INSERT INTO entries SELECT -9223372036854775808, time, actor, action, subject, data, prev_hash, hash FROM entries WHERE seq = 40`, "row with seq -9223372036854775808"},
		{"text time", "entries", `UPDATE entries SET time = 'yesterday' WHERE seq = 7`, "entry 7: malformed time column (text of 9 bytes)"},
		{"real time", "entries", `UPDATE entries SET time = 1.5 WHERE seq = 7`, "entry 7: malformed time column (real 1.5)"},
		{"NULL actor", "entries", `UPDATE entries SET actor = NULL WHERE seq = 8`, "entry 8: malformed actor column (NULL)"},
		{"integer action", "entries", `UPDATE entries SET action = 42 WHERE seq = 9`, "entry 9: malformed action column (integer 42)"},
		{"real data", "entries", `UPDATE entries SET data = 3.14 WHERE seq = 10`, "entry 10: malformed data column"},
		{"blob actor, same bytes", "entries", `UPDATE entries SET actor = CAST(actor AS BLOB) WHERE seq = 11`, "ok"},
		{"short hash", "entries", `UPDATE entries SET hash = x'00' WHERE seq = 12`, "entry 12: malformed hash column (1 bytes, want 32)"},
		{"long prev_hash", "entries", `UPDATE entries SET prev_hash = zeroblob(33) WHERE seq = 13`, "entry 13: malformed prev_hash column (33 bytes, want 32)"},
		{"huge data", "entries", `UPDATE entries SET data = zeroblob(3000000) WHERE seq = 14`, "entry 14: hash mismatch"},

		{"all NULL checkpoint", "checkpoints", `INSERT INTO checkpoints VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, "checkpoint at (NULL): malformed n column (NULL)"},
		{"text n", "checkpoints", `UPDATE checkpoints SET n = 'x' WHERE n = 2`, "checkpoint at 40: malformed n column"},
		{"NULL seq", "checkpoints", `UPDATE checkpoints SET seq = NULL WHERE n = 2`, "checkpoint at (NULL): malformed seq column"},
		{"integer hash", "checkpoints", `UPDATE checkpoints SET hash = 5 WHERE n = 2`, "checkpoint at 40: malformed hash column"},
		{"text time", "checkpoints", `UPDATE checkpoints SET time = 'x' WHERE n = 2`, "checkpoint at 40: malformed time column"},
		{"short key", "checkpoints", `UPDATE checkpoints SET public_key = x'00' WHERE n = 2`, "checkpoint at 40: malformed public_key column"},
		{"huge key", "checkpoints", `UPDATE checkpoints SET public_key = zeroblob(100000) WHERE n = 2`, "checkpoint at 40: malformed public_key column"},
		{"empty signature", "checkpoints", `UPDATE checkpoints SET signature = '' WHERE n = 2`, "checkpoint at 40: malformed signature column"},
		{"prev_key alone", "checkpoints", `UPDATE checkpoints SET prev_key = zeroblob(32) WHERE n = 2`, "checkpoint at 40: malformed rotation columns"},
		{"endorsement alone", "checkpoints", `UPDATE checkpoints SET endorsement = zeroblob(64) WHERE n = 2`, "checkpoint at 40: malformed rotation columns"},
		{"garbage rotation", "checkpoints", `UPDATE checkpoints SET prev_key = zeroblob(32), endorsement = zeroblob(64) WHERE n = 2`, "checkpoint at 40: bad"},
		{"duplicate checkpoint", "checkpoints", `INSERT INTO checkpoints SELECT * FROM checkpoints WHERE n = 2`, "checkpoint at 40: checkpoint number 2 stored twice"},
		{"far checkpoint", "checkpoints", `INSERT INTO checkpoints SELECT 9223372036854775807, 9223372036854775807, hash, time, public_key, signature, prev_key, endorsement FROM checkpoints WHERE n = 2`, "checkpoint at 9223372036854775807: bad signature"},
		{"negative checkpoint", "checkpoints", `INSERT INTO checkpoints SELECT 9, -1, hash, time, public_key, signature, prev_key, endorsement FROM checkpoints WHERE n = 2`, "checkpoint at -1: malformed seq column"},

		{"no metadata", "", `DELETE FROM meta`, ""},
		{"blob chain ID", "", `UPDATE meta SET value = x'ff00' WHERE key = 'chain_id'`, ""},
		{"unknown format", "", `UPDATE meta SET value = '2' WHERE key = 'format'`, ""},
		{"no entries table", "", `DROP TABLE entries`, ""},
		{"no checkpoints table", "", `DROP TABLE checkpoints`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			switch tt.table {
			case "entries":
				loosen(t, dir, "entries", entryCols)
			case "checkpoints":
				loosen(t, dir, "checkpoints", cpCols)
			}
			db := rawDB(t, dir)
			mustExec(t, db, tt.stmt)
			db.Close()

			rep, err := audit.VerifyDir(context.Background(), dir)
			switch {
			case tt.problem == "ok":
				if err != nil || !rep.OK {
					t.Fatalf("got %+v, %v; want OK", rep, err)
				}
			case err == nil && rep.OK:
				t.Fatalf("garbage verified: %+v", rep)
			case tt.problem != "" && (err != nil || len(rep.Problem) < len(tt.problem) || rep.Problem[:len(tt.problem)] != tt.problem):
				t.Fatalf("got %+v, %v\nwant problem %q", rep, err, tt.problem)
			}
			t.Log(rep.Problem, err)

			// The rest of the API copes too: errors, no panics.
			ctx := context.Background()
			l, err := audit.Open(ctx, dir, audit.Options{CheckpointEvery: 10})
			if err != nil {
				t.Log("open:", err)
				return
			}
			defer l.Close()
			// Reopening recreates a dropped checkpoints table, empty: the log then verifies, a
			// documented limit (removing every checkpoint goes unnoticed without an external anchor).
			if rep, err := l.Verify(ctx); err == nil && rep.OK && tt.problem != "ok" && tt.name != "no checkpoints table" {
				t.Errorf("Log.Verify: garbage verified")
			}
			l.Entries(ctx, audit.Query{Limit: 1000})
			l.Export(ctx, &bytes.Buffer{}, time.Time{}, time.Time{})
			l.Append(ctx, entryFor(1))
		})
	}
}
