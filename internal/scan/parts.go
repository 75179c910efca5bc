package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/vigil-soc/vigil/internal/ingest"
)

// A large file is scanned in parts, in parallel, so that one big log (a domain controller's
// Security.evtx, an NDJSON export, EvtxECmd's CSV of it) uses every core: an EVTX file in ranges
// of chunks, an NDJSON file in ranges of lines, an EvtxECmd CSV file in ranges of rows, each
// read after the file's header row. Each part numbers its records from one; Run makes the numbers the
// file's as it emits the parts in order, adding the records of the parts before (fileResult.met).

// partKind says what a job scans.
type partKind uint8

const (
	wholeFile  partKind = iota
	evtxPart            // a range of chunks of an EVTX file
	ndjsonPart          // a range of lines of an NDJSON file
	csvPart             // a range of rows of an EvtxECmd CSV file
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
	// ndjsonPart: the lines that start in [from, to) (to 0: to the end of the file); csvPart:
	// the rows in [from, to), from and to row starts (to 0: to the end), and the header row
	// in [0, header).
	from, to, header int64
	size             int64 // bytes, for Progress
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
// read whole), and large EvtxECmd CSV files in parts of about partBytes of rows.
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
		case strings.HasSuffix(lower, ".csv"):
			if sizes[i] <= partBytes {
				break
			}
			header, starts, err := csvRowStarts(f, partBytes)
			if err != nil || len(starts) == 0 {
				break // scanned whole, which reports an error reading it
			}
			bounds := append(append([]int64{header}, starts...), 0)
			for k := 0; k+1 < len(bounds); k++ {
				j := job{file: i, kind: csvPart, first: k == 0, from: bounds[k], to: bounds[k+1], header: header}
				j.size = j.to - j.from
				if j.to == 0 {
					j.size = sizes[i] - j.from
				}
				if k == 0 {
					j.size += header
				}
				jobs = append(jobs, j)
			}
			continue
		}
		jobs = append(jobs, job{file: i, first: true, size: sizes[i]})
	}
	return jobs
}

// csvRowStarts reads the CSV file at path once and returns the end of its header row and
// the starts of the rows after which it splits the file in parts of about size bytes: the
// first row that starts at or after each multiple of size. A row starts after a line feed
// outside quotes: a quoted cell (a script block in a PayloadData column) may hold line feeds,
// and the quotes seen from the file's start tell which line feeds are inside one. It returns
// no starts for a file that is not EvtxECmd's output or has no row beyond the first part.
func csvRowStarts(path string, size int64) (header int64, starts []int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	if !evtxECmdHeader(br) {
		return 0, nil, nil
	}
	var pos, target int64
	quoted := false // inside quotes at pos: a doubled quote inside quotes changes it twice
	for {
		frag, err := br.ReadSlice('\n')
		if bytes.Count(frag, []byte{'"'})%2 == 1 {
			quoted = !quoted
		}
		pos += int64(len(frag))
		if err == nil && !quoted { // a row ends at pos
			switch {
			case header == 0:
				header, target = pos, pos+size
			case pos >= target:
				starts = append(starts, pos)
				target = pos + size
			}
		}
		switch {
		case err == nil || err == bufio.ErrBufferFull:
		case errors.Is(err, io.EOF):
			if n := len(starts); n > 0 && starts[n-1] >= pos {
				starts = starts[:n-1] // no row after the last start
			}
			return header, starts, nil
		default:
			return 0, nil, err
		}
	}
}

// scanCSVPart scans the rows of the EvtxECmd CSV file at path in [from, to) (to 0: to the end)
// after its header row, [0, header).
func (w *worker) scanCSVPart(ctx context.Context, path string, from, to, header int64, res *fileResult) error {
	res.deferProblems = true
	f, err := os.Open(path)
	if err != nil {
		if from > header {
			return nil // the first part reports it
		}
		return err
	}
	defer f.Close()
	end := to
	if end == 0 {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		end = st.Size()
	}
	src := io.MultiReader(io.NewSectionReader(f, 0, header), io.NewSectionReader(f, from, end-from))
	_, err = ingest.ReadStream(ctx, path, bufio.NewReaderSize(src, 64<<10), csvOptions, w.jsonBatches(path, res))
	res.met = res.records
	return err
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
