package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

func alertIncident(a *event.Alert) string {
	if a.Triage != nil {
		return a.Triage.IncidentID
	}
	return ""
}

// PutAlerts stores alerts, skipping IDs already stored.
func (s *Store) PutAlerts(ctx context.Context, as []event.Alert) (int, error) {
	if len(as) == 0 {
		return 0, nil
	}
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO alerts(id,time,rule_id,incident,data) VALUES (?,?,?,?,?)`)
		if err != nil {
			return fmt.Errorf("prepare alert insert: %w", err)
		}
		defer st.Close()
		for i := range as {
			a := &as[i]
			data, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("encode alert %s: %w", a.ID, err)
			}
			res, err := st.ExecContext(ctx, a.ID, a.Time.UnixNano(), a.RuleID, alertIncident(a), data)
			if err != nil {
				return fmt.Errorf("insert alert %s: %w", a.ID, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// UpdateAlerts replaces stored alerts by ID.
func (s *Store) UpdateAlerts(ctx context.Context, as []event.Alert) error {
	if len(as) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE alerts SET time=?, rule_id=?, incident=?, data=? WHERE id=?`)
		if err != nil {
			return fmt.Errorf("prepare alert update: %w", err)
		}
		defer st.Close()
		for i := range as {
			a := &as[i]
			data, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("encode alert %s: %w", a.ID, err)
			}
			res, err := st.ExecContext(ctx, a.Time.UnixNano(), a.RuleID, alertIncident(a), data, a.ID)
			if err != nil {
				return fmt.Errorf("update alert %s: %w", a.ID, err)
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return fmt.Errorf("update alert %s: %w", a.ID, store.ErrNotFound)
			}
		}
		return nil
	})
}

// GetAlert returns one alert.
func (s *Store) GetAlert(ctx context.Context, id string) (event.Alert, error) {
	return getDoc[event.Alert](ctx, s.r, "alerts", "alert", id)
}

// ListAlerts returns alerts matching q, oldest first.
func (s *Store) ListAlerts(ctx context.Context, q store.AlertQuery) ([]event.Alert, error) {
	var where []string
	var args []any
	if q.Incident != "" {
		where = append(where, "incident = ?")
		args = append(args, q.Incident)
	}
	if q.RuleID != "" {
		where = append(where, "rule_id = ?")
		args = append(args, q.RuleID)
	}
	if !q.From.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		where = append(where, "time < ?")
		args = append(args, q.To.UnixNano())
	}
	if len(q.IDs) > 0 {
		where = append(where, "id IN ("+placeholders(len(q.IDs))+")")
		for _, id := range q.IDs {
			args = append(args, id)
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	limit = min(limit, 100000)
	text := "SELECT data FROM alerts"
	if len(where) > 0 {
		text += " WHERE " + strings.Join(where, " AND ")
	}
	order := "time, seq"
	if q.NewestFirst {
		order = "time DESC, seq DESC"
	}
	text += fmt.Sprintf(" ORDER BY %s LIMIT %d", order, limit)
	rows, err := s.r.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []event.Alert
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		var a event.Alert
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, fmt.Errorf("decode alert: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CountAlerts returns the number of alerts.
func (s *Store) CountAlerts(ctx context.Context) (int64, error) {
	return count(ctx, s.r, `SELECT count(*) FROM alerts`)
}

// PutIncident inserts or replaces an incident with optimistic concurrency on Version.
func (s *Store) PutIncident(ctx context.Context, inc event.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("encode incident %s: %w", inc.ID, err)
	}
	merged := 0
	if inc.MergedInto != "" || inc.Status == event.StatusMerged {
		merged = 1
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM incidents WHERE id=?`, inc.ID).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if inc.Version > 1 {
				return fmt.Errorf("incident %s version %d: %w", inc.ID, inc.Version, store.ErrConflict)
			}
		case err != nil:
			return fmt.Errorf("read incident %s: %w", inc.ID, err)
		default:
			if inc.Version > 0 && cur != inc.Version-1 {
				return fmt.Errorf("incident %s stored version %d, update to %d: %w", inc.ID, cur, inc.Version, store.ErrConflict)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO incidents(id,status,updated,version,merged,data) VALUES (?,?,?,?,?,?)
			ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated=excluded.updated, version=excluded.version, merged=excluded.merged, data=excluded.data`,
			inc.ID, inc.Status, inc.Updated.UnixNano(), inc.Version, merged, data)
		if err != nil {
			return fmt.Errorf("write incident %s: %w", inc.ID, err)
		}
		return indexIncident(ctx, tx, &inc)
	})
}

// UpdateIncident applies fn to the stored incident in one write transaction.
func (s *Store) UpdateIncident(ctx context.Context, id string, fn func(inc *event.Incident, exists bool) error) (event.Incident, error) {
	var out event.Incident
	err := s.tx(ctx, func(tx *sql.Tx) error {
		exists := true
		var err error
		out, err = getDoc[event.Incident](ctx, tx, "incidents", "incident", id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			exists = false
			out = event.Incident{ID: id}
		case err != nil:
			return err
		}
		if err := fn(&out, exists); err != nil {
			return err
		}
		out.ID = id
		out.Version++
		merged := 0
		if out.MergedInto != "" || out.Status == event.StatusMerged {
			merged = 1
		}
		b, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode incident %s: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO incidents(id,status,updated,version,merged,data) VALUES (?,?,?,?,?,?)
			ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated=excluded.updated, version=excluded.version, merged=excluded.merged, data=excluded.data`,
			id, out.Status, out.Updated.UnixNano(), out.Version, merged, b)
		if err != nil {
			return fmt.Errorf("write incident %s: %w", id, err)
		}
		return indexIncident(ctx, tx, &out)
	})
	return out, err
}

// GetIncident returns one incident.
func (s *Store) GetIncident(ctx context.Context, id string) (event.Incident, error) {
	return getDoc[event.Incident](ctx, s.r, "incidents", "incident", id)
}

// ListIncidents returns incidents, most recently updated first. Merged incidents are left out.
func (s *Store) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]event.Incident, error) {
	where := []string{"merged = 0"}
	var args []any
	if q.Status != "" {
		where = append(where, "status = ?")
		args = append(args, q.Status)
	}
	if !q.Since.IsZero() {
		where = append(where, "updated >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if q.Entity != "" {
		where = append(where, "id IN (SELECT incident FROM incident_entities WHERE entity = ?)")
		args = append(args, strings.ToLower(q.Entity))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	rows, err := s.r.QueryContext(ctx, "SELECT data FROM incidents WHERE "+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY updated DESC LIMIT %d", limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []event.Incident
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		var inc event.Incident
		if q.Summary {
			var sl slimIncident
			if err := json.Unmarshal(data, &sl); err != nil {
				return nil, fmt.Errorf("decode incident: %w", err)
			}
			inc = sl.incident()
		} else if err := json.Unmarshal(data, &inc); err != nil {
			return nil, fmt.Errorf("decode incident: %w", err)
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// CountIncidents returns the number of incidents not merged into another.
func (s *Store) CountIncidents(ctx context.Context) (int64, error) {
	return count(ctx, s.r, `SELECT count(*) FROM incidents WHERE merged = 0`)
}

// GetState returns a state value.
func (s *Store) GetState(ctx context.Context, ns, key string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM state WHERE ns=? AND key=?`, ns, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("state %s/%s: %w", ns, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get state %s/%s: %w", ns, key, err)
	}
	return v, nil
}

// PutState stores a state value.
func (s *Store) PutState(ctx context.Context, ns, key string, val []byte) error {
	if val == nil {
		val = []byte{}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO state(ns,key,value) VALUES (?,?,?) ON CONFLICT(ns,key) DO UPDATE SET value=excluded.value`, ns, key, val)
		if err != nil {
			return fmt.Errorf("put state %s/%s: %w", ns, key, err)
		}
		return nil
	})
}

// DeleteState removes a state value.
func (s *Store) DeleteState(ctx context.Context, ns, key string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM state WHERE ns=? AND key=?`, ns, key); err != nil {
			return fmt.Errorf("delete state %s/%s: %w", ns, key, err)
		}
		return nil
	})
}

// ListState iterates a namespace in key order.
func (s *Store) ListState(ctx context.Context, ns string, fn func(key string, val []byte) bool) error {
	rows, err := s.r.QueryContext(ctx, `SELECT key, value FROM state WHERE ns=? ORDER BY key`, ns)
	if err != nil {
		return fmt.Errorf("list state %s: %w", ns, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("list state %s: %w", ns, err)
		}
		if !fn(k, v) {
			break
		}
	}
	return rows.Err()
}

// AlertStats counts alerts by day, rule and disposition.
func (s *Store) AlertStats(ctx context.Context, from, to time.Time) ([]store.AlertStat, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT date(time/1000000000, 'unixepoch'), coalesce(json_extract(data, '$.rule_title'), ''),
		coalesce(json_extract(data, '$.triage.disposition'), ''), count(*)
		FROM alerts WHERE time >= ? AND time < ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("alert stats: %w", err)
	}
	defer rows.Close()
	var out []store.AlertStat
	for rows.Next() {
		var st store.AlertStat
		if err := rows.Scan(&st.Day, &st.Rule, &st.Disposition, &st.Count); err != nil {
			return nil, fmt.Errorf("alert stats: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// indexIncident records an incident's users and hosts in the entity index.
func indexIncident(ctx context.Context, tx *sql.Tx, inc *event.Incident) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM incident_entities WHERE incident=?`, inc.ID); err != nil {
		return fmt.Errorf("index incident %s: %w", inc.ID, err)
	}
	seen := map[string]bool{}
	add := func(e string) error {
		e = strings.ToLower(e)
		if seen[e] {
			return nil
		}
		seen[e] = true
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO incident_entities(entity, incident) VALUES (?,?)`, e, inc.ID)
		return err
	}
	// An incident with no entity still gets a row, so the backfill knows it was indexed.
	if err := add("incident:" + inc.ID); err != nil {
		return fmt.Errorf("index incident %s: %w", inc.ID, err)
	}
	for _, u := range inc.Users {
		if err := add("user:" + u); err != nil {
			return fmt.Errorf("index incident %s: %w", inc.ID, err)
		}
	}
	for _, h := range inc.Hosts {
		if err := add("host:" + h); err != nil {
			return fmt.Errorf("index incident %s: %w", inc.ID, err)
		}
	}
	return nil
}

// slimIncident decodes the summary fields of an incident; the JSON decoder skips the rest
// (alerts, chain, report body) without allocating it.
type slimIncident struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Status      string         `json:"status"`
	Disposition string         `json:"disposition"`
	Severity    event.Severity `json:"severity_id"`
	Score       float64        `json:"score"`
	AlertCount  int            `json:"alert_count"`
	Hosts       []string       `json:"hosts"`
	Users       []string       `json:"users"`
	Tactics     []string       `json:"tactics"`
	FirstSeen   time.Time      `json:"first_seen"`
	LastSeen    time.Time      `json:"last_seen"`
	Created     time.Time      `json:"created"`
	Updated     time.Time      `json:"updated"`
	MergedInto  string         `json:"merged_into"`
	Version     int64          `json:"version"`
	Report      *struct {
		Verdict    string  `json:"verdict"`
		Confidence float64 `json:"confidence"`
	} `json:"report"`
}

func (s *slimIncident) incident() event.Incident {
	inc := event.Incident{ID: s.ID, Title: s.Title, Status: s.Status, Disposition: s.Disposition, Severity: s.Severity, Score: s.Score,
		AlertCount: s.AlertCount, Hosts: s.Hosts, Users: s.Users, Tactics: s.Tactics, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen,
		Created: s.Created, Updated: s.Updated, MergedInto: s.MergedInto, Version: s.Version}
	if s.Report != nil {
		inc.Report = &event.Report{Verdict: s.Report.Verdict, Confidence: s.Report.Confidence}
	}
	return inc
}
