package evtx

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// recordKeys reads rd to the end and returns, per record, its number, identifier, chunk and
// offset, and the number of records met.
func recordKeys(t *testing.T, rd *Reader, base int64) ([]string, int64) {
	t.Helper()
	var keys []string
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return keys, rd.RecordsMet()
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, fmt.Sprintf("%d %d %d %d", base+rec.Number, rec.RecordID, rec.Chunk, rec.Offset))
	}
}

// TestRange reads multi-chunk attack samples whole, and in ranges of chunks of several sizes
// (the last range to the end): the ranges give every record once, in order, and their numbers
// plus the records met in the ranges before them are the numbers in the whole file.
func TestRange(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(dataDir, "evtx-attack-samples", "*", "*.evtx"))
	tested := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		chunks := (len(data) - fileHeaderSize + chunkSize - 1) / chunkSize
		if chunks < 6 || tested >= 8 {
			continue
		}
		tested++
		whole, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want, met := recordKeys(t, whole, 0)
		for _, size := range []int{1, 2, 5} {
			var got []string
			var base int64
			rd, err := NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			for first := 0; first < chunks; first += size {
				if first > 0 {
					if err := rd.Reset(bytes.NewReader(data)); err != nil {
						t.Fatal(err)
					}
				}
				n := size
				if first+size >= chunks {
					n = 0 // the last range reads to the end
				}
				if err := rd.Range(first, n); err != nil {
					t.Fatal(err)
				}
				keys, partMet := recordKeys(t, rd, base)
				got = append(got, keys...)
				base += partMet
			}
			if !slices.Equal(got, want) || base != met {
				t.Fatalf("%s in ranges of %d chunks: %d records (%d met), whole: %d (%d met)", path, size, len(got), base, len(want), met)
			}
		}
	}
	if tested < 4 {
		t.Fatalf("%d multi-chunk samples", tested)
	}
	// Range is refused after the first Next, and past chunk 0 on an input that cannot seek.
	data, _ := os.ReadFile(files[0])
	rd, _ := NewReader(bytes.NewReader(data))
	rd.Next()
	if err := rd.Range(1, 1); err == nil {
		t.Error("Range after Next: no error")
	}
	rd, _ = NewReader(io.MultiReader(bytes.NewReader(data)))
	if err := rd.Range(1, 1); err == nil {
		t.Error("Range(1, 1) on an input that cannot seek: no error")
	}
}
