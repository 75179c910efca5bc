package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/vigil-soc/vigil/internal/event"
)

// RawRecord is one record as received, before normalization.
type RawRecord struct {
	// ID is the event (or alert) ID the record will be stored under, fixed at ingest so that a
	// retried delivery produces the same ID.
	ID string
	// Record is the 1-based position in the file or request; Offset the byte offset, when known.
	Record int64
	Offset int64
	Data   []byte
}

// RawBatch is a batch of raw records sharing their provenance.
type RawBatch struct {
	Source   string // http, hec, syslog-udp, syslog-tcp, file, demo
	Format   string // json, syslog, cef, evtx, ait-ads, text
	Hint     string // sender's hint: HEC sourcetype, file name, ...
	File     string
	Peer     string
	Received time.Time
	Records  []RawRecord
}

// Origin returns the provenance of record i.
func (b *RawBatch) Origin(i int) event.Origin {
	r := &b.Records[i]
	return event.Origin{Source: b.Source, Format: b.Format, File: b.File, Record: r.Record, Offset: r.Offset, Peer: b.Peer, Received: b.Received}
}

const (
	rawBatchMagic      = 0x56524231 // "VRB1"
	rawBatchMagicZstd  = 0x5652425a // "VRBZ": a zstd frame of a VRB1 batch follows
	maxRawBatchDecoded = 64 << 20
)

// MarshalBinary encodes the batch compactly (length-prefixed fields), zstd-compressed when it is
// large enough for that to pay (log lines compress several times over, and the raw stream
// writes and fsyncs every byte).
func (b *RawBatch) MarshalBinary() ([]byte, error) {
	plain := b.marshalPlain()
	if len(plain) < compressMin {
		return plain, nil
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(plain)/4), rawBatchMagicZstd)
	return zenc.EncodeAll(plain, out), nil
}

func (b *RawBatch) marshalPlain() []byte {
	n := 64 + len(b.Source) + len(b.Format) + len(b.Hint) + len(b.File) + len(b.Peer)
	for i := range b.Records {
		n += 32 + len(b.Records[i].ID) + len(b.Records[i].Data)
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, rawBatchMagic)
	for _, s := range []string{b.Source, b.Format, b.Hint, b.File, b.Peer} {
		out = appendBytes(out, []byte(s))
	}
	out = binary.AppendVarint(out, b.Received.UnixNano())
	out = binary.AppendUvarint(out, uint64(len(b.Records)))
	for i := range b.Records {
		r := &b.Records[i]
		out = appendBytes(out, []byte(r.ID))
		out = binary.AppendVarint(out, r.Record)
		out = binary.AppendVarint(out, r.Offset)
		out = appendBytes(out, r.Data)
	}
	return out
}

func appendBytes(out, b []byte) []byte {
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

var errCorrupt = errors.New("corrupt raw batch")

// UnmarshalBinary decodes a batch. Record data aliases buf (or, for a compressed batch, its
// decompressed copy).
func (b *RawBatch) UnmarshalBinary(buf []byte) error {
	if len(buf) >= 4 && binary.BigEndian.Uint32(buf) == rawBatchMagicZstd {
		plain, err := zdec.DecodeAll(buf[4:], nil)
		if err != nil {
			return fmt.Errorf("%w: %v", errCorrupt, err)
		}
		if len(plain) >= 4 && binary.BigEndian.Uint32(plain) == rawBatchMagicZstd {
			return fmt.Errorf("%w: nested compression", errCorrupt)
		}
		buf = plain
	}
	if len(buf) < 4 || binary.BigEndian.Uint32(buf) != rawBatchMagic {
		return fmt.Errorf("%w: bad magic", errCorrupt)
	}
	d := decoder{buf: buf[4:]}
	b.Source = string(d.bytes())
	b.Format = string(d.bytes())
	b.Hint = string(d.bytes())
	b.File = string(d.bytes())
	b.Peer = string(d.bytes())
	b.Received = time.Unix(0, d.varint()).UTC()
	n := d.uvarint()
	if d.err != nil {
		return d.err
	}
	if n > uint64(len(d.buf)) {
		return fmt.Errorf("%w: %d records in %d bytes", errCorrupt, n, len(d.buf))
	}
	b.Records = make([]RawRecord, n)
	for i := range b.Records {
		r := &b.Records[i]
		r.ID = string(d.bytes())
		r.Record = d.varint()
		r.Offset = d.varint()
		r.Data = d.bytes()
	}
	if d.err != nil {
		return d.err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.buf))
	}
	return nil
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad length", errCorrupt)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad number", errCorrupt)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.err = fmt.Errorf("%w: field of %d bytes exceeds %d left", errCorrupt, n, len(d.buf))
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// EncodeJSON encodes a stage message (a batch of events, alerts, incidents or actions) as JSON.
func EncodeJSON[T any](batch []T) ([]byte, error) {
	b, err := json.Marshal(batch)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return b, nil
}

// DecodeJSON decodes a batch encoded by EncodeJSON.
func DecodeJSON[T any](data []byte) ([]T, error) {
	var out []T
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode batch: %w", err)
	}
	return out, nil
}

// EncodeLines joins pre-encoded JSON records into one newline-delimited message.
func EncodeLines(recs [][]byte) []byte {
	n := 0
	for _, r := range recs {
		n += len(r) + 1
	}
	out := make([]byte, 0, n)
	for _, r := range recs {
		out = append(out, r...)
		out = append(out, '\n')
	}
	return out
}

// Stage messages are zstd-compressed when that pays: normalized events carry their raw records
// and compress several times over, and every byte of a stage message is written, fsynced and
// cached by the bus's file store and buffered by each consumer.
var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<20))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxRawBatchDecoded))
)

// zstdMagic starts every zstd frame. A message of JSON lines starts with '{', '"' or '[', so
// the two cannot be confused.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// compressMin is the smallest message worth compressing.
const compressMin = 4 << 10

// compressLines compresses an EncodeLines message when it is large enough.
func compressLines(b []byte) []byte {
	if len(b) < compressMin {
		return b
	}
	return zenc.EncodeAll(b, make([]byte, 0, len(b)/4))
}

// DecodeLines decodes a message made by EncodeLines or PublishLines (compressed or not).
func DecodeLines[T any](data []byte) ([]T, error) {
	if bytes.HasPrefix(data, zstdMagic) {
		plain, err := zdec.DecodeAll(data, nil)
		if err != nil {
			return nil, fmt.Errorf("decompress batch: %w", err)
		}
		data = plain
	}
	var out []T
	for i := 0; len(data) > 0; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			j = len(data)
		}
		line := data[:j]
		data = data[min(j+1, len(data)):]
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("decode record %d of batch: %w", i+1, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// PublishLines publishes pre-encoded JSON records on subject as as few messages as the bus's
// payload limit allows. Message IDs derive from baseID and the chunk number, so a retry is
// deduplicated.
func PublishLines(ctx context.Context, pub Publisher, subject, baseID string, recs [][]byte) error {
	limit := pub.MaxPayload() - 1024
	start, size, chunk := 0, 0, 0
	flush := func(end int) error {
		if end == start {
			return nil
		}
		id := fmt.Sprintf("%s/%d", baseID, chunk)
		chunk++
		err := pub.Publish(ctx, subject, id, compressLines(EncodeLines(recs[start:end])))
		start, size = end, 0
		return err
	}
	for i, r := range recs {
		if len(r)+1 > limit {
			return fmt.Errorf("publish to %s: record %d is %d bytes, over the bus limit of %d", subject, i+1, len(r), limit)
		}
		if size+len(r)+1 > limit {
			if err := flush(i); err != nil {
				return err
			}
		}
		size += len(r) + 1
	}
	return flush(len(recs))
}
