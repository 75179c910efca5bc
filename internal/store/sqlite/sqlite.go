// Package sqlite is the embedded implementation of the store interfaces: one SQLite file in WAL
// mode through modernc.org/sqlite (pure Go, no cgo). One connection writes, a small pool reads,
// so readers never wait for a write transaction.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

var _ store.Store = (*Store)(nil)

// Options tune the store.
type Options struct {
	// Synchronous is "full" (default: a committed write survives power loss) or "normal" (it
	// survives a process crash).
	Synchronous string
	// Readers is the size of the read pool (default: number of CPUs, at least 2).
	Readers int
}

// Store is a SQLite-backed store.Store.
type Store struct {
	w      *sql.DB // single writer connection
	r      *sql.DB // read-only pool
	path   string
	blocks *blockCache
}

// Open opens (creating when missing) the database at path and migrates its schema.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create store folder: %w", err)
	}
	sync := "FULL"
	if opt.Synchronous == "normal" {
		sync = "NORMAL"
	}
	dsn := func(ro bool) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(ON)")
		// A 16 MiB page cache per connection: this memory sits outside the Go heap and counts
		// in full towards the process's footprint; a larger writer cache measured no faster on
		// a sustained import (index pages are in the OS page cache anyway).
		q.Add("_pragma", "cache_size(-16384)")
		q.Add("_txlock", "immediate")
		if ro {
			q.Add("_pragma", "query_only(ON)")
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w, path: path, blocks: newBlockCache(64)}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	n := opt.Readers
	if n <= 0 {
		n = max(runtime.NumCPU(), 2)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

const schema = `
CREATE TABLE IF NOT EXISTS event_blocks (
	id    INTEGER PRIMARY KEY,
	tmin  INTEGER NOT NULL,
	tmax  INTEGER NOT NULL,
	count INTEGER NOT NULL,
	bytes INTEGER NOT NULL,
	data  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS event_blocks_tmax ON event_blocks(tmax);
CREATE TABLE IF NOT EXISTS event_ids (
	id    TEXT PRIMARY KEY,
	block INTEGER NOT NULL,
	pos   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_keys (
	key   TEXT NOT NULL,
	block INTEGER NOT NULL,
	PRIMARY KEY (key, block)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_keys_block ON event_keys(block);

CREATE TABLE IF NOT EXISTS dead_letters (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL UNIQUE,
	stage    TEXT NOT NULL,
	reason   TEXT NOT NULL,
	origin   TEXT NOT NULL,
	data     BLOB NOT NULL,
	received INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL UNIQUE,
	time     INTEGER NOT NULL,
	rule_id  TEXT NOT NULL,
	incident TEXT NOT NULL DEFAULT '',
	data     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts(incident) WHERE incident != '';
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id, time);

CREATE TABLE IF NOT EXISTS incidents (
	id       TEXT PRIMARY KEY,
	status   TEXT NOT NULL,
	updated  INTEGER NOT NULL,
	version  INTEGER NOT NULL,
	merged   INTEGER NOT NULL DEFAULT 0,
	data     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_updated ON incidents(updated);

-- incident_entities indexes incidents by their users and hosts ("user:example\bob").
CREATE TABLE IF NOT EXISTS incident_entities (
	entity   TEXT NOT NULL,
	incident TEXT NOT NULL,
	PRIMARY KEY (entity, incident)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incident_entities_incident ON incident_entities(incident);

CREATE TABLE IF NOT EXISTS graph_edges (
	id     TEXT PRIMARY KEY,
	src    TEXT NOT NULL,
	dst    TEXT NOT NULL,
	kind   TEXT NOT NULL,
	time   INTEGER NOT NULL,
	data   BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS graph_src ON graph_edges(src, time);
CREATE INDEX IF NOT EXISTS graph_dst ON graph_edges(dst, time);

CREATE TABLE IF NOT EXISTS evidence (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL UNIQUE,
	incident TEXT NOT NULL,
	data     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_incident ON evidence(incident, seq);

CREATE TABLE IF NOT EXISTS actions (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL UNIQUE,
	incident TEXT NOT NULL,
	status   TEXT NOT NULL,
	data     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_incident ON actions(incident, seq);
CREATE INDEX IF NOT EXISTS actions_status ON actions(status, seq);

CREATE TABLE IF NOT EXISTS state (
	ns    TEXT NOT NULL,
	key   TEXT NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (ns, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
`

// schemaVersion is bumped with every incompatible schema change.
const schemaVersion = "1"

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	var v string
	err := s.w.QueryRowContext(ctx, `SELECT value FROM meta WHERE key='schema'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = s.w.ExecContext(ctx, `INSERT INTO meta(key,value) VALUES('schema',?)`, schemaVersion)
		if err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	case v != schemaVersion:
		return fmt.Errorf("database %s has schema %s, this vigil needs %s", s.path, v, schemaVersion)
	}
	return s.backfillIncidentEntities(ctx)
}

// backfillIncidentEntities indexes incidents stored before the entity index existed.
func (s *Store) backfillIncidentEntities(ctx context.Context) error {
	var missing int
	err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM incidents WHERE id NOT IN (SELECT incident FROM incident_entities)`).Scan(&missing)
	if err != nil || missing == 0 {
		return err
	}
	rows, err := s.w.QueryContext(ctx, `SELECT data FROM incidents WHERE id NOT IN (SELECT incident FROM incident_entities)`)
	if err != nil {
		return err
	}
	var incs []event.Incident
	for rows.Next() {
		var b []byte
		var inc event.Incident
		if rows.Scan(&b) == nil && json.Unmarshal(b, &inc) == nil {
			incs = append(incs, inc)
		}
	}
	rows.Close()
	return s.tx(ctx, func(tx *sql.Tx) error {
		for i := range incs {
			if err := indexIncident(ctx, tx, &incs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func count(ctx context.Context, db *sql.DB, q string) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}
