package connectortest

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// AllowLoopback is the egress allow-list that lets a client reach the fakes, which listen on
// the loopback address.
var AllowLoopback = []string{"127.0.0.1", "::1"}

// Waits records the waits an egress client asks for, without waiting: set its Sleep as
// egress.Options.Sleep to test retries quickly and see that Retry-After was honoured.
type Waits struct {
	mu sync.Mutex
	d  []time.Duration
}

// Sleep records d and returns at once (or the context's error).
func (w *Waits) Sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

// All returns the recorded waits.
func (w *Waits) All() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// Reset forgets the recorded waits.
func (w *Waits) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = nil
}

// LogBuffer is a log sink safe for concurrent writes: tests point a client's slog logger at it
// and check what was (and was not) logged, such as secrets.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
