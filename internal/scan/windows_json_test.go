package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/normalize"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/sigma"
)

// regressionPairs returns the samples of SigmaHQ's regression data that are there both as
// .evtx and as the .json rendering of the same events, by the .evtx path.
func regressionPairs(t testing.TB) []string {
	t.Helper()
	root := filepath.Join(dataDir, "sigma", "regression_data")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("regression data not available: %v", err)
	}
	var pairs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".evtx") {
			if _, err := os.Stat(strings.TrimSuffix(path, ".evtx") + ".json"); err == nil {
				pairs = append(pairs, path)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pairs
}

// TestScanJSONLikeEVTX scans every regression sample as EVTX and as its JSON rendering: the
// two give the same detections (rule and time) and the same evidence.
func TestScanJSONLikeEVTX(t *testing.T) {
	pairs := regressionPairs(t)
	if len(pairs) < 150 {
		t.Fatalf("%d samples with both renderings", len(pairs))
	}
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	opt := Options{Engine: eng, Rules: rs, Workers: 1}
	// A detection as both renderings give it: the EVTX record number is the event's, the
	// JSON one its position in the file, and evtx_dump writes times to the microsecond.
	key := func(d Detection) string {
		return fmt.Sprintf("%s %s %v %v", d.RuleID, d.Timestamp.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), d.Matches, d.Fields)
	}
	total := 0
	for _, p := range pairs {
		fromEVTX, se := runScan(t, []string{p}, opt)
		fromJSON, sj := runScan(t, []string{strings.TrimSuffix(p, ".evtx") + ".json"}, opt)
		if se.Records != sj.Records || se.Errors != 0 || sj.Errors != 0 {
			t.Errorf("%s: %d records (%d errors) as EVTX, %d (%d errors) as JSON", p, se.Records, se.Errors, sj.Records, sj.Errors)
			continue
		}
		a, b := sortedKeys(fromEVTX, key), sortedKeys(fromJSON, key)
		if !slices.Equal(a, b) {
			t.Errorf("%s:\nas EVTX %q\nas JSON %q", p, a, b)
		}
		total += len(a)
	}
	if total < len(pairs) {
		t.Fatalf("%d detections in %d samples: each sample has at least one", total, len(pairs))
	}
}

// sortedKeys returns the keys of detections, sorted.
func sortedKeys(dets []Detection, key func(Detection) string) []string {
	keys := make([]string, 0, len(dets))
	for _, d := range dets {
		keys = append(keys, key(d))
	}
	slices.Sort(keys)
	return keys
}

// TestWindowsTimeLikeNormalizer checks the scan's shortcut for Windows events in JSON against
// the normalizer it saves: for every JSON record of the regression data (as evtx_dump and as
// Winlogbeat render it) and of the OTRF datasets (flat renderings, and CloudTrail events that
// must not take the shortcut), a record
// that takes it has the normalizer's time, and the log source the normalizer would give it
// routes no rule the engine does not route by the record's Channel and EventID alone.
func TestWindowsTimeLikeNormalizer(t *testing.T) {
	files := regressionPairs(t)
	for i, p := range files {
		files[i] = strings.TrimSuffix(p, ".evtx") + ".json"
	}
	otrf, err := Files([]string{filepath.Join(dataDir, "otrf")})
	if err != nil {
		t.Fatal(err)
	}
	if len(otrf) < 10 {
		t.Fatalf("%d OTRF datasets", len(otrf))
	}
	files = append(files, otrf...)
	// And every regression sample as Winlogbeat ships it.
	beat := filepath.Join(t.TempDir(), "winlogbeat.ndjson")
	var out []byte
	for _, p := range regressionPairs(t) {
		out = append(out, beatRendering(t, p)...)
	}
	if err := os.WriteFile(beat, out, 0o600); err != nil {
		t.Fatal(err)
	}
	files = append(files, beat)
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	m := eng.NewMatcher()
	var rec sigma.Record
	var records, shortcut, matched int
	for _, f := range files {
		err := eachJSONBatch(f, func(b *pipeline.RawBatch) error {
			if b.Format == ingest.MalformedFormat {
				t.Errorf("%s: malformed records", f)
				return nil
			}
			for i := range b.Records {
				r := &b.Records[i]
				records++
				if err := rec.ResetJSON(r.Data); err != nil {
					t.Errorf("%s#%d: %v", f, r.Record, err)
					continue
				}
				tm, ok := windowsTime(&rec)
				if !ok {
					continue
				}
				shortcut++
				ev, err := normalize.Event(normalize.Input{Raw: r.Data, Origin: b.Origin(i)})
				if err != nil {
					t.Errorf("%s#%d: the normalizer refuses a record the scan takes for a Windows event: %v", f, r.Record, err)
					continue
				}
				if ev.Product != "windows" || !tm.Equal(ev.Time) {
					t.Errorf("%s#%d: scan takes it for a Windows event at %v, the normalizer for %q at %v", f, r.Record, tm, ev.Product, ev.Time)
				}
				var plain, hinted []string
				for _, mt := range m.Match(&rec) {
					plain = append(plain, mt.Rule.ID)
				}
				rec.SetLogSource(ev.Product, ev.Service, ev.Category)
				for _, mt := range m.Match(&rec) {
					hinted = append(hinted, mt.Rule.ID)
				}
				slices.Sort(plain)
				slices.Sort(hinted)
				if !slices.Equal(plain, hinted) {
					t.Errorf("%s#%d: rules %q by Channel and EventID, %q with the normalizer's log source %s/%s/%s",
						f, r.Record, plain, hinted, ev.Product, ev.Service, ev.Category)
				}
				matched += len(plain)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	t.Logf("%d records in %d files, %d taken for Windows events, %d matches", records, len(files), shortcut, matched)
	// The OTRF datasets hold AWS CloudTrail records, which must go to the normalizer; all the
	// others are Windows events.
	if shortcut < records*9/10 || shortcut == records || matched == 0 {
		t.Fatalf("%d of %d records taken for Windows events, %d matches", shortcut, records, matched)
	}
}

// eachJSONBatch reads the JSON records of file, or of the JSON members of a zip archive of them
// (as a scan does, other members are passed over), and calls fn with each batch.
func eachJSONBatch(file string, fn func(*pipeline.RawBatch) error) error {
	out := func(_ context.Context, _ string, b *pipeline.RawBatch) error { return fn(b) }
	opt := ingest.FileOptions{Format: ingest.FormatJSON, BatchSize: 64, NoIDs: true}
	if !strings.HasSuffix(file, ".zip") {
		_, err := ingest.ReadFile(context.Background(), file, opt, out)
		return err
	}
	z, err := zip.OpenReader(file)
	if err != nil {
		return err
	}
	defer z.Close()
	for _, m := range z.File {
		if lower := strings.ToLower(m.Name); !scannableLog(m.Name) || strings.HasSuffix(lower, ".evtx") || strings.HasSuffix(lower, ".csv") {
			continue
		}
		rc, err := m.Open()
		if err != nil {
			return err
		}
		_, err = ingest.ReadStream(context.Background(), m.Name, rc, opt, out)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func TestWindowsTime(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		doc  string
		want time.Time // zero: not taken for a Windows event
	}{
		{`{"Event":{"System":{"EventID":4624,"Channel":"Security","TimeCreated":{"#attributes":{"SystemTime":"2024-05-01T10:00:00.123456Z"}}},
			"EventData":{"UtcTime":"2001-01-01 00:00:00.000"}}}`, at("2024-05-01T10:00:00.123456Z")},
		{`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","UtcTime":"2024-05-01 10:00:00.500","@timestamp":"2024-05-01T09:00:00Z"}`,
			at("2024-05-01T09:00:00Z")},
		{`{"EventID":"4688","Channel":"Security","@timestamp":"yesterday","TimeCreated":"2024-05-01T11:00:00+02:00"}`, at("2024-05-01T09:00:00Z")},
		{`{"EventID":"4688","Channel":"Security","EventTime":1714557600}`, at("2024-05-01T10:00:00Z")},
		// Not numeric, twice, missing, no time, Winlogbeat, CloudTrail.
		{`{"EventID":"4688a","Channel":"Security","@timestamp":"2024-05-01T09:00:00Z"}`, time.Time{}},
		{`{"EventID":4688,"Channel":"Security","Channel":"System","@timestamp":"2024-05-01T09:00:00Z"}`, time.Time{}},
		{`{"EventID":4688,"@timestamp":"2024-05-01T09:00:00Z"}`, time.Time{}},
		{`{"EventID":4688,"Channel":"Security","@timestamp":"2024-05-01T09:00:00Z","@timestamp":"2024-05-01T10:00:00Z"}`, time.Time{}},
		{`{"EventID":4688,"Channel":"Security"}`, time.Time{}},
		{`{"EventID":4688,"Channel":"Security","@timestamp":"2024-05-01T09:00:00Z","winlog":{"event_id":4624,"channel":"Security"}}`, time.Time{}},
		{`{"eventTime":"2024-05-01T09:00:00Z","eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com"}`, time.Time{}},
		// Winlogbeat: its @timestamp, not the UtcTime of its event data; none, no shortcut.
		{`{"@timestamp":"2024-05-01T09:00:00.5Z","winlog":{"channel":"Security","event_id":"4688","event_data":{"UtcTime":"2001-01-01 00:00:00"}}}`,
			at("2024-05-01T09:00:00.5Z")},
		{`{"winlog":{"channel":"Security","event_id":4688,"event_data":{"UtcTime":"2001-01-01 00:00:00"}}}`, time.Time{}},
	} {
		var rec sigma.Record
		if err := rec.ResetJSON([]byte(c.doc)); err != nil {
			t.Fatal(err)
		}
		got, ok := windowsTime(&rec)
		if ok != !c.want.IsZero() || !got.Equal(c.want) {
			t.Errorf("%s: windowsTime = %v, %v; want %v", c.doc, got, ok, c.want)
			continue
		}
		if ok {
			ev, err := normalize.Event(normalize.Input{Raw: []byte(c.doc)})
			if err != nil || ev.Product != "windows" || !ev.Time.Equal(got) {
				t.Errorf("%s: the normalizer gives %q at %v (%v)", c.doc, ev.Product, ev.Time, err)
			}
		}
	}
}

// beatFromEventXML renders an evtx_dump document as Winlogbeat ships the event: the System
// members under winlog by Winlogbeat's names, EventData as winlog.event_data with every value a
// string, UserData as winlog.user_data, the time as @timestamp.
func beatFromEventXML(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	ev, _ := doc["Event"].(map[string]any)
	sys, _ := ev["System"].(map[string]any)
	attr := func(m any, name string) any {
		if mm, ok := m.(map[string]any); ok {
			if a, ok := mm["#attributes"].(map[string]any); ok {
				return a[name]
			}
		}
		return nil
	}
	text := func(v any) any {
		if m, ok := v.(map[string]any); ok {
			return m["#text"]
		}
		return v
	}
	winlog := map[string]any{
		"channel": sys["Channel"], "event_id": fmt.Sprint(text(sys["EventID"])), "computer_name": sys["Computer"],
		"record_id": sys["EventRecordID"], "version": sys["Version"],
		"provider_name": attr(sys["Provider"], "Name"), "provider_guid": attr(sys["Provider"], "Guid"),
		"process": map[string]any{"pid": attr(sys["Execution"], "ProcessID"), "thread": map[string]any{"id": attr(sys["Execution"], "ThreadID")}},
	}
	if id := attr(sys["Security"], "UserID"); id != nil {
		winlog["user"] = map[string]any{"identifier": id}
	}
	if data, ok := ev["EventData"].(map[string]any); ok {
		strs := map[string]any{}
		for k, v := range data {
			if v != nil && k != "#attributes" {
				strs[k] = fmt.Sprint(v)
			}
		}
		winlog["event_data"] = strs
	}
	if ud, ok := ev["UserData"]; ok {
		winlog["user_data"] = ud
	}
	return map[string]any{"@timestamp": attr(sys["TimeCreated"], "SystemTime"), "winlog": winlog,
		"event": map[string]any{"code": winlog["event_id"], "provider": winlog["provider_name"]}, "host": map[string]any{"name": sys["Computer"]}}
}

// beatRendering returns the events of the regression sample p (its .evtx path) as Winlogbeat
// ships them (beatFromEventXML), one per line.
func beatRendering(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(strings.TrimSuffix(p, ".evtx") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for dec := json.NewDecoder(bytes.NewReader(data)); dec.More(); {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		line, _ := json.Marshal(beatFromEventXML(t, doc))
		out.Write(append(line, '\n'))
	}
	return out.Bytes()
}

// detectionKey is a detection's rule, time (truncated or rounded to the given precision, as a
// rendering that does not keep EVTX's 100 ns has it) and evidence: the identity the rendering
// parity tests compare.
func detectionKey(precision time.Duration, round bool) func(Detection) string {
	return func(d Detection) string {
		t := d.Timestamp.UTC().Truncate(precision)
		if round {
			t = d.Timestamp.UTC().Round(precision)
		}
		return fmt.Sprintf("%s %s %v", d.RuleID, t.Format(time.RFC3339Nano), d.Matches)
	}
}

// scanRendering writes data, the rendering of the EVTX file p called as, to file in dir, scans
// it, and checks that it reads without errors and gives the detections want (p's, compared by
// key). It returns the rendering's detections.
func scanRendering(t *testing.T, opt Options, p string, want []Detection, as, file string, data []byte, key func(Detection) string) []Detection {
	t.Helper()
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, st := runScan(t, []string{file}, opt)
	if st.Errors != 0 {
		t.Errorf("%s: %d errors as %s", p, st.Errors, as)
	}
	if a, b := sortedKeys(want, key), sortedKeys(got, key); !slices.Equal(a, b) {
		t.Errorf("%s:\nas EVTX %q\nas %s %q", p, a, as, b)
	}
	return got
}

// TestScanWinlogbeatLikeEVTX ships every regression sample's events as Winlogbeat would
// (beatFromEventXML) and scans them: the same rules match the same events as in the EVTX.
func TestScanWinlogbeatLikeEVTX(t *testing.T) {
	pairs := regressionPairs(t)
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	opt := Options{Engine: eng, Rules: rs, Workers: 1}
	dir := t.TempDir()
	total := 0
	for i, p := range pairs {
		fromEVTX, _ := runScan(t, []string{p}, opt)
		beat := filepath.Join(dir, fmt.Sprintf("%d.ndjson", i))
		total += len(scanRendering(t, opt, p, fromEVTX, "Winlogbeat", beat, beatRendering(t, p), detectionKey(time.Microsecond, false)))
	}
	if total < len(pairs) {
		t.Fatalf("%d detections in %d samples", total, len(pairs))
	}
}
