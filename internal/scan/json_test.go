package scan

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/sigma"
)

// mapDetection is Detection with its fields as a map: what the reference encodes, so that the
// encoding of Fields is checked against encoding/json's of a map, not against itself.
type mapDetection struct {
	RuleID      string             `json:"rule_id"`
	RuleTitle   string             `json:"rule_title"`
	Level       string             `json:"level"`
	Timestamp   time.Time          `json:"timestamp"`
	File        string             `json:"file"`
	Record      int64              `json:"record"`
	Tags        []string           `json:"tags"`
	Computer    string             `json:"computer,omitempty"`
	Channel     string             `json:"channel,omitempty"`
	EventID     string             `json:"event_id,omitempty"`
	Matches     []event.FieldMatch `json:"matches,omitempty"`
	Correlation bool               `json:"correlation,omitempty"`
	Records     []string           `json:"records,omitempty"`
	Fields      map[string]string  `json:"fields,omitempty"`
}

// encodingJSON is the reference: what json.Encoder without HTML escaping writes for d, its
// fields taken as a map.
func encodingJSON(t *testing.T, d Detection) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	m := mapDetection{d.RuleID, d.RuleTitle, d.Level, d.Timestamp, d.File, d.Record, d.Tags, d.Computer, d.Channel, d.EventID,
		d.Matches, d.Correlation, d.Records, nil}
	if d.Fields != nil {
		m.Fields = map[string]string{}
		for _, f := range d.Fields {
			m.Fields[f.Name] = f.Value
		}
	}
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// TestAppendJSONMatchesEncodingJSON checks AppendJSON byte for byte against encoding/json on
// detections with awkward strings and empty, nil and set optional parts.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	// AppendJSON writes every field by hand: a field added to these types must be added there.
	if n := reflect.TypeFor[Detection]().NumField(); n != 14 {
		t.Fatalf("Detection has %d fields; update AppendJSON and this test", n)
	}
	if n := reflect.TypeFor[event.FieldMatch]().NumField(); n != 2 {
		t.Fatalf("event.FieldMatch has %d fields; update AppendJSON and this test", n)
	}
	awkward := "q\"b\\s/ <a&b> \x00\x01\x08\x0c\n\r\t\x1f\x7f é \u2028\u2029 \xff\xfe end"
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 5*3600+30*60))
	dets := []Detection{
		{},
		{RuleID: "id", RuleTitle: awkward, Level: "high", Timestamp: ts, File: `C:\logs\a.evtx`, Record: -42, Tags: []string{}},
		{RuleID: awkward, Tags: []string{"attack.t1", awkward}, Computer: "pc", Channel: "Security", EventID: "4624",
			Matches:     []event.FieldMatch{{Field: "Image", Value: awkward}, {Field: "", Value: ""}},
			Correlation: true, Records: []string{"a#1", "b#2"},
			Fields: Fields{{"z", "1"}, {"a", awkward}, {"M", ""}, {awkward, "k"}}}, // unsorted: encoded sorted
		{Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Records: []string{}, Fields: Fields{}, Matches: []event.FieldMatch{}},
		{Fields: Fields{{"Computer", "pc"}, {"Image", `C:\a.exe`}}},
	}
	for i, d := range dets {
		got, err := d.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatalf("detection %d: %v", i, err)
		}
		if want := append([]byte("prefix"), encodingJSON(t, d)...); !bytes.Equal(got, want) {
			t.Errorf("detection %d:\n got %s\nwant %s", i, got, want)
		}
		// json.Marshal of a Detection (through Fields.MarshalJSON) writes the same, HTML
		// escaping aside.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, d); !bytes.Equal(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), want) {
			t.Errorf("detection %d through encoding/json:\n got %s\nwant %s", i, buf.Bytes(), want)
		}
	}
	// A timestamp encoding/json cannot render is an error, and nothing is appended.
	bad := Detection{Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if got, err := bad.AppendJSON([]byte("x")); err == nil || string(got) != "x" {
		t.Errorf("year 10000: %q, %v; want an error and nothing appended", got, err)
	}
}

// TestAppendJSONAttackSamples checks AppendJSON against encoding/json on every detection of
// the attack samples.
func TestAppendJSONAttackSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("scans every sample")
	}
	files := sampleFiles(t)
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	dets, _ := runScan(t, files, Options{Engine: eng, Rules: rs})
	if len(dets) == 0 {
		t.Fatal("no detections")
	}
	// One encoder for the stream, as the CLI prints it: what it remembers from a detection
	// (rule, file, record fields) must not leak into the next.
	var b []byte
	var enc JSONEncoder
	for i := range dets {
		var err error
		if b, err = enc.Append(b[:0], &dets[i]); err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, dets[i]); !bytes.Equal(b, want) {
			t.Fatalf("detection %d:\n got %s\nwant %s", i, b, want)
		}
	}
}

// TestJSONEncoderStream encodes a stream whose detections share and then change their rule,
// tags, file, identity and fields (the same slice modified in place too): every line must be
// encoding/json's.
func TestJSONEncoderStream(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	fields := Fields{{"Computer", "pc"}, {"Image", `C:.exe`}}
	tags := []string{"attack.t1059"}
	base := Detection{RuleID: "r1", RuleTitle: "One", Level: "high", Timestamp: ts, File: "a.evtx", Record: 1, Tags: tags,
		Computer: "pc", Channel: "Security", EventID: "4688", Fields: fields}
	var stream []Detection
	add := func(f func(d *Detection)) {
		d := base
		f(&d)
		stream = append(stream, d)
	}
	add(func(d *Detection) {})
	add(func(d *Detection) { d.Record = 2 })
	add(func(d *Detection) { d.RuleTitle = "One, renamed" })
	add(func(d *Detection) { d.Level = "low" })
	add(func(d *Detection) { d.Tags = nil })
	add(func(d *Detection) { d.Tags = []string{} })
	add(func(d *Detection) { d.Tags = []string{"attack.t1059", "attack.execution"} })
	add(func(d *Detection) { d.RuleID, d.RuleTitle = "r2", "Two" })
	add(func(d *Detection) { d.File = `b "quoted".evtx` })
	add(func(d *Detection) { d.Computer, d.Channel, d.EventID = "", "", "" })
	add(func(d *Detection) { d.EventID = "1" })
	add(func(d *Detection) { d.Fields = Fields{{"Computer", "pc"}, {"Image", `C:.exe`}} })
	add(func(d *Detection) { d.Fields = nil })
	add(func(d *Detection) {})
	var enc JSONEncoder
	var b []byte
	for pass := range 2 {
		for i := range stream {
			if pass == 1 && i == len(stream)-1 {
				fields[1].Value = `C:\changed in place.exe` // the same slice, new content
			}
			var err error
			if b, err = enc.Append(b[:0], &stream[i]); err != nil {
				t.Fatal(err)
			}
			if want := encodingJSON(t, stream[i]); !bytes.Equal(b, want) {
				t.Errorf("pass %d, detection %d:\n got %s\nwant %s", pass, i, b, want)
			}
		}
	}
}

// BenchmarkAppendJSON encodes the detections of the attack samples with one JSONEncoder, as a
// scan prints them.
func BenchmarkAppendJSON(b *testing.B) {
	files := sampleFiles(b)
	rs := windowsRules(b)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	dets, _ := runScan(b, files, Options{Engine: eng, Rules: rs})
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var enc JSONEncoder // a scan's
		for i := range dets {
			buf, _ = enc.Append(buf[:0], &dets[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(dets)), "ns/detection")
}
