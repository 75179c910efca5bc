package evtx

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadSamples reads every evtx-attack-samples file into memory.
func loadSamples(b *testing.B) [][]byte {
	b.Helper()
	var files [][]byte
	err := filepath.WalkDir(filepath.Join(dataDir, "evtx-attack-samples"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".evtx") {
			return err
		}
		data, err := os.ReadFile(path)
		files = append(files, data)
		return err
	})
	if err != nil || len(files) == 0 {
		b.Skipf("attack samples not available: %v", err)
	}
	return files
}

// benchRecords runs fn on every record of every sample file, b.N times, and reports
// records/s.
func benchRecords(b *testing.B, fn func(*Record)) {
	files := loadSamples(b)
	var size int64
	for _, f := range files {
		size += int64(len(f))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPUTime()
	var n int
	var r *Reader
	src := new(bytes.Reader)
	for b.Loop() {
		for _, data := range files {
			// One Reader per goroutine, Reset for each file, as vigil scan does.
			src.Reset(data)
			var err error
			if r == nil {
				r, err = NewReader(src)
			} else {
				err = r.Reset(src)
			}
			if err != nil {
				b.Fatal(err)
			}
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
				fn(rec)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	// CPU time is steadier than wall time on a shared machine; it includes the GC.
	if cpu := processCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "records/cpu-s")
	}
}

// BenchmarkParse decodes every record of the evtx-attack-samples files (8,255 records).
func BenchmarkParse(b *testing.B) {
	benchRecords(b, func(*Record) {})
}

// BenchmarkFields decodes every record and walks its flat fields, as `vigil scan` does.
func BenchmarkFields(b *testing.B) {
	var sink int
	benchRecords(b, func(rec *Record) {
		rec.Fields(func(name, value string) { sink += len(value) })
	})
	_ = sink
}

// BenchmarkAppendJSON decodes every record and renders its JSON.
func BenchmarkAppendJSON(b *testing.B) {
	var buf []byte
	benchRecords(b, func(rec *Record) {
		buf = rec.AppendJSON(buf[:0])
	})
}
