package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/vigil-soc/vigil/internal/event"
)

// PutEvidence stores evidence, replacing items with the same ID.
func (s *Store) PutEvidence(ctx context.Context, evs []event.Evidence) error {
	if len(evs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO evidence(id,incident,data) VALUES (?,?,?) ON CONFLICT(id) DO UPDATE SET incident=excluded.incident, data=excluded.data`)
		if err != nil {
			return fmt.Errorf("prepare evidence insert: %w", err)
		}
		defer st.Close()
		for i := range evs {
			b, err := json.Marshal(&evs[i])
			if err != nil {
				return fmt.Errorf("encode evidence %s: %w", evs[i].ID, err)
			}
			if _, err := st.ExecContext(ctx, evs[i].ID, evs[i].IncidentID, b); err != nil {
				return fmt.Errorf("insert evidence %s: %w", evs[i].ID, err)
			}
		}
		return nil
	})
}

// GetEvidence returns one evidence item.
func (s *Store) GetEvidence(ctx context.Context, id string) (event.Evidence, error) {
	return getDoc[event.Evidence](ctx, s.r, "evidence", "evidence", id)
}

// ListEvidence returns an incident's evidence, oldest first.
func (s *Store) ListEvidence(ctx context.Context, incidentID string, limit int) ([]event.Evidence, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, `SELECT data FROM evidence WHERE incident=? ORDER BY seq LIMIT ?`, incidentID, limit)
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	defer rows.Close()
	var out []event.Evidence
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var ev event.Evidence
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, fmt.Errorf("decode evidence: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// MissingEvidence returns which of ids are not stored.
func (s *Store) MissingEvidence(ctx context.Context, ids []string) ([]string, error) {
	have := map[string]bool{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.r.QueryContext(ctx, `SELECT id FROM evidence WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("check evidence: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("check evidence: %w", err)
			}
			have[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}
