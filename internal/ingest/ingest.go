// Package ingest is the first stage: it turns bytes from the outside (HTTP bodies, Splunk HEC
// requests, syslog over UDP and TCP, files of JSON, CSV, CEF, syslog or EVTX, transparently
// through gzip and zip) into batches of raw records with stable IDs and provenance, and publishes
// them durably on the bus. Nothing is acknowledged to a sender before the bus has it on disk.
// Ingest does not interpret records beyond splitting them; normalization is the next stage.
package ingest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/pipeline"
)

// MaxBatchBytes bounds the payload of one bus message.
const MaxBatchBytes = 4 << 20

// Publish encodes b and publishes it on subject, waiting for the durable acknowledgement. The
// message ID is derived from the record IDs, so a retried batch is deduplicated by the bus.
func Publish(ctx context.Context, pub pipeline.Publisher, subject string, b *pipeline.RawBatch) error {
	if len(b.Records) == 0 {
		return nil
	}
	data, err := b.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	first, last := b.Records[0].ID, b.Records[len(b.Records)-1].ID
	id := event.DeriveID("b_", subject, first, last, strconv.Itoa(len(b.Records)))
	return pub.Publish(ctx, subject, id, data)
}

// Batcher cuts a stream of records into batches of at most n records and MaxBatchBytes bytes and
// hands each full batch to flush.
type Batcher struct {
	Template pipeline.RawBatch // provenance shared by every batch
	N        int
	// MaxBytes bounds a batch's payload (default MaxBatchBytes).
	MaxBytes int
	Flush    func(ctx context.Context, b *pipeline.RawBatch) error

	cur   pipeline.RawBatch
	bytes int
}

// Add appends a record, flushing first when the batch is full.
func (b *Batcher) Add(ctx context.Context, r pipeline.RawRecord) error {
	if len(b.cur.Records) > 0 && (len(b.cur.Records) >= max(b.N, 1) || b.bytes+len(r.Data) > b.limit()) {
		if err := b.Close(ctx); err != nil {
			return err
		}
	}
	if len(b.cur.Records) == 0 {
		recs := b.cur.Records[:0]
		b.cur = b.Template
		b.cur.Records = recs
		if b.cur.Received.IsZero() {
			b.cur.Received = time.Now().UTC()
		}
	}
	b.cur.Records = append(b.cur.Records, r)
	b.bytes += len(r.Data) + len(r.ID) + 16
	return nil
}

func (b *Batcher) limit() int {
	if b.MaxBytes > 0 {
		return b.MaxBytes
	}
	return MaxBatchBytes
}

// BatchBytes returns the raw batch size to use on a bus with the given payload limit.
func BatchBytes(maxPayload int) int {
	return max(min(MaxBatchBytes, maxPayload*3/4), 64<<10)
}

// Len returns the records waiting in the current batch.
func (b *Batcher) Len() int { return len(b.cur.Records) }

// Close flushes the pending batch, if any.
func (b *Batcher) Close(ctx context.Context) error {
	if len(b.cur.Records) == 0 {
		return nil
	}
	err := b.Flush(ctx, &b.cur)
	// The flushed batch may still be referenced by the callee only during Flush.
	b.cur.Records = make([]pipeline.RawRecord, 0, cap(b.cur.Records))
	b.bytes = 0
	return err
}

// ContentID derives a record ID from where it came from and what it holds. n distinguishes
// identical records that legitimately repeat within one submission.
func ContentID(prefix, source string, data []byte, n int) string {
	sum := sha256.Sum256(data)
	return event.DeriveID(prefix, source, string(sum[:]), strconv.Itoa(n))
}

// PositionID derives a record ID from a file position and the content, so that importing the
// same file again stores nothing twice while a rotated file with new content at the same
// position still gets new IDs.
func PositionID(prefix, file, member string, record int64, data []byte) string {
	sum := sha256.Sum256(data)
	return event.DeriveID(prefix, "file", file, member, strconv.FormatInt(record, 10), string(sum[:16]))
}
