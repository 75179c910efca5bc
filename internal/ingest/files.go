package ingest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/jsontext"
	"github.com/vigil-soc/vigil/internal/pipeline"
)

// File formats vigil import understands.
const (
	FormatJSON   = "json"
	FormatEVTX   = "evtx"
	FormatAITADS = "ait-ads"
	FormatCEF    = "cef"
	FormatSyslog = "syslog"
	FormatCSV    = "csv"
)

// Formats lists the formats accepted by --format.
var Formats = []string{FormatJSON, FormatEVTX, FormatAITADS, FormatCEF, FormatSyslog, FormatCSV}

// MaxRecordBytes bounds one line or JSON record in a file.
const MaxRecordBytes = 16 << 20

// ErrUnknownFormat is returned for a --format that is not in Formats.
var ErrUnknownFormat = errors.New("unknown format")

// PartialError is ReadFile's error for an archive some of whose members could not be read:
// the others were, and their records delivered. It is not a file that could not be read.
type PartialError struct{ Err error }

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

// FileOptions configure ReadFile.
type FileOptions struct {
	// Format forces a format; empty detects it from the name and the first bytes.
	Format    string
	BatchSize int
	MaxBytes  int // bound on one batch's payload (see BatchBytes)
	// NoIDs leaves the records' IDs empty, for a reader that stores nothing (vigil scan): an
	// ID hashes the whole record.
	NoIDs bool
	// Progress is called now and then with the bytes read from the file on disk and its size.
	Progress func(done, total int64)
	// NDJSON reads JSON as one record per line, without looking at the stream's first bytes
	// and without trimming a byte order mark: for a part of an NDJSON file that starts at a
	// line other than the first (see NDJSON).
	NDJSON bool
	// EVTX decodes an EVTX stream, calling emit with each record rendered as JSON; skipped
	// damaged parts are reported through bad. It is supplied by the caller so that ingest does
	// not depend on a particular EVTX decoder. Without it, EVTX files are refused.
	EVTX func(ctx context.Context, r io.Reader, emit func(rec int64, offset int64, json []byte) error, bad func(rec int64, err error) error) error
}

// FileResult counts what ReadFile read.
type FileResult struct {
	Records   int64 // records published (malformed ones included, flagged)
	Malformed int64 // records set aside as dead letters
	Formats   []string
}

// Output receives batches. Raw telemetry goes to SubjectRawEvents, alerts (AIT-ADS) to
// SubjectRawAlerts.
type Output func(ctx context.Context, subject string, b *pipeline.RawBatch) error

// MalformedFormat marks a raw record that could not be split out cleanly; the normalize stage
// stores it as a dead letter with the reason in the record data.
const MalformedFormat = "malformed"

// ReadFile streams one file (plain, .gz, or every member of a .zip) into out. Malformed records
// are published flagged as malformed, so that they reach the dead-letter store through the
// pipeline like everything else, and reading goes on. The error is non-nil when the file, or a
// member of a zip, cannot be read: the members after a damaged one are still read, and the
// error names every damaged member.
func ReadFile(ctx context.Context, path string, opt FileOptions, out Output) (FileResult, error) {
	var res FileResult
	if err := checkFormat(path, opt.Format); err != nil {
		return res, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.IsDir() {
		return res, fmt.Errorf("%s is a folder", path)
	}
	counted := &countingReader{r: f, total: st.Size(), progress: opt.Progress}
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return res, fmt.Errorf("seek %s: %w", path, err)
	}
	switch {
	case n >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04")):
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return res, fmt.Errorf("open zip %s: %w", path, err)
		}
		// A member that cannot be read (damaged, or compressed by a method Go does not
		// read) is reported, and the members after it are still read; a failure to deliver
		// what was read (out) stops the file.
		var done int64
		var bad []error
		read := 0 // members read to the end
		for _, m := range zr.File {
			if m.FileInfo().IsDir() {
				continue
			}
			rc, err := m.Open()
			if err != nil {
				bad = append(bad, fmt.Errorf("open %s in %s: %w", m.Name, path, err))
				continue
			}
			mr := &countingReader{r: rc, base: done, total: st.Size(), progress: opt.Progress, scale: float64(m.CompressedSize64) / float64(max(m.UncompressedSize64, 1))}
			err = readStream(ctx, abs, m.Name, mr, opt, out, &res)
			rc.Close()
			done += int64(m.CompressedSize64)
			if err != nil {
				if errors.As(err, new(outputError)) || ctx.Err() != nil {
					return res, err
				}
				bad = append(bad, err)
				continue
			}
			read++
		}
		if len(bad) > 0 && read > 0 {
			return res, &PartialError{errors.Join(bad...)}
		}
		return res, errors.Join(bad...)
	}
	return res, readStream(ctx, abs, "", counted, opt, out, &res)
}

// ReadStream is ReadFile for one logical file already open as r (a member of an archive the
// caller opened, say), named name in records' provenance and in errors: plain or gzipped.
func ReadStream(ctx context.Context, name string, r io.Reader, opt FileOptions, out Output) (FileResult, error) {
	var res FileResult
	if err := checkFormat(name, opt.Format); err != nil {
		return res, err
	}
	return res, readStream(ctx, name, "", r, opt, out, &res)
}

// checkFormat checks a forced format (empty: detect it) for the file name.
func checkFormat(name, format string) error {
	if format != "" && !validFormat(format) {
		return fmt.Errorf("%s: %w %q (want one of %s)", name, ErrUnknownFormat, format, strings.Join(Formats, ", "))
	}
	return nil
}

// outputError is an error of the output a file is read into (see readStream), told apart from
// the errors of reading the file.
type outputError struct{ err error }

func (e outputError) Error() string { return e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

func validFormat(f string) bool {
	for _, x := range Formats {
		if x == f {
			return true
		}
	}
	return false
}

type countingReader struct {
	r        io.Reader
	n, base  int64
	total    int64
	scale    float64 // compressed/uncompressed for zip members; 0 means 1
	progress func(done, total int64)
	since    int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.since += int64(n)
	if c.progress != nil && c.since >= 1<<20 {
		c.since = 0
		done := c.n
		if c.scale > 0 {
			done = int64(float64(c.n) * c.scale)
		}
		c.progress(c.base+done, c.total)
	}
	return n, err
}

// readStream reads one logical file (a plain file, a gunzipped file or a zip member).
func readStream(ctx context.Context, file, member string, r io.Reader, opt FileOptions, out Output, res *FileResult) error {
	name := member
	if name == "" {
		name = filepath.Base(file)
	}
	display := file
	if member != "" {
		display = file + "!" + member
	}
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: open gzip: %w", display, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
		name = strings.TrimSuffix(name, ".gz")
	}
	// A stream that fails at once (a damaged gzip or zip member, a read error) is an error,
	// not an empty file.
	if _, err := br.Peek(1); err != nil && err != io.EOF {
		return fmt.Errorf("%s: %w", display, err)
	}
	format := opt.Format
	if format == "" {
		var err error
		if format, err = detect(name, br); err != nil {
			return fmt.Errorf("%s: %w", display, err)
		}
	}
	res.Formats = append(res.Formats, format)
	subject := pipeline.SubjectRawEvents
	if format == FormatAITADS {
		subject = pipeline.SubjectRawAlerts
	}
	recFormat := format
	if format == FormatEVTX || format == FormatCSV {
		recFormat = FormatJSON
		if format == FormatEVTX {
			recFormat = FormatEVTX
		}
	}
	// After a read error, the records read before it are still delivered (the batchers hold up
	// to a batch of them), unless delivering is what failed: out's errors are outputErrors.
	deliver := func(ctx context.Context, subject string, b *pipeline.RawBatch) error {
		if err := out(ctx, subject, b); err != nil {
			return outputError{err}
		}
		return nil
	}
	good := &Batcher{
		Template: pipeline.RawBatch{Source: "file", Format: recFormat, File: display, Hint: name},
		N:        max(opt.BatchSize, 1),
		MaxBytes: opt.MaxBytes,
		Flush:    func(ctx context.Context, b *pipeline.RawBatch) error { return deliver(ctx, subject, b) },
	}
	bad := &Batcher{
		Template: pipeline.RawBatch{Source: "file", Format: MalformedFormat, File: display, Hint: format},
		N:        max(opt.BatchSize, 1),
		MaxBytes: opt.MaxBytes,
		Flush: func(ctx context.Context, b *pipeline.RawBatch) error {
			return deliver(ctx, pipeline.SubjectRawEvents, b)
		},
	}
	prefix := event.PrefixEvent
	if subject == pipeline.SubjectRawAlerts {
		prefix = event.PrefixAlert
	}
	emit := func(rec, offset int64, data []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Records++
		var id string
		if !opt.NoIDs {
			id = PositionID(prefix, file, member, rec, data)
		}
		return good.Add(ctx, pipeline.RawRecord{ID: id, Record: rec, Offset: offset, Data: data})
	}
	malformed := func(rec, offset int64, data []byte, err error) error {
		res.Records++
		res.Malformed++
		reason := (&RecordError{File: display, Record: rec, Err: err}).Error()
		body, _ := json.Marshal(struct {
			Reason string `json:"reason"`
			Data   string `json:"data"`
		}{reason, string(truncate(data, 64<<10))})
		return bad.Add(ctx, pipeline.RawRecord{ID: PositionID(event.PrefixDead, file, member, rec, data), Record: rec, Offset: offset, Data: body})
	}
	var err error
	switch format {
	case FormatJSON:
		err = readJSON(br, opt.NDJSON, emit, malformed)
	case FormatCSV:
		err = readCSV(br, emit, malformed)
	case FormatAITADS:
		err = readAIT(br, emit, malformed)
	case FormatCEF, FormatSyslog:
		err = readLines(br, emit, malformed)
	case FormatEVTX:
		if opt.EVTX == nil {
			return fmt.Errorf("%s: EVTX is not supported by this build", display)
		}
		err = opt.EVTX(ctx, br, func(rec, off int64, js []byte) error { return emit(rec, off, bytes.Clone(js)) },
			func(rec int64, e error) error { return malformed(rec, 0, nil, e) })
	}
	if err != nil {
		if !errors.As(err, new(outputError)) && ctx.Err() == nil {
			err = errors.Join(err, good.Close(ctx), bad.Close(ctx))
		}
		return fmt.Errorf("%s: %w", display, err)
	}
	if err := good.Close(ctx); err != nil {
		return fmt.Errorf("%s: %w", display, err)
	}
	if err := bad.Close(ctx); err != nil {
		return fmt.Errorf("%s: %w", display, err)
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// detect picks a format from the member name and the first bytes.
func detect(name string, br *bufio.Reader) (string, error) {
	lower := strings.ToLower(name)
	head, _ := br.Peek(4096)
	switch {
	case bytes.HasPrefix(head, []byte("ElfFile\x00")) || strings.HasSuffix(lower, ".evtx"):
		return FormatEVTX, nil
	case bytes.HasPrefix(head, []byte("time,name,ip,host,short")):
		return FormatAITADS, nil
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if len(trimmed) == 0 {
		if len(head) == 0 {
			return FormatJSON, nil // empty file: nothing to read in any format
		}
		return FormatSyslog, nil
	}
	switch {
	case trimmed[0] == '{' || trimmed[0] == '[':
		return FormatJSON, nil
	case strings.HasSuffix(lower, ".csv"):
		return FormatCSV, nil
	}
	first := trimmed
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	if bytes.Contains(first, []byte("CEF:")) || bytes.Contains(first, []byte("LEEF:")) {
		return FormatCEF, nil
	}
	if !isText(head) {
		return "", errors.New("cannot detect the format: binary data that is neither EVTX, gzip nor zip (use --format)")
	}
	return FormatSyslog, nil
}

func isText(b []byte) bool {
	bad := 0
	for _, c := range b {
		if c == 0 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != 0x1b) {
			bad++
		}
	}
	return bad*20 <= len(b)
}

// readLine returns the next line without its terminator, the offset it started at, and io.EOF
// after the last line. A line longer than MaxRecordBytes is returned truncated with tooLong set
// and the reader skips to the next line.
type lineReader struct {
	br     *bufio.Reader
	offset int64
	buf    []byte
}

func (l *lineReader) next() (line []byte, offset int64, tooLong bool, err error) {
	offset = l.offset
	l.buf = l.buf[:0]
	for {
		frag, err := l.br.ReadSlice('\n')
		l.offset += int64(len(frag))
		if len(l.buf)+len(frag) <= MaxRecordBytes {
			l.buf = append(l.buf, frag...)
		} else {
			tooLong = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && (err != io.EOF || len(l.buf) == 0) {
			return nil, offset, false, err
		}
		break
	}
	line = bytes.TrimRight(l.buf, "\r\n")
	return line, offset, tooLong, nil
}

type emitFunc func(rec, offset int64, data []byte) error
type badFunc func(rec, offset int64, data []byte, err error) error

func readLines(br *bufio.Reader, emit emitFunc, bad badFunc) error {
	lr := &lineReader{br: br}
	var rec int64
	for {
		line, off, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec++
		if tooLong {
			if err := bad(rec, off, line, fmt.Errorf("%w: line longer than %d bytes", ErrTooLarge, MaxRecordBytes)); err != nil {
				return err
			}
			continue
		}
		if err := emit(rec, off, bytes.Clone(line)); err != nil {
			return err
		}
	}
}

// readJSON reads NDJSON line by line (a bad line is set aside and reading goes on) when the
// first record fits on its first line; otherwise one JSON array or a stream of concatenated,
// possibly pretty-printed values (a syntax error there ends the file, since the next record
// boundary cannot be found).
// NDJSON reports whether a JSON stream whose first bytes (up to 64 KB) are head is read as
// one record per line: its first line, after any leading whitespace and byte order mark, is a
// whole JSON object. Other JSON (an array, pretty-printed objects one after the other) is
// split by its brackets.
func NDJSON(head []byte) bool {
	head = trimJSONHead(head)
	if len(head) == 0 || head[0] != '{' {
		return false
	}
	line := head
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return jsontext.Valid(bytes.TrimSpace(line))
}

// trimJSONHead drops the whitespace and byte order mark a JSON stream may start with.
func trimJSONHead(head []byte) []byte { return bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf") }

// readJSON reads JSON records: NDJSON (forced by ndjson, or detected by NDJSON) by lines, any
// other JSON text or texts by readJSONValues.
func readJSON(br *bufio.Reader, ndjson bool, emit emitFunc, bad badFunc) error {
	if ndjson {
		return readNDJSON(br, emit, bad)
	}
	// A read error after some data is met again, and reported, by the record readers below,
	// once the records before it are read.
	head, err := br.Peek(64 << 10)
	t := trimJSONHead(head)
	if len(t) == 0 {
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return err
		}
		return nil
	}
	if skip := len(head) - len(t); skip > 0 {
		_, _ = br.Discard(skip)
	}
	if NDJSON(t) {
		return readNDJSON(br, emit, bad)
	}
	return readJSONValues(br, t[0] == '[', emit, bad)
}

// readJSONValues reads JSON that is not NDJSON: the elements of one top-level array (array),
// or values one after the other, each maybe pretty-printed over many lines. A value that is
// not valid JSON, or not an object or a string, is a malformed record and the others go on;
// text whose values cannot be told apart any more (a bracket never closed, no comma between
// elements) is one malformed record for the rest of the file. A record's offset is where its
// value starts.
func readJSONValues(r io.Reader, array bool, emit emitFunc, bad badFunc) error {
	vs := newValueStream(r)
	var rec int64
	// one reads the next value as one record, or the records it wraps. errStop ends the
	// stream: the text's structure is lost, and the rest of it was reported as malformed.
	one := func(wrappers bool) error {
		val, off, tooLong, err := vs.value(MaxRecordBytes)
		switch {
		case err != nil && errors.Is(err, ErrSyntax):
			if err := bad(rec+1, off, nil, err); err != nil {
				return err
			}
			return errStop
		case err != nil:
			return err // reading failed
		case tooLong:
			rec++
			return bad(rec, off, val[:min(len(val), 1024)], fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxRecordBytes))
		}
		if c := val[0]; c != '{' && c != '[' && c != '"' && !jsontext.Valid(val) {
			// Not a number or literal either: this is not JSON text (or no longer is).
			if err := bad(rec+1, off, val, fmt.Errorf("%w: unexpected %.32q; %w", ErrSyntax, val, errStructure)); err != nil {
				return err
			}
			return errStop
		}
		if err := checkRecord(val); err != nil {
			rec++
			return bad(rec, off, val, err)
		}
		if wrappers {
			return emitRecords(&rec, off, val, emit, bad)
		}
		rec++
		return emit(rec, off, bytes.Clone(val))
	}
	// end is the end of the input: a read error, or the end (an array that is never closed
	// ends there too: its last element was complete).
	end := func() error {
		if vs.err != nil && vs.err != io.EOF {
			return vs.err
		}
		return nil
	}
	if array {
		vs.peek()
		vs.skip() // the bracket
		for first := true; ; first = false {
			c, ok := vs.peek()
			if !ok {
				return end()
			}
			if c == ']' {
				return nil
			}
			if !first {
				if c != ',' {
					return bad(rec+1, vs.off, nil, fmt.Errorf("%w: want , or ] after record %d; %w", ErrSyntax, rec, errStructure))
				}
				vs.skip()
				if _, ok := vs.peek(); !ok {
					return end()
				}
			}
			if err := one(false); err != nil {
				return stopped(err)
			}
		}
	}
	for {
		if _, ok := vs.peek(); !ok {
			return end()
		}
		if err := one(true); err != nil {
			return stopped(err)
		}
	}
}

// errStop ends readJSONValues without an error of its own.
var errStop = errors.New("stop")

func stopped(err error) error {
	if err == errStop {
		return nil
	}
	return err
}

// emitRecords emits the valid JSON object or string raw as the next record (*rec is the last
// record's number), or, for a file of records wrapped in {"Records":[...]}, each of them.
func emitRecords(rec *int64, off int64, raw []byte, emit emitFunc, bad badFunc) error {
	arr, ok := recordsArray(raw)
	if !ok {
		*rec++
		return emit(*rec, off, bytes.Clone(raw))
	}
	return eachElement(arr, func(elem []byte) error {
		*rec++
		return emitJSON(*rec, off, bytes.Clone(elem), emit, bad)
	})
}

func emitJSON(rec, off int64, raw []byte, emit emitFunc, bad badFunc) error {
	if len(raw) > MaxRecordBytes {
		return bad(rec, off, raw[:1024], fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw)))
	}
	if raw[0] != '{' && raw[0] != '"' {
		return bad(rec, off, raw, ErrNotRecord)
	}
	return emit(rec, off, raw)
}

func readNDJSON(br *bufio.Reader, emit emitFunc, bad badFunc) error {
	lr := &lineReader{br: br}
	var rec int64
	for {
		line, off, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		switch {
		case tooLong:
			rec++
			err = bad(rec, off, line[:min(len(line), 1024)], fmt.Errorf("%w: line longer than %d bytes", ErrTooLarge, MaxRecordBytes))
		default:
			if cerr := checkRecord(line); cerr != nil {
				rec++
				err = bad(rec, off, line, cerr)
			} else {
				err = emitRecords(&rec, off, line, emit, bad)
			}
		}
		if err != nil {
			return err
		}
	}
}

// readCSV turns a CSV file with a header row into one JSON object per row.
// csvKeyOrder returns the order in which a CSV row becomes a JSON object (see csvObject): the
// indices of header's columns sorted by name, the last of columns that share a name, as
// json.Marshal writes a map[string]string of the row.
func csvKeyOrder(header []string) []int {
	last := make(map[string]int, len(header))
	for i, h := range header {
		last[h] = i
	}
	order := make([]int, 0, len(last))
	for _, i := range last {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(header[a], header[b]) })
	return order
}

// csvObject appends the JSON object of a CSV row to dst: the members of header's columns in
// order (see csvKeyOrder), byte for byte what json.Marshal writes for the map from column
// name to value (record IDs are hashes of these bytes), without its reflection and sorting.
func csvObject(dst []byte, header []string, order []int, row []string) []byte {
	dst = append(dst, '{')
	for j, i := range order {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = jsontext.AppendStringHTML(dst, header[i])
		dst = append(dst, ':')
		dst = jsontext.AppendStringHTML(dst, row[i])
	}
	return append(dst, '}')
}

func readCSV(br *bufio.Reader, emit emitFunc, bad badFunc) error {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil
		}
		return fmt.Errorf("read CSV header: %w", err)
	}
	header = append([]string(nil), header...)
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // the byte order mark Windows tools write (EvtxECmd)
	order := csvKeyOrder(header)
	size := 64 // the largest record so far: the next one's buffer
	var rec int64
	for {
		off := cr.InputOffset()
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		rec++
		if err != nil {
			if err := bad(rec, off, nil, err); err != nil {
				return err
			}
			continue
		}
		if len(row) != len(header) {
			if err := bad(rec, off, []byte(strings.Join(row, ",")), fmt.Errorf("%d columns, the header has %d", len(row), len(header))); err != nil {
				return err
			}
			continue
		}
		data := csvObject(make([]byte, 0, size), header, order, row)
		if size < len(data) {
			size = len(data)
		}
		if err := emit(rec, off, data); err != nil {
			return err
		}
	}
}

// AITColumns are the columns of an AIT-ADS alert CSV that describe the alert. The label columns
// (time_label, event_label) are ground truth for evaluation and never enter the pipeline.
var AITColumns = []string{"time", "name", "ip", "host", "short"}

// readAIT reads the AIT-ADS alert CSV. Each record keeps the alert columns only, as a CSV line.
func readAIT(br *bufio.Reader, emit emitFunc, bad badFunc) error {
	lr := &lineReader{br: br}
	line, _, _, err := lr.next()
	if err != nil {
		if err == io.EOF {
			return nil
		}
		return err
	}
	cols := strings.Split(string(line), ",")
	if len(cols) < 5 || strings.Join(cols[:5], ",") != strings.Join(AITColumns, ",") {
		return fmt.Errorf("not an AIT-ADS alert CSV: header %q", line)
	}
	var rec int64
	for {
		line, off, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			continue
		}
		rec++
		fields := bytes.Split(line, []byte(","))
		switch {
		case tooLong:
			err = bad(rec, off, line[:min(len(line), 1024)], ErrTooLarge)
		case len(fields) != len(cols):
			err = bad(rec, off, line, fmt.Errorf("%d columns, the header has %d", len(fields), len(cols)))
		default:
			err = emit(rec, off, bytes.Clone(bytes.Join(fields[:5], []byte(","))))
		}
		if err != nil {
			return err
		}
	}
}
