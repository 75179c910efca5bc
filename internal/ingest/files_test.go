package ingest

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/pipeline"
	"slices"
)

type collected struct {
	subject string
	format  string
	file    string
	rec     int64
	id      string
	data    string
}

func readAll(t *testing.T, path string, opt FileOptions) ([]collected, FileResult, error) {
	t.Helper()
	var out []collected
	if opt.BatchSize == 0 {
		opt.BatchSize = 3
	}
	res, err := ReadFile(context.Background(), path, opt, func(_ context.Context, subject string, b *pipeline.RawBatch) error {
		for _, r := range b.Records {
			out = append(out, collected{subject, b.Format, b.File, r.Record, r.ID, string(r.Data)})
		}
		return nil
	})
	return out, res, err
}

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TestCSVByteOrderMark: the byte order mark Windows tools write before a CSV header (EvtxECmd's
// output) is not part of the first column's name.
func TestCSVByteOrderMark(t *testing.T) {
	p := write(t, "EvtxECmd_Output.csv", []byte("\ufeffRecordNumber,EventId\n1,4624\n"))
	got, res, err := readAll(t, p, FileOptions{})
	if err != nil || res.Records != 1 || len(got) != 1 {
		t.Fatalf("%d records, %v", res.Records, err)
	}
	if want := `{"EventId":"4624","RecordNumber":"1"}`; string(got[0].data) != want {
		t.Fatalf("record %s, want %s", got[0].data, want)
	}
}

func TestReadFileFormats(t *testing.T) {
	ndjson := "{\"a\":1}\n{\"a\":2}\n{\"a\":\n{\"a\":4}\n7\n"
	cases := []struct {
		name      string
		file      string
		data      []byte
		format    string
		records   int64
		malformed int64
		badRecs   []int64 // record numbers of malformed records
		subject   string
		detected  string
	}{
		{"ndjson with bad lines", "x.json", []byte(ndjson), "", 5, 2, []int64{3, 5}, pipeline.SubjectRawEvents, FormatJSON},
		{"ndjson gzip", "x.json.gz", gz([]byte(ndjson)), "", 5, 2, []int64{3, 5}, pipeline.SubjectRawEvents, FormatJSON},
		{"array", "a.json", []byte(`[{"a":1},{"a":2},"line"]`), "", 3, 0, nil, pipeline.SubjectRawEvents, FormatJSON},
		{"pretty concatenated", "p.json", []byte("{\n \"Event\": {\"x\": 1}\n}\n{\n \"Event\": {\"x\": 2}\n}\n"), "", 2, 0, nil, pipeline.SubjectRawEvents, FormatJSON},
		{"broken array stops file", "b.json", []byte(`[{"a":1},{"a":}`), "", 2, 1, []int64{2}, pipeline.SubjectRawEvents, FormatJSON},
		{"csv", "c.csv", []byte("user,ip\nalice,10.0.0.1\nbob\ncarol,10.0.0.3\n"), "", 3, 1, []int64{2}, pipeline.SubjectRawEvents, FormatCSV},
		{"ait-ads", "fox_alerts.csv", []byte("time,name,ip,host,short,time_label,event_label\n1642213952,Wazuh: ClamAV database update,172.17.131.81,mail,W-Sys-Cav,false_positive,-\nbroken,row\n"), "", 2, 1, []int64{2}, pipeline.SubjectRawAlerts, FormatAITADS},
		{"cef", "fw.log", []byte("CEF:0|V|P|1|100|Blocked|5|src=10.0.0.1\nCEF:0|V|P|1|101|Allowed|3|src=10.0.0.2\n"), "", 2, 0, nil, pipeline.SubjectRawEvents, FormatCEF},
		{"syslog", "auth.log", []byte("Jan  5 10:00:00 web01 sshd[1]: Accepted password for alice from 10.0.0.1 port 22 ssh2\n\n<34>1 2026-01-05T10:00:00Z h app - - - msg\n"), "", 2, 0, nil, pipeline.SubjectRawEvents, FormatSyslog},
		{"forced format", "weird.dat", []byte("{\"a\":1}\n"), FormatJSON, 1, 0, nil, pipeline.SubjectRawEvents, FormatJSON},
		{"empty", "e.json", nil, "", 0, 0, nil, "", FormatJSON},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, c.file, c.data)
			got, res, err := readAll(t, p, FileOptions{Format: c.format})
			if err != nil {
				t.Fatal(err)
			}
			if res.Records != c.records || res.Malformed != c.malformed {
				t.Fatalf("records=%d malformed=%d, want %d/%d (%+v)", res.Records, res.Malformed, c.records, c.malformed, got)
			}
			if len(res.Formats) != 1 || res.Formats[0] != c.detected {
				t.Fatalf("formats %v, want %s", res.Formats, c.detected)
			}
			var bad []int64
			ids := map[string]bool{}
			for _, g := range got {
				if ids[g.id] {
					t.Fatalf("duplicate ID %s", g.id)
				}
				ids[g.id] = true
				if g.format == MalformedFormat {
					bad = append(bad, g.rec)
					var body struct{ Reason string }
					if err := json.Unmarshal([]byte(g.data), &body); err != nil || !strings.Contains(body.Reason, "record ") || !strings.Contains(body.Reason, c.file) {
						t.Errorf("malformed record reason %q does not name file and record", body.Reason)
					}
					continue
				}
				if g.subject != c.subject {
					t.Errorf("record %d on %s, want %s", g.rec, g.subject, c.subject)
				}
				if strings.Contains(g.data, "false_positive") {
					t.Errorf("AIT label leaked into the pipeline: %s", g.data)
				}
			}
			if len(bad) != len(c.badRecs) {
				t.Fatalf("malformed records %v, want %v", bad, c.badRecs)
			}
			for i := range bad {
				if bad[i] != c.badRecs[i] {
					t.Fatalf("malformed records %v, want %v", bad, c.badRecs)
				}
			}
		})
	}
}

func TestReadFileIDsStable(t *testing.T) {
	p := write(t, "x.json", []byte("{\"a\":1}\n{\"a\":1}\n"))
	a, _, err := readAll(t, p, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := readAll(t, p, FileOptions{})
	if a[0].id != b[0].id || a[1].id != b[1].id {
		t.Fatal("importing the same file twice gave different IDs")
	}
	if a[0].id == a[1].id {
		t.Fatal("identical lines at different positions share an ID")
	}
}

func TestReadZipMembers(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("one.json")
	w.Write([]byte("{\"a\":1}\n{\"a\":2}\n"))
	w, _ = zw.Create("sub/two.log")
	w.Write([]byte("Jan  5 10:00:00 h app: hello\n"))
	w, _ = zw.Create("three.json.gz")
	w.Write(gz([]byte(`{"b":1}`)))
	zw.Close()
	p := write(t, "bundle.zip", buf.Bytes())
	got, res, err := readAll(t, p, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 4 {
		t.Fatalf("records = %d, want 4 (%v)", res.Records, got)
	}
	if !strings.HasSuffix(got[0].file, "bundle.zip!one.json") || !strings.HasSuffix(got[2].file, "bundle.zip!sub/two.log") {
		t.Fatalf("member provenance: %q, %q", got[0].file, got[2].file)
	}
}

// TestReadZipDamagedMember: a member that cannot be read is reported by name, and the members
// after it are still read. A gzip stream that fails at once is an error, not an empty file.
func TestReadZipDamagedMember(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("one.json")
	w.Write([]byte("{\"a\":1}\n"))
	// Deflated data that is not deflate.
	w, _ = zw.CreateRaw(&zip.FileHeader{Name: "broken.json", Method: zip.Deflate, CompressedSize64: 8, UncompressedSize64: 64})
	w.Write(bytes.Repeat([]byte{0xff}, 8))
	// A gzip header and then garbage.
	w, _ = zw.Create("bad.json.gz")
	w.Write(append(gz(nil)[:10], bytes.Repeat([]byte{0xff}, 8)...))
	w, _ = zw.Create("two.json")
	w.Write([]byte("{\"a\":2}\n{\"a\":3}\n"))
	zw.Close()
	p := write(t, "bundle.zip", buf.Bytes())
	got, res, err := readAll(t, p, FileOptions{})
	if err == nil || !strings.Contains(err.Error(), "broken.json") || !strings.Contains(err.Error(), "bad.json.gz") {
		t.Fatalf("err = %v, want the two damaged members named", err)
	}
	if !errors.As(err, new(*PartialError)) {
		t.Fatalf("err = %v, want a PartialError: the other members were read", err)
	}
	if res.Records != 3 || len(got) != 3 || !strings.HasSuffix(got[2].file, "bundle.zip!two.json") {
		t.Fatalf("records = %d (%v), want the 3 of one.json and two.json", res.Records, got)
	}
	// An archive none of whose members can be read is a file that cannot be read.
	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, _ = zw.CreateRaw(&zip.FileHeader{Name: "broken.json", Method: zip.Deflate, CompressedSize64: 8, UncompressedSize64: 64})
	w.Write(bytes.Repeat([]byte{0xff}, 8))
	zw.Close()
	if _, _, err := readAll(t, write(t, "all-broken.zip", buf.Bytes()), FileOptions{}); err == nil || errors.As(err, new(*PartialError)) {
		t.Fatalf("all members damaged: err = %v, want an error that is not partial", err)
	}
	p = write(t, "x.json.gz", append(gz(nil)[:10], bytes.Repeat([]byte{0xff}, 8)...))
	if _, _, err := readAll(t, p, FileOptions{}); err == nil || !strings.Contains(err.Error(), "x.json.gz") {
		t.Fatalf("damaged gzip: err = %v, want an error naming the file", err)
	}
}

// failingReader fails every read.
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// TestReadStreamError: the records before a read error are read (the first 64 KB, which the
// JSON reader looks at first, included), and the error ends the stream, named.
func TestReadStreamError(t *testing.T) {
	for _, body := range []string{"{\"a\":1}\n{\"a\":2}\n", "[{\"a\":1},{\"a\":2},", "{\"a\":1} {\"a\":2}"} {
		r := io.MultiReader(strings.NewReader(body), failingReader{errors.New("disk on fire")})
		var recs int
		res, err := ReadStream(context.Background(), "case.zip!x.json", r, FileOptions{Format: FormatJSON, BatchSize: 1}, func(_ context.Context, _ string, b *pipeline.RawBatch) error {
			if b.Format != MalformedFormat {
				recs += len(b.Records)
			}
			return nil
		})
		if recs != 2 {
			t.Errorf("%q: %d records read before the error, want 2", body, recs)
		}
		// The stream ends with the read error, named, whichever reader met it: not a
		// malformed record (the text is not at fault).
		if err == nil || !strings.Contains(err.Error(), "case.zip!x.json: disk on fire") || res.Malformed != 0 {
			t.Errorf("%q: err = %v, %+v: want the read error reported, and no malformed record", body, err, res)
		}
	}
	if _, err := ReadStream(context.Background(), "y.json", failingReader{errors.New("disk on fire")}, FileOptions{}, nil); err == nil || !strings.Contains(err.Error(), "y.json: disk on fire") {
		t.Errorf("a stream that fails at once: err = %v", err)
	}
}

func TestReadFileErrors(t *testing.T) {
	if _, _, err := readAll(t, filepath.Join(t.TempDir(), "missing.json"), FileOptions{}); err == nil {
		t.Fatal("missing file accepted")
	}
	p := write(t, "x.bin", []byte{0, 1, 2, 3, 0, 0, 0, 5, 6, 0, 0, 0})
	if _, _, err := readAll(t, p, FileOptions{}); err == nil || !strings.Contains(err.Error(), "x.bin") {
		t.Fatalf("binary file: err = %v, want an error naming the file", err)
	}
	if _, _, err := readAll(t, p, FileOptions{Format: "xml"}); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("unknown format: %v", err)
	}
	p = write(t, "x.evtx", []byte("ElfFile\x00"))
	if _, _, err := readAll(t, p, FileOptions{}); err == nil {
		t.Fatal("EVTX without a decoder accepted")
	}
}

func TestReadRealAITADS(t *testing.T) {
	p := "../../../shared/data/ait-ads/russellmitchell_alerts.csv.gz"
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("dataset missing: %v", err)
	}
	n := 0
	res, err := ReadFile(context.Background(), p, FileOptions{BatchSize: 1000}, func(_ context.Context, subject string, b *pipeline.RawBatch) error {
		if subject != pipeline.SubjectRawAlerts {
			t.Fatalf("subject %s", subject)
		}
		n += len(b.Records)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 45544 || res.Malformed != 0 {
		t.Fatalf("read %d alerts (%d malformed), want 45,544", n, res.Malformed)
	}
}

// FuzzReadFile feeds arbitrary bytes through format detection and every line/CSV/JSON reader:
// no panic, record numbers increase, and every record is either good or set aside with a reason.
func FuzzReadFile(f *testing.F) {
	for _, s := range []string{
		"time,name,ip,host,short,time_label,event_label\n1,Wazuh: x,1.2.3.4,h,W-1,false_positive,-\n2,bad\n",
		"user,ip\nalice,\"10.0.0.1\nbob,x,y\n",
		"{\"a\":1}\n{\"a\":\n[1]\n",
		"[{\"a\":1},{\"b\":",
		"CEF:0|V|P|1|100|n|5|src=1.2.3.4\n",
		"<13>Jan  5 10:00:00 h app: x\n",
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte("a,b\n1,2\n"), FormatCSV)
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		if format != "" && !validFormat(format) {
			return
		}
		if format == FormatEVTX {
			return
		}
		p := filepath.Join(t.TempDir(), "in.dat")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		last := map[string]int64{}
		_, _ = ReadFile(context.Background(), p, FileOptions{Format: format, BatchSize: 7}, func(_ context.Context, subject string, b *pipeline.RawBatch) error {
			for _, r := range b.Records {
				if r.Record <= last[b.Format] {
					t.Fatalf("record numbers not increasing in %s: %d after %d", b.Format, r.Record, last[b.Format])
				}
				last[b.Format] = r.Record
				if r.ID == "" {
					t.Fatal("record without ID")
				}
			}
			return nil
		})
	})
}

// TestRecordsWrapper: a log file that wraps its records in {"Records":[...]} (AWS CloudTrail's
// files) or {"records":[...]} (Azure diagnostic logs) gives one record per element, numbered on
// across the file, on one line, pretty-printed, several per file; an element that is not a
// record is malformed and the others go on; an object with other members is one record.
func TestRecordsWrapper(t *testing.T) {
	ev := func(name string) string { return `{"eventName":"` + name + `","eventTime":"2024-05-01T10:00:00Z"}` }
	cases := []struct {
		name, data string
		good       []string // the records' data, in order
		malformed  int64
	}{
		{"cloudtrail.json", `{"Records":[` + ev("a") + `,` + ev("b") + `]}`, []string{ev("a"), ev("b")}, 0},
		{"pretty.json", "{\n  \"Records\" : [\n    " + ev("a") + ",\n    " + ev("b") + "\n  ]\n}\n", []string{ev("a"), ev("b")}, 0},
		{"two.json", `{"Records":[` + ev("a") + `]}` + "\n" + `{"Records":[` + ev("b") + `,` + ev("c") + `]}` + "\n", []string{ev("a"), ev("b"), ev("c")}, 0},
		{"two-pretty.json", "{\"Records\":\n[" + ev("a") + "]}\n{\"Records\":\n[" + ev("b") + "]}", []string{ev("a"), ev("b")}, 0},
		{"azure.json", `{"records":[` + ev("a") + `]}`, []string{ev("a")}, 0},
		{"bad-element.json", `{"Records":[` + ev("a") + `,7,` + ev("c") + `]}`, []string{ev("a"), ev("c")}, 1},
		{"empty.json", `{"Records":[]}`, nil, 0},
		{"not-wrapper.json", `{"Records":[1],"eventName":"x"}`, []string{`{"Records":[1],"eventName":"x"}`}, 0},
	}
	for _, c := range cases {
		got, res, err := readAll(t, write(t, c.name, []byte(c.data)), FileOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var good []string
		var numbers []int64
		for _, r := range got {
			numbers = append(numbers, r.rec)
			if r.format != MalformedFormat {
				good = append(good, r.data)
			}
		}
		if !slices.Equal(good, c.good) || res.Malformed != c.malformed || res.Records != int64(len(c.good))+c.malformed {
			t.Errorf("%s: records %q (%+v), want %q and %d malformed", c.name, good, res, c.good, c.malformed)
		}
		for i, n := range numbers {
			if n != int64(i+1) && c.malformed == 0 {
				t.Errorf("%s: record numbers %v", c.name, numbers)
				break
			}
		}
	}
	// The HTTP body splitter reads the same files the same way.
	var recs []string
	if _, err := SplitJSON([]byte(`{"Records":[`+ev("a")+`,`+ev("b")+`]}`), func(_ int, rec []byte) error {
		recs = append(recs, string(rec))
		return nil
	}); err != nil || !slices.Equal(recs, []string{ev("a"), ev("b")}) {
		t.Errorf("SplitJSON: %q, %v", recs, err)
	}
}

// TestCSVObjectLikeMarshal: a CSV row's JSON object is byte for byte what json.Marshal writes
// for the map from column name to value (record IDs hash these bytes): keys sorted, the last
// of columns that share a name, HTML characters, control characters and invalid UTF-8 escaped.
func TestCSVObjectLikeMarshal(t *testing.T) {
	for _, c := range []struct{ header, row []string }{
		{[]string{"b", "a", "c"}, []string{"2", "1", "3"}},
		{[]string{"x", "x", "y"}, []string{"first", "last", ""}},
		{[]string{"Payload", "EventId"}, []string{`{"EventData":{"Data":[{"@Name":"a","#text":"<b> & c"}]}}`, "4624"}},
		{[]string{"\xff", "é", "A", "a", "\u2028"}, []string{"\x00\x1f\t\n", "\xfe\xff", `\"`, "<script>", "line\u2029sep"}},
		{[]string{"only"}, []string{""}},
	} {
		m := map[string]string{}
		for i, h := range c.header {
			m[h] = c.row[i]
		}
		want, _ := json.Marshal(m)
		if got := csvObject(nil, c.header, csvKeyOrder(c.header), c.row); !bytes.Equal(got, want) {
			t.Errorf("header %q row %q:\n got %s\nwant %s", c.header, c.row, got, want)
		}
	}
}

// FuzzCSVObject checks csvObject against json.Marshal of the row's map on arbitrary headers and
// values (three columns, names possibly shared).
func FuzzCSVObject(f *testing.F) {
	f.Add("a", "b", "a", "1", "<&>", "\xff")
	f.Fuzz(func(t *testing.T, h0, h1, h2, v0, v1, v2 string) {
		header, row := []string{h0, h1, h2}, []string{v0, v1, v2}
		m := map[string]string{}
		for i, h := range header {
			m[h] = row[i]
		}
		want, _ := json.Marshal(m)
		if got := csvObject(nil, header, csvKeyOrder(header), row); !bytes.Equal(got, want) {
			t.Fatalf("header %q row %q:\n got %s\nwant %s", header, row, got, want)
		}
	})
}
