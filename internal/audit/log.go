package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Options tune a Log. The zero value is usable.
type Options struct {
	// CheckpointEvery is how many entries a signed checkpoint covers at most (default 100). A batch
	// that crosses the mark is checkpointed at its end, in the same transaction.
	CheckpointEvery int
	// Logger receives checkpoint and key events (default: discard).
	Logger *slog.Logger
	// ChainID names the chain; it seeds the genesis hash and is part of every signature, so entries
	// and checkpoints cannot be moved between chains. Empty means: a random ID on creation, whatever
	// is stored afterwards. When set, it must match the stored one.
	ChainID string
}

// Log is an open audit log. It is safe for concurrent use.
type Log struct {
	dir     string
	chainID string
	genesis Digest
	every   uint64
	log     *slog.Logger
	w       *sql.DB // the one writer connection
	r       *sql.DB // read-only pool for Verify, Entries, Export
	closed  atomic.Bool

	// qmu guards queue, the appends waiting for the writer.
	qmu   sync.Mutex
	queue []*request

	// wmu serialises writes: whoever holds it commits everything queued (group commit). It guards
	// the fields below and the done and err fields of every request.
	wmu    sync.Mutex
	seq    uint64 // last committed entry
	head   Digest // its hash (genesis when seq is 0)
	cpN    uint64 // last checkpoint's number, 0 when none
	cpSeq  uint64 // the entry it covers
	key    ed25519.PrivateKey
	broken error // set when the in-memory head could not be re-read after a failed commit
}

// request is one Append or AppendBatch waiting for a commit.
type request struct {
	entries []Entry
	done    bool
	err     error
}

// Open opens the audit log in dir, creating the directory, database and signing key when missing.
func Open(ctx context.Context, dir string, opts Options) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create audit folder: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, dbFile))
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	every := opts.CheckpointEvery
	if every <= 0 {
		every = 100
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{dir: dir, every: uint64(every), log: logger.With("component", "audit")}

	if l.w, err = sql.Open("sqlite", dsn(path, "rw")); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	l.w.SetMaxOpenConns(1)
	l.w.SetMaxIdleConns(1)
	l.w.SetConnMaxLifetime(0)
	fail := func(err error) (*Log, error) {
		l.w.Close()
		if l.r != nil {
			l.r.Close()
		}
		return nil, err
	}
	if l.chainID, err = migrate(ctx, l.w, opts.ChainID); err != nil {
		return fail(err)
	}
	l.genesis = genesisHash(l.chainID)
	lastKey, err := l.loadHead(ctx)
	if err != nil {
		return fail(err)
	}
	if l.key, err = loadKey(dir, lastKey, l.log); err != nil {
		return fail(err)
	}
	if l.r, err = sql.Open("sqlite", dsn(path, "ro")); err != nil {
		return fail(fmt.Errorf("open %s for reading: %w", path, err))
	}
	l.r.SetMaxOpenConns(4)
	l.r.SetMaxIdleConns(4)
	return l, nil
}

// dsn is the connection string for the audit database. mode is "rw" for the writer (created when
// missing, immediate transactions) and "ro" for readers (never creates or writes).
func dsn(path, mode string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if mode == "rw" {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_txlock", "immediate")
		q.Add("mode", "rwc")
	} else {
		q.Add("_pragma", "query_only(ON)")
		q.Add("mode", "ro")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
	seq       INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	data      BLOB NOT NULL,
	prev_hash BLOB NOT NULL,
	hash      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_subject ON entries(subject, seq);
CREATE INDEX IF NOT EXISTS entries_actor ON entries(actor, seq);
CREATE INDEX IF NOT EXISTS entries_action ON entries(action, seq);
CREATE INDEX IF NOT EXISTS entries_time ON entries(time);
CREATE TABLE IF NOT EXISTS checkpoints (
	n           INTEGER PRIMARY KEY,
	seq         INTEGER NOT NULL,
	hash        BLOB NOT NULL,
	time        INTEGER NOT NULL,
	public_key  BLOB NOT NULL,
	signature   BLOB NOT NULL,
	prev_key    BLOB NOT NULL,
	endorsement BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_seq ON checkpoints(seq, n);

CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_in_sequence BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM entries)
BEGIN SELECT RAISE(ABORT, 'audit entries are appended in sequence'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_in_sequence BEFORE INSERT ON checkpoints
WHEN NEW.n IS NOT (SELECT COALESCE(MAX(n), 0) + 1 FROM checkpoints)
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are appended in sequence'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
BEGIN SELECT RAISE(ABORT, 'audit metadata is write-once'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON meta
BEGIN SELECT RAISE(ABORT, 'audit metadata is write-once'); END;
`

// formatVersion is the meta "format" value this package writes and reads.
const formatVersion = "1"

// migrate creates the schema and returns the chain ID, storing want (or a random ID) on creation.
func migrate(ctx context.Context, db *sql.DB, want string) (string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("migrate audit schema: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return "", fmt.Errorf("migrate audit schema: %w", err)
	}
	id, format, err := readMeta(ctx, tx)
	if err != nil {
		return "", err
	}
	switch {
	case id == "" && format == "":
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM entries LIMIT 1)`).Scan(&n); err != nil {
			return "", fmt.Errorf("migrate audit schema: %w", err)
		}
		if n > 0 {
			return "", errors.New("audit metadata missing from a log that has entries (run verify)")
		}
		if id = want; id == "" {
			id = randomID()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('chain_id', ?), ('format', ?)`, id, formatVersion); err != nil {
			return "", fmt.Errorf("store audit chain ID: %w", err)
		}
	case want != "" && want != id:
		return "", fmt.Errorf("%w: log has %q, options say %q", ErrChainMismatch, id, want)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("migrate audit schema: %w", err)
	}
	return id, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readMeta returns the stored chain ID and format, checking the format is one this package reads.
func readMeta(ctx context.Context, q querier) (chainID, format string, err error) {
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return "", "", fmt.Errorf("read audit metadata: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v any
		if err := rows.Scan(&k, &v); err != nil {
			return "", "", fmt.Errorf("read audit metadata: %w", err)
		}
		ks, _ := text("key", k)
		vs, err := text(ks, v)
		if err != nil {
			return "", "", fmt.Errorf("read audit metadata: %w", err)
		}
		switch ks {
		case "chain_id":
			chainID = vs
		case "format":
			format = vs
		}
	}
	if err := rows.Err(); err != nil {
		return "", "", fmt.Errorf("read audit metadata: %w", err)
	}
	if format != "" && format != formatVersion {
		return "", "", fmt.Errorf("audit log format %q, this version reads %q", format, formatVersion)
	}
	if (chainID == "") != (format == "") {
		return "", "", errors.New("audit metadata incomplete (chain_id or format missing)")
	}
	return chainID, format, nil
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// loadHead reads the last entry and checkpoint into l, returning the key that signed that
// checkpoint (nil when there is none). Callers hold wmu or own l exclusively.
func (l *Log) loadHead(ctx context.Context) (ed25519.PublicKey, error) {
	l.seq, l.head, l.cpN, l.cpSeq = 0, l.genesis, 0, 0
	var seq, hash any
	err := l.w.QueryRowContext(ctx, `SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read audit head: %w", err)
	default:
		s, ok := seq.(int64)
		h, herr := digest("hash", hash)
		if !ok || s < 1 || herr != nil {
			return nil, fmt.Errorf("read audit head: last entry is malformed (run verify)")
		}
		l.seq, l.head = uint64(s), h
	}
	var r cpRow
	err = l.w.QueryRowContext(ctx, `SELECT `+checkpointColumns+` FROM checkpoints ORDER BY n DESC LIMIT 1`).Scan(r.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit checkpoint: %w", err)
	}
	c, err := r.decode()
	if err != nil {
		return nil, fmt.Errorf("read audit checkpoint: last checkpoint: %w (run verify)", err)
	}
	l.cpN, l.cpSeq = c.N, c.Seq
	return c.PublicKey, nil
}

// Append records e and returns it as stored: Seq, PrevHash and Hash set, Time set when it was zero,
// Data canonical. It returns once the entry is committed to disk. ctx is checked before the entry
// is queued; once queued, the entry's fate is always reported.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	es, err := l.AppendBatch(ctx, []Entry{e})
	if err != nil {
		return Entry{}, err
	}
	return es[0], nil
}

// AppendBatch records entries in order, in one transaction: all are committed or none. It returns
// them as stored (see Append). Use it to record many entries with one fsync.
func (l *Log) AppendBatch(ctx context.Context, entries []Entry) ([]Entry, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("append audit entry: %w", err)
	}
	if len(entries) == 0 {
		return nil, nil
	}
	now := time.Now()
	r := &request{entries: make([]Entry, len(entries))}
	for i, e := range entries {
		p, err := prepare(e, now)
		if err != nil {
			return nil, fmt.Errorf("append audit entry %q by %q: %w", e.Action, e.Actor, err)
		}
		r.entries[i] = p
	}
	l.qmu.Lock()
	l.queue = append(l.queue, r)
	l.qmu.Unlock()

	l.wmu.Lock()
	defer l.wmu.Unlock()
	if !r.done { // nobody took it: commit everything queued, ours included
		l.qmu.Lock()
		batch := l.queue
		l.queue = nil
		l.qmu.Unlock()
		l.commit(context.WithoutCancel(ctx), batch)
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.entries, nil
}

// commit writes the entries of batch in one transaction, with a checkpoint when one is due, and
// completes every request. Callers hold wmu.
func (l *Log) commit(ctx context.Context, batch []*request) {
	err := l.commitTx(ctx, batch)
	for _, r := range batch {
		r.done, r.err = true, err
	}
}

func (l *Log) commitTx(ctx context.Context, batch []*request) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if l.broken != nil {
		return l.broken
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append audit entries: %w", err)
	}
	seq, head, cp, err := l.writeBatch(ctx, tx, batch)
	if err != nil {
		tx.Rollback()
		return l.recover(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return l.recover(ctx, fmt.Errorf("commit audit entries: %w", err))
	}
	l.seq, l.head = seq, head
	if cp != nil {
		l.checkpointed(cp)
	}
	return nil
}

// writeBatch inserts the entries of batch after the head, and a checkpoint when one is due,
// returning the new head. Callers hold wmu.
func (l *Log) writeBatch(ctx context.Context, tx *sql.Tx, batch []*request) (uint64, Digest, *checkpoint, error) {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO entries(`+entryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, Digest{}, nil, fmt.Errorf("append audit entries: %w", err)
	}
	defer stmt.Close()
	seq, head := l.seq, l.head
	for _, r := range batch {
		for i := range r.entries {
			e := &r.entries[i]
			seq++
			ns := e.Time.UnixNano()
			e.Seq, e.PrevHash = seq, head
			e.Hash = entryHash(seq, ns, e.Actor, e.Action, e.Subject, e.Data, head)
			if _, err := stmt.ExecContext(ctx, int64(seq), ns, e.Actor, e.Action, e.Subject, []byte(e.Data), e.PrevHash[:], e.Hash[:]); err != nil {
				return 0, Digest{}, nil, fmt.Errorf("append audit entry %d: %w", seq, err)
			}
			head = e.Hash
		}
	}
	var cp *checkpoint
	if seq-l.cpSeq >= l.every {
		if cp, err = l.writeCheckpoint(ctx, tx, l.cpN+1, seq, head, l.key, nil); err != nil {
			return 0, Digest{}, nil, err
		}
	}
	return seq, head, cp, nil
}

// recover re-reads the head after a failed write, since a failed commit may or may not have
// reached the disk, and returns err. If the head cannot be read, the log refuses further writes.
// The failed transaction must be over: the writer has one connection.
func (l *Log) recover(ctx context.Context, err error) error {
	if _, rerr := l.loadHead(ctx); rerr != nil {
		l.broken = fmt.Errorf("audit log unusable after a failed write: %w", errors.Join(err, rerr))
		return l.broken
	}
	return err
}

// writeCheckpoint signs checkpoint n over (seq, hash) with key and inserts it in tx. prev, the
// previous key, is set only for the first checkpoint of a rotated-in key: it endorses key.
func (l *Log) writeCheckpoint(ctx context.Context, tx *sql.Tx, n, seq uint64, hash Digest, key, prev ed25519.PrivateKey) (*checkpoint, error) {
	c := &checkpoint{N: n, Seq: seq, Hash: hash, Time: time.Unix(0, time.Now().UnixNano()).UTC()}
	if prev != nil {
		c.PublicKey = key.Public().(ed25519.PublicKey)
		c.PrevKey = prev.Public().(ed25519.PublicKey)
		c.Endorsement = ed25519.Sign(prev, c.rotateMessage(l.chainID))
	}
	c.sign(l.chainID, key)
	_, err := tx.ExecContext(ctx, `INSERT INTO checkpoints(`+checkpointColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(c.N), int64(c.Seq), c.Hash[:], c.Time.UnixNano(), []byte(c.PublicKey), c.Signature,
		nonNil(c.PrevKey), nonNil(c.Endorsement))
	if err != nil {
		return nil, fmt.Errorf("write audit checkpoint at %d: %w", seq, err)
	}
	return c, nil
}

// nonNil keeps empty optional columns as empty blobs rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// checkpointed records a committed checkpoint in l and logs it: the log line is the external
// anchor. Callers hold wmu.
func (l *Log) checkpointed(c *checkpoint) {
	l.cpN, l.cpSeq = c.N, c.Seq
	l.log.Info("audit checkpoint", "n", c.N, "seq", c.Seq, "hash", c.Hash.String(),
		"key", hex.EncodeToString(c.PublicKey))
}

// RotateKey replaces the signing key. The old key signs a checkpoint at the current head; a new
// key is created and signs a checkpoint at the same place that names the old key and carries the
// old key's endorsement of the new one. The old private key is then deleted.
func (l *Log) RotateKey(ctx context.Context) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if l.broken != nil {
		return l.broken
	}
	next, err := newKeyFile(l.dir, nextKeyFile)
	if err != nil {
		return err
	}
	nextPath := filepath.Join(l.dir, nextKeyFile)
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		os.Remove(nextPath)
		return fmt.Errorf("rotate audit key: %w", err)
	}
	defer tx.Rollback()
	old, err := l.writeCheckpoint(ctx, tx, l.cpN+1, l.seq, l.head, l.key, nil)
	var rot *checkpoint
	if err == nil {
		rot, err = l.writeCheckpoint(ctx, tx, l.cpN+2, l.seq, l.head, next, l.key)
	}
	if err != nil {
		os.Remove(nextPath)
		return fmt.Errorf("rotate audit key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		// The commit may have reached the disk anyway: the last checkpoint says which key is live.
		last, rerr := l.loadHead(ctx)
		switch {
		case rerr != nil:
			l.broken = fmt.Errorf("audit log unusable after a failed key rotation: %w", errors.Join(err, rerr))
			return l.broken
		case !last.Equal(next.Public()):
			os.Remove(nextPath)
			return fmt.Errorf("rotate audit key: %w", err)
		}
	} else {
		l.checkpointed(old)
		l.checkpointed(rot)
	}
	// Committed: from here on only next may sign. A crash before the rename is finished by Open.
	l.key = next
	if err := os.Rename(nextPath, filepath.Join(l.dir, keyFile)); err != nil {
		return fmt.Errorf("rotate audit key: install new key: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		return fmt.Errorf("rotate audit key: %w", err)
	}
	if err := writePublicKey(l.dir, next); err != nil {
		return fmt.Errorf("rotate audit key: %w", err)
	}
	l.log.Info("rotated audit signing key", "key", hex.EncodeToString(next.Public().(ed25519.PublicKey)))
	return nil
}

// Close writes a final checkpoint covering the last entry, when one is needed, and closes the log.
// Appends after Close fail with ErrClosed; a second Close returns nil.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	var err error
	if l.broken == nil && l.seq > l.cpSeq {
		err = l.finalCheckpoint()
	}
	return errors.Join(err, l.r.Close(), l.w.Close())
}

func (l *Log) finalCheckpoint() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	defer tx.Rollback()
	c, err := l.writeCheckpoint(ctx, tx, l.cpN+1, l.seq, l.head, l.key, nil)
	if err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("close audit log: final checkpoint: %w", err)
	}
	l.checkpointed(c)
	return nil
}
