package pipeline

import "errors"

// ErrFull is returned (wrapped) by Publish when the bus refuses a message because a stream is at
// its configured limit. Callers apply back-pressure: HTTP answers 503, a TCP listener stops
// reading, a file import waits.
var ErrFull = errors.New("bus full")

// ErrQueueFull is returned by Queue.Put with DropNewest when the queue is at capacity.
var ErrQueueFull = errors.New("queue full")
