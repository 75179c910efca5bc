package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Report is the outcome of a verification.
type Report struct {
	// OK is true when every entry and checkpoint verified.
	OK bool `json:"ok"`
	// Entries and Checkpoints count what verified; when OK is false, what verified before the
	// problem was found.
	Entries     int `json:"entries"`
	Checkpoints int `json:"checkpoints"`
	// FirstBad is the Seq of the first bad entry, or of the entry a bad checkpoint covers. It is 0
	// when OK, and for a problem that no sequence number names (a row whose seq is not a number).
	FirstBad uint64 `json:"first_bad,omitempty"`
	// Problem says what is wrong, starting with the entry or checkpoint it is about:
	// "entry 42: hash mismatch (content changed)", "checkpoint at 300: bad signature".
	Problem string `json:"problem,omitempty"`
}

// String returns "ok N entries, M checkpoints" or the problem.
func (r Report) String() string {
	if r.OK {
		return fmt.Sprintf("ok %d entries, %d checkpoints", r.Entries, r.Checkpoints)
	}
	return r.Problem
}

// chainHead is what a writer knows it committed last.
type chainHead struct {
	seq         uint64
	hash        Digest
	checkpoints uint64 // number of the last checkpoint
}

// Verify walks every checkpoint and entry of the log, as of one consistent moment, and reports the
// first problem (see the package documentation for the order and the messages). Besides what
// VerifyDir checks, it compares the log's end with the last entry and checkpoint this Log
// committed, so that removing or rewriting entries after the last checkpoint is caught too. It
// trusts the Log's current key. The error is for failures to read; a damaged log is a Report with
// OK false. Appends continue while it runs.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	if l.closed.Load() {
		return Report{}, ErrClosed
	}
	tx, err := l.r.BeginTx(ctx, nil)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	defer tx.Rollback()
	// Take the snapshot while no write is in flight, and note the head the writer committed.
	l.wmu.Lock()
	var n int64
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM meta`).Scan(&n)
	want := chainHead{seq: l.seq, hash: l.head, checkpoints: l.cpN}
	trusted := []ed25519.PublicKey{l.key.Public().(ed25519.PublicKey)}
	l.wmu.Unlock()
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	return verify(ctx, tx, l.chainID, &want, trusted)
}

// VerifyDir verifies the audit log in dir without opening it for writing; it may run while a vigil
// process appends. The keys that signed checkpoints must form one chain (see RotateKey) and include
// a trusted key. The trusted keys are the ones passed or, when none is, DIR/audit.pub if present.
// Pass a public key kept elsewhere (see ReadPublicKey) to catch a log rewritten together with its
// key files.
func VerifyDir(ctx context.Context, dir string, trusted ...ed25519.PublicKey) (Report, error) {
	path, err := filepath.Abs(filepath.Join(dir, dbFile))
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return Report{}, fmt.Errorf("verify audit log: %w in %s", ErrNoLog, dir)
	} else if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	if len(trusted) == 0 {
		if pub, err := ReadPublicKey(filepath.Join(dir, pubFile)); err == nil {
			trusted = []ed25519.PublicKey{pub}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Report{}, err
		}
	}
	db, err := sql.Open("sqlite", dsn(path, "ro"))
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	defer tx.Rollback()
	chainID, _, err := readMeta(ctx, tx)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	return verify(ctx, tx, chainID, nil, trusted)
}

// verify reads the checkpoints and entries through q and checks them. want, when set, is the head a
// writer committed; trusted, when set, are keys one of which must have signed a checkpoint.
func verify(ctx context.Context, q querier, chainID string, want *chainHead, trusted []ed25519.PublicKey) (Report, error) {
	v := &verifier{chainID: chainID, genesis: genesisHash(chainID), trusted: trusted}
	v.lastHash = v.genesis

	rows, err := q.QueryContext(ctx, `SELECT `+checkpointColumns+` FROM checkpoints ORDER BY seq, n`)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: read checkpoints: %w", err)
	}
	var cps []cpRow
	for rows.Next() {
		var r cpRow
		if err := rows.Scan(r.dest()...); err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("verify audit log: read checkpoints: %w", err)
		}
		cps = append(cps, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("verify audit log: read checkpoints: %w", err)
	}
	if !v.checkpoints(cps) || !v.matchCheckpoints() {
		return v.rep, nil
	}

	rows, err = q.QueryContext(ctx, `SELECT `+entryColumns+` FROM entries ORDER BY seq`)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: read entries: %w", err)
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Report{}, fmt.Errorf("verify audit log: %w", err)
			}
		}
		var r row
		if err := rows.Scan(r.dest()...); err != nil {
			return Report{}, fmt.Errorf("verify audit log: read entries: %w", err)
		}
		if !v.entry(&r) {
			return v.rep, nil
		}
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("verify audit log: read entries: %w", err)
	}
	v.finish(want)
	return v.rep, nil
}

// verifier checks a chain fed to it row by row. Its methods return false once a problem is found;
// the report then names it.
type verifier struct {
	chainID string
	genesis Digest
	trusted []ed25519.PublicKey

	cps []checkpoint // signature-checked, in (seq, n) order
	ci  int          // next checkpoint to match against the entries

	lastSeq  uint64 // last entry verified (0 before the first)
	lastHash Digest // its hash (genesis before the first)
	anchored uint64 // Seq of the last checkpoint matched, 0 when none
	stray    string // the first row skipped because its seq is not a sequence number
	rep      Report
}

func (v *verifier) fail(firstBad uint64, format string, args ...any) bool {
	v.rep.OK = false
	v.rep.FirstBad = firstBad
	v.rep.Problem = fmt.Sprintf(format, args...)
	return false
}

// checkpoints checks every checkpoint on its own (columns, signature, endorsement) and then all of
// them together (numbered 1, 2, 3... without gaps, never going back, each key the same as the one
// before or endorsed by it, a trusted key among them).
func (v *verifier) checkpoints(rows []cpRow) bool {
	for i := range rows {
		r := &rows[i]
		c, err := r.decode()
		if err != nil {
			s, _ := r.seqValue()
			return v.fail(uint64(max(s, 0)), "checkpoint at %s: %v", cpName(r), err)
		}
		if !c.signatureOK(v.chainID) {
			return v.fail(c.Seq, "checkpoint at %d: bad signature", c.Seq)
		}
		if c.PrevKey != nil && !c.endorsementOK(v.chainID) {
			return v.fail(c.Seq, "checkpoint at %d: bad key-rotation endorsement", c.Seq)
		}
		v.cps = append(v.cps, c)
	}
	byN := slices.Clone(v.cps)
	slices.SortStableFunc(byN, func(a, b checkpoint) int { return cmpUint(a.N, b.N) })
	trusted := len(v.trusted) == 0
	for i, c := range byN {
		want := uint64(i) + 1
		switch {
		case c.N > want:
			return v.fail(c.Seq, "checkpoint at %d: checkpoint %d missing (numbers jump from %d to %d)", c.Seq, want, want-1, c.N)
		case c.N < want:
			return v.fail(c.Seq, "checkpoint at %d: checkpoint number %d stored twice", c.Seq, c.N)
		case c.Seq == 0 && c.Hash != v.genesis:
			return v.fail(0, "checkpoint at 0: hash is not the chain's genesis value")
		case i == 0 && c.PrevKey != nil:
			return v.fail(c.Seq, "checkpoint at %d: the first checkpoint claims a key rotation", c.Seq)
		}
		if i > 0 {
			p := byN[i-1]
			switch {
			case c.Seq < p.Seq:
				return v.fail(c.Seq, "checkpoint at %d: goes back from the checkpoint at %d", c.Seq, p.Seq)
			case c.PrevKey == nil && !c.PublicKey.Equal(p.PublicKey):
				return v.fail(c.Seq, "checkpoint at %d: signed by another key than the checkpoint before it, with no key rotation", c.Seq)
			case c.PrevKey != nil && (!c.PrevKey.Equal(p.PublicKey) || c.Seq != p.Seq || c.Hash != p.Hash):
				return v.fail(c.Seq, "checkpoint at %d: key rotation does not continue the checkpoint before it", c.Seq)
			}
		}
		for _, k := range v.trusted {
			trusted = trusted || k.Equal(c.PublicKey)
		}
	}
	if !trusted && len(byN) > 0 {
		c := byN[len(byN)-1]
		return v.fail(c.Seq, "checkpoint at %d: none of the keys that signed the checkpoints is trusted", c.Seq)
	}
	return true
}

// cpName is a checkpoint's seq column for a message, whatever it holds.
func cpName(r *cpRow) string {
	if s, ok := r.seqValue(); ok {
		return fmt.Sprint(s)
	}
	return "(" + describe(r.seq) + ")"
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// entry checks the next row in seq order.
func (v *verifier) entry(r *row) bool {
	want := v.lastSeq + 1
	s, ok := r.seq.(int64)
	switch {
	case !ok || s < 1:
		if v.stray == "" {
			v.stray = fmt.Sprintf("row with seq %s", describeSeq(r.seq))
		}
		return true // a row that is not in the chain; the gap it left, if any, names the entry
	case uint64(s) < want:
		return v.fail(uint64(s), "entry %d: stored twice", s)
	case uint64(s) > want && want == 1:
		return v.fail(want, "entry 1 missing (the log starts at %d)", s)
	case uint64(s) > want:
		return v.fail(want, "entry %d missing (sequence jumps from %d to %d)", want, want-1, s)
	}
	e, err := r.decode()
	if err != nil {
		return v.fail(want, "entry %d: %v", want, err)
	}
	if e.PrevHash != v.lastHash {
		if want == 1 {
			return v.fail(want, "entry 1: prev_hash is not the chain's genesis value (prev_hash or the chain ID changed)")
		}
		return v.fail(want, "entry %d: prev_hash does not match the hash of entry %d (prev_hash changed, or entries removed, inserted or reordered before it)", want, want-1)
	}
	if entryHash(e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Subject, e.Data, e.PrevHash) != e.Hash {
		return v.fail(want, "entry %d: hash mismatch (content changed)", want)
	}
	v.lastSeq, v.lastHash = want, e.Hash
	v.rep.Entries++
	return v.matchCheckpoints()
}

func describeSeq(v any) string {
	if s, ok := v.(int64); ok {
		return fmt.Sprint(s)
	}
	return describe(v)
}

// matchCheckpoints checks the checkpoints that cover the last verified entry against its hash.
func (v *verifier) matchCheckpoints() bool {
	for ; v.ci < len(v.cps) && v.cps[v.ci].Seq <= v.lastSeq; v.ci++ {
		c := &v.cps[v.ci]
		if c.Hash != v.lastHash {
			return v.fail(v.anchored+1, "entries %d to %d changed and re-hashed: entry %d does not match the checkpoint at %d",
				v.anchored+1, c.Seq, c.Seq, c.Seq)
		}
		v.anchored = c.Seq
		v.rep.Checkpoints++
	}
	return true
}

// finish checks the end of the log, once every entry has been seen.
func (v *verifier) finish(want *chainHead) bool {
	if v.ci < len(v.cps) {
		c := &v.cps[v.ci]
		return v.fail(v.lastSeq+1, "entry %d missing (the log ends at %d, but the checkpoint at %d covers entries up to %d)",
			v.lastSeq+1, v.lastSeq, c.Seq, c.Seq)
	}
	if want != nil {
		switch {
		case v.lastSeq < want.seq:
			return v.fail(v.lastSeq+1, "entry %d missing (the log ends at %d, but this process committed entries up to %d)",
				v.lastSeq+1, v.lastSeq, want.seq)
		case v.lastSeq > want.seq:
			return v.fail(want.seq+1, "entry %d: not written by this process (it committed entries up to %d)", want.seq+1, want.seq)
		case v.lastHash != want.hash:
			return v.fail(v.anchored+1, "entries %d to %d changed and re-hashed: entry %d is not the one this process committed",
				v.anchored+1, want.seq, want.seq)
		case uint64(len(v.cps)) < want.checkpoints:
			return v.fail(v.anchored+1, "checkpoint %d missing (the last checkpoint found covers entry %d, but this process made checkpoints up to number %d)",
				len(v.cps)+1, v.anchored, want.checkpoints)
		}
	}
	if v.stray != "" {
		return v.fail(0, "%s: not part of the chain (sequence numbers start at 1)", v.stray)
	}
	v.rep.OK = true
	return true
}
