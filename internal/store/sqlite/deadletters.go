package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/store"
)

// PutDeadLetters stores dead letters, skipping IDs already stored.
func (s *Store) PutDeadLetters(ctx context.Context, dls []store.DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO dead_letters(id,stage,reason,origin,data,received) VALUES (?,?,?,?,?,?)`)
		if err != nil {
			return fmt.Errorf("prepare dead letter insert: %w", err)
		}
		defer st.Close()
		for _, d := range dls {
			origin, err := json.Marshal(d.Origin)
			if err != nil {
				return fmt.Errorf("encode dead letter origin: %w", err)
			}
			if _, err := st.ExecContext(ctx, d.ID, d.Stage, d.Reason, string(origin), d.Data, d.Received.UnixNano()); err != nil {
				return fmt.Errorf("insert dead letter %s: %w", d.ID, err)
			}
		}
		return nil
	})
}

// ListDeadLetters returns up to limit dead letters, newest first.
func (s *Store) ListDeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id,stage,reason,origin,data,received FROM dead_letters ORDER BY seq DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	var out []store.DeadLetter
	for rows.Next() {
		var d store.DeadLetter
		var origin string
		var recv int64
		if err := rows.Scan(&d.ID, &d.Stage, &d.Reason, &origin, &d.Data, &recv); err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		if err := json.Unmarshal([]byte(origin), &d.Origin); err != nil {
			return nil, fmt.Errorf("decode dead letter %s origin: %w", d.ID, err)
		}
		d.Received = time.Unix(0, recv).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// CountDeadLetters returns the number of dead letters.
func (s *Store) CountDeadLetters(ctx context.Context) (int64, error) {
	return count(ctx, s.r, `SELECT count(*) FROM dead_letters`)
}
