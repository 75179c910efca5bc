package evtx

import (
	"errors"
	"fmt"
)

// Sentinel errors. Problems reported by a Reader wrap one of them, so callers can branch with
// errors.Is.
var (
	// ErrNotEVTX means the input does not start with the EVTX file signature.
	ErrNotEVTX = errors.New("not an EVTX file")
	// ErrTruncated means a structure ends before its declared size.
	ErrTruncated = errors.New("truncated data")
	// ErrChecksum means a stored CRC32 does not match the data it covers.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrCorrupt means a structure holds values that cannot be right (bad signature,
	// impossible size or offset, unknown token or value type, unbalanced elements).
	ErrCorrupt = errors.New("corrupt data")
	// ErrTooComplex means a record would expand beyond the Reader's safety limits
	// (nesting depth, node count), which only crafted input reaches.
	ErrTooComplex = errors.New("record too complex")
)

// Error reports damaged input: what was skipped or worked around, and where.
type Error struct {
	// Chunk is the 0-based index of the chunk in the file, or -1 for the file header.
	Chunk int
	// Offset is the absolute file offset of the damaged chunk or record.
	Offset int64
	// RecordID is the event record identifier from the record header, 0 when the problem
	// is not about one record.
	RecordID uint64
	// Skipped tells whether data was dropped (a chunk or a record), as opposed to a problem
	// the Reader worked around, such as a checksum mismatch in a chunk it still read.
	Skipped bool
	// Err wraps one of the sentinel errors with details.
	Err error
}

func (e *Error) Error() string {
	what := "file header"
	switch {
	case e.Chunk >= 0 && e.RecordID != 0:
		what = fmt.Sprintf("chunk %d record %d at offset %#x", e.Chunk, e.RecordID, e.Offset)
	case e.Chunk >= 0:
		what = fmt.Sprintf("chunk %d at offset %#x", e.Chunk, e.Offset)
	}
	if e.Skipped {
		return fmt.Sprintf("evtx: %s: skipped: %v", what, e.Err)
	}
	return fmt.Sprintf("evtx: %s: %v", what, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// corruptf returns an error wrapping ErrCorrupt. Offsets in messages are chunk-relative.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func truncatedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrTruncated}, args...)...)
}

var errTooComplex = fmt.Errorf("%w: node or work limit reached", ErrTooComplex)
