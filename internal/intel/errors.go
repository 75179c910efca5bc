package intel

import (
	"errors"
	"fmt"
)

// Sentinel errors for callers to branch on with errors.Is.
var (
	// ErrMalformed means a feed entry (or the feed's structure) is broken: bad JSON, a missing
	// required field, a value that is not what its type says.
	ErrMalformed = errors.New("malformed feed entry")
	// ErrPattern means a STIX pattern could not be parsed; the *PatternError says where.
	ErrPattern = errors.New("invalid STIX pattern")
	// ErrUnknownType means a value's indicator type could not be told or is not one the store
	// indexes.
	ErrUnknownType = errors.New("unknown indicator type")
	// ErrFormat means the feed's format is unknown or the file is not in the format named.
	ErrFormat = errors.New("unknown feed format")
	// ErrSource means a Source is misconfigured (no name, no path).
	ErrSource = errors.New("invalid source")
	// ErrSnapshot means a snapshot could not be read.
	ErrSnapshot = errors.New("invalid snapshot")
)

// EntryError reports a feed entry that could not be loaded. The rest of the feed loads.
type EntryError struct {
	// File is the feed's path (or its source name when it was read from a stream).
	File string
	// Entry names the entry: "line 12", "objects[3] (indicator--…)", "Event 5f7b… Attribute[2]".
	Entry string
	// Err says what was wrong; it wraps ErrMalformed, ErrPattern or ErrUnknownType.
	Err error
}

func (e *EntryError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Entry, e.Err)
}

// Unwrap returns the underlying error.
func (e *EntryError) Unwrap() error { return e.Err }

// PatternError describes why a STIX pattern could not be parsed.
type PatternError struct {
	// Offset is the byte offset in the pattern where the problem was found.
	Offset int
	// Reason says what was wrong.
	Reason string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("STIX pattern: at byte %d: %s", e.Offset, e.Reason)
}

// Unwrap returns ErrPattern.
func (e *PatternError) Unwrap() error { return ErrPattern }

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
