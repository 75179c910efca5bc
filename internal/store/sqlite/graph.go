package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

func edgeID(e *event.ChainEdge) string {
	first := ""
	if len(e.EventIDs) > 0 {
		first = e.EventIDs[0]
	}
	return event.DeriveID("eg_", e.From, e.To, e.Kind, strconv.FormatInt(e.Time.UnixNano(), 10), first)
}

// PutEdges stores graph edges, once each.
func (s *Store) PutEdges(ctx context.Context, edges []event.ChainEdge) error {
	if len(edges) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO graph_edges(id,src,dst,kind,time,data) VALUES (?,?,?,?,?,?)`)
		if err != nil {
			return fmt.Errorf("prepare edge insert: %w", err)
		}
		defer st.Close()
		for i := range edges {
			e := &edges[i]
			data, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode edge: %w", err)
			}
			if _, err := st.ExecContext(ctx, edgeID(e), e.From, e.To, e.Kind, e.Time.UnixNano(), data); err != nil {
				return fmt.Errorf("insert edge: %w", err)
			}
		}
		return nil
	})
}

// EdgesOf returns the edges touching the keys within the time range, oldest first.
func (s *Store) EdgesOf(ctx context.Context, keys []string, from, to time.Time, limit int) ([]event.ChainEdge, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = 1000
	}
	ph := placeholders(len(keys))
	lo, hi := int64(0), int64(1<<62)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	args := make([]any, 0, 2*len(keys)+4)
	for range 2 { // the two halves of the UNION take the same arguments
		for _, k := range keys {
			args = append(args, k)
		}
		args = append(args, lo, hi)
	}
	q := fmt.Sprintf(`SELECT data FROM (
		SELECT data, time FROM graph_edges WHERE src IN (%[1]s) AND time >= ? AND time < ?
		UNION SELECT data, time FROM graph_edges WHERE dst IN (%[1]s) AND time >= ? AND time < ?
	) ORDER BY time LIMIT %[2]d`, ph, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("edges of %d entities: %w", len(keys), err)
	}
	defer rows.Close()
	var out []event.ChainEdge
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var e event.ChainEdge
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("decode edge: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
