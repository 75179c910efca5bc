package pipeline

import (
	"context"
	"errors"
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
