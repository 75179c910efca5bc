package scan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/vigil-soc/vigil/internal/sigma"
)

// TestScanInParts scans the attack samples, and a copy of a multi-chunk sample damaged in its
// file header and in one chunk, whole and split into parts of a few chunks scanned in
// parallel: the detections (record numbers, correlation alerts), the stats and the problems
// reported are the same.
func TestScanInParts(t *testing.T) {
	files := sampleFiles(t)
	// The damaged copy: the largest sample, its header checksum and its sixth chunk's
	// signature broken.
	largest := files[0]
	for _, f := range files {
		a, _ := os.Stat(f)
		b, _ := os.Stat(largest)
		if a.Size() > b.Size() {
			largest = f
		}
	}
	data, err := os.ReadFile(largest)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < evtxHeaderSize+8*evtxChunkSize {
		t.Fatalf("%s: %d bytes, want at least 8 chunks", largest, len(data))
	}
	data[124] ^= 0xff                          // file header crc32
	data[evtxHeaderSize+5*evtxChunkSize] = 'X' // chunk 5's signature
	damaged := filepath.Join(t.TempDir(), "damaged.evtx")
	if err := os.WriteFile(damaged, data, 0o600); err != nil {
		t.Fatal(err)
	}
	files = append(files, damaged)

	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	scanned := func(chunks int) (string, Stats, []string, int) {
		old := partChunks
		partChunks = chunks
		defer func() { partChunks = old }()
		jobs := len(planJobs(files, sizes(t, files)))
		var mu sync.Mutex
		var problems []string
		opt := Options{Engine: eng, Rules: rs, Workers: 2, Problem: func(file string, err error) {
			mu.Lock()
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			mu.Unlock()
		}}
		dets, st := runScan(t, files, opt)
		st.Seconds = 0
		out, _ := json.Marshal(dets)
		slices.Sort(problems)
		return string(out), st, problems, jobs
	}
	if jobs := planJobs(files, sizes(t, files)); len(jobs) != len(files) {
		t.Fatalf("%d jobs for %d files at the default part size: want no file split", len(jobs), len(files))
	}
	wholeOut, wholeStats, wholeProblems, _ := scanned(1 << 20)
	if len(wholeProblems) != 2 {
		t.Fatalf("whole: problems %q, want the header and the chunk", wholeProblems)
	}
	for _, chunks := range []int{1, 3} {
		out, st, problems, jobs := scanned(chunks)
		if jobs < len(files)+50 {
			t.Fatalf("%d jobs for %d files in parts of %d chunks", jobs, len(files), chunks)
		}
		if out != wholeOut || st != wholeStats || !slices.Equal(problems, wholeProblems) {
			t.Fatalf("in parts of %d chunks: %+v, problems %q; whole: %+v, problems %q (detections equal: %v)",
				chunks, st, problems, wholeStats, wholeProblems, out == wholeOut)
		}
	}
}

func sizes(t *testing.T, files []string) []int64 {
	s := make([]int64, len(files))
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		s[i] = st.Size()
	}
	return s
}
