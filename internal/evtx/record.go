package evtx

import "time"

// Record is one decoded event record. It is owned by the Reader and reused by the next call
// to Reader.Next.
type Record struct {
	// Number is the 1-based position of the record in the file, counting the records met in
	// file order (damaged records that were skipped count too).
	Number int64
	// RecordID is the event record identifier from the record header.
	RecordID uint64
	// Time is the time the record was written, from the record header.
	Time time.Time
	// Chunk is the 0-based index of the chunk holding the record.
	Chunk int
	// Offset is the file offset of the record.
	Offset int64

	r *Reader
}
