package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// UpdateAction applies fn to a stored action in one write transaction.
func (s *Store) UpdateAction(ctx context.Context, id string, fn func(a *event.Action, exists bool) error) (event.Action, error) {
	var out event.Action
	err := s.tx(ctx, func(tx *sql.Tx) error {
		exists := true
		var err error
		out, err = getDoc[event.Action](ctx, tx, "actions", "action", id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			exists = false
			out = event.Action{ID: id}
		case err != nil:
			return err
		}
		if err := fn(&out, exists); err != nil {
			return err
		}
		out.ID = id
		out.Version++
		nb, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode action %s: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO actions(id,incident,status,data) VALUES (?,?,?,?)
			ON CONFLICT(id) DO UPDATE SET incident=excluded.incident, status=excluded.status, data=excluded.data`, id, out.Incident, out.Status, nb)
		if err != nil {
			return fmt.Errorf("write action %s: %w", id, err)
		}
		return nil
	})
	return out, err
}

// GetAction returns one action.
func (s *Store) GetAction(ctx context.Context, id string) (event.Action, error) {
	return getDoc[event.Action](ctx, s.r, "actions", "action", id)
}

// ListActions returns actions by incident and/or status, oldest first.
func (s *Store) ListActions(ctx context.Context, q store.ActionQuery) ([]event.Action, error) {
	var where []string
	var args []any
	if q.Incident != "" {
		where = append(where, "incident = ?")
		args = append(args, q.Incident)
	}
	if len(q.Status) > 0 {
		where = append(where, "status IN ("+placeholders(len(q.Status))+")")
		for _, st := range q.Status {
			args = append(args, st)
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	text := "SELECT data FROM actions"
	if len(where) > 0 {
		text += " WHERE " + strings.Join(where, " AND ")
	}
	text += fmt.Sprintf(" ORDER BY seq LIMIT %d", limit)
	rows, err := s.r.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	defer rows.Close()
	var out []event.Action
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var a event.Action
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("decode action: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
