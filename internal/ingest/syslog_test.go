package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/pipeline"
)

// memBus is an in-memory pipeline.Publisher that can refuse writes as a full bus would.
type memBus struct {
	mu      sync.Mutex
	records []pipeline.RawRecord
	full    atomic.Int32 // refuse this many more publishes
}

func (m *memBus) MaxPayload() int { return 1 << 20 }

func (m *memBus) Publish(_ context.Context, _ string, _ string, data []byte) error {
	if m.full.Load() > 0 {
		m.full.Add(-1)
		return fmt.Errorf("publish: %w", pipeline.ErrFull)
	}
	var b pipeline.RawBatch
	if err := b.UnmarshalBinary(data); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range b.Records {
		r.Data = append([]byte(nil), r.Data...)
		m.records = append(m.records, r)
	}
	return nil
}

func (m *memBus) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}

func waitCount(t *testing.T, m *memBus, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("published %d records, want %d", m.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSyslogTCP(t *testing.T) {
	bus := &memBus{}
	bus.full.Store(3) // the bus refuses the first publishes: the listener must wait, not drop
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeSyslogTCP(ctx, ln, SyslogOptions{Bus: bus, BatchSize: 4, BatchWait: 20 * time.Millisecond, MaxFrame: 1024, Log: slog.Default()})
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg1 := "<34>1 2026-01-05T10:00:00Z web01 sshd 1 - - Failed password for root"
	fmt.Fprintf(conn, "%d %s", len(msg1), msg1)                                      // octet-counted
	fmt.Fprintf(conn, "<13>Jan  5 10:00:01 web01 app: line framed\n")                // LF
	fmt.Fprintf(conn, "<13>Jan  5 10:00:02 web01 app: %0*d\n", 2000, 0)              // oversize: refused
	fmt.Fprintf(conn, "<13>Jan  5 10:00:03 web01 app: after the oversize frame\r\n") // resynchronised
	for i := range 10 {
		fmt.Fprintf(conn, "<13>Jan  5 10:01:%02d web01 app: burst %d\n", i, i)
	}
	conn.Close()
	waitCount(t, bus, 13)
	bus.mu.Lock()
	if got := string(bus.records[0].Data); got != msg1 {
		t.Errorf("first record %q, want %q", got, msg1)
	}
	if got := string(bus.records[2].Data); got != "<13>Jan  5 10:00:03 web01 app: after the oversize frame" {
		t.Errorf("record after oversize frame: %q", got)
	}
	ids := map[string]bool{}
	for _, r := range bus.records {
		if ids[r.ID] {
			t.Errorf("duplicate ID %s", r.ID)
		}
		ids[r.ID] = true
	}
	bus.mu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSyslogUDP(t *testing.T) {
	bus := &memBus{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var dropped atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- ServeSyslogUDP(ctx, pc, SyslogOptions{Bus: bus, BatchSize: 5, BatchWait: 20 * time.Millisecond, Log: slog.Default(),
			Dropped: func(n int) { dropped.Add(int64(n)) }})
	}()
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		fmt.Fprintf(conn, "<13>Jan  5 10:01:%02d fw01 kernel: packet %d\n", i, i)
		time.Sleep(time.Millisecond) // loopback UDP can drop under bursts; keep the test about vigil
	}
	waitCount(t, bus, 12-int(dropped.Load()))
	if dropped.Load() != 0 {
		t.Errorf("%d datagrams dropped with an idle bus", dropped.Load())
	}
	// A full bus drops UDP batches on purpose, and counts them.
	bus.full.Store(1000)
	fmt.Fprintf(conn, "<13>Jan  5 10:02:00 fw01 kernel: during overload\n")
	deadline := time.Now().Add(5 * time.Second)
	for dropped.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if dropped.Load() != 1 {
		t.Errorf("dropped = %d, want 1 counted drop", dropped.Load())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
