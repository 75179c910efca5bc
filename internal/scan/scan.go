// Package scan is vigil's stateless hunt over files: EVTX and JSON logs of a compromised host,
// matched against Sigma rules with no data directory and no server (`vigil scan`), in the
// manner of Hayabusa and Chainsaw. Files are scanned in parallel; EVTX records go straight from
// the parser's field view into the Sigma record without any JSON in between. Correlation rules
// run over all detections at the end, in event-time order.
package scan

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
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/evtx"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/normalize"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/sigma"
)

// Detection is one rule match on one record of a file.
type Detection struct {
	RuleID    string             `json:"rule_id"`
	RuleTitle string             `json:"rule_title"`
	Level     string             `json:"level"`
	Timestamp time.Time          `json:"timestamp"`
	File      string             `json:"file"`
	Record    int64              `json:"record"`
	Tags      []string           `json:"tags"`
	Computer  string             `json:"computer,omitempty"`
	Channel   string             `json:"channel,omitempty"`
	EventID   string             `json:"event_id,omitempty"`
	Matches   []event.FieldMatch `json:"matches,omitempty"`
	// Correlation is set for the alerts of correlation rules; Records then lists the
	// contributing records as "file#record".
	Correlation bool     `json:"correlation,omitempty"`
	Records     []string `json:"records,omitempty"`
	// Fields holds a few identifying fields of the record (user, process, command line) for
	// timelines and incident building. The detections of one record share it: it must not be
	// modified.
	Fields Fields `json:"fields,omitempty"`
}

// Field is a named value of a record.
type Field struct{ Name, Value string }

// Fields are the identifying fields of a detection's record, sorted by name. They encode in
// JSON as an object, as a map would: a scan keeps them for every matched record, and a slice
// costs a fraction of a map to build.
type Fields []Field

// Get returns the value of the named field.
func (fs Fields) Get(name string) (string, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// MarshalJSON encodes fs as an object with its names in sorted order, as encoding/json
// encodes a map.
func (fs Fields) MarshalJSON() ([]byte, error) {
	if fs == nil {
		return []byte("null"), nil
	}
	return fs.appendJSON(nil), nil
}

// Options configure Run.
type Options struct {
	Engine *sigma.Engine
	Rules  *sigma.RuleSet
	// Workers scan files, and parts of large EVTX and NDJSON files, in parallel (default: the
	// number of CPUs).
	Workers int
	// ParseOnly reads every record but matches nothing: the baseline for measuring the cost of
	// matching.
	ParseOnly bool
	// Progress is called with the bytes scanned so far and the total.
	Progress func(done, total int64)
	// Problem is called for every damaged part of a file that was skipped, and for files that
	// could not be read.
	Problem func(file string, err error)
	// Run calls Progress and Problem from its workers, one call at a time.
}

// Stats summarise a scan.
type Stats struct {
	Files      int     `json:"files"`
	Records    int64   `json:"records"`
	Detections int64   `json:"detections"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
}

// Files expands paths (files or folders, recursively) into the files to scan: .evtx and JSON
// files (.json, .jsonl, .ndjson, and their .gz), EvtxECmd's CSV output (a folder's other CSV
// files, a KAPE collection's MFTECmd output or a dataset's index, are left out), and .zip
// archives of them, in lexical order.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", p, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && scannable(path) && (!strings.HasSuffix(strings.ToLower(path), ".csv") || evtxECmdFile(path)) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", p, err)
		}
	}
	return out, nil
}

func scannable(path string) bool {
	return strings.HasSuffix(strings.ToLower(path), ".zip") || scannableLog(path)
}

// scannableLog reports whether a file or archive member is a log a scan reads, by its name.
func scannableLog(path string) bool {
	p := strings.ToLower(strings.TrimSuffix(strings.ToLower(path), ".gz"))
	for _, ext := range []string{".evtx", ".json", ".jsonl", ".ndjson", ".csv"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

// fileResult holds the detections of one file, or of one part of a large file (see job),
// until they are emitted in file order.
type fileResult struct {
	dets    []Detection
	corr    []corrHit
	records int64
	errors  int64
	met     int64 // the records met (read, damaged, malformed): the next part's first number - 1
	// deferProblems: the problems of records (problems) are reported by Run, which knows the
	// records' numbers in the file (a part of an NDJSON file numbers them from one).
	deferProblems bool
	problems      []recordProblem
	done          chan struct{}
}

// recordProblem is a problem of the record numbered record.
type recordProblem struct {
	record int64
	err    error
}

// corrHit is a match of a rule that feeds correlations, kept for the final correlation pass.
type corrHit struct {
	rule   *sigma.Rule
	time   time.Time
	file   string
	record int64
	fields [][2]string
}

// Run scans files and calls emit for every detection, file by file in the order given (and
// record order within a file), then for the correlation alerts. It returns when all files are
// done or ctx ends.
func Run(ctx context.Context, files []string, opt Options, emit func(Detection)) (Stats, error) {
	start := time.Now()
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var total int64
	sizes := make([]int64, len(files))
	for i, f := range files {
		if st, err := os.Stat(f); err == nil {
			sizes[i] = st.Size()
			total += st.Size()
		}
	}
	serialize(&opt)
	plan := planJobs(files, sizes)
	var done atomic.Int64
	results := make([]*fileResult, len(plan))
	for i := range results {
		results[i] = &fileResult{done: make(chan struct{})}
	}
	jobs := make(chan int)
	// The detection slices of emitted jobs, for the jobs still to scan.
	free := make(chan []Detection, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(opt)
			for i := range jobs {
				res, j := results[i], plan[i]
				select {
				case res.dets = <-free:
				default:
				}
				var err error
				switch j.kind {
				case evtxPart:
					err = w.scanEVTXPart(ctx, files[j.file], j.rng, res)
				case ndjsonPart:
					err = w.scanNDJSONPart(ctx, files[j.file], j.from, j.to, res)
				case csvPart:
					err = w.scanCSVPart(ctx, files[j.file], j.from, j.to, j.header, res)
				default:
					err = w.scanFile(ctx, files[j.file], res)
				}
				if err != nil {
					res.errors++
					if opt.Problem != nil {
						opt.Problem(files[j.file], err)
					}
				}
				if opt.Progress != nil {
					opt.Progress(done.Add(j.size), total)
				}
				close(res.done)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range plan {
			select {
			case jobs <- i:
			case <-ctx.Done():
				for j := i; j < len(plan); j++ {
					close(results[j].done)
				}
				return
			}
		}
	}()
	var st Stats
	st.Files = len(files)
	var hits []corrHit
	var base int64 // the records met in the parts of a file before this one
	for i, res := range results {
		<-res.done
		if plan[i].first {
			base = 0
		}
		for _, p := range res.problems {
			if opt.Problem != nil {
				opt.Problem(files[plan[i].file], fmt.Errorf("record %d: %w", base+p.record, p.err))
			}
		}
		st.Records += res.records
		st.Errors += res.errors
		for _, d := range res.dets {
			d.Record += base
			emit(d)
		}
		st.Detections += int64(len(res.dets))
		for k := range res.corr {
			res.corr[k].record += base
		}
		hits = append(hits, res.corr...)
		base += res.met
		if cap(res.dets) > 0 {
			clear(res.dets)
			select {
			case free <- res.dets[:0]:
			default:
			}
		}
		res.dets, res.corr, res.problems = nil, nil, nil
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if !opt.ParseOnly && opt.Rules != nil && len(opt.Rules.Correlations) > 0 {
		for _, d := range correlate(opt.Rules, hits) {
			emit(d)
			st.Detections++
		}
	}
	st.Seconds = time.Since(start).Seconds()
	return st, nil
}

// worker owns the per-goroutine scratch: an EVTX reader, a Sigma matcher and record.
type worker struct {
	opt     Options
	matcher *sigma.Matcher
	rec     sigma.Record
	rd      *evtx.Reader
	// Engine field numbers of keepFields (-1: unknown to the engine, looked up by name) and
	// of Computer, Channel, EventID and TimeCreated_SystemTime.
	keepIDs                                 []int32
	computer, channel, eventID, timeCreated int32
	// Scratch of match, and the slabs the detections' strings and slices are carved from.
	kept      []Field
	srcs      []keptSource
	srcSlots  [1 << srcSlotBits]uint16 // see match
	slab      stringSlab
	evSlab    matchSlab
	fieldSlab fieldSlab
}

func newWorker(opt Options) *worker {
	w := &worker{opt: opt}
	if opt.Engine != nil {
		w.matcher = opt.Engine.NewMatcher()
		for _, k := range keepFields {
			w.keepIDs = append(w.keepIDs, opt.Engine.FieldID(k))
		}
		w.computer = opt.Engine.FieldID("Computer")
		w.channel = opt.Engine.FieldID("Channel")
		w.eventID = opt.Engine.FieldID("EventID")
		w.timeCreated = opt.Engine.FieldID("TimeCreated_SystemTime")
	}
	return w
}

// get returns the first value of a field of the record just matched, by its engine number,
// or by name when the engine does not know it.
func (w *worker) get(id int32, name string) (string, bool) {
	if id >= 0 {
		return w.matcher.Field(id)
	}
	return w.rec.Get(name)
}

func (w *worker) scanFile(ctx context.Context, path string, res *fileResult) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// EVTX by name or by signature (a Security.log exported from a host is still EVTX);
	// anything else is read as JSON. A .gz is opened first.
	lower := strings.ToLower(path)
	var src io.Reader = f
	var head [8]byte
	if strings.HasSuffix(lower, ".gz") {
		br, zr, err := gunzip(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		peek, _ := br.Peek(len(head))
		copy(head[:], peek)
		src = br
		lower = strings.TrimSuffix(lower, ".gz")
	} else if !strings.HasSuffix(lower, ".evtx") {
		_, _ = f.ReadAt(head[:], 0) // a short file is no EVTX: head stays zero
	}
	if isEVTX(lower, head[:]) {
		return w.scanEVTX(ctx, path, src, nil, res)
	}
	if string(head[:4]) == zipMagic {
		return w.scanZip(ctx, path, f, res)
	}
	if strings.HasSuffix(lower, ".csv") {
		return w.scanCSV(ctx, path, bufio.NewReaderSize(src, 64<<10), true, res)
	}
	return w.scanJSON(ctx, path, res)
}

// csvOptions read CSV logs for a scan, as jsonOptions read JSON ones.
var csvOptions = ingest.FileOptions{Format: ingest.FormatCSV, BatchSize: 256, NoIDs: true}

// scanCSV scans a CSV file that is EvtxECmd's output (KAPE's !EZParser: its header names
// EventId, Channel and Payload, the event's data, which sigma.Record reads): each row as the
// Windows event it renders. Any other CSV (MFTECmd's, a spreadsheet) holds no event data the
// rules could see: it is passed over, as an archive's members that are not logs are, and
// reported as passed over (not an error) when report is set (a file named on its own).
func (w *worker) scanCSV(ctx context.Context, name string, br *bufio.Reader, report bool, res *fileResult) error {
	if !evtxECmdHeader(br) {
		if report && w.opt.Problem != nil {
			w.opt.Problem(name, errNotEventCSV)
		}
		return nil
	}
	_, err := ingest.ReadStream(ctx, name, br, csvOptions, w.jsonBatches(name, res))
	return err
}

// errNotEventCSV is the problem of a CSV file scanCSV passes over.
var errNotEventCSV = errors.New("passed over: a CSV file without the EventId, Channel and Payload columns of EvtxECmd's output")

// evtxECmdFile reports whether the CSV file at path is EvtxECmd's output, by its header.
func evtxECmdFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // scanned, which reports the error
	}
	defer f.Close()
	return evtxECmdHeader(bufio.NewReaderSize(f, 64<<10))
}

// evtxECmdHeader reports whether the first line of br (at most 64 KB, left unread) is the header
// of EvtxECmd's CSV output.
func evtxECmdHeader(br *bufio.Reader) bool {
	head, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	cols, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")))).Read()
	if err != nil {
		return false
	}
	var n int
	for _, c := range cols {
		switch strings.TrimSpace(c) {
		case "EventId", "Channel", "Payload":
			n++
		}
	}
	return n == 3
}

// zipMagic opens a zip archive (its first local file header).
const zipMagic = "PK\x03\x04"

// scanZip scans the logs in a zip archive (a collection of a host's event logs, an exported
// dataset): each member whose name is one a folder scan would read (see scannableLog), as a
// file of its own named archive!member, from the archive as it is decompressed (never the
// whole member in memory). Other members (documents, nested archives) are passed over, as in a
// folder. A member that cannot be read is reported and counted as an error, and the others
// are still scanned; only an archive whose directory cannot be read fails as a whole.
func (w *worker) scanZip(ctx context.Context, path string, f *os.File, res *fileResult) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	for _, m := range zr.File {
		if m.FileInfo().IsDir() || !scannableLog(m.Name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := path + "!" + m.Name
		if err := w.scanMember(ctx, name, m, res); err != nil && ctx.Err() == nil {
			res.errors++
			if w.opt.Problem != nil {
				w.opt.Problem(name, err)
			}
		}
	}
	return ctx.Err()
}

// scanMember scans zip member m, named name.
func (w *worker) scanMember(ctx context.Context, name string, m *zip.File, res *fileResult) error {
	rc, err := m.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	lower := strings.ToLower(m.Name)
	if strings.HasSuffix(lower, ".gz") {
		var zr io.Closer
		if br, zr, err = gunzip(br); err != nil {
			return err
		}
		defer zr.Close()
		lower = strings.TrimSuffix(lower, ".gz")
	}
	if head, _ := br.Peek(len(evtxMagic)); isEVTX(lower, head) {
		return w.scanEVTX(ctx, name, br, nil, res)
	}
	if strings.HasSuffix(lower, ".csv") {
		return w.scanCSV(ctx, name, br, false, res)
	}
	_, err = ingest.ReadStream(ctx, name, br, jsonOptions, w.jsonBatches(name, res))
	return err
}

// evtxMagic is the signature that opens an EVTX file.
const evtxMagic = "ElfFile\x00"

// isEVTX reports whether a file named lower (lower-case, without .gz) that starts with head
// is EVTX: by its name or by its signature (a Security.log exported from a host is still EVTX).
func isEVTX(lower string, head []byte) bool {
	return strings.HasSuffix(lower, ".evtx") || string(head) == evtxMagic
}

// gunzip returns the decompressed content of the gzip stream r, buffered.
func gunzip(r io.Reader) (*bufio.Reader, io.Closer, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("gzip: %w", err)
	}
	return bufio.NewReaderSize(zr, 64<<10), zr, nil
}

// scanEVTX scans the EVTX file at path, read from src (the file, or its decompressed
// content: the reader then reads every chunk rather than seeking over damaged ones). With rng,
// it scans that range of the file's chunks only (src is then the file): a part of a large file
// (see parts), whose record numbers Run makes the file's.
func (w *worker) scanEVTX(ctx context.Context, path string, src io.Reader, rng *chunkRange, res *fileResult) error {
	var err error
	if w.rd == nil {
		w.rd, err = evtx.NewReaderWithOptions(src, evtx.Options{})
	} else {
		err = w.rd.Reset(src)
	}
	later := rng != nil && rng.first > 0 // a part after the first: the first reports the header
	if err == nil && rng != nil {
		err = w.rd.Range(rng.first, rng.n)
	}
	if err != nil {
		if later {
			return nil
		}
		return err // the reader's error says what is wrong with the header
	}
	reported := 0
	report := func() {
		for ; reported < len(w.rd.Problems()); reported++ {
			p := w.rd.Problems()[reported]
			if later && p.Chunk < 0 {
				continue // the file header's, reported by the first part
			}
			if p.Skipped {
				res.errors++
			}
			if w.opt.Problem != nil {
				w.opt.Problem(path, p)
			}
		}
	}
	// The Reader's field names are immutable (interned) strings.
	add := func(name, value string, typed bool) { w.rec.AddStableTyped(name, value, typed) }
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := w.rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		res.records++
		report()
		w.rec.Reset()
		rec.FieldsTyped(add)
		if w.opt.ParseOnly || w.matcher == nil {
			continue
		}
		w.match(path, rec.Number, rec.Time, true, res)
	}
	report()
	res.met = w.rd.RecordsMet()
	return nil
}

// jsonOptions read JSON logs for a scan: batches of 256 records, without the IDs a store needs.
var jsonOptions = ingest.FileOptions{Format: ingest.FormatJSON, BatchSize: 256, NoIDs: true}

// scanJSON reads JSON logs (EVTX JSON renderings, NDJSON exports, one object or an array) with
// the same readers file import uses. Non-Windows records get their log source from the
// normalizer.
func (w *worker) scanJSON(ctx context.Context, path string, res *fileResult) error {
	_, err := ingest.ReadFile(ctx, path, jsonOptions, w.jsonBatches(path, res))
	return err
}

// jsonBatches returns the output that scans the batches of JSON records of the file path.
func (w *worker) jsonBatches(path string, res *fileResult) ingest.Output {
	return func(_ context.Context, _ string, b *pipeline.RawBatch) error {
		for i := range b.Records {
			r := &b.Records[i]
			res.records++
			if b.Format == ingest.MalformedFormat {
				res.errors++
				w.recordProblem(path, r.Record, malformedReason(r), res)
				continue
			}
			if w.opt.ParseOnly || w.matcher == nil {
				if err := w.rec.ResetJSON(r.Data); err != nil {
					res.errors++
				}
				continue
			}
			if err := w.rec.ResetJSON(r.Data); err != nil {
				res.errors++
				w.recordProblem(path, r.Record, err, res)
				continue
			}
			t, ok := windowsTime(&w.rec)
			if !ok {
				ev, err := normalize.Event(normalize.Input{Raw: r.Data, Origin: b.Origin(i)})
				if err != nil {
					res.errors++
					w.recordProblem(path, r.Record, err, res)
					continue
				}
				w.rec.SetLogSource(ev.Product, ev.Service, ev.Category)
				t = ev.Time
			}
			w.match(path, r.Record, t, false, res)
		}
		return nil
	}
}

// recordProblem reports a problem of record number record of the file at path, or keeps it
// for Run (res.deferProblems).
func (w *worker) recordProblem(path string, record int64, err error, res *fileResult) {
	if res.deferProblems {
		res.problems = append(res.problems, recordProblem{record, err})
	} else if w.opt.Problem != nil {
		w.opt.Problem(path, fmt.Errorf("record %d: %w", record, err))
	}
}

// windowsTime returns the time of a JSON record that is a Windows event, which the engine
// routes by its Channel and EventID as it routes an EVTX record: an evtx_dump (or
// Velociraptor) rendering, a Winlogbeat document (whose Windows fields sigma.Record flattens
// under EVTX's names), or a flat rendering (a numeric EventID and a Channel at the top). The time is the one the normalizer
// gives the event: TimeCreated's SystemTime for the first shape; @timestamp for the second; the
// first of @timestamp, TimeCreated, EventTime, UtcTime and timestamp that reads as a time for
// the third. ok is false for any other record, or when a field it looks at has
// several values: those take their log source and time from the normalizer, which parsing the
// record once more costs about three times what matching it does.
func windowsTime(rec *sigma.Record) (t time.Time, ok bool) {
	xml := rec.EventXML()
	beat := false // a Winlogbeat document: its time is its @timestamp
	var channels, eids int
	var times [len(windowsTimeFields)]int // per name: 1 + the index of its field, -1 when several
	for i := range rec.Len() {
		name, value := rec.Field(i)
		switch name {
		case "Channel":
			channels++
		case "EventID":
			eids++
			if len(value) == 0 || len(value) > 9 || strings.Trim(value, "0123456789") != "" {
				return t, false
			}
		default:
			if !xml && strings.HasPrefix(name, "winlog.") {
				beat = true
			}
			for k, tn := range windowsTimeFields {
				if xml != (k == 0) { // the first name for evtx_dump renderings, the others for flat ones
					continue
				}
				if name == tn {
					if times[k] != 0 {
						times[k] = -1
					} else {
						times[k] = i + 1
					}
				}
			}
		}
	}
	if channels != 1 || eids != 1 {
		return t, false
	}
	if beat {
		times = [len(windowsTimeFields)]int{1: times[1]}
	}
	for _, i := range times {
		if i < 0 {
			return t, false
		}
		if i > 0 {
			_, value := rec.Field(i - 1)
			if t, ok := normalize.ParseTime(value); ok {
				return t, true
			}
		}
	}
	return t, false
}

// windowsTimeFields are the names of the fields windowsTime takes the time from, in order: the
// first for evtx_dump renderings (the SystemTime attribute of TimeCreated), the others for
// flat ones.
var windowsTimeFields = [...]string{"TimeCreated_SystemTime", "@timestamp", "TimeCreated", "EventTime", "UtcTime", "timestamp"}

// keepFields are the identifying fields copied into detections for timelines and incidents,
// sorted (see Fields).
var keepFields = sortedStrings(
	"Computer", "Channel", "EventID", "TargetUserName", "SubjectUserName", "User", "IpAddress", "WorkstationName",
	"LogonType", "TargetLogonId", "SubjectLogonId", "Image", "CommandLine", "ParentImage", "ProcessGuid", "ParentProcessGuid",
	"ServiceName", "ShareName", "RelativeTargetName", "TaskName", "TargetFilename", "TargetServerName", "DestinationIp", "SourceIp",
	"TargetImage", "SourceImage", "ImagePath", "AccountName", "Hostname",
)

// EngineFields returns the names of the fields a scan reads from matched records (the
// identifying fields it copies, and the event's time): give them to sigma.NewEngine (EngineOptions.Fields) so that a worker reads them by number
// rather than by comparing names.
func EngineFields() []string { return append(slices.Clone(keepFields), "TimeCreated_SystemTime") }

func sortedStrings(ss ...string) []string {
	slices.Sort(ss)
	return ss
}

// match matches the worker's record, number record of the file path, and keeps its
// detections and correlation hits. t is the record's time; for an EVTX record (evtx set) it is
// the time the record was written, and the event's own time (TimeCreated, as the normalizer
// and other tools take it) replaces it where the record has one.
func (w *worker) match(path string, record int64, t time.Time, evtx bool, res *fileResult) {
	ms := w.matcher.Match(&w.rec)
	if len(ms) == 0 {
		return
	}
	if evtx {
		if v, ok := w.get(w.timeCreated, "TimeCreated_SystemTime"); ok {
			if tc, ok := normalize.ParseTime(v); ok {
				t = tc
			}
		}
	}
	// The record's strings are only valid until the next record: the ones detections keep are
	// copied into the worker's slab, once each (evidence often shows a field the detections
	// keep anyway, and the rules matching a record often show the same field).
	// The copies made are found by where the record's string is, in a small open-addressed
	// table of indices into srcs (plus one; zero is free), emptied at the end.
	srcs := w.srcs[:0]
	slots := &w.srcSlots
	keep := func(s string) string {
		p := unsafe.StringData(s)
		h := uint64(uintptr(unsafe.Pointer(p))) * 0x9E3779B97F4A7C15 >> (64 - srcSlotBits)
		for ; slots[h] != 0; h = (h + 1) & (1<<srcSlotBits - 1) {
			if k := &srcs[slots[h]-1]; k.p == p && len(k.copy) == len(s) {
				return k.copy
			}
		}
		c := w.slab.copy(s)
		if len(srcs) < 1<<(srcSlotBits-1) { // at most half full
			srcs = append(srcs, keptSource{p, c})
			slots[h] = uint16(len(srcs))
		}
		return c
	}
	var computer, channel, eventID string
	var fields Fields // shared by the record's detections
	haveKept := false
	nev := 0
	var corrFields [][2]string // the record's fields, copied once for all its correlation hits
	for _, m := range ms {
		r := m.Rule
		if len(r.CorrelationUsers()) > 0 {
			if corrFields == nil {
				corrFields = copyFields(&w.rec)
			}
			res.corr = append(res.corr, corrHit{rule: r, time: t, file: path, record: record, fields: corrFields})
		}
		if r.CorrelationOnly {
			continue
		}
		nev += len(m.Evidence)
		if haveKept {
			continue
		}
		haveKept = true
		if v, ok := w.get(w.computer, "Computer"); ok {
			computer = keep(v)
		}
		if v, ok := w.get(w.channel, "Channel"); ok {
			channel = keep(v)
		}
		if v, ok := w.get(w.eventID, "EventID"); ok {
			eventID = keep(v)
		}
		kept := w.kept[:0]
		for i, k := range keepFields {
			if v, ok := w.get(w.keepIDs[i], k); ok && v != "" && v != "-" {
				kept = append(kept, Field{k, keep(v)})
			}
		}
		if len(kept) > 0 {
			fields = w.fieldSlab.take(kept)
		}
		w.kept = kept[:0]
	}
	if haveKept {
		evidence := w.evSlab.grow(nev)
		for _, m := range ms {
			r := m.Rule
			if r.CorrelationOnly {
				continue
			}
			d := Detection{RuleID: r.ID, RuleTitle: r.Title, Level: r.Level, Timestamp: t, File: path, Record: record, Tags: r.Tags,
				Computer: computer, Channel: channel, EventID: eventID, Fields: fields}
			if d.Tags == nil {
				d.Tags = []string{}
			}
			if len(m.Evidence) > 0 {
				start := len(evidence)
				for _, e := range m.Evidence {
					evidence = append(evidence, event.FieldMatch{Field: keep(e.Field), Value: keep(e.Value)})
				}
				d.Matches = evidence[start:len(evidence):len(evidence)]
			}
			res.dets = append(res.dets, d)
		}
		w.evSlab.used(evidence)
	}
	clear(srcs) // drops the pointers into the record
	w.srcs = srcs[:0]
	clear(slots[:])
}

// srcSlotBits sizes the table match finds the strings it copied in.
const srcSlotBits = 8

// keptSource is a string of a record a worker copied into its slab (see match): the
// string's data, and the copy.
type keptSource struct {
	p    *byte
	copy string
}

// slabSize is the size of the blocks a worker copies the strings of detections into.
const slabSize = 64 << 10

// stringSlab hands out immutable copies of strings carved from large blocks, so that the
// strings of a detection cost no allocation of their own. A block is never written again
// where it was handed out: a full block is left to the detections that use it.
type stringSlab struct{ cur []byte }

func (s *stringSlab) copy(str string) string {
	if len(str) == 0 {
		return ""
	}
	if len(str) > cap(s.cur)-len(s.cur) {
		s.cur = make([]byte, 0, max(slabSize, len(str)))
	}
	start := len(s.cur)
	s.cur = append(s.cur, str...)
	return unsafe.String(&s.cur[start], len(str))
}

// matchSlab hands out evidence slices carved from large blocks, as stringSlab does strings.
type matchSlab struct{ cur []event.FieldMatch }

// grow returns an empty slice with room for n matches, to be given back with used.
func (s *matchSlab) grow(n int) []event.FieldMatch {
	if n > cap(s.cur)-len(s.cur) {
		s.cur = make([]event.FieldMatch, 0, max(slabSize/32, n))
	}
	return s.cur[len(s.cur):len(s.cur)]
}

// used marks the matches of part (a slice grow returned, appended to) as handed out.
func (s *matchSlab) used(part []event.FieldMatch) { s.cur = s.cur[:len(s.cur)+len(part)] }

// fieldSlab hands out Fields carved from large blocks, as stringSlab does strings.
type fieldSlab struct{ cur []Field }

// take returns a copy of fs.
func (s *fieldSlab) take(fs []Field) Fields {
	if len(fs) > cap(s.cur)-len(s.cur) {
		s.cur = make([]Field, 0, max(slabSize/32, len(fs)))
	}
	start := len(s.cur)
	s.cur = append(s.cur, fs...)
	return Fields(s.cur[start:len(s.cur):len(s.cur)])
}

// copyFields copies the fields of rec, which are only valid until its next reset, into one
// string: two allocations per record, whatever its number of fields. The result is shared by
// the record's correlation hits and never modified.
func copyFields(rec *sigma.Record) [][2]string {
	n := 0
	for name, value := range rec.All() {
		n += len(name) + len(value)
	}
	buf := make([]byte, 0, n)
	for name, value := range rec.All() {
		buf = append(append(buf, name...), value...)
	}
	arena := string(buf)
	out := make([][2]string, 0, rec.Len())
	off := 0
	for name, value := range rec.All() {
		out = append(out, [2]string{arena[off : off+len(name)], arena[off+len(name) : off+len(name)+len(value)]})
		off += len(name) + len(value)
	}
	return out
}

// correlate runs the correlation rules over the kept matches in event-time order.
func correlate(rs *sigma.RuleSet, hits []corrHit) []Detection {
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].time.Before(hits[j].time) })
	cr := sigma.NewCorrelator(rs, sigma.CorrelatorOptions{})
	var rec sigma.Record
	var out []Detection
	conv := func(as []sigma.CorrelationAlert) {
		for _, a := range as {
			if a.Intermediate {
				continue
			}
			d := Detection{RuleID: a.RuleID, RuleTitle: a.Title, Level: a.Level, Timestamp: a.Start, Correlation: true, Tags: []string{}}
			if a.Correlation != nil && a.Correlation.Tags != nil {
				d.Tags = a.Correlation.Tags
			}
			var walk func(ms []sigma.Contribution)
			walk = func(ms []sigma.Contribution) {
				for _, m := range ms {
					if m.Ref != "" {
						d.Records = append(d.Records, m.Ref)
					}
					if m.Alert != nil {
						walk(m.Alert.Matches)
					}
				}
			}
			walk(a.Matches)
			if len(d.Records) > 0 {
				first := d.Records[0]
				if i := strings.LastIndexByte(first, '#'); i > 0 {
					d.File = first[:i]
					fmt.Sscan(first[i+1:], &d.Record)
				}
			}
			for k, v := range a.GroupBy {
				d.Matches = append(d.Matches, event.FieldMatch{Field: k, Value: v})
			}
			out = append(out, d)
		}
	}
	for _, h := range hits {
		rec.Reset()
		for _, f := range h.fields {
			rec.Add(f[0], f[1])
		}
		conv(cr.Observe(sigma.Detection{Rule: h.rule, Time: h.time, Record: &rec, Ref: fmt.Sprintf("%s#%d", h.file, h.record)}))
	}
	conv(cr.Flush())
	return out
}

// malformedReason is the error of a record the JSON reader set aside: the reason it wrote in
// the dead letter, after the file and record number (the caller names them).
func malformedReason(r *pipeline.RawRecord) error {
	var dl struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(r.Data, &dl) != nil || dl.Reason == "" {
		return errors.New("malformed")
	}
	at := fmt.Sprintf("record %d: ", r.Record)
	if i := strings.Index(dl.Reason, at); i >= 0 {
		return errors.New(dl.Reason[i+len(at):])
	}
	return errors.New(dl.Reason)
}

// serialize makes the workers' calls of opt's callbacks one at a time, so that callers (which
// write to a terminal or a buffer) need no lock of their own.
func serialize(opt *Options) {
	var mu sync.Mutex
	if f := opt.Progress; f != nil {
		opt.Progress = func(done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			f(done, total)
		}
	}
	if f := opt.Problem; f != nil {
		opt.Problem = func(file string, err error) {
			mu.Lock()
			defer mu.Unlock()
			f(file, err)
		}
	}
}
