package scan

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"strings"

	"github.com/vigil-soc/vigil/internal/ingest"
)

// A large file is scanned in parts, in parallel, so that one big log (a domain controller's
// Security.evtx, an NDJSON export) uses every core: an EVTX file in ranges of chunks, an NDJSON
// file in ranges of lines. Each part numbers its records from one; Run makes the numbers the
// file's as it emits the parts in order, adding the records of the parts before (fileResult.met).

// partKind says what a job scans.
type partKind uint8

const (
	wholeFile  partKind = iota
	evtxPart            // a range of chunks of an EVTX file
	ndjsonPart          // a range of lines of an NDJSON file
)

// chunkRange is the range of chunks of a part of a large EVTX file: n chunks from chunk first
// (n 0: to the end of the file).
type chunkRange struct{ first, n int }

// job is what a worker scans: a whole file, or a part of a large one.
type job struct {
	file int // in Run's files
	kind partKind
	// first: the first part of its file (a whole file is one).
	first bool
	rng   chunkRange // evtxPart
	// ndjsonPart: the lines that start in [from, to) (to 0: to the end of the file).
	from, to int64
	size     int64 // bytes, for Progress
}

// partChunks is the size of the parts large EVTX files are scanned in: 4 MB. A file of more
// chunks is split; smaller ones are scanned whole, one file per worker. partBytes is the size
// of the parts of NDJSON files.
var (
	partChunks       = 64
	partBytes  int64 = 4 << 20
)

// evtxHeaderSize and evtxChunkSize are the EVTX file layout: a header block, then chunks.
const (
	evtxHeaderSize = 4096
	evtxChunkSize  = 65536
)

// planJobs lists the jobs of a scan of files, whose sizes are given: one per file, but large
// EVTX files in parts of partChunks chunks and large NDJSON files in parts of about partBytes
// (by name, and for NDJSON by its first line as the JSON reader judges it; a gzipped file is
// read whole).
func planJobs(files []string, sizes []int64) []job {
	jobs := make([]job, 0, len(files))
	for i, f := range files {
		lower := strings.ToLower(f)
		switch {
		case strings.HasSuffix(lower, ".evtx"):
			chunks := int((sizes[i] - evtxHeaderSize + evtxChunkSize - 1) / evtxChunkSize)
			if chunks <= partChunks {
				break
			}
			for first := 0; first < chunks; first += partChunks {
				j := job{file: i, kind: evtxPart, first: first == 0, rng: chunkRange{first, partChunks}, size: int64(partChunks) * evtxChunkSize}
				if first+partChunks >= chunks {
					j.rng.n = 0 // the last part reads to the end, whatever the file holds by then
					j.size = sizes[i] - evtxHeaderSize - int64(first)*evtxChunkSize
				}
				if first == 0 {
					j.size += evtxHeaderSize
				}
				jobs = append(jobs, j)
			}
			continue
		case strings.HasSuffix(lower, ".json") || strings.HasSuffix(lower, ".jsonl") || strings.HasSuffix(lower, ".ndjson"):
			if sizes[i] <= partBytes || !isNDJSON(f) {
				break
			}
			for from := int64(0); from < sizes[i]; from += partBytes {
				j := job{file: i, kind: ndjsonPart, first: from == 0, from: from, to: from + partBytes, size: partBytes}
				if j.to >= sizes[i] {
					j.to, j.size = 0, sizes[i]-from // the last part reads to the end
				}
				jobs = append(jobs, j)
			}
			continue
		}
		jobs = append(jobs, job{file: i, first: true, size: sizes[i]})
	}
	return jobs
}

// isNDJSON reports whether the JSON reader reads the file at path as NDJSON (see
// ingest.NDJSON), from its first 64 KB.
func isNDJSON(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false // scanned whole, which reports the error
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	return ingest.NDJSON(head[:n])
}

// scanEVTXPart scans a range of the chunks of the EVTX file at path.
func (w *worker) scanEVTXPart(ctx context.Context, path string, rng chunkRange, res *fileResult) error {
	f, err := os.Open(path)
	if err != nil {
		if rng.first > 0 {
			return nil // the first part reports it
		}
		return err
	}
	defer f.Close()
	return w.scanEVTX(ctx, path, f, &rng, res)
}

// scanNDJSONPart scans the lines of the NDJSON file at path that start in [from, to) (to 0: to
// the end). The problems of its records are reported by Run, which knows their numbers in the
// file (res.problems).
func (w *worker) scanNDJSONPart(ctx context.Context, path string, from, to int64, res *fileResult) error {
	res.deferProblems = true
	f, err := os.Open(path)
	if err != nil {
		if from > 0 {
			return nil // the first part reports it
		}
		return err
	}
	defer f.Close()
	start := from
	if from > 0 {
		// The part's first line is the first that starts at from or after it.
		if start, err = lineStart(f, from); err != nil || (to > 0 && start >= to) {
			return err
		}
	}
	opt := jsonOptions
	opt.NDJSON = from > 0
	lr := &lineRange{f: f, pos: start, end: to}
	_, err = ingest.ReadStream(ctx, path, bufio.NewReaderSize(lr, 64<<10), opt, w.jsonBatches(path, res))
	res.met = res.records
	return err
}

// lineStart returns the offset of the first line of f that starts at off or after it
// (the size of f when there is none).
func lineStart(f *os.File, off int64) (int64, error) {
	var prev [1]byte
	if _, err := f.ReadAt(prev[:], off-1); err != nil {
		return 0, err
	}
	if prev[0] == '\n' {
		return off, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, off, 1<<62), 64<<10)
	for pos := off; ; {
		frag, err := br.ReadSlice('\n')
		pos += int64(len(frag))
		if err == nil {
			return pos, nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				return pos, nil
			}
			return 0, err
		}
	}
}

// lineRange reads the lines of a file that start before end (end 0: all of them), from pos,
// which is the start of a line: the bytes up to end, and on to the end of the line that holds
// the byte before end.
type lineRange struct {
	f        *os.File
	pos, end int64
	last     byte // the last byte read
	done     bool
}

func (l *lineRange) Read(p []byte) (int, error) {
	if l.done || len(p) == 0 {
		if l.done {
			return 0, io.EOF
		}
		return 0, nil
	}
	finishing := l.end > 0 && l.pos >= l.end
	if finishing && l.last == '\n' {
		l.done = true
		return 0, io.EOF
	}
	if l.end > 0 && !finishing && int64(len(p)) > l.end-l.pos {
		p = p[:l.end-l.pos]
	}
	n, err := l.f.ReadAt(p, l.pos)
	if finishing {
		if i := bytes.IndexByte(p[:n], '\n'); i >= 0 {
			n, err, l.done = i+1, nil, true
		}
	}
	l.pos += int64(n)
	if n > 0 {
		l.last = p[n-1]
		if err == io.EOF {
			err = nil // returned by the next Read
		}
	}
	return n, err
}
