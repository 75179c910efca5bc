package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/evtx"
	"github.com/vigil-soc/vigil/internal/normalize"
	"github.com/vigil-soc/vigil/internal/sigma"
)

// ezRendering renders the records of the EVTX file p as EvtxECmd's --json output rows: System
// columns (EventId, Channel, Provider, Computer, EventRecordId, ProcessId, ThreadId, Level and
// Keywords as words, TimeCreated to 100 ns with +00:00, MapDescription, PayloadData1...) and
// the event's data as XML converted to JSON in the Payload string, {"EventData":{"Data":
// [{"@Name":"Image","#text":"..."}, ...]}}.
func ezRendering(t *testing.T, p string) []byte {
	t.Helper()
	var out bytes.Buffer
	eachEVTXRecord(t, p, func(n int, rec *evtx.Record) {
		row := map[string]any{"MapDescription": "", "PayloadData1": "", "UserName": "", "RemoteHost": "", "ExecutableInfo": "",
			"ChunkNumber": 0, "Level": "Info", "Keywords": "Classic", "SourceFile": p, "ExtraDataOffset": 0, "HiddenRecord": false, "RecordNumber": n}
		var items []map[string]string
		rec.FieldsTyped(func(name, value string, typed bool) {
			switch name {
			case "EventID":
				row["EventId"] = json.Number(value)
			case "Channel", "Computer":
				row[name] = value
			case "Provider_Name":
				row["Provider"] = value
			case "EventRecordID":
				row["EventRecordId"] = value
			case "Execution_ProcessID":
				row["ProcessId"] = json.Number(value)
			case "Execution_ThreadID":
				row["ThreadId"] = json.Number(value)
			case "TimeCreated_SystemTime":
				tc, err := time.Parse(time.RFC3339Nano, value)
				if err != nil {
					t.Fatalf("%s: TimeCreated %q: %v", p, value, err)
				}
				row["TimeCreated"] = tc.Format("2006-01-02T15:04:05.0000000+00:00")
			default:
				if _, system := veloSystem[name]; !system {
					items = append(items, map[string]string{"@Name": name, "#text": value})
				}
			}
		})
		payload, _ := json.Marshal(map[string]any{"EventData": map[string]any{"Data": items}})
		row["Payload"] = string(payload)
		line, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(line, '\n'))
	})
	return out.Bytes()
}

// ezColumns are the columns of EvtxECmd's CSV output, in its order.
var ezColumns = []string{"RecordNumber", "EventRecordId", "TimeCreated", "EventId", "Level", "Provider", "Channel", "ProcessId", "ThreadId",
	"Computer", "ChunkNumber", "UserId", "MapDescription", "UserName", "RemoteHost", "PayloadData1", "PayloadData2", "PayloadData3",
	"PayloadData4", "PayloadData5", "PayloadData6", "ExecutableInfo", "HiddenRecord", "SourceFile", "Keywords", "ExtraDataOffset", "Payload"}

// ezCSVRendering renders the records of the EVTX file p as EvtxECmd's CSV output: the rows of
// ezRendering under ezColumns, after the byte order mark EvtxECmd writes, TimeCreated as its
// CSV writes it (a space, no zone).
func ezCSVRendering(t *testing.T, p string) []byte {
	var out bytes.Buffer
	out.WriteString("\ufeff")
	w := csv.NewWriter(&out)
	w.Write(ezColumns)
	dec := json.NewDecoder(bytes.NewReader(ezRendering(t, p)))
	dec.UseNumber()
	for dec.More() {
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		if tc, ok := row["TimeCreated"].(string); ok {
			row["TimeCreated"] = strings.Replace(strings.TrimSuffix(tc, "+00:00"), "T", " ", 1)
		}
		rec := make([]string, len(ezColumns))
		for i, c := range ezColumns {
			if v, ok := row[c]; ok {
				rec[i] = fmt.Sprint(v)
			}
		}
		w.Write(rec)
	}
	w.Flush()
	return out.Bytes()
}

// TestScanEvtxECmdLikeEVTX renders every regression sample and attack sample as EvtxECmd rows
// (ezRendering) and scans them: the same rules match the same events at the same times with the
// same evidence as in the EVTX files.
func TestScanEvtxECmdLikeEVTX(t *testing.T) {
	if testing.Short() {
		t.Skip("scans every sample twice")
	}
	files := append(regressionPairs(t), sampleFiles(t)...)
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	opt := Options{Engine: eng, Rules: rs, Workers: 1}
	dir := t.TempDir()
	key := detectionKey(100*time.Nanosecond, false) // EvtxECmd writes TimeCreated to 100 ns
	total := 0
	// The CSV renderings of all the files in one CSV file, as EvtxECmd writes a folder's.
	var allCSV bytes.Buffer
	var allEVTX []Detection
	var records int64
	for i, p := range files {
		fromEVTX, se := runScan(t, []string{p}, opt)
		total += len(scanRendering(t, opt, p, fromEVTX, "EvtxECmd rows", filepath.Join(dir, fmt.Sprintf("%d.json", i)), ezRendering(t, p), key))
		rows := ezCSVRendering(t, p)
		if i > 0 {
			rows = rows[bytes.IndexByte(rows, '\n')+1:] // the header once
		}
		allCSV.Write(rows)
		allEVTX = append(allEVTX, fromEVTX...)
		records += se.Records
	}
	csvFile := filepath.Join(dir, "EvtxECmd_Output.csv")
	if err := os.WriteFile(csvFile, allCSV.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	fromCSV, sc := runScan(t, []string{csvFile}, opt)
	if sc.Errors != 0 || sc.Records != records {
		t.Errorf("as EvtxECmd CSV: %d errors, %d records (EVTX %d)", sc.Errors, sc.Records, records)
	}
	if a, c := sortedKeys(allEVTX, key), sortedKeys(fromCSV, key); !slices.Equal(a, c) {
		t.Errorf("as EvtxECmd CSV: %d detections, EVTX %d, or different", len(c), len(a))
	}
	if total < 1500 {
		t.Fatalf("%d detections in %d files", total, len(files))
	}
}

// TestEvtxECmdNormalized checks that the normalizer reads an EvtxECmd row as the Windows event
// it renders: code, time, host, the event's users from the Payload's EventData, and the
// EventData names in Unmapped (not the Payload string).
func TestEvtxECmdNormalized(t *testing.T) {
	payload := `{"EventData":{"Data":[{"@Name":"TargetUserName","#text":"Sam"},{"@Name":"TargetDomainName","#text":"John-PC"},` +
		`{"@Name":"TargetSid","#text":"S-1-5-21-792323161-214100996-3742390483-1003"},{"@Name":"SubjectUserSid","#text":"S-1-5-21-792323161-214100996-3742390483-1000"},` +
		`{"@Name":"SubjectUserName","#text":"John"},{"@Name":"SubjectDomainName","#text":"John-PC"},{"@Name":"SubjectLogonId","#text":"0x177F1"},{"@Name":"SamAccountName","#text":"Sam"}]}}`
	pl, _ := json.Marshal(payload)
	raw := []byte(`{"PayloadData1":"Target: John-PC\\Sam","UserName":"John-PC\\John","MapDescription":"New user created","ChunkNumber":1,"Computer":"John-PC",` +
		`"Payload":` + string(pl) + `,"Channel":"Security","Provider":"Microsoft-Windows-Security-Auditing","EventId":4720,"EventRecordId":"443",` +
		`"ProcessId":496,"ThreadId":1092,"Level":"LogAlways","Keywords":"Audit success","SourceFile":"C:\\x\\security.evtx","ExtraDataOffset":0,` +
		`"HiddenRecord":false,"TimeCreated":"2020-06-09T15:51:03.9362930+00:00","RecordNumber":443}`)
	ev, err := normalize.Event(normalize.Input{Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Product != "windows" || ev.Code != "4720" || ev.Device == nil || ev.Device.Hostname != "John-PC" {
		t.Fatalf("product %q code %q device %+v", ev.Product, ev.Code, ev.Device)
	}
	if want := time.Date(2020, 6, 9, 15, 51, 3, 936293000, time.UTC); !ev.Time.Equal(want) {
		t.Errorf("time %v, want %v", ev.Time, want)
	}
	if ev.User == nil || ev.User.Name != "John" {
		t.Errorf("user %+v, want the subject who created the account", ev.User)
	}
	if _, ok := ev.Unmapped["Payload"]; ok {
		t.Error("the Payload string is in Unmapped; its fields should be")
	}
	if ev.Unmapped["SamAccountName"] != "Sam" {
		t.Errorf("Unmapped SamAccountName %q", ev.Unmapped["SamAccountName"])
	}
}

// TestScanOtherCSVPassedOver: a folder scan reads EvtxECmd's CSV output and leaves the folder's
// other CSV files (here MFTECmd's) out; a CSV file named on its own that is not EvtxECmd's is
// reported as passed over, not counted as an error.
func TestScanOtherCSVPassedOver(t *testing.T) {
	dir := t.TempDir()
	mft := "EntryNumber,SequenceNumber,InUse,ParentEntryNumber,FileName\n0,1,True,5,$MFT\n"
	if err := os.WriteFile(filepath.Join(dir, "MFTECmd_Output.csv"), []byte(mft), 0o600); err != nil {
		t.Fatal(err)
	}
	samples := regressionPairs(t)
	if err := os.WriteFile(filepath.Join(dir, "EvtxECmd_Output.csv"), ezCSVRendering(t, samples[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := Files([]string{dir})
	if err != nil || len(files) != 1 || filepath.Base(files[0]) != "EvtxECmd_Output.csv" {
		t.Fatalf("Files: %q, %v", files, err)
	}
	files = append(files, filepath.Join(dir, "MFTECmd_Output.csv"))
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	var problems []string
	dets, st, err := func() ([]Detection, Stats, error) {
		var dets []Detection
		st, err := Run(context.Background(), files, Options{Engine: eng, Rules: rs, Problem: func(file string, err error) {
			problems = append(problems, filepath.Base(file)+": "+err.Error())
		}}, func(d Detection) { dets = append(dets, d) })
		return dets, st, err
	}()
	if err != nil || st.Errors != 0 || len(dets) == 0 {
		t.Fatalf("err %v, %d errors, %d detections", err, st.Errors, len(dets))
	}
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "MFTECmd_Output.csv: passed over") {
		t.Fatalf("problems %q", problems)
	}
	// In an archive, the CSV member that is not EvtxECmd's is passed over as other members that
	// are not logs are: without a word.
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for _, name := range []string{"MFTECmd_Output.csv", "EvtxECmd_Output.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		mw, _ := zw.Create("kape/" + name)
		mw.Write(data)
	}
	zw.Close()
	archive := filepath.Join(t.TempDir(), "kape.zip")
	if err := os.WriteFile(archive, zbuf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	problems = nil
	var fromZip []Detection
	st, err = Run(context.Background(), []string{archive}, Options{Engine: eng, Rules: rs, Problem: func(file string, err error) {
		problems = append(problems, filepath.Base(file)+": "+err.Error())
	}}, func(d Detection) { fromZip = append(fromZip, d) })
	if err != nil || st.Errors != 0 || len(problems) != 0 || len(fromZip) != len(dets) {
		t.Fatalf("zip: err %v, %d errors, problems %q, %d detections (want %d)", err, st.Errors, problems, len(fromZip), len(dets))
	}
}

// TestScanCSVInParts scans a large EvtxECmd CSV file (the regression samples' and some attack
// samples' rows, CRLF line ends, cells holding line feeds and doubled quotes, a row with a
// column missing) whole and in parts of a few hundred bytes and of 64 KB: the same detections,
// record numbers, statistics and problems; a part never starts inside a quoted cell.
func TestScanCSVInParts(t *testing.T) {
	files := append(regressionPairs(t), sampleFiles(t)[:60]...)
	var buf bytes.Buffer
	for i, p := range files {
		rows := bytes.ReplaceAll(ezCSVRendering(t, p), []byte("\n"), []byte("\r\n"))
		if i > 0 {
			rows = rows[bytes.IndexByte(rows, '\n')+1:] // the header once
		}
		buf.Write(rows)
		switch i % 7 {
		case 3: // a long cell of lines and quotes (a script block), in a row of no event (no EventId)
			buf.WriteString(`0,,,,,,Security,,,,,,,,,"` + strings.Repeat(`line of a script with ""quotes"" and commas, `+"\r\n", 40) + `end",,,,,,,,,,,` + "\r\n")
		case 5: // a column missing: a malformed record
			buf.WriteString("1,2,3\r\n")
		}
	}
	path := filepath.Join(t.TempDir(), "EvtxECmd_Output.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	checkPartsLikeWhole(t, path, 2000, 100, 30, 20)
}

// FuzzCSVRowStarts checks where csvRowStarts splits any CSV after EvtxECmd's header: every
// start after the header row and before the end of the file, increasing, right after a line
// feed, with an even number of quotes before it (outside every quoted cell).
func FuzzCSVRowStarts(f *testing.F) {
	f.Add([]byte("1,\"a\nb\",c\n2,\"\"\"x\"\"\",d\r\n3,e,f\n"), int64(5))
	f.Add([]byte("\"\n\n\"\n\n\"\"\"\n"), int64(1))
	const header = "RecordNumber,EventId,Channel,Payload\n"
	f.Fuzz(func(t *testing.T, body []byte, size int64) {
		size = size&4095 + 1
		data := append([]byte(header), body...)
		path := filepath.Join(t.TempDir(), "EvtxECmd_Output.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		end, starts, err := csvRowStarts(path, size)
		if err != nil {
			t.Fatal(err)
		}
		if end != int64(len(header)) {
			t.Fatalf("header ends at %d, want %d", end, len(header))
		}
		prev := end
		for _, s := range starts {
			if s <= prev || s >= int64(len(data)) || data[s-1] != '\n' || bytes.Count(data[:s], []byte{'"'})%2 != 0 {
				t.Fatalf("start %d (after %d) in %q", s, prev, data)
			}
			prev = s
		}
	})
}
