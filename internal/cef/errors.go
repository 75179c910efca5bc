package cef

import (
	"errors"
	"fmt"
)

// Sentinel errors for callers to branch on with errors.Is.
var (
	// ErrNotCEF means the line holds no "CEF:" marker.
	ErrNotCEF = errors.New("not a CEF record")
	// ErrNotLEEF means the line holds no "LEEF:" marker.
	ErrNotLEEF = errors.New("not a LEEF record")
	// ErrMalformed means the record is CEF or LEEF but a part of it is broken; the *ParseError
	// says which.
	ErrMalformed = errors.New("malformed record")
	// ErrTime means a time stamp is in none of the forms ParseTime knows.
	ErrTime = errors.New("unrecognized time stamp")
)

// ParseError describes why a record could not be parsed.
type ParseError struct {
	// Format is "cef" or "leef".
	Format string
	// Field names the part that was wrong: "header", "version", a header field such as
	// "device product" or "severity", "delimiter" or "extension".
	Field string
	// Offset is the byte offset in the line where the problem was found.
	Offset int
	// Reason says what was wrong.
	Reason string
	// Err is ErrNotCEF, ErrNotLEEF or ErrMalformed.
	Err error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: %s at byte %d: %s", e.Format, e.Field, e.Offset, e.Reason)
}

// Unwrap returns ErrNotCEF, ErrNotLEEF or ErrMalformed.
func (e *ParseError) Unwrap() error { return e.Err }

func malformed(format, field string, off int, reason string) *ParseError {
	return &ParseError{Format: format, Field: field, Offset: off, Reason: reason, Err: ErrMalformed}
}
