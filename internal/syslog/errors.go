package syslog

import (
	"errors"
	"fmt"
	"io"
)

// Sentinel errors for callers to branch on with errors.Is.
var (
	// ErrNotSyslog means the line has neither a PRI nor a recognizable timestamp. Parse returns it
	// (inside a *ParseError) only when Lenient is not set.
	ErrNotSyslog = errors.New("not a syslog message")
	// ErrMalformed means the line is syslog but a field is broken; the *ParseError says which.
	ErrMalformed = errors.New("malformed syslog message")
	// ErrFrameTooLarge means a frame exceeded the Reader's limit. The frame was skipped and reading
	// may continue with the next frame.
	ErrFrameTooLarge = errors.New("syslog frame too large")
)

// ParseError describes why a line could not be parsed.
type ParseError struct {
	// Field names the part of the message that was wrong: "priority", "version", "timestamp",
	// "hostname", "app-name", "procid", "msgid", "structured-data" or "header".
	Field string
	// Offset is the byte offset in the line where the problem was found.
	Offset int
	// Reason says what was wrong.
	Reason string
	// Err is ErrNotSyslog or ErrMalformed.
	Err error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("syslog: %s at byte %d: %s", e.Field, e.Offset, e.Reason)
}

// Unwrap returns ErrNotSyslog or ErrMalformed.
func (e *ParseError) Unwrap() error { return e.Err }

func malformed(field string, off int, reason string) *ParseError {
	return &ParseError{Field: field, Offset: off, Reason: reason, Err: ErrMalformed}
}

// FrameError describes a frame the Reader could not deliver.
type FrameError struct {
	// Offset is the stream offset of the frame's first byte.
	Offset int64
	// Size is the frame's length: declared by its octet count, or counted up to its trailer.
	Size int64
	// Limit is the Reader's maximum frame size.
	Limit int
	// Err is ErrFrameTooLarge (the frame was skipped; reading may continue) or
	// io.ErrUnexpectedEOF (the stream ended inside an octet-counted frame).
	Err error
}

func (e *FrameError) Error() string {
	if errors.Is(e.Err, io.ErrUnexpectedEOF) {
		return fmt.Sprintf("syslog: frame at byte %d: stream ended inside a %d-byte octet-counted frame", e.Offset, e.Size)
	}
	return fmt.Sprintf("syslog: frame at byte %d: %d bytes exceeds the %d-byte limit", e.Offset, e.Size, e.Limit)
}

// Unwrap returns ErrFrameTooLarge or io.ErrUnexpectedEOF.
func (e *FrameError) Unwrap() error { return e.Err }
