package audit_test

import (
	"context"
	"testing"

	"github.com/vigil-soc/vigil/internal/audit"
)

// The benchmarks write a real file with synchronous=FULL, so they measure fsync: run them on the
// disk vigil will use. They report appends/s.

// BenchmarkAppend is one caller appending one entry at a time: one commit (and fsync) each.
func BenchmarkAppend(b *testing.B) {
	l := open(b, b.TempDir(), 100)
	defer l.Close()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Append(ctx, entryFor(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkAppendParallel is many callers appending one entry each: concurrent appends share
// commits (group commit).
func BenchmarkAppendParallel(b *testing.B) {
	l := open(b, b.TempDir(), 100)
	defer l.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := l.Append(ctx, entryFor(i)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkAppendBatch is AppendBatch with 100 entries per call; b.N counts entries.
func BenchmarkAppendBatch(b *testing.B) {
	l := open(b, b.TempDir(), 100)
	defer l.Close()
	ctx := context.Background()
	batch := make([]audit.Entry, 100)
	for i := range batch {
		batch[i] = entryFor(i)
	}
	b.ReportAllocs()
	for n := 0; n < b.N; n += len(batch) {
		if _, err := l.AppendBatch(ctx, batch[:min(len(batch), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkVerify verifies a 10,000-entry log; it reports entries/s.
func BenchmarkVerify(b *testing.B) {
	dir := build(b, 10000, 100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rep, err := audit.VerifyDir(ctx, dir)
		if err != nil || !rep.OK {
			b.Fatal(rep, err)
		}
	}
	b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "entries/s")
}
