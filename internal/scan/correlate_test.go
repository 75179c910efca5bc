package scan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vigil-soc/vigil/internal/sigma"
)

// TestCopyFields checks that the fields kept for correlations do not change when the memory
// of the record they were copied from is reused.
func TestCopyFields(t *testing.T) {
	buf := []byte("ImageC:\\a.exeUserbob")
	var rec sigma.Record
	rec.Add(string(buf[0:5]), string(buf[5:13]))
	rec.Add(string(buf[13:17]), string(buf[17:20]))
	rec.Add("Empty", "")
	got := copyFields(&rec)
	for i := range buf {
		buf[i] = '#'
	}
	rec.Reset()
	want := [][2]string{{"Image", `C:\a.exe`}, {"User", "bob"}, {"Empty", ""}}
	if !slices.Equal(got, want) {
		t.Fatalf("copyFields = %q, want %q", got, want)
	}
}

// TestScanCorrelation runs an event count correlation over the attack samples: every
// correlation alert must group records of the one computer it names.
func TestScanCorrelation(t *testing.T) {
	if testing.Short() {
		t.Skip("scans every sample")
	}
	files := sampleFiles(t)
	dir := t.TempDir()
	const rules = `title: Process creation
id: 5b0a3e57-1d0c-4a9e-8c55-5a1a2f0f0a01
name: proc_creation
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '.exe'
    condition: selection
level: low
---
title: Many processes on one computer
id: 5b0a3e57-1d0c-4a9e-8c55-5a1a2f0f0a02
correlation:
    type: event_count
    rules:
        - proc_creation
    group-by:
        - Computer
    timespan: 1h
    condition:
        gte: 3
generate: true
level: medium
`
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, refusals := sigma.LoadSources([]sigma.Source{sigma.DirSource(dir)}, sigma.LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	dets, _ := runScan(t, files, Options{Engine: eng, Rules: rs, Workers: 2})
	computer := map[string]string{} // file#record -> Computer, from the base rule's detections
	corr := 0
	for _, d := range dets {
		if !d.Correlation {
			computer[fmt.Sprintf("%s#%d", d.File, d.Record)] = d.Computer
			continue
		}
		corr++
		if len(d.Matches) != 1 || d.Matches[0].Field != "Computer" || d.Matches[0].Value == "" {
			t.Fatalf("correlation alert groups by %v", d.Matches)
		}
		if len(d.Records) < 3 {
			t.Fatalf("correlation alert with %d records", len(d.Records))
		}
		for _, ref := range d.Records {
			if c, ok := computer[ref]; !ok || c != d.Matches[0].Value {
				t.Fatalf("record %s (computer %q) in the alert of computer %q", ref, c, d.Matches[0].Value)
			}
		}
	}
	if corr == 0 || len(computer) == 0 {
		t.Fatalf("%d correlation alerts, %d process creations", corr, len(computer))
	}
	t.Logf("%d process creations, %d correlation alerts", len(computer), corr)
}
