package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestRawBatchRoundTrip(t *testing.T) {
	in := RawBatch{Source: "http", Format: "json", Hint: "okta", File: "", Peer: "10.0.0.1:5555",
		Received: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Records:  []RawRecord{{ID: "ev_1", Record: 1, Offset: 0, Data: []byte(`{"a":1}`)}, {ID: "ev_2", Record: 2, Offset: 8, Data: []byte{}}}}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out RawBatch
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	if o := out.Origin(1); o.Record != 2 || o.Offset != 8 || o.Peer != in.Peer || o.Source != "http" {
		t.Fatalf("Origin = %+v", o)
	}
	// Every truncation is an error, never a panic.
	for i := range len(b) {
		var x RawBatch
		if err := x.UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated batch (%d of %d bytes) accepted", i, len(b))
		}
	}
}

func FuzzRawBatch(f *testing.F) {
	in := RawBatch{Source: "s", Records: []RawRecord{{ID: "x", Data: []byte("y")}}}
	b, _ := in.MarshalBinary()
	f.Add(b)
	big := RawBatch{Source: "s"}
	for i := range 200 {
		big.Records = append(big.Records, RawRecord{ID: fmt.Sprint("ev", i), Data: []byte(`{"msg":"a repeated log line"}`)})
	}
	z, _ := big.MarshalBinary() // compressed
	f.Add(z)
	f.Fuzz(func(t *testing.T, data []byte) {
		var x RawBatch
		if err := x.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := x.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var y RawBatch
		if err := y.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
	})
}

func TestQueueOverflow(t *testing.T) {
	q := NewQueue[int](2, DropNewest)
	ctx := context.Background()
	for i := range 2 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Put(ctx, 3); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Put on full DropNewest queue = %v", err)
	}
	if q.Dropped() != 1 || q.Len() != 2 {
		t.Fatalf("dropped=%d len=%d", q.Dropped(), q.Len())
	}
	b := NewQueue[int](1, Block)
	_ = b.Put(ctx, 1)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Put(cctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Put with cancelled ctx = %v", err)
	}
	if <-b.C() != 1 {
		t.Fatal("wrong item")
	}
}

func TestJSONBatch(t *testing.T) {
	type x struct{ A int }
	b, err := EncodeJSON([]x{{1}, {2}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeJSON[x](b)
	if err != nil || len(got) != 2 || got[1].A != 2 {
		t.Fatalf("DecodeJSON = %v, %v", got, err)
	}
	if _, err := DecodeJSON[x]([]byte("{")); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

// TestLargeBatchesAreCompressed: a raw batch and a stage message above compressMin travel as
// zstd frames several times smaller than their plain encoding, decode to what went in, and a
// damaged or truncated frame is an error, never a panic.
func TestLargeBatchesAreCompressed(t *testing.T) {
	in := RawBatch{Source: "file", Format: "json", File: "/var/log/a.json", Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var lines [][]byte
	for i := range 500 {
		d := []byte(fmt.Sprintf(`{"EventID":4624,"Computer":"ws%02d.corp.example.com","TargetUserName":"user%d","IpAddress":"10.0.%d.%d","LogonType":3}`, i%40, i%90, i%7, i%250))
		in.Records = append(in.Records, RawRecord{ID: fmt.Sprint("ev_", i), Record: int64(i + 1), Data: d})
		lines = append(lines, d)
	}
	plain := in.marshalPlain()
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(b) != rawBatchMagicZstd || len(b)*3 > len(plain) {
		t.Fatalf("raw batch: %d bytes compressed from %d (magic %x)", len(b), len(plain), b[:4])
	}
	var out RawBatch
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatal("compressed raw batch does not round-trip")
	}
	for _, n := range []int{5, len(b) / 2, len(b) - 1} {
		var x RawBatch
		if err := x.UnmarshalBinary(b[:n]); err == nil {
			t.Fatalf("truncated compressed batch (%d of %d bytes) accepted", n, len(b))
		}
	}

	pub := &capture{max: 1 << 20}
	if err := PublishLines(context.Background(), pub, "vigil.events", "m1", lines); err != nil {
		t.Fatal(err)
	}
	if len(pub.msgs) != 1 || !bytes.HasPrefix(pub.msgs[0], zstdMagic) || len(pub.msgs[0])*3 > len(EncodeLines(lines)) {
		t.Fatalf("stage message not compressed: %d messages", len(pub.msgs))
	}
	type rec struct {
		Computer string `json:"Computer"`
	}
	got, err := DecodeLines[rec](pub.msgs[0])
	if err != nil || len(got) != 500 || got[41].Computer != "ws01.corp.example.com" {
		t.Fatalf("decode compressed lines: %d records, %v", len(got), err)
	}
	if _, err := DecodeLines[rec](pub.msgs[0][:len(pub.msgs[0])/2]); err == nil {
		t.Fatal("truncated compressed stage message accepted")
	}
	// Small messages stay plain JSON lines.
	small := &capture{max: 1 << 20}
	if err := PublishLines(context.Background(), small, "vigil.events", "m2", lines[:1]); err != nil || small.msgs[0][0] != '{' {
		t.Fatalf("small message: %v %q", err, small.msgs[0])
	}
}

type capture struct {
	max  int
	msgs [][]byte
}

func (c *capture) Publish(_ context.Context, _, _ string, data []byte) error {
	c.msgs = append(c.msgs, data)
	return nil
}
func (c *capture) MaxPayload() int { return c.max }
