package store

import (
	"context"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Alerts stores alerts and their triage decisions.
type Alerts interface {
	// PutAlerts stores alerts, skipping IDs already stored, and returns how many were new.
	PutAlerts(ctx context.Context, as []event.Alert) (int, error)
	// UpdateAlerts replaces stored alerts (matched by ID) with the given ones, e.g. to record a
	// triage decision or a folded count.
	UpdateAlerts(ctx context.Context, as []event.Alert) error
	// GetAlert returns one alert, or an error wrapping ErrNotFound.
	GetAlert(ctx context.Context, id string) (event.Alert, error)
	// ListAlerts returns alerts matching q, oldest first (newest first with q.NewestFirst).
	ListAlerts(ctx context.Context, q AlertQuery) ([]event.Alert, error)
	// CountAlerts returns how many alerts are stored.
	CountAlerts(ctx context.Context) (int64, error)
	// AlertStats counts alerts whose time is in [from, to) by day, rule and triage disposition.
	AlertStats(ctx context.Context, from, to time.Time) ([]AlertStat, error)
}

// AlertStat is one group of AlertStats.
type AlertStat struct {
	Day         string // YYYY-MM-DD (UTC)
	Rule        string // the rule title
	Disposition string // empty when not triaged yet
	Count       int64
}

// AlertQuery selects alerts. Zero fields do not filter.
type AlertQuery struct {
	IDs      []string
	Incident string
	From, To time.Time
	RuleID   string
	Limit    int // default 1000, at most 100000
	// NewestFirst returns the newest Limit alerts, newest first (default: oldest first).
	NewestFirst bool
}

// Incidents stores incidents.
type Incidents interface {
	// PutIncident inserts or replaces an incident. When inc.Version is above zero the stored
	// version must be inc.Version-1, otherwise the error wraps ErrConflict; the stored version
	// becomes inc.Version.
	PutIncident(ctx context.Context, inc event.Incident) error
	// UpdateIncident reads an incident, applies fn and writes it back in one transaction, so
	// that stages and analysts changing different fields never lose each other's updates. fn
	// gets ErrNotFound's zero incident (ID set) when it does not exist yet; returning an error
	// aborts. The stored version increases.
	UpdateIncident(ctx context.Context, id string, fn func(inc *event.Incident, exists bool) error) (event.Incident, error)
	// GetIncident returns one incident, or an error wrapping ErrNotFound.
	GetIncident(ctx context.Context, id string) (event.Incident, error)
	// ListIncidents returns incidents matching q, most recently updated first.
	ListIncidents(ctx context.Context, q IncidentQuery) ([]event.Incident, error)
	// CountIncidents returns how many incidents are stored (merged ones excluded).
	CountIncidents(ctx context.Context) (int64, error)
}

// IncidentQuery selects incidents.
type IncidentQuery struct {
	Status string
	// Summary decodes only the fields of the queue row and the verdict (ID, title, status,
	// disposition, severity, score, counts, entities, tactics, times, report verdict), which is
	// much cheaper for long lists.
	Summary bool
	// Entity selects incidents holding a user or host: "user:example\\bob", "host:ws01" (case-insensitive).
	Entity string
	Since  time.Time // updated at or after
	Limit  int       // default 100, at most 10000
}

// KV keeps small named state blobs: model weights, baseline sketches, graph snapshots,
// consumer cursors. Namespaces keep stages apart.
type KV interface {
	// GetState returns the value, or an error wrapping ErrNotFound.
	GetState(ctx context.Context, ns, key string) ([]byte, error)
	// PutState stores the value durably.
	PutState(ctx context.Context, ns, key string, val []byte) error
	// DeleteState removes a key; removing a missing key is not an error.
	DeleteState(ctx context.Context, ns, key string) error
	// ListState calls fn for every key of ns in key order until fn returns false.
	ListState(ctx context.Context, ns string, fn func(key string, val []byte) bool) error
}

// Graph stores the entity graph's edges, so that older parts of the graph live on disk instead
// of in memory.
type Graph interface {
	// PutEdges stores edges; an edge with the same from, to, kind, time and first event ID is
	// stored once.
	PutEdges(ctx context.Context, edges []event.ChainEdge) error
	// EdgesOf returns edges touching any of the entity keys within [from, to), oldest first.
	EdgesOf(ctx context.Context, keys []string, from, to time.Time, limit int) ([]event.ChainEdge, error)
}

// Evidence stores investigation evidence items.
type Evidence interface {
	// PutEvidence stores evidence items, replacing items with the same ID.
	PutEvidence(ctx context.Context, ev []event.Evidence) error
	// GetEvidence returns one item, or an error wrapping ErrNotFound.
	GetEvidence(ctx context.Context, id string) (event.Evidence, error)
	// MissingEvidence returns which of ids are not stored.
	MissingEvidence(ctx context.Context, ids []string) ([]string, error)
	// ListEvidence returns an incident's evidence, oldest first.
	ListEvidence(ctx context.Context, incidentID string, limit int) ([]event.Evidence, error)
}

// Actions stores response actions and their history.
type Actions interface {
	// UpdateAction reads an action, applies fn and writes it back in one transaction; fn gets
	// exists=false (and the ID set) when it does not exist yet. Returning an error aborts.
	UpdateAction(ctx context.Context, id string, fn func(a *event.Action, exists bool) error) (event.Action, error)
	// GetAction returns one action, or an error wrapping ErrNotFound.
	GetAction(ctx context.Context, id string) (event.Action, error)
	// ListActions returns actions by incident and/or status, oldest first.
	ListActions(ctx context.Context, q ActionQuery) ([]event.Action, error)
}

// ActionQuery selects actions.
type ActionQuery struct {
	Incident string
	Status   []string
	Limit    int
}
