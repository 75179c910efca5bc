package natsbus

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigil-soc/vigil/internal/pipeline"
)

// BenchmarkPublish measures durable publishes of 512 KiB batches (1000 raw events) with fsync on
// every write and with fsync relaxed.
func BenchmarkPublish(b *testing.B) {
	for _, always := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync_always=%v", always), func(b *testing.B) {
			bus, err := Open(context.Background(), Options{StoreDir: b.TempDir(), SyncAlways: always, MaxIngestBytes: 4 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Close()
			payload := make([]byte, 512<<10)
			b.SetBytes(int64(len(payload)))
			i := 0
			for b.Loop() {
				i++
				if err := bus.Publish(context.Background(), pipeline.SubjectRawEvents, fmt.Sprint(i), payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConsume measures consuming and acknowledging published batches with a no-op handler.
func BenchmarkConsume(b *testing.B) {
	for _, always := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync_always=%v", always), func(b *testing.B) {
			bus, err := Open(context.Background(), Options{StoreDir: b.TempDir(), SyncAlways: always, MaxIngestBytes: 4 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Close()
			payload := make([]byte, 64<<10)
			for i := range b.N {
				if err := bus.Publish(context.Background(), pipeline.SubjectRawEvents, fmt.Sprint(i), payload); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			n := 0
			go bus.Consume(ctx, pipeline.ConsumerConfig{Name: "bench", Subject: pipeline.SubjectRawEvents, Batch: 16, MaxInflight: 64},
				func(_ context.Context, msgs []pipeline.Msg) error {
					n += len(msgs)
					if n == b.N {
						close(done)
					}
					return nil
				})
			<-done
		})
	}
}
