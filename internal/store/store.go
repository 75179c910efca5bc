// Package store defines where vigil keeps its state: events, dead letters, alerts, incidents and
// the tables later stages need. The interfaces here are the contract; internal/store/sqlite is the
// embedded implementation and internal/store/storetest is the conformance suite every
// implementation must pass.
//
// All methods are safe for concurrent use. Writes are idempotent on IDs: writing the same event or
// dead letter twice stores it once, which is what makes redelivery after a crash harmless.
package store

import (
	"context"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Events stores normalized events with their raw records.
type Events interface {
	// PutEvents stores events, skipping any whose ID is already stored. It returns how many
	// were new. The write is durable when PutEvents returns. encoded, when not nil, holds each
	// event's JSON encoding (json.Marshal(&evs[i])) so that a caller that also publishes the
	// events encodes them once.
	PutEvents(ctx context.Context, evs []event.Event, encoded [][]byte) (int, error)
	// GetEvent returns one event, or an error wrapping ErrNotFound.
	GetEvent(ctx context.Context, id string) (event.Event, error)
	// SearchEvents returns events matching q, newest first. When ctx ends during the search,
	// it returns the events found so far (newest first) with ctx's error, so that a caller who
	// ends it on purpose (a hunting query out of budget) keeps them.
	SearchEvents(ctx context.Context, q EventQuery) ([]event.Event, error)
	// CountEvents returns how many events are stored.
	CountEvents(ctx context.Context) (int64, error)
}

// EventQuery selects events. Zero fields do not filter.
type EventQuery struct {
	From, To time.Time
	Host     string
	// User matches the account name case-insensitively; a bare name (no domain) also matches
	// that name under any domain: "alice" finds "EXAMPLE\alice" and "alice@example.com" (see
	// UserMatches).
	User    string
	IP      string // matches the source or destination IP
	Class   event.Class
	Code    string
	Process string // process name, case-insensitive
	IDs     []string
	// Contains keeps events whose stored form holds this text, case-insensitively (a coarse
	// filter that callers refine, e.g. an application name or ID).
	Contains string
	// Match, when set, keeps only the events it accepts, after the other filters; Limit counts
	// the events it accepted. It must be safe to call from the searching goroutine, and it must
	// neither keep nor change the event it is given.
	Match func(*event.Event) bool
	Limit int // default 100, at most 10000
}

// DeadLetter is a record that could not be processed, kept with the reason.
type DeadLetter struct {
	ID       string       `json:"id"`
	Stage    string       `json:"stage"`
	Reason   string       `json:"reason"`
	Origin   event.Origin `json:"origin"`
	Data     []byte       `json:"data"`
	Received time.Time    `json:"received"`
}

// DeadLetters stores records set aside by any stage.
type DeadLetters interface {
	// PutDeadLetters stores dead letters, skipping IDs already stored.
	PutDeadLetters(ctx context.Context, dls []DeadLetter) error
	// ListDeadLetters returns up to limit dead letters, newest first.
	ListDeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// CountDeadLetters returns how many dead letters are stored.
	CountDeadLetters(ctx context.Context) (int64, error)
}

// Retention removes old events.
type Retention interface {
	// DeleteEventsBefore removes events whose time is before t and returns how many went.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error)
	// TrimEvents removes the oldest events until at most maxBytes of event data remain, and
	// returns how many went.
	TrimEvents(ctx context.Context, maxBytes int64) (int64, error)
}

// Store is the whole state store.
type Store interface {
	Events
	DeadLetters
	Retention
	Alerts
	Incidents
	Graph
	Evidence
	Actions
	KV
	// Close releases the store.
	Close() error
}
