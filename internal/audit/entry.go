package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// Entry is one recorded action.
type Entry struct {
	// Seq is the entry's position in the chain, from 1. Set by Append.
	Seq uint64 `json:"seq"`
	// Time is when the action happened; Append sets it to the current time when zero. It is kept to
	// the nanosecond, in UTC.
	Time time.Time `json:"time"`
	// Actor is who acted: "analyst:alice", "system:investigate", "llm:gpt-x".
	Actor string `json:"actor"`
	// Action is what was done: "tool.call", "response.execute", "approval.grant", "feedback".
	Action string `json:"action"`
	// Subject is what it was done to: an incident, alert or action ID. It may be empty.
	Subject string `json:"subject,omitempty"`
	// Data holds the details as JSON; Append stores and returns its canonical form.
	Data json.RawMessage `json:"data"`
	// PrevHash is the Hash of the entry before, or the chain's genesis value. Set by Append.
	PrevHash Digest `json:"prev_hash"`
	// Hash covers the fields above; see the package documentation. Set by Append.
	Hash Digest `json:"hash"`
}

// Digest is a SHA-256 value. Its text form is lower-case hex.
type Digest [sha256.Size]byte

// String returns d in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText returns d in hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads d from hex.
func (d *Digest) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(d) {
		return fmt.Errorf("digest: want %d hex digits, got %d", 2*len(d), len(b))
	}
	_, err := hex.Decode(d[:], b)
	return err
}

// maxData bounds an entry's Data, so one runaway caller cannot fill the disk in one entry.
const maxData = 8 << 20

// Domain tags keep the different signed and hashed messages apart.
const (
	tagGenesis    = "vigil.audit.genesis.v1"
	tagEntry      = "vigil.audit.entry.v1"
	tagCheckpoint = "vigil.audit.checkpoint.v1"
	tagRotate     = "vigil.audit.rotate.v1"
)

// enc builds the canonical, length-prefixed encoding the package documentation describes.
type enc struct{ b []byte }

func (e *enc) u64(x uint64)    { e.b = binary.BigEndian.AppendUint64(e.b, x) }
func (e *enc) field(b []byte)  { e.u64(uint64(len(b))); e.b = append(e.b, b...) }
func (e *enc) str(s string)    { e.u64(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) raw(b []byte)    { e.b = append(e.b, b...) }
func (e *enc) sum() (d Digest) { return sha256.Sum256(e.b) }

// genesisHash is the PrevHash of entry 1 in the chain chainID.
func genesisHash(chainID string) Digest {
	var e enc
	e.str(tagGenesis)
	e.str(chainID)
	return e.sum()
}

// entryHash computes the Hash of an entry from its stored parts.
func entryHash(seq uint64, unixNano int64, actor, action, subject string, data []byte, prev Digest) Digest {
	e := enc{b: make([]byte, 0, 96+len(tagEntry)+len(actor)+len(action)+len(subject)+len(data)+len(prev))}
	e.str(tagEntry)
	e.u64(seq)
	e.u64(uint64(unixNano))
	e.str(actor)
	e.str(action)
	e.str(subject)
	e.field(data)
	e.raw(prev[:])
	return e.sum()
}

// minTime and maxTime bound what UnixNano can represent.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// prepare checks e and puts it in the stored form: Time set and in UTC, Data canonical.
func prepare(e Entry, now time.Time) (Entry, error) {
	switch {
	case e.Actor == "":
		return e, fmt.Errorf("%w: no actor", ErrInvalidEntry)
	case e.Action == "":
		return e, fmt.Errorf("%w: no action", ErrInvalidEntry)
	case !utf8.ValidString(e.Actor), !utf8.ValidString(e.Action), !utf8.ValidString(e.Subject):
		return e, fmt.Errorf("%w: actor, action or subject is not UTF-8", ErrInvalidEntry)
	case len(e.Data) > 2*maxData:
		return e, fmt.Errorf("%w: data is %d bytes, more than %d", ErrInvalidEntry, len(e.Data), maxData)
	}
	if e.Time.IsZero() {
		e.Time = now
	}
	if e.Time.Before(minTime) || e.Time.After(maxTime) {
		return e, fmt.Errorf("%w: time %s out of range", ErrInvalidEntry, e.Time)
	}
	e.Time = time.Unix(0, e.Time.UnixNano()).UTC()
	data, err := canonicalJSON(e.Data)
	if err != nil {
		return e, fmt.Errorf("%w: data: %w", ErrInvalidEntry, err)
	}
	if len(data) > maxData {
		return e, fmt.Errorf("%w: data is %d bytes, more than %d", ErrInvalidEntry, len(data), maxData)
	}
	e.Data = data
	e.Seq, e.PrevHash, e.Hash = 0, Digest{}, Digest{}
	return e, nil
}

// canonicalJSON re-encodes raw so that the same details always give the same bytes: keys sorted,
// no insignificant whitespace, no HTML escaping, numbers as written. Empty input is null.
func canonicalJSON(raw []byte) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	var buf bytes.Buffer
	out := json.NewEncoder(&buf)
	out.SetEscapeHTML(false)
	if err := out.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// row is an entry as read from the database: every column as whatever type it holds, so that a
// damaged file is reported, never trusted and never a panic.
type row struct {
	seq, time, actor, action, subject, data, prev, hash any
}

const entryColumns = "seq, time, actor, action, subject, data, prev_hash, hash"

func (r *row) dest() []any {
	return []any{&r.seq, &r.time, &r.actor, &r.action, &r.subject, &r.data, &r.prev, &r.hash}
}

// decode turns r into an Entry, naming the first column that does not hold what it should.
// Integrity (the hash) is not checked here.
func (r *row) decode() (Entry, error) {
	var e Entry
	seq, ok := r.seq.(int64)
	if !ok || seq < 1 {
		return e, fmt.Errorf("malformed seq column (%s)", describe(r.seq))
	}
	e.Seq = uint64(seq)
	ns, ok := r.time.(int64)
	if !ok {
		return e, fmt.Errorf("malformed time column (%s)", describe(r.time))
	}
	e.Time = time.Unix(0, ns).UTC()
	var err error
	if e.Actor, err = text("actor", r.actor); err != nil {
		return e, err
	}
	if e.Action, err = text("action", r.action); err != nil {
		return e, err
	}
	if e.Subject, err = text("subject", r.subject); err != nil {
		return e, err
	}
	data, err := text("data", r.data)
	if err != nil {
		return e, err
	}
	e.Data = json.RawMessage(data)
	if e.PrevHash, err = digest("prev_hash", r.prev); err != nil {
		return e, err
	}
	if e.Hash, err = digest("hash", r.hash); err != nil {
		return e, err
	}
	return e, nil
}

// text accepts a TEXT or BLOB column.
func text(col string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("malformed %s column (%s)", col, describe(v))
}

// digest accepts a 32-byte BLOB (or TEXT) column.
func digest(col string, v any) (Digest, error) {
	var d Digest
	b, err := text(col, v)
	if err != nil {
		return d, err
	}
	if len(b) != len(d) {
		return d, fmt.Errorf("malformed %s column (%d bytes, want %d)", col, len(b), len(d))
	}
	copy(d[:], b)
	return d, nil
}

// describe names the type of a column value for an error message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("real %g", v)
	case string:
		return fmt.Sprintf("text of %d bytes", len(v))
	case []byte:
		return fmt.Sprintf("blob of %d bytes", len(v))
	}
	return fmt.Sprintf("%T", v)
}
