package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/pipeline"
)

func openBus(t *testing.T, dir string, maxIngest int64) *Bus {
	t.Helper()
	b, err := Open(context.Background(), Options{StoreDir: dir, SyncAlways: true, MaxIngestBytes: maxIngest})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPublishConsumeAck(t *testing.T) {
	b := openBus(t, t.TempDir(), 0)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 50 {
		if err := b.Publish(ctx, pipeline.SubjectRawEvents, fmt.Sprint("m", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// A duplicate message ID is stored once.
	if err := b.Publish(ctx, pipeline.SubjectRawEvents, "m0", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, pipeline.ConsumerConfig{Name: "normalize", Subject: pipeline.SubjectRawEvents, Batch: 8, MaxInflight: 16, MaxDeliver: 3},
			func(_ context.Context, msgs []pipeline.Msg) error {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					seen[string(m.Data)]++
				}
				return nil
			})
	}()
	waitFor(t, "50 messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 50 })
	waitFor(t, "lag zero", func() bool {
		lag, err := b.Lag(ctx)
		return err == nil && lag["normalize"] == (pipeline.Lag{})
	})
	mu.Lock()
	for k, n := range seen {
		if n != 1 {
			t.Errorf("message %s handled %d times", k, n)
		}
	}
	mu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume returned %v", err)
	}
}

func TestPoisonMessageIsIsolatedAndDeadLettered(t *testing.T) {
	b := openBus(t, t.TempDir(), 0)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 5 {
		if err := b.Publish(ctx, pipeline.SubjectRawAlerts, fmt.Sprint("a", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var good atomic.Int32
	var dead sync.Map
	go b.Consume(ctx, pipeline.ConsumerConfig{Name: "alerts-in", Subject: pipeline.SubjectRawAlerts, Batch: 5, MaxDeliver: 2,
		Dead: func(_ context.Context, m pipeline.Msg, err error) error {
			dead.Store(string(m.Data), err.Error())
			return nil
		}},
		func(_ context.Context, msgs []pipeline.Msg) error {
			for _, m := range msgs {
				if string(m.Data) == "3" {
					return errors.New("record 1: cannot decode")
				}
			}
			if len(msgs) == 1 {
				good.Add(1)
			}
			return nil
		})
	waitFor(t, "poison dead-lettered", func() bool { _, ok := dead.Load("3"); return ok })
	waitFor(t, "the other four handled", func() bool { return good.Load() >= 4 })
	waitFor(t, "stream empty", func() bool {
		lag, err := b.Lag(ctx)
		return err == nil && lag["alerts-in"] == (pipeline.Lag{})
	})
}

func TestBackPressureWhenFull(t *testing.T) {
	b := openBus(t, t.TempDir(), 1<<20)
	defer b.Close()
	ctx := context.Background()
	payload := make([]byte, 100<<10)
	var err error
	for i := range 30 {
		if err = b.Publish(ctx, pipeline.SubjectRawEvents, fmt.Sprint("big", i), payload); err != nil {
			break
		}
	}
	if !errors.Is(err, pipeline.ErrFull) {
		t.Fatalf("publishing 3 MiB into a 1 MiB stream: err = %v, want ErrFull", err)
	}
}

func TestUnackedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, dir, 0)
	ctx := context.Background()
	for i := range 10 {
		if err := b.Publish(ctx, pipeline.SubjectRawEvents, fmt.Sprint("r", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Consume and fail everything, then stop: nothing may be lost.
	cctx, cancel := context.WithCancel(ctx)
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Consume(cctx, pipeline.ConsumerConfig{Name: "normalize", Subject: pipeline.SubjectRawEvents, Batch: 10, MaxDeliver: 100},
			func(context.Context, []pipeline.Msg) error { calls.Add(1); return errors.New("store down") })
	}()
	waitFor(t, "a failed delivery", func() bool { return calls.Load() > 0 })
	cancel()
	<-done
	b.Close()

	b = openBus(t, dir, 0)
	defer b.Close()
	cctx, cancel = context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	got := map[string]bool{}
	go b.Consume(cctx, pipeline.ConsumerConfig{Name: "normalize", Subject: pipeline.SubjectRawEvents, Batch: 10},
		func(_ context.Context, msgs []pipeline.Msg) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[string(m.Data)] = true
			}
			return nil
		})
	waitFor(t, "all 10 after restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 10 })
}
