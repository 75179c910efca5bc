package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/audit"
)

func appendN(t testing.TB, l *audit.Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := l.Append(context.Background(), entryFor(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := open(t, dir, 10)
	appendN(t, l, 0, 25)
	oldPub, err := audit.ReadPublicKey(filepath.Join(dir, "audit.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	newPub, err := audit.ReadPublicKey(filepath.Join(dir, "audit.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if oldPub.Equal(newPub) {
		t.Fatal("audit.pub unchanged by rotation")
	}
	appendN(t, l, 25, 25)
	if rep, err := l.Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("open log after rotation: %+v, %v", rep, err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Checkpoints at 10 and 20, the old key's at 25, the new key's at 25, then 35, 45, 50 (Close).
	want := audit.Report{OK: true, Entries: 50, Checkpoints: 7}
	for name, keys := range map[string][]ed25519.PublicKey{"audit.pub": nil, "old key": {oldPub}, "new key": {newPub}} {
		rep, err := audit.VerifyDir(ctx, dir, keys...)
		if err != nil || rep != want {
			t.Errorf("trusting %s: %+v, %v; want %+v", name, rep, err, want)
		}
	}
	other, _, _ := ed25519.GenerateKey(crand.Reader)
	if rep, err := audit.VerifyDir(ctx, dir, other); err != nil || rep.OK || !strings.Contains(rep.Problem, "none of the keys") {
		t.Errorf("trusting an unrelated key: %+v, %v", rep, err)
	}
	// The independent verifier checks the endorsement of the new key by the old one.
	_, cps := checkExport(t, buf.Bytes(), nil)
	var rotations int
	for _, c := range cps {
		if c.PrevKey != "" {
			rotations++
			if c.PrevKey != hex.EncodeToString(oldPub) || c.PublicKey != hex.EncodeToString(newPub) || c.Seq != 25 {
				t.Errorf("rotation checkpoint %+v", c)
			}
		}
	}
	if rotations != 1 {
		t.Errorf("%d rotation checkpoints in the export, want 1", rotations)
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.key.next")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("audit.key.next left behind: %v", err)
	}

	// Reopened, the log signs with the new key and verifies.
	l = open(t, dir, 10)
	appendN(t, l, 50, 5)
	l.Close()
	if rep := verifyDir(t, dir); !rep.OK || rep.Entries != 55 {
		t.Fatalf("after reopening: %+v", rep)
	}
}

func TestRotateKeyOfEmptyLog(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 10)
	if err := l.RotateKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.RotateKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.Verify(context.Background()); err != nil || rep != (audit.Report{OK: true, Checkpoints: 4}) {
		t.Fatalf("empty rotated log: %+v, %v", rep, err)
	}
	appendN(t, l, 0, 3)
	l.Close()
	if rep := verifyDir(t, dir); rep != (audit.Report{OK: true, Entries: 3, Checkpoints: 5}) {
		t.Fatalf("%+v", rep)
	}
}

// TestRotationInterrupted: a crash after the new key file is written finishes the rotation when it
// committed and discards it when it did not.
func TestRotationInterrupted(t *testing.T) {
	ctx := context.Background()
	t.Run("not committed", func(t *testing.T) {
		dir := build(t, 30, 10)
		keyBefore, _ := os.ReadFile(filepath.Join(dir, "audit.key"))
		stray := filepath.Join(t.TempDir(), "x")
		l := open(t, stray, 0) // a key file that never signed anything here
		l.Close()
		b, _ := os.ReadFile(filepath.Join(stray, "audit.key"))
		if err := os.WriteFile(filepath.Join(dir, "audit.key.next"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		l = open(t, dir, 10)
		appendN(t, l, 30, 5)
		l.Close()
		if keyAfter, _ := os.ReadFile(filepath.Join(dir, "audit.key")); !bytes.Equal(keyBefore, keyAfter) {
			t.Error("key replaced by an uncommitted rotation")
		}
		if _, err := os.Stat(filepath.Join(dir, "audit.key.next")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("audit.key.next not discarded: %v", err)
		}
		if rep := verifyDir(t, dir); !rep.OK || rep.Entries != 35 {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("committed", func(t *testing.T) {
		dir := t.TempDir()
		l := open(t, dir, 10)
		appendN(t, l, 0, 12)
		oldKey, _ := os.ReadFile(filepath.Join(dir, "audit.key"))
		if err := l.RotateKey(ctx); err != nil {
			t.Fatal(err)
		}
		l.Close()
		// Put the files back as they were before the rename.
		if err := os.Rename(filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.key.next")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "audit.key"), oldKey, 0o600); err != nil {
			t.Fatal(err)
		}
		l = open(t, dir, 10)
		appendN(t, l, 12, 5)
		l.Close()
		if rep := verifyDir(t, dir); !rep.OK || rep.Entries != 17 {
			t.Fatalf("%+v", rep)
		}
	})
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	dir := build(t, 30, 10)
	other := t.TempDir()
	l := open(t, other, 0)
	l.Close()
	otherKey, _ := os.ReadFile(filepath.Join(other, "audit.key"))
	key, _ := os.ReadFile(filepath.Join(dir, "audit.key"))

	if err := os.WriteFile(filepath.Join(dir, "audit.key"), otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(ctx, dir, audit.Options{}); !errors.Is(err, audit.ErrKeyMismatch) {
		t.Errorf("another key: %v, want ErrKeyMismatch", err)
	}
	os.Remove(filepath.Join(dir, "audit.key"))
	if _, err := audit.Open(ctx, dir, audit.Options{}); !errors.Is(err, audit.ErrKeyMissing) {
		t.Errorf("no key: %v, want ErrKeyMissing", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(ctx, dir, audit.Options{ChainID: "another"}); !errors.Is(err, audit.ErrChainMismatch) {
		t.Errorf("another chain: %v, want ErrChainMismatch", err)
	}
	if rep := verifyDir(t, dir); !rep.OK {
		t.Fatalf("refused opens changed the log: %+v", rep)
	}
}

func TestChainIDOption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := audit.Open(ctx, dir, audit.Options{ChainID: "vigil-prod"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := l.Append(ctx, entryFor(0))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(e.PrevHash[:]) != hex.EncodeToString(genesis("vigil-prod")) {
		t.Error("entry 1's PrevHash is not the documented genesis of the chain ID")
	}
	l.Close()
	l, err = audit.Open(ctx, dir, audit.Options{ChainID: "vigil-prod"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

// TestOpenLogCatchesTailChanges: entries after the last checkpoint can be removed or rewritten
// without breaking the file on its own terms, but not without the open Log noticing.
func TestOpenLogCatchesTailChanges(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		tamper   func(t *testing.T, dir string)
		firstBad uint64
		problem  string
		dirOK    bool // VerifyDir, knowing only the file, misses it: the documented limit
	}{
		{"tail removed", func(t *testing.T, dir string) {
			mustExec(t, rawDB(t, dir), `DELETE FROM entries WHERE seq > 25`)
		}, 26, "entry 26 missing (the log ends at 25, but this process committed entries up to 30)", true},
		{"tail rewritten", func(t *testing.T, dir string) {
			db := rawDB(t, dir)
			mustExec(t, db, `UPDATE entries SET actor = 'analyst:mallory' WHERE seq = 28`)
			rehash(t, db, 28)
		}, 1, "entries 1 to 30 changed and re-hashed: entry 30 is not the one this process committed", true},
		{"entry added", func(t *testing.T, dir string) {
			db := rawDB(t, dir)
			var prev []byte
			if err := db.QueryRow(`SELECT hash FROM entries WHERE seq = 30`).Scan(&prev); err != nil {
				t.Fatal(err)
			}
			mustExec(t, db, `INSERT INTO entries VALUES (31, 1, 'a', 'b', 'c', '{}', ?, ?)`, prev, hashEntry(31, 1, "a", "b", "c", []byte("{}"), prev))
		}, 31, "entry 31: not written by this process (it committed entries up to 30)", true},
		{"checkpoints removed", func(t *testing.T, dir string) {
			mustExec(t, rawDB(t, dir), `DELETE FROM checkpoints`)
		}, 1, "checkpoint 1 missing", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := open(t, dir, 100)
			defer l.Close()
			appendN(t, l, 0, 30)
			if tt.name == "checkpoints removed" {
				if err := l.RotateKey(ctx); err != nil { // two checkpoints at 30
					t.Fatal(err)
				}
			}
			tt.tamper(t, dir)
			rep, err := l.Verify(ctx)
			if err != nil || rep.OK || rep.FirstBad != tt.firstBad || !strings.HasPrefix(rep.Problem, tt.problem) {
				t.Fatalf("got %+v, %v\nwant FirstBad %d, problem %q", rep, err, tt.firstBad, tt.problem)
			}
			if rep := verifyDir(t, dir); rep.OK != tt.dirOK {
				t.Fatalf("VerifyDir: %+v", rep)
			}
		})
	}
}
