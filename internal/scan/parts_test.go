package scan

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

	scanned := func(chunks int) (string, Stats, []string, int) {
		old := partChunks
		partChunks = chunks
		defer func() { partChunks = old }()
		return scanWithProblems(t, files)
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

// scanWithProblems scans files with the Windows rules on two workers, at the part sizes
// set, and returns the detections as JSON, the stats (without the time), the problems
// reported (sorted) and the number of jobs the scan was planned in.
func scanWithProblems(t *testing.T, files []string) (string, Stats, []string, int) {
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
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
	return string(out), st, problems, len(planJobs(files, sizes(t, files)))
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

// TestScanNDJSONInParts scans a large NDJSON file (the OTRF datasets' records, with blank
// lines, CRLF endings, malformed lines and a line longer than a part) whole and in parts of a
// few kilobytes: the detections, their record numbers, the stats and the problems (which name
// record numbers) are the same.
func TestScanNDJSONInParts(t *testing.T) {
	var lines [][]byte
	datasets, err := Files([]string{filepath.Join(dataDir, "otrf")})
	if err != nil || len(datasets) < 10 {
		t.Fatalf("OTRF datasets: %d, %v", len(datasets), err)
	}
	for _, f := range datasets {
		z, err := zip.OpenReader(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range z.File {
			if !strings.HasSuffix(m.Name, ".json") {
				continue
			}
			rc, err := m.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, bytes.Split(bytes.TrimSpace(data), []byte("\n"))...)
		}
		z.Close()
	}
	var buf bytes.Buffer
	for i, l := range lines {
		buf.Write(bytes.TrimRight(l, "\r"))
		switch i % 97 {
		case 5:
			buf.WriteString("\r\n\n   \n") // CRLF, then blank lines (not records)
		case 11:
			buf.WriteString("\n{\"broken\": \n") // a malformed record
		case 13:
			buf.WriteString("\n\"a string\"\n[1,2]\n") // a string (a record the matcher refuses) and an array (malformed)
		default:
			buf.WriteByte('\n')
		}
	}
	path := filepath.Join(t.TempDir(), "export.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	checkPartsLikeWhole(t, path, 13000, 200, 300, 100)
}

// checkPartsLikeWhole scans the file at path whole and in parts of 777 bytes and of 64 KB: the
// parts must give the whole scan's detections, record numbers, statistics and problems. The
// whole scan must find at least minRecords records, minDetections detections and minProblems
// problems, and each split make at least minJobs jobs.
func checkPartsLikeWhole(t *testing.T, path string, minRecords, minDetections int64, minProblems, minJobs int) {
	t.Helper()
	scanned := func(bytes int64) (string, Stats, []string, int) {
		old := partBytes
		partBytes = bytes
		defer func() { partBytes = old }()
		return scanWithProblems(t, []string{path})
	}
	wholeOut, wholeStats, wholeProblems, jobs := scanned(1 << 40)
	if jobs != 1 || wholeStats.Records < minRecords || wholeStats.Detections < minDetections || len(wholeProblems) < minProblems {
		t.Fatalf("whole: %d jobs, %+v, %d problems", jobs, wholeStats, len(wholeProblems))
	}
	for _, size := range []int64{777, 64 << 10} {
		out, st, problems, jobs := scanned(size)
		if jobs < minJobs {
			t.Fatalf("parts of %d bytes: %d jobs", size, jobs)
		}
		if out != wholeOut || st != wholeStats || !slices.Equal(problems, wholeProblems) {
			t.Fatalf("in parts of %d bytes: %+v, %d problems; whole: %+v, %d problems (detections equal: %v)",
				size, st, len(problems), wholeStats, len(wholeProblems), out == wholeOut)
		}
	}
}
