package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readJSONDecoder is how readJSONValues read JSON before it (with encoding/json's Decoder): the
// reference for valid input.
func readJSONDecoder(r io.Reader, array bool, emit emitFunc, bad badFunc) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var rec int64
	if array {
		if _, err := dec.Token(); err != nil {
			return bad(1, 0, nil, err)
		}
		for dec.More() {
			rec++
			off := dec.InputOffset()
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return bad(rec, off, nil, err)
			}
			if err := emitJSON(rec, off, raw, emit, bad); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		off := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return bad(rec+1, off, nil, err)
		}
		if arr, ok := recordsArray(raw); ok {
			err = eachElement(arr, func(elem []byte) error {
				rec++
				return emitJSON(rec, off, elem, emit, bad)
			})
		} else {
			rec++
			err = emitJSON(rec, off, raw, emit, bad)
		}
		if err != nil {
			return err
		}
	}
}

// jsonRecords reads data with read and returns the records ("number data", "number@offset
// data" with offsets) and malformed records ("number !", "number@offset !").
func jsonRecords(read func(io.Reader, bool, emitFunc, badFunc) error, data []byte, offsets bool) ([]string, error) {
	var out []string
	at := func(rec, off int64) string {
		if offsets {
			return fmt.Sprintf("%d@%d", rec, off)
		}
		return fmt.Sprint(rec)
	}
	err := read(bytes.NewReader(data), len(data) > 0 && data[0] == '[',
		func(rec, off int64, d []byte) error {
			out = append(out, at(rec, off)+" "+string(d))
			return nil
		},
		func(rec, off int64, _ []byte, _ error) error {
			out = append(out, at(rec, off)+" !")
			return nil
		})
	return out, err
}

// TestJSONValuesLikeDecoder reads valid JSON both ways: the regression data's renderings (one
// or several pretty-printed events per file), all of them in one array, concatenated without
// space, and wrapped in {"Records":[...]}: the same records; and each record's offset is where
// its value starts (the decoder's was where the value before it ended).
func TestJSONValuesLikeDecoder(t *testing.T) {
	var docs [][]byte
	err := filepath.WalkDir("../../../shared/data/sigma/regression_data", func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".json") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			docs = append(docs, bytes.TrimSpace(data))
		}
		return err
	})
	if err != nil || len(docs) < 100 {
		t.Fatalf("%d regression renderings: %v", len(docs), err)
	}
	inputs := docs
	var compact []byte
	for _, d := range docs {
		var b bytes.Buffer
		if json.Compact(&b, d) == nil {
			compact = append(compact, b.Bytes()...)
		}
	}
	single := slices.DeleteFunc(slices.Clone(docs), func(d []byte) bool { return !json.Valid(d) })
	inputs = append(inputs, compact,
		append(append([]byte("[\n"), bytes.Join(single, []byte(",\n"))...), "\n]"...),
		append(append([]byte(`{"Records":[`), bytes.Join(single[:20], []byte(","))...), "]}"...),
		[]byte(` "a \"quoted\" {[ string" {"x":"]}\\"} [1] `), []byte(`[ "a", {"b":[1,2,{"c":"]"}]} , "d\\\\" ]`))
	for i, in := range inputs {
		want, werr := jsonRecords(readJSONDecoder, in, false)
		got, gerr := jsonRecords(readJSONValues, in, false)
		if werr != nil || gerr != nil || !slices.Equal(got, want) {
			k := 0
			for k < min(len(got), len(want)) && got[k] == want[k] {
				k++
			}
			g, w := "(none)", "(none)"
			if k < len(got) {
				g = got[k]
			}
			if k < len(want) {
				w = want[k]
			}
			t.Fatalf("input %d (%.60q...): %v, %v: %d records, want %d; first difference at %d:\n got %.200q\nwant %.200q", i, in, gerr, werr, len(got), len(want), k, g, w)
		}
		_ = readJSONValues(bytes.NewReader(in), in[0] == '[', func(rec, off int64, d []byte) error {
			if !bytes.HasPrefix(in[off:], d) && !bytes.Equal(in[off:off+1], []byte("{")) {
				t.Fatalf("input %d: record %d at offset %d: %.40q there, not the record", i, rec, off, in[off:])
			}
			return nil
		}, func(int64, int64, []byte, error) error { return nil })
	}
}

// TestJSONValuesMalformed: an invalid value is one malformed record and the values after it are
// read; text whose structure is lost ends the stream with one malformed record; a value longer
// than the limit is read to its end without being kept.
func TestJSONValuesMalformed(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a":1} {"a":tru} {"a":3}`, `1@0 {"a":1}|2@8 !|3@18 {"a":3}`},
		{`[{"a":1}, 7, {"a":} ,{"a":4}]`, `1@1 {"a":1}|2@10 !|3@13 !|4@21 {"a":4}`},
		{`[{"a":1} {"a":2}]`, `1@1 {"a":1}|2@9 !`},
		{`{"a":1} ]{"a":2}`, `1@0 {"a":1}|2@8 !`},
		{`{"a":1} {"a":"unterminated`, `1@0 {"a":1}|2@8 !`},
		{`[{"a":1}`, `1@1 {"a":1}`},
		{`{"a":1} 42 "s"`, `1@0 {"a":1}|2@8 !|3@11 "s"`},
		{`{"a":1} hello world {"a":2}`, `1@0 {"a":1}|2@8 !`},
	} {
		got, err := jsonRecords(readJSONValues, []byte(c.in), true)
		if err != nil || strings.Join(got, "|") != c.want {
			t.Errorf("%s: %q, %v; want %s", c.in, got, err, c.want)
		}
	}
	// Too long: the limit is MaxRecordBytes; a smaller stream buffer than the value is enough.
	big := `{"a":"` + strings.Repeat("x", MaxRecordBytes) + `"} {"b":1}`
	got, err := jsonRecords(readJSONValues, []byte(big), true)
	if err != nil || len(got) != 2 || !strings.HasPrefix(got[0], "1@0 !") || got[1] != fmt.Sprintf("2@%d {\"b\":1}", len(big)-7) {
		t.Errorf("a value over the limit: %.80q, %v", got, err)
	}
}

// FuzzJSONValues: where encoding/json's Decoder reads a stream without a malformed record,
// readJSONValues reads the same records; on any input it never loops or panics, and its
// record numbers increase.
func FuzzJSONValues(f *testing.F) {
	for _, s := range []string{`{"a":1} {"b":[2]}`, `[{"a":1},"x"]`, `{"Records":[{"a":1},{"b":2}]}`, `[{"a":"]"}, {"b":"\""}]`, `{"a":tru}`, `[1,]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := jsonRecords(readJSONValues, data, false)
		if err != nil {
			t.Fatal(err)
		}
		last := int64(0)
		for _, r := range got {
			var n int64
			fmt.Sscanf(r, "%d", &n)
			if n <= last {
				t.Fatalf("record numbers %q", got)
			}
			last = n
		}
		want, _ := jsonRecords(readJSONDecoder, data, false)
		for _, r := range want {
			if strings.HasSuffix(r, " !") {
				return // the decoder met malformed text: the two may differ from there
			}
		}
		if len(data) > 0 && data[0] == '[' && !json.Valid(data) {
			return // the decoder does not read past the array's end, nor check it
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q:\n got %q\nwant %q", data, got, want)
		}
	})
}
