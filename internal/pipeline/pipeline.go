// Package pipeline is how stages meet: the subjects of the durable bus, the message types that
// travel on them, the Bus interface (implemented over NATS JetStream by internal/natsbus) and
// bounded in-process queues with an explicit overflow policy.
//
// Data flows one way:
//
//	ingest ─raw.events─► normalize ─events─► detect ─alerts─► triage ─triaged─► correlate ─incidents─► investigate ─actions─► respond
//	ingest ─raw.alerts─► (alert intake) ─alerts─┘
//
// A stage consumes one subject through a durable consumer, writes its own results, publishes to
// the next subject and only then acknowledges its input. Redelivery after a crash is therefore
// normal, and every stage is idempotent on the IDs it writes.
package pipeline

import (
	"context"
	"time"
)

// Subjects of the bus.
const (
	SubjectRawEvents = "vigil.raw.events" // RawBatch of telemetry records
	SubjectRawAlerts = "vigil.raw.alerts" // RawBatch of alerts from other tools
	SubjectEvents    = "vigil.events"     // EventBatch of normalized, stored events
	SubjectAlerts    = "vigil.alerts"     // AlertBatch of stored alerts awaiting triage
	SubjectTriaged   = "vigil.triaged"    // AlertBatch of triaged alerts
	SubjectIncidents = "vigil.incidents"  // IncidentBatch: incidents opened or changed
	SubjectActions   = "vigil.actions"    // ActionBatch: response actions to run
)

// Msg is one delivered message.
type Msg struct {
	Subject string
	// ID is the message's deduplication ID as published.
	ID   string
	Data []byte
	// Delivered counts deliveries, 1 on the first.
	Delivered int
}

// Publisher writes messages to the durable bus.
type Publisher interface {
	// Publish stores data on subject and returns once the bus acknowledged it as durable.
	// msgID deduplicates retries of the same message. When the bus is full the error wraps
	// ErrFull and nothing was stored.
	Publish(ctx context.Context, subject, msgID string, data []byte) error
	// MaxPayload is the largest message the bus accepts, in bytes.
	MaxPayload() int
}

// Handler processes a batch of delivered messages. Returning nil acknowledges all of them.
// Returning an error leaves them for redelivery; the consumer then retries the messages one by
// one so that a single poison message cannot hold back the others, and after
// ConsumerConfig.MaxDeliver failed deliveries a message goes to ConsumerConfig.Dead.
// A handler must be idempotent: a message can be delivered again after a crash.
type Handler func(ctx context.Context, msgs []Msg) error

// ConsumerConfig describes one stage's durable consumer.
type ConsumerConfig struct {
	// Name is the durable consumer name (the stage name).
	Name    string
	Subject string
	// Workers process batches concurrently; 1 keeps delivery order.
	Workers int
	// Batch is the most messages handed to one Handler call.
	Batch int
	// BatchBytes, when positive, ends a batch once its messages reach this many bytes (a batch
	// always holds at least one message), so that a stage's memory follows the bytes it holds,
	// not the number of messages.
	BatchBytes int
	// MaxInflight bounds unacknowledged messages (back-pressure on the stream).
	MaxInflight int
	// MaxDeliver is how many deliveries a failing message gets.
	MaxDeliver int
	// AckWait is how long a delivery may stay unacknowledged before redelivery.
	AckWait time.Duration
	// Dead receives a message that failed MaxDeliver times, with the last error. When it
	// returns nil the message is acknowledged and gone from the stream; when it fails the message
	// stays and is retried later, so nothing is lost because the dead-letter store was down.
	// Failures wrapping ErrFull or a context error never count towards MaxDeliver.
	Dead func(ctx context.Context, m Msg, err error) error
	// Started, when set, is called once the durable consumer exists and delivery begins.
	Started func()
}

// Lag is a consumer's backlog.
type Lag struct {
	Pending    uint64 // not yet delivered
	AckPending uint64 // delivered, not yet acknowledged
}

// Bus is the durable message bus between stages.
type Bus interface {
	Publisher
	// Consume runs a durable consumer, calling h with batches, until ctx is cancelled. It
	// returns nil on cancellation.
	Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error
	// Lag returns the backlog of every consumer by name.
	Lag(ctx context.Context) (map[string]Lag, error)
	// Close releases the bus.
	Close() error
}
