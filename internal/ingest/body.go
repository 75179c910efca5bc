package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/pipeline"
)

// FormatHEC marks Splunk HEC envelopes ({"event":..., "time":..., "host":..., "sourcetype":...});
// the normalize stage unwraps them.
const FormatHEC = "hec"

// Submission describes a request body: where it came from and how to cut it.
type Submission struct {
	Source    string // http, hec
	Format    string // json, hec, syslog
	Hint      string
	Peer      string
	Prefix    string // ID prefix: event.PrefixEvent or event.PrefixAlert
	BatchSize int
	MaxBytes  int // bound on one batch's payload (see BatchBytes)
	// Key is the sender's idempotency key (the Idempotency-Key header). With a key, record IDs
	// derive from the key and the record's position, so identical records in different
	// submissions stay distinct while a retry of the same submission is still stored once.
	// Without one, IDs derive from the content.
	Key string
}

func (sub *Submission) recordID(rec []byte, n, dup int) string {
	if sub.Key != "" {
		return event.DeriveID(sub.Prefix, sub.Source, "key", sub.Key, strconv.Itoa(n))
	}
	return ContentID(sub.Prefix, sub.Source, rec, dup)
}

// SplitBody validates a whole body first, so that a malformed record stores nothing, then cuts
// it into batches of raw records. IDs derive from the content (and the occurrence count of
// identical records in the body), so a client retrying the same body gets the same IDs and the
// bus stores each record once.
func SplitBody(body []byte, sub Submission) ([]*pipeline.RawBatch, int, error) {
	check := checkRecord
	if sub.Format == FormatHEC {
		check = checkHEC
	}
	n, err := splitJSON(body, check, nil)
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, nil
	}
	ctx := context.Background()
	var batches []*pipeline.RawBatch
	var seen map[[32]byte]int
	b := &Batcher{
		Template: pipeline.RawBatch{Source: sub.Source, Format: sub.Format, Hint: sub.Hint, Peer: sub.Peer, Received: time.Now().UTC()},
		N:        max(sub.BatchSize, 1),
		MaxBytes: sub.MaxBytes,
		Flush: func(_ context.Context, rb *pipeline.RawBatch) error {
			c := *rb // Batcher.Close starts a fresh slice after Flush, so c keeps its records
			batches = append(batches, &c)
			return nil
		},
	}
	_, err = splitJSON(body, check, func(i int, rec []byte) error {
		sum := sha256.Sum256(rec)
		if seen == nil {
			seen = make(map[[32]byte]int, n)
		}
		dup := seen[sum]
		seen[sum] = dup + 1
		return b.Add(ctx, pipeline.RawRecord{ID: sub.recordID(rec, i, dup), Record: int64(i), Data: rec})
	})
	if err != nil {
		return nil, 0, err
	}
	_ = b.Close(ctx)
	return batches, n, nil
}

// HEC errors, numbered as Splunk numbers them.
var (
	ErrHECNoEvent    = errors.New("event field is required")
	ErrHECBlankEvent = errors.New("event field cannot be blank")
)

func checkHEC(rec []byte) error {
	if rec[0] != '{' {
		return ErrNotRecord
	}
	var env struct {
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(rec, &env); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	ev := bytes.TrimSpace(env.Event)
	switch {
	case len(ev) == 0:
		return ErrHECNoEvent
	case bytes.Equal(ev, []byte(`""`)) || bytes.Equal(ev, []byte("null")) || bytes.Equal(ev, []byte("{}")):
		return ErrHECBlankEvent
	}
	return nil
}

// SplitLines cuts a text body (HEC raw endpoint, syslog over HTTP) into one record per non-empty
// line.
func SplitLines(body []byte, sub Submission) ([]*pipeline.RawBatch, int, error) {
	ctx := context.Background()
	var batches []*pipeline.RawBatch
	b := &Batcher{
		Template: pipeline.RawBatch{Source: sub.Source, Format: sub.Format, Hint: sub.Hint, Peer: sub.Peer, Received: time.Now().UTC()},
		N:        max(sub.BatchSize, 1),
		MaxBytes: sub.MaxBytes,
		Flush: func(_ context.Context, rb *pipeline.RawBatch) error {
			c := *rb // Batcher.Close starts a fresh slice after Flush, so c keeps its records
			batches = append(batches, &c)
			return nil
		},
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, MaxRecordBytes)
	n := 0
	seen := map[[32]byte]int{}
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		sum := sha256.Sum256(line)
		dup := seen[sum]
		seen[sum] = dup + 1
		_ = b.Add(ctx, pipeline.RawRecord{ID: sub.recordID(line, n, dup), Record: int64(n), Data: bytes.Clone(line)})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, &RecordError{Record: int64(n + 1), Err: fmt.Errorf("%w: %v", ErrTooLarge, err)}
	}
	_ = b.Close(ctx)
	return batches, n, nil
}
