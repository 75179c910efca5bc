package connectortest

import (
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
