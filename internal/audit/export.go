package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Query selects entries. Zero fields do not filter.
type Query struct {
	Subject string // exact match
	Actor   string // exact match
	Action  string // exact match
	From    time.Time
	To      time.Time // From <= Time < To
	Before  uint64    // only entries with Seq < Before: the next page after the last Seq seen
	Limit   int       // at most this many (default 100, at most 10000)
}

// Entries returns the entries q selects, newest (highest Seq) first. It reads without checking
// hashes; use Verify for that.
func (l *Log) Entries(ctx context.Context, q Query) ([]Entry, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	var where []string
	var args []any
	add := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	if q.Subject != "" {
		add("subject = ?", q.Subject)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if !q.From.IsZero() {
		add("time >= ?", clampNano(q.From))
	}
	if !q.To.IsZero() {
		add("time < ?", clampNano(q.To))
	}
	if q.Before > 0 {
		add("seq < ?", int64(min(q.Before, 1<<63-1)))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	query := `SELECT ` + entryColumns + ` FROM entries`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	rows, err := l.r.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("query audit entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var r row
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("query audit entries: %w", err)
		}
		e, err := r.decode()
		if err != nil {
			return nil, fmt.Errorf("query audit entries: entry %s: %w", describeSeq(r.seq), err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query audit entries: %w", err)
	}
	return out, nil
}

// clampNano is t in Unix nanoseconds, clamped to what int64 holds.
func clampNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

// ExportFormat is the "format" of an export's header line.
const ExportFormat = "vigil.audit.export.v1"

// exportHeader is the first line of an export.
type exportHeader struct {
	Type     string `json:"type"` // "header"
	Format   string `json:"format"`
	ChainID  string `json:"chain_id"`
	Genesis  Digest `json:"genesis"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	FirstSeq uint64 `json:"first_seq"` // 0 when no entry matched
	LastSeq  uint64 `json:"last_seq"`
}

// exportEntry is an entry line. Data is the stored canonical JSON as a string: the hash covers
// those exact bytes.
type exportEntry struct {
	Type     string `json:"type"` // "entry"
	Seq      uint64 `json:"seq"`
	Time     string `json:"time"`    // RFC 3339, nanoseconds, UTC
	TimeNS   int64  `json:"time_ns"` // the hashed value
	Actor    string `json:"actor"`
	Action   string `json:"action"`
	Subject  string `json:"subject"`
	Data     string `json:"data"`
	PrevHash Digest `json:"prev_hash"`
	Hash     Digest `json:"hash"`
}

// exportCheckpoint is a checkpoint line, written after the entry it covers.
type exportCheckpoint struct {
	Type        string `json:"type"` // "checkpoint"
	N           uint64 `json:"n"`
	Seq         uint64 `json:"seq"`
	Hash        Digest `json:"hash"`
	Time        string `json:"time"`
	TimeNS      int64  `json:"time_ns"`
	PublicKey   string `json:"public_key"` // hex, 32 bytes
	Signature   string `json:"signature"`  // hex, 64 bytes
	PrevKey     string `json:"prev_key,omitempty"`
	Endorsement string `json:"endorsement,omitempty"`
}

// Export writes the entries recorded between from and to (zero: unbounded) as JSON lines, for
// compliance archives and independent verification. It writes the whole run of entries from the
// first with Time >= from to the last with Time < to, so that the segment is one unbroken chain;
// callers that set Time themselves may make that run hold a few entries timed outside the range.
// The lines, in the package documentation's terms (hashes, keys and signatures in lower-case hex):
//
//	{"type":"header","format":"vigil.audit.export.v1","chain_id":..,"genesis":..,"from":..,"to":..,
//	 "first_seq":..,"last_seq":..}
//	{"type":"entry","seq":..,"time":RFC 3339 UTC,"time_ns":Time,"actor":..,"action":..,"subject":..,
//	 "data":the stored canonical JSON as a string,"prev_hash":..,"hash":..}
//	{"type":"checkpoint","n":..,"seq":..,"hash":..,"time":..,"time_ns":..,"public_key":..,
//	 "signature":..,"prev_key":..,"endorsement":..}
//
// one header, then the entries in Seq order, each checkpoint right after the entry it covers. Data
// is a string because the hash covers its exact bytes; prev_key and endorsement appear only on a
// key rotation. The first entry's prev_hash links the segment to the entries before it.
func (l *Log) Export(ctx context.Context, w io.Writer, from, to time.Time) error {
	if l.closed.Load() {
		return ErrClosed
	}
	tx, err := l.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	defer tx.Rollback()

	var where []string
	var args []any
	if !from.IsZero() {
		where, args = append(where, "time >= ?"), append(args, clampNano(from))
	}
	if !to.IsZero() {
		where, args = append(where, "time < ?"), append(args, clampNano(to))
	}
	query := `SELECT MIN(seq), MAX(seq) FROM entries`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	var lo, hi sql.NullInt64
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	hdr := exportHeader{Type: "header", Format: ExportFormat, ChainID: l.chainID, Genesis: l.genesis,
		FirstSeq: uint64(max(lo.Int64, 0)), LastSeq: uint64(max(hi.Int64, 0))}
	if !from.IsZero() {
		hdr.From = from.UTC().Format(time.RFC3339Nano)
	}
	if !to.IsZero() {
		hdr.To = to.UTC().Format(time.RFC3339Nano)
	}
	out := json.NewEncoder(w)
	out.SetEscapeHTML(false)
	if err := out.Encode(hdr); err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	if !lo.Valid {
		return nil
	}

	cps, err := exportCheckpoints(ctx, tx, lo.Int64, hi.Int64)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+entryColumns+` FROM entries WHERE seq BETWEEN ? AND ? ORDER BY seq`, lo.Int64, hi.Int64)
	if err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r row
		if err := rows.Scan(r.dest()...); err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		e, err := r.decode()
		if err != nil {
			return fmt.Errorf("export audit log: entry %s: %w", describeSeq(r.seq), err)
		}
		line := exportEntry{Type: "entry", Seq: e.Seq, Time: e.Time.Format(time.RFC3339Nano), TimeNS: e.Time.UnixNano(),
			Actor: e.Actor, Action: e.Action, Subject: e.Subject, Data: string(e.Data), PrevHash: e.PrevHash, Hash: e.Hash}
		if err := out.Encode(line); err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		for len(cps) > 0 && cps[0].Seq <= e.Seq {
			if err := out.Encode(cps[0]); err != nil {
				return fmt.Errorf("export audit log: %w", err)
			}
			cps = cps[1:]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	return nil
}

// exportCheckpoints returns the checkpoint lines for entries lo..hi, in order.
func exportCheckpoints(ctx context.Context, tx *sql.Tx, lo, hi int64) ([]exportCheckpoint, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+checkpointColumns+` FROM checkpoints WHERE seq BETWEEN ? AND ? ORDER BY seq, n`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("export audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []exportCheckpoint
	for rows.Next() {
		var r cpRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("export audit checkpoints: %w", err)
		}
		c, err := r.decode()
		if err != nil {
			return nil, fmt.Errorf("export audit checkpoints: checkpoint at %s: %w", cpName(&r), err)
		}
		out = append(out, exportCheckpoint{Type: "checkpoint", N: c.N, Seq: c.Seq, Hash: c.Hash,
			Time: c.Time.Format(time.RFC3339Nano), TimeNS: c.Time.UnixNano(),
			PublicKey: hex.EncodeToString(c.PublicKey), Signature: hex.EncodeToString(c.Signature),
			PrevKey: hex.EncodeToString(c.PrevKey), Endorsement: hex.EncodeToString(c.Endorsement)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export audit checkpoints: %w", err)
	}
	return out, nil
}
