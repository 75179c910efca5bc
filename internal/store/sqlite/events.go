package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

const eventCols = 11

// rowsPerInsert bounds one multi-row INSERT statement (11 parameters per row).
const rowsPerInsert = 256

// PutEvents stores events, skipping IDs already stored.
func (s *Store) PutEvents(ctx context.Context, evs []event.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	args := make([]any, 0, min(len(evs), rowsPerInsert)*eventCols)
	inserted := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(evs); start += rowsPerInsert {
			chunk := evs[start:min(start+rowsPerInsert, len(evs))]
			args = args[:0]
			for i := range chunk {
				ev := &chunk[i]
				data, err := json.Marshal(ev)
				if err != nil {
					return fmt.Errorf("encode event %s: %w", ev.ID, err)
				}
				args = append(args, ev.ID, ev.Time.UnixNano(), ev.Origin.Received.UnixNano(), string(ev.Class), ev.Code,
					eventHost(ev), eventUser(ev), ipOf(ev.Src), ipOf(ev.Dst), eventProcess(ev), data)
			}
			res, err := tx.ExecContext(ctx, insertEventsSQL(len(chunk)), args...)
			if err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
			n, _ := res.RowsAffected()
			inserted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

var insertEventsFull = buildInsertEvents(rowsPerInsert)

func insertEventsSQL(n int) string {
	if n == rowsPerInsert {
		return insertEventsFull
	}
	return buildInsertEvents(n)
}

func buildInsertEvents(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO events(id,time,received,class,code,host,user,src_ip,dst_ip,process,data) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

func eventHost(ev *event.Event) string {
	if ev.Device != nil {
		return strings.ToLower(ev.Device.Hostname)
	}
	return ""
}

func eventUser(ev *event.Event) string {
	if ev.User != nil {
		return strings.ToLower(ev.User.Name)
	}
	return ""
}

func ipOf(e *event.Endpoint) string {
	if e != nil {
		return e.IP
	}
	return ""
}

func eventProcess(ev *event.Event) string {
	if ev.Process == nil {
		return ""
	}
	name := ev.Process.Name
	if name == "" {
		name = path.Base(strings.ReplaceAll(ev.Process.Path, `\`, "/"))
		if name == "." || name == "/" {
			name = ""
		}
	}
	return strings.ToLower(name)
}

// GetEvent returns one event.
func (s *Store) GetEvent(ctx context.Context, id string) (event.Event, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM events WHERE id=?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return event.Event{}, fmt.Errorf("event %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return event.Event{}, fmt.Errorf("get event %s: %w", id, err)
	}
	var ev event.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return event.Event{}, fmt.Errorf("decode event %s: %w", id, err)
	}
	return ev, nil
}

// SearchEvents returns events matching q, newest first.
func (s *Store) SearchEvents(ctx context.Context, q store.EventQuery) ([]event.Event, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if !q.From.IsZero() {
		add("time >= ?", q.From.UnixNano())
	}
	if !q.To.IsZero() {
		add("time < ?", q.To.UnixNano())
	}
	if q.Host != "" {
		add("host = ?", strings.ToLower(q.Host))
	}
	if q.User != "" {
		add("user = ?", strings.ToLower(q.User))
	}
	if q.IP != "" {
		add("(src_ip = ? OR dst_ip = ?)", q.IP, q.IP)
	}
	if q.Class != "" {
		add("class = ?", string(q.Class))
	}
	if q.Code != "" {
		add("code = ?", q.Code)
	}
	if q.Process != "" {
		add("process = ?", strings.ToLower(q.Process))
	}
	if len(q.IDs) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?,", len(q.IDs)), ",")
		for _, id := range q.IDs {
			args = append(args, id)
		}
		where = append(where, "id IN ("+ph+")")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	sqlText := "SELECT data FROM events"
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += fmt.Sprintf(" ORDER BY time DESC, seq DESC LIMIT %d", limit)
	rows, err := s.r.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("search events: %w", err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("search events: %w", err)
		}
		var ev event.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// CountEvents returns the number of stored events.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	return count(ctx, s.r, `SELECT count(*) FROM events`)
}

// DeleteEventsBefore removes events older than t.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ? LIMIT 10000)`, t.UnixNano())
			if err != nil {
				return fmt.Errorf("delete old events: %w", err)
			}
			n, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < 10000 {
			return total, nil
		}
	}
}

// TrimEvents removes the oldest events while the database holds more than maxBytes of live
// pages.
func (s *Store) TrimEvents(ctx context.Context, maxBytes int64) (int64, error) {
	var total int64
	for {
		used, err := s.usedBytes(ctx)
		if err != nil {
			return total, err
		}
		if used <= maxBytes {
			return total, nil
		}
		var n int64
		err = s.tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY time LIMIT 5000)`)
			if err != nil {
				return fmt.Errorf("trim events: %w", err)
			}
			n, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}

func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, fmt.Errorf("page count: %w", err)
	}
	if err := s.w.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return 0, fmt.Errorf("freelist count: %w", err)
	}
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, fmt.Errorf("page size: %w", err)
	}
	return (pages - free) * size, nil
}
