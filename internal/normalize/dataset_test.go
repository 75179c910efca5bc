package normalize

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

const dataDir = "../../../shared/data"

// splitConcatenated splits pretty-printed JSON objects written one after another (the
// evtx_dump shape of the Sigma regression data) into single records.
func splitConcatenated(t testing.TB, b []byte) [][]byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var out [][]byte
	for {
		var m json.RawMessage
		err := dec.Decode(&m)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("split records: %v", err)
		}
		out = append(out, m)
	}
}

// regressionRecords returns every event of the Sigma regression data, by file.
func regressionRecords(t testing.TB) map[string][][]byte {
	t.Helper()
	root := filepath.Join(dataDir, "sigma", "regression_data")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("test data not available: %v", err)
	}
	out := map[string][][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = splitConcatenated(t, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// otrfRecords returns every JSON line of the OTRF atomic zips, by zip.
func otrfRecords(t testing.TB) map[string][][]byte {
	t.Helper()
	root := filepath.Join(dataDir, "otrf", "atomic")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("test data not available: %v", err)
	}
	out := map[string][][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".zip") {
			return err
		}
		zr, err := zip.OpenReader(p)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".json") {
				continue // the honey-bucket CSV
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
			for sc.Scan() {
				if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
					out[p] = append(out[p], bytes.Clone(line))
				}
			}
			rc.Close()
			if err := sc.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantWindowsLogsource is the Sigma logsource a Windows event must get.
func wantWindowsLogsource(channel string, eid int) (service, category string) {
	switch strings.ToLower(channel) {
	case "microsoft-windows-sysmon/operational":
		return "sysmon", sysmonCategories[eid]
	case "security":
		if eid == 4688 {
			return "security", "process_creation"
		}
		return "security", ""
	case "system":
		return "system", ""
	case "microsoft-windows-powershell/operational":
		return "powershell", powershellCategories[eid]
	case "windows powershell":
		return "powershell-classic", powershellCategories[eid]
	}
	return windowsServices[strings.ToLower(channel)], ""
}

func checkWindows(t *testing.T, name string, raw []byte, ev event.Event) {
	t.Helper()
	var probe struct {
		Event struct {
			System struct {
				EventID int
				Channel string
			}
		}
		EventID int
		Channel string
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		t.Fatalf("%s: probe: %v", name, err)
	}
	ch, eid := probe.Channel, probe.EventID
	if ch == "" {
		ch, eid = probe.Event.System.Channel, probe.Event.System.EventID
	}
	svc, cat := wantWindowsLogsource(ch, eid)
	if cat == "registry_add" && bytes.Contains(raw, []byte(`"Delete`)) {
		cat = "registry_delete"
	}
	if ev.Product != "windows" || ev.Service != svc || ev.Category != cat {
		t.Errorf("%s: %s %d: logsource %s/%s/%s, want windows/%s/%s", name, ch, eid, ev.Product, ev.Service, ev.Category, svc, cat)
	}
	if ev.Code == "" {
		t.Errorf("%s: no Code", name)
	}
}

func checkCommon(t *testing.T, name string, ev event.Event) {
	t.Helper()
	if ev.Time.IsZero() {
		t.Errorf("%s: zero Time", name)
	}
	if ev.ID == "" || ev.Kind == "" || len(ev.Raw) == 0 {
		t.Errorf("%s: ID %q Kind %q Raw %d bytes", name, ev.ID, ev.Kind, len(ev.Raw))
	}
	if ev.ClassUID != ev.Class.UID() {
		t.Errorf("%s: class_uid %d for %s", name, ev.ClassUID, ev.Class)
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Errorf("%s: marshal: %v", name, err)
	}
}

func TestSigmaRegressionData(t *testing.T) {
	files := regressionRecords(t)
	n := 0
	kinds := map[string]int{}
	for path, recs := range files {
		for i, raw := range recs {
			name := filepath.Base(filepath.Dir(path)) + "#" + itoa(int64(i))
			ev, err := Event(Input{Raw: raw, Origin: event.Origin{Source: "file", Format: "evtx", File: path, Record: int64(i + 1)}})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			n++
			kinds[ev.Kind]++
			checkCommon(t, name, ev)
			checkWindows(t, name, raw, ev)
			if ev.Device == nil || ev.Device.Hostname == "" {
				t.Errorf("%s: no Device.Hostname", name)
			}
		}
	}
	if n < 200 {
		t.Errorf("normalized %d regression events, want at least 200", n)
	}
	t.Logf("normalized %d Sigma regression events from %d files: %v", n, len(files), kinds)
}

func TestOTRFData(t *testing.T) {
	zips := otrfRecords(t)
	n := 0
	kinds := map[string]int{}
	received := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for path, recs := range zips {
		for i, raw := range recs {
			name := filepath.Base(path) + "#" + itoa(int64(i+1))
			ev, err := Event(Input{Raw: raw, Origin: event.Origin{Source: "file", Format: "json", File: path, Record: int64(i + 1), Received: received}})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			n++
			kinds[ev.Kind]++
			checkCommon(t, name, ev)
			if ev.Time.Equal(received) {
				t.Errorf("%s: Time fell back to Received", name)
			}
			if strings.Contains(path, "/aws/") {
				if ev.Kind != "cloudtrail" || ev.Product != "aws" || ev.Service != "cloudtrail" {
					t.Errorf("%s: kind %s logsource %s/%s", name, ev.Kind, ev.Product, ev.Service)
				}
				if ev.User == nil || ev.Cloud == nil || ev.Cloud.Region == "" {
					t.Errorf("%s: user %v cloud %v", name, ev.User, ev.Cloud)
				}
				continue
			}
			checkWindows(t, name, raw, ev)
			if ev.Device == nil || ev.Device.Hostname == "" {
				t.Errorf("%s: no Device.Hostname", name)
			}
		}
	}
	if n < 13000 {
		t.Errorf("normalized %d OTRF records, want at least 13000", n)
	}
	t.Logf("normalized %d OTRF records from %d zips: %v", n, len(zips), kinds)
}
