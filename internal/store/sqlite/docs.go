package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-soc/vigil/internal/store"
)

// rowQuerier is what getDoc reads through: the reader pool or a write transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getDoc reads and decodes the JSON document stored under id in table (alerts, incidents,
// actions, evidence: tables with id and data columns). kind names the document in errors; a
// missing row wraps store.ErrNotFound.
func getDoc[T any](ctx context.Context, q rowQuerier, table, kind, id string) (T, error) {
	var doc T
	var b []byte
	err := q.QueryRowContext(ctx, `SELECT data FROM `+table+` WHERE id=?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return doc, fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	}
	if err != nil {
		return doc, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return doc, fmt.Errorf("decode %s %s: %w", kind, id, err)
	}
	return doc, nil
}

// placeholders returns n comma-separated SQL parameters: "?,?,?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
