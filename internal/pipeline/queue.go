package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
)

// Overflow is what a full Queue does with a new item.
type Overflow int

const (
	// Block makes Put wait for room (back-pressure): for durable sources.
	Block Overflow = iota
	// DropNewest refuses the new item, counts it and returns ErrQueueFull: for sources that
	// cannot be slowed down (syslog over UDP).
	DropNewest
)

// Queue is a bounded FIFO between two goroutines of one stage. It is safe for concurrent use.
type Queue[T any] struct {
	ch       chan T
	overflow Overflow
	dropped  atomic.Uint64
	// closeOnce guards closing ch.
	closeOnce sync.Once
}

// NewQueue returns a queue holding at most capacity items.
func NewQueue[T any](capacity int, overflow Overflow) *Queue[T] {
	return &Queue[T]{ch: make(chan T, max(capacity, 1)), overflow: overflow}
}

// Put adds an item. With Block it waits for room or ctx; with DropNewest it fails at once when
// the queue is full and the item is counted as dropped.
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	if q.overflow == DropNewest {
		select {
		case q.ch <- v:
			return nil
		default:
			q.dropped.Add(1)
			return ErrQueueFull
		}
	}
	select {
	case q.ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// C returns the receive side. It is closed by Close.
func (q *Queue[T]) C() <-chan T { return q.ch }

// Len returns the number of queued items.
func (q *Queue[T]) Len() int { return len(q.ch) }

// Dropped returns how many items DropNewest refused.
func (q *Queue[T]) Dropped() uint64 { return q.dropped.Load() }

// Close closes the queue; the producer must not Put afterwards.
func (q *Queue[T]) Close() { q.closeOnce.Do(func() { close(q.ch) }) }
