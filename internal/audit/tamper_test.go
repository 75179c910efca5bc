package audit_test

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/audit"
)

// copyDir copies the files of a closed log into a new folder, so each trial damages its own copy.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	files, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info()
		if err := os.WriteFile(filepath.Join(dst, f.Name()), b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// flip changes one byte of a column value, keeping its storage class: a byte of an integer's
// 8-byte two's complement, or of a text or blob's bytes.
func flip(rng *rand.Rand, v any) any {
	mask := byte(1 + rng.IntN(255))
	switch v := v.(type) {
	case int64:
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(v))
		b[rng.IntN(8)] ^= mask
		return int64(binary.BigEndian.Uint64(b[:]))
	case string:
		b := []byte(v)
		b[rng.IntN(len(b))] ^= mask
		return string(b)
	case []byte:
		b := append([]byte(nil), v...)
		b[rng.IntN(len(b))] ^= mask
		return b
	}
	panic(fmt.Sprintf("flip %T", v))
}

// update flips one byte of column col of the row where key = id, retrying when the new value
// collides with another row's key. It returns the new value.
func update(t testing.TB, db *sql.DB, rng *rand.Rand, table, key string, id int64, col string) any {
	t.Helper()
	var v any
	if err := db.QueryRow(fmt.Sprintf(`SELECT %s FROM %s WHERE %s = ?`, col, table, key), id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		nv := flip(rng, v)
		_, err := db.Exec(fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ?`, table, col, key), nv, id)
		if err == nil {
			return nv
		}
		if !strings.Contains(err.Error(), "UNIQUE") {
			t.Fatal(err)
		}
	}
	t.Fatalf("no free value for %s.%s", table, col)
	return nil
}

const (
	tamperEntries = 300
	tamperEvery   = 50
)

// TestVerifyNamesFlippedByte is the test: any byte of any column of any entry, changed
// behind the package's back, makes Verify fail and name that entry.
func TestVerifyNamesFlippedByte(t *testing.T) {
	pristine := build(t, tamperEntries, tamperEvery)
	if rep := verifyDir(t, pristine); !rep.OK || rep.Entries != tamperEntries || rep.Checkpoints != tamperEntries/tamperEvery {
		t.Fatalf("pristine log: %+v", rep)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	trials := 24
	if testing.Short() {
		trials = 4
	}
	for _, col := range []string{"seq", "time", "actor", "action", "subject", "data", "prev_hash", "hash"} {
		// Always the first and last entries, then random ones.
		targets := []int64{1, tamperEntries}
		for len(targets) < trials {
			targets = append(targets, 1+rng.Int64N(tamperEntries))
		}
		for _, seq := range targets {
			t.Run(fmt.Sprintf("%s/entry-%d", col, seq), func(t *testing.T) {
				dir := copyDir(t, pristine)
				db := rawDB(t, dir)
				nv := update(t, db, rng, "entries", "seq", seq, col)
				db.Close()
				rep := verifyDir(t, dir)
				if rep.OK || rep.FirstBad != uint64(seq) || !strings.HasPrefix(rep.Problem, fmt.Sprintf("entry %d ", seq)) &&
					!strings.HasPrefix(rep.Problem, fmt.Sprintf("entry %d:", seq)) {
					t.Fatalf("%s of entry %d set to %v: got %+v", col, seq, nv, rep)
				}
				t.Log(rep.Problem)
			})
		}
	}
}

// TestVerifyNamesDeletedEntry: removing any one entry is named.
func TestVerifyNamesDeletedEntry(t *testing.T) {
	pristine := build(t, tamperEntries, tamperEvery)
	rng := rand.New(rand.NewPCG(3, 4))
	targets := []int64{1, 2, tamperEvery, tamperEvery + 1, tamperEntries - 1, tamperEntries}
	for len(targets) < 40 {
		targets = append(targets, 1+rng.Int64N(tamperEntries))
	}
	for _, seq := range targets {
		t.Run(fmt.Sprintf("entry-%d", seq), func(t *testing.T) {
			dir := copyDir(t, pristine)
			db := rawDB(t, dir)
			if _, err := db.Exec(`DELETE FROM entries WHERE seq = ?`, seq); err != nil {
				t.Fatal(err)
			}
			db.Close()
			rep := verifyDir(t, dir)
			if rep.OK || rep.FirstBad != uint64(seq) || !strings.HasPrefix(rep.Problem, fmt.Sprintf("entry %d missing", seq)) {
				t.Fatalf("entry %d deleted: got %+v", seq, rep)
			}
			t.Log(rep.Problem)
		})
	}
}

// TestVerifyNamesAlteredCheckpoint: any byte of any column of any checkpoint, changed, is named.
func TestVerifyNamesAlteredCheckpoint(t *testing.T) {
	pristine := build(t, tamperEntries, tamperEvery)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, col := range []string{"n", "seq", "hash", "time", "public_key", "signature"} {
		for trial := range 8 {
			n := 1 + int64(trial)%(tamperEntries/tamperEvery)
			if trial >= 6 {
				n = 1 + rng.Int64N(tamperEntries/tamperEvery)
			}
			t.Run(fmt.Sprintf("%s/checkpoint-%d", col, n), func(t *testing.T) {
				dir := copyDir(t, pristine)
				db := rawDB(t, dir)
				var seq int64
				if err := db.QueryRow(`SELECT seq FROM checkpoints WHERE n = ?`, n).Scan(&seq); err != nil {
					t.Fatal(err)
				}
				nv := update(t, db, rng, "checkpoints", "n", n, col)
				if col == "seq" {
					seq = nv.(int64)
				}
				db.Close()
				rep := verifyDir(t, dir)
				if rep.OK || !strings.HasPrefix(rep.Problem, fmt.Sprintf("checkpoint at %d: ", seq)) {
					t.Fatalf("%s of checkpoint %d set to %v: got %+v", col, n, nv, rep)
				}
				if seq >= 0 && rep.FirstBad != uint64(seq) {
					t.Fatalf("FirstBad %d, want %d", rep.FirstBad, seq)
				}
				if !strings.Contains(rep.Problem, "bad signature") && !strings.Contains(rep.Problem, "malformed") {
					t.Fatalf("problem %q: want a bad signature", rep.Problem)
				}
				t.Log(rep.Problem)
			})
		}
	}
}

// hashEntry is the documented entry hash, written again for the tests that forge entries.
func hashEntry(seq, ns int64, actor, action, subject string, data, prev []byte) []byte {
	var b []byte
	field := func(s []byte) { b = binary.BigEndian.AppendUint64(b, uint64(len(s))); b = append(b, s...) }
	field([]byte("vigil.audit.entry.v1"))
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(ns))
	field([]byte(actor))
	field([]byte(action))
	field([]byte(subject))
	field(data)
	b = append(b, prev...)
	return sha256Sum(b)
}

// rehash recomputes the hash chain from entry from onwards, as an attacker without the key would.
func rehash(t testing.TB, db *sql.DB, from int64) {
	t.Helper()
	var prev []byte
	if err := db.QueryRow(`SELECT hash FROM entries WHERE seq = ?`, from-1).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT seq, time, actor, action, subject, data FROM entries WHERE seq >= ? ORDER BY seq`, from)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		seq, ns                int64
		actor, action, subject string
		data                   []byte
	}
	var recs []rec
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.seq, &r.ns, &r.actor, &r.action, &r.subject, &r.data); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	for _, r := range recs {
		h := hashEntry(r.seq, r.ns, r.actor, r.action, r.subject, r.data, prev)
		if _, err := db.Exec(`UPDATE entries SET prev_hash = ?, hash = ? WHERE seq = ?`, prev, h, r.seq); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
}

// TestVerifyStructuralTampering covers the other ways to damage a log.
func TestVerifyStructuralTampering(t *testing.T) {
	pristine := build(t, tamperEntries, tamperEvery)
	_, otherKey, _ := ed25519.GenerateKey(crand.Reader)
	tests := []struct {
		name     string
		tamper   func(t *testing.T, db *sql.DB, dir string)
		firstBad uint64
		problem  string
	}{
		{"reorder two entries", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `UPDATE entries SET seq = -1 WHERE seq = 120`)
			mustExec(t, db, `UPDATE entries SET seq = 120 WHERE seq = 80`)
			mustExec(t, db, `UPDATE entries SET seq = 80 WHERE seq = -1`)
		}, 80, "entry 80: prev_hash does not match the hash of entry 79"},
		{"swap adjacent entries", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `UPDATE entries SET seq = -1 WHERE seq = 7`)
			mustExec(t, db, `UPDATE entries SET seq = 7 WHERE seq = 8`)
			mustExec(t, db, `UPDATE entries SET seq = 8 WHERE seq = -1`)
		}, 7, "entry 7: prev_hash does not match"},
		{"insert a forged entry", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `UPDATE entries SET seq = -seq WHERE seq >= 60`)
			mustExec(t, db, `UPDATE entries SET seq = -seq + 1 WHERE seq < 0`)
			var prev []byte
			if err := db.QueryRow(`SELECT hash FROM entries WHERE seq = 59`).Scan(&prev); err != nil {
				t.Fatal(err)
			}
			h := hashEntry(60, 1, "analyst:mallory", "approval.grant", "INC-1", []byte(`{}`), prev)
			mustExec(t, db, `INSERT INTO entries VALUES (60, 1, 'analyst:mallory', 'approval.grant', 'INC-1', '{}', ?, ?)`, prev, h)
		}, 61, "entry 61: prev_hash does not match the hash of entry 60"},
		{"truncate the tail", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `DELETE FROM entries WHERE seq > 290`)
		}, 291, "entry 291 missing (the log ends at 290, but the checkpoint at 300 covers entries up to 300)"},
		{"truncate everything", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `DELETE FROM entries`)
		}, 1, "entry 1 missing (the log ends at 0, but the checkpoint at 50"},
		{"delete the first entries", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `DELETE FROM entries WHERE seq <= 10`)
		}, 1, "entry 1 missing (the log starts at 11)"},
		{"change an entry and re-hash the chain", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `UPDATE entries SET actor = 'analyst:mallory' WHERE seq = 120`)
			rehash(t, db, 120)
		}, 101, "entries 101 to 150 changed and re-hashed: entry 150 does not match the checkpoint at 150"},
		{"add a row outside the chain", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `INSERT INTO entries SELECT -5, time, actor, action, subject, data, prev_hash, hash FROM entries WHERE seq = 1`)
		}, 0, "row with seq -5: not part of the chain"},
		{"delete a checkpoint", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `DELETE FROM checkpoints WHERE n = 3`)
		}, 200, "checkpoint at 200: checkpoint 3 missing (numbers jump from 2 to 4)"},
		{"checkpoint signed by another key", func(t *testing.T, db *sql.DB, _ string) {
			forgeCheckpoint(t, db, otherKey, 7, 300)
		}, 300, "checkpoint at 300: signed by another key than the checkpoint before it, with no key rotation"},
		{"key rotation not endorsed", func(t *testing.T, db *sql.DB, _ string) {
			forgeRotation(t, db, otherKey, 7, 300)
		}, 300, "checkpoint at 300: bad key-rotation endorsement"},
		{"chain ID changed", func(t *testing.T, db *sql.DB, _ string) {
			mustExec(t, db, `UPDATE meta SET value = 'other' WHERE key = 'chain_id'`)
		}, 50, "checkpoint at 50: bad signature"},
		{"key files replaced", func(t *testing.T, db *sql.DB, dir string) {
			// A whole new log under another key, with the public key file replaced too, passes
			// VerifyDir(dir) on its own terms; a trusted key kept elsewhere catches it.
			mustExec(t, db, `DELETE FROM checkpoints`)
			for n := int64(1); n <= 6; n++ {
				forgeCheckpoint(t, db, otherKey, n, n*50)
			}
			writePub(t, dir, otherKey)
		}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			db := rawDB(t, dir)
			tt.tamper(t, db, dir)
			db.Close()
			rep := verifyDir(t, dir)
			if tt.problem == "" {
				if !rep.OK {
					t.Fatalf("got %+v, want OK", rep)
				}
				trusted, err := audit.ReadPublicKey(filepath.Join(pristine, "audit.pub"))
				if err != nil {
					t.Fatal(err)
				}
				if rep, err = audit.VerifyDir(context.Background(), dir, trusted); err != nil {
					t.Fatal(err)
				}
				tt.firstBad, tt.problem = 300, "checkpoint at 300: none of the keys that signed the checkpoints is trusted"
			}
			if rep.OK || rep.FirstBad != tt.firstBad || !strings.HasPrefix(rep.Problem, tt.problem) {
				t.Fatalf("got %+v\nwant FirstBad %d, problem %q", rep, tt.firstBad, tt.problem)
			}
		})
	}
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func chainID(t testing.TB, db *sql.DB) string {
	t.Helper()
	var id string
	if err := db.QueryRow(`SELECT value FROM meta WHERE key = 'chain_id'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// forgeCheckpoint inserts checkpoint n at seq, signed by key, following the documented encoding.
func forgeCheckpoint(t testing.TB, db *sql.DB, key ed25519.PrivateKey, n, seq int64) {
	t.Helper()
	var hash []byte
	if err := db.QueryRow(`SELECT hash FROM entries WHERE seq = ?`, seq).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	msg := checkpointMessage(chainID(t, db), uint64(n), uint64(seq), hash, 42, pub, nil, nil)
	mustExec(t, db, `INSERT INTO checkpoints VALUES (?, ?, ?, 42, ?, ?, x'', x'')`, n, seq, hash, []byte(pub), ed25519.Sign(key, msg))
}

// forgeRotation inserts a rotation to key at seq whose endorsement is made by key itself, not by
// the previous key.
func forgeRotation(t testing.TB, db *sql.DB, key ed25519.PrivateKey, n, seq int64) {
	t.Helper()
	var hash, prev []byte
	if err := db.QueryRow(`SELECT hash, public_key FROM checkpoints WHERE seq = ?`, seq).Scan(&hash, &prev); err != nil {
		t.Fatal(err)
	}
	id := chainID(t, db)
	pub := key.Public().(ed25519.PublicKey)
	endorse := ed25519.Sign(key, rotateMessage(id, uint64(n), uint64(seq), hash, pub))
	msg := checkpointMessage(id, uint64(n), uint64(seq), hash, 42, pub, prev, endorse)
	mustExec(t, db, `INSERT INTO checkpoints VALUES (?, ?, ?, 42, ?, ?, ?, ?)`, n, seq, hash, []byte(pub), ed25519.Sign(key, msg), prev, endorse)
}

func writePub(t testing.TB, dir string, key ed25519.PrivateKey) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "audit.pub"), pemPublicKey(t, key.Public().(ed25519.PublicKey)), 0o644); err != nil {
		t.Fatal(err)
	}
}
