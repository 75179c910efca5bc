package scan

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-soc/vigil/internal/evtx"
	"github.com/vigil-soc/vigil/internal/sigma"
)

const dataDir = "../../../shared/data"

// sampleFiles returns the evtx-attack-samples files (277 files, 8,255 records).
func sampleFiles(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join(dataDir, "evtx-attack-samples")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("attack samples not available: %v", err)
	}
	files, err := Files([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	rulesOnce sync.Once
	rulesSet  *sigma.RuleSet
)

// windowsRules loads the rule folders `vigil scan` is measured with.
func windowsRules(t testing.TB) *sigma.RuleSet {
	t.Helper()
	root := filepath.Join(dataDir, "sigma")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("sigma rules not available: %v", err)
	}
	rulesOnce.Do(func() {
		var src []sigma.Source
		for _, d := range []string{"rules/windows", "rules-emerging-threats", "rules-threat-hunting"} {
			src = append(src, sigma.DirSource(filepath.Join(root, d)))
		}
		rulesSet, _ = sigma.LoadSources(src, sigma.LoadOptions{})
	})
	return rulesSet
}

func runScan(t testing.TB, files []string, opt Options) ([]Detection, Stats) {
	t.Helper()
	var dets []Detection
	st, err := Run(context.Background(), files, opt, func(d Detection) { dets = append(dets, d) })
	if err != nil {
		t.Fatal(err)
	}
	return dets, st
}

// TestScanPrefilterEquivalence scans the attack samples with the engine's literal prefilter
// and without it: the detections, their evidence and identifying fields must be the same.
func TestScanPrefilterEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("scans every sample twice")
	}
	files := sampleFiles(t)
	rs := windowsRules(t)
	with, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	without, _ := sigma.NewEngine(rs, sigma.EngineOptions{DisablePrefilter: true})
	a, sa := runScan(t, files, Options{Engine: with, Rules: rs, Workers: 2})
	b, sb := runScan(t, files, Options{Engine: without, Rules: rs})
	if sa.Records != 8255 || sa.Records != sb.Records {
		t.Fatalf("records: %d with the prefilter, %d without", sa.Records, sb.Records)
	}
	if len(a) == 0 {
		t.Fatal("no detections")
	}
	if len(a) != len(b) {
		t.Fatalf("%d detections with the prefilter, %d without", len(a), len(b))
	}
	for i := range a {
		ja, _ := json.Marshal(a[i])
		jb, _ := json.Marshal(b[i])
		if !slices.Equal(ja, jb) {
			t.Fatalf("detection %d:\n with    %s\n without %s", i, ja, jb)
		}
	}
	t.Logf("%d records, %d detections", sa.Records, len(a))
}

// cpuTime returns the CPU time the process has used: steadier than wall time on a shared
// machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchScan(b *testing.B, parseOnly bool) {
	files := sampleFiles(b)
	rs := windowsRules(b)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	opt := Options{Engine: eng, Rules: rs, Workers: 1, ParseOnly: parseOnly}
	runScan(b, files, opt) // warm the page cache
	b.ReportAllocs()
	b.ResetTimer()
	var records int64
	cpu0 := cpuTime()
	for b.Loop() {
		_, st := runScan(b, files, opt)
		records += st.Records
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(records), "cpu-ns/record")
	b.ReportMetric(float64(records)/cpu.Seconds(), "records/cpu-s")
}

// BenchmarkScanRatio alternates a scan with every Windows rule and the same scan with
// --parse-only in one process, on as many workers as `vigil scan` takes by default (the
// BENCH_WORKERS environment variable sets another number), and reports the median of each and
// the median of the rounds' ratios. The two runs of a round see the same machine: steadier than
// comparing two processes, whose speeds differ by up to a third on a shared machine.
func BenchmarkScanRatio(b *testing.B) {
	files := sampleFiles(b)
	rs := windowsRules(b)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	workers := 0
	if w, err := strconv.Atoi(os.Getenv("BENCH_WORKERS")); err == nil {
		workers = w
	}
	full := Options{Engine: eng, Rules: rs, Workers: workers}
	parse := full
	parse.ParseOnly = true
	runScan(b, files, full) // warm the page cache and the engine's shared tables
	runScan(b, files, parse)
	var tf, tp, ratios []float64
	// No collection during a timed run, as in `vigil scan`, whose heap (the rules) is large
	// enough that a scan's allocations do not start one: each run starts after a collection.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	timed := func(opt Options) float64 {
		runtime.GC()
		t0 := time.Now()
		runScan(b, files, opt)
		return time.Since(t0).Seconds()
	}
	for b.Loop() {
		p := timed(parse)
		f := timed(full)
		tp, tf, ratios = append(tp, p), append(tf, f), append(ratios, f/p)
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	b.ReportMetric(median(tf)*1e3, "full-ms")
	b.ReportMetric(median(tp)*1e3, "parse-ms")
	b.ReportMetric(median(ratios), "ratio")
}

// BenchmarkScanParseOnly reads every record of the attack samples on one worker: the
// baseline of `vigil scan --parse-only`.
func BenchmarkScanParseOnly(b *testing.B) { benchScan(b, true) }

// BenchmarkScan reads and matches every record of the attack samples against the Windows,
// emerging-threats and threat-hunting rules on one worker, as `vigil scan` does.
func BenchmarkScan(b *testing.B) { benchScan(b, false) }

// TestScanEngineFields checks that an engine told the identifying fields (read by number)
// and one that is not (read by name) give the same detections.
func TestScanEngineFields(t *testing.T) {
	if testing.Short() {
		t.Skip("scans every sample twice")
	}
	files := sampleFiles(t)
	rs := windowsRules(t)
	named, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	numbered, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	if named.FieldID("Hostname") >= 0 || numbered.FieldID("Hostname") < 0 {
		t.Fatal("Hostname: want it unknown to the plain engine and numbered by the other")
	}
	a, _ := runScan(t, files, Options{Engine: named, Rules: rs})
	b, _ := runScan(t, files, Options{Engine: numbered, Rules: rs})
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if len(a) == 0 || !bytes.Equal(ja, jb) {
		t.Fatalf("%d detections by name, %d by number, or different", len(a), len(b))
	}
	withFields := 0
	for _, d := range b {
		if _, ok := d.Fields.Get("Image"); ok {
			withFields++
		}
	}
	if withFields == 0 {
		t.Fatal("no detection kept the Image field")
	}
}

// TestTypedAlphabets checks that the EVTX reader's typed values keep to the alphabet the
// engine skips them by: vigil scan passes the reader's typed flag on to the engine.
func TestTypedAlphabets(t *testing.T) {
	for i := 0; i < len(evtx.TypedAlphabet); i++ {
		if !strings.Contains(sigma.TypedAlphabet, evtx.TypedAlphabet[i:i+1]) {
			t.Fatalf("%q is typed text for the EVTX reader but not for the engine", evtx.TypedAlphabet[i])
		}
	}
}

// TestCallbacksOneAtATime checks that Run calls Problem and Progress one at a time although
// its workers scan files in parallel: the callbacks below share state without a lock, which
// the race detector (CI runs it) reports unless Run serializes them.
func TestCallbacksOneAtATime(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 16 {
		p := filepath.Join(dir, fmt.Sprintf("bad%d.evtx", i))
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i + 1)}, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	var problems []string
	var progress []int64
	_, err := Run(context.Background(), files, Options{Workers: 4, ParseOnly: true,
		Problem:  func(file string, err error) { problems = append(problems, file) },
		Progress: func(done, total int64) { progress = append(progress, done) },
	}, func(Detection) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != len(files) || len(progress) != len(files) {
		t.Fatalf("%d problems, %d progress calls for %d unreadable files", len(problems), len(progress), len(files))
	}
}

// TestScanCompressedAndRenamedEVTX scans EVTX files that are gzipped (.evtx.gz) or named
// otherwise (an export saved as .log, given by name): each is read as EVTX, by its name or
// its signature, with the detections of the plain file.
func TestScanCompressedAndRenamedEVTX(t *testing.T) {
	src := filepath.Join(dataDir, "evtx-attack-samples", "Execution", "sysmon_mshta_sharpshooter_stageless_meterpreter.evtx")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("attack samples not available: %v", err)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.evtx")
	renamed := filepath.Join(dir, "Microsoft-Windows-Sysmon.log")
	gz := filepath.Join(dir, "compressed.evtx.gz")
	for _, p := range []string{plain, renamed} {
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(gz, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	want, st := runScan(t, []string{plain}, Options{Engine: eng, Rules: rs})
	if st.Records == 0 || len(want) == 0 || st.Errors != 0 {
		t.Fatalf("plain file: %+v, %d detections", st, len(want))
	}
	for _, p := range []string{renamed, gz} {
		got, gst := runScan(t, []string{p}, Options{Engine: eng, Rules: rs})
		if gst.Records != st.Records || gst.Errors != 0 || len(got) != len(want) {
			t.Fatalf("%s: %+v and %d detections, plain file %+v and %d", filepath.Base(p), gst, len(got), st, len(want))
		}
		for i := range got {
			if got[i].RuleID != want[i].RuleID || got[i].Record != want[i].Record {
				t.Errorf("%s detection %d: %s record %d, plain file %s record %d", filepath.Base(p), i, got[i].RuleID, got[i].Record, want[i].RuleID, want[i].Record)
			}
		}
	}
	// A folder lists the .evtx.gz with the plain files; a .log only when given by name.
	files, err := Files([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || !slices.Contains(files, gz) || !slices.Contains(files, plain) {
		t.Errorf("Files(%s) = %v", dir, files)
	}
}

// TestScanCopiesOnce checks that a detection's evidence showing a field the detection keeps
// anyway (Image, CommandLine…) holds the very copy of the value the kept fields hold: the
// strings of a record are copied once.
func TestScanCopiesOnce(t *testing.T) {
	files := sampleFiles(t)
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	dets, _ := runScan(t, files, Options{Engine: eng, Rules: rs, Workers: 1})
	shared := 0
	for _, d := range dets {
		for _, m := range d.Matches {
			v, ok := d.Fields.Get(m.Field)
			if !ok || v != m.Value || v == "" {
				continue
			}
			if unsafe.StringData(v) != unsafe.StringData(m.Value) {
				t.Fatalf("%s record %d, rule %s: evidence %s=%q is a copy of its own", d.File, d.Record, d.RuleTitle, m.Field, v)
			}
			shared++
		}
	}
	if shared < 100 {
		t.Fatalf("%d evidence values shared with the kept fields, want at least 100", shared)
	}
}

// TestScanZip scans a zip archive of logs (two EVTX files, one of them gzipped, and a JSON
// rendering) and the same files unpacked: the archive's members give the same records and
// detections, named archive!member. Members that are not logs, and folders, are passed over; a
// damaged member is reported, counted as an error, and the members after it are still scanned.
func TestScanZip(t *testing.T) {
	rs := windowsRules(t)
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{Fields: EngineFields()})
	opt := Options{Engine: eng, Rules: rs, Workers: 2}
	reg := filepath.Join(dataDir, "sigma", "regression_data", "rules", "windows", "process_creation", "proc_creation_win_bitsadmin_download")
	members := []struct{ name, src string }{
		{"Security/Sysmon_1.evtx", filepath.Join(dataDir, "evtx-attack-samples", "Execution", "exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx")},
		{"Execution/exec.evtx.gz", filepath.Join(dataDir, "evtx-attack-samples", "Credential Access", "CA_Mimikatz_Memssp_Default_Logs_Sysmon_11.evtx")},
		{"rendered/bits.json", ""},
	}
	jsons, _ := filepath.Glob(filepath.Join(reg, "*.json"))
	if len(jsons) == 0 {
		t.Fatalf("no JSON sample in %s", reg)
	}
	members[2].src = jsons[0]
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var unpacked []string
	add := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := zw.Create("Security/"); err != nil { // a folder entry
		t.Fatal(err)
	}
	for _, m := range members {
		data, err := os.ReadFile(m.src)
		if err != nil {
			t.Fatal(err)
		}
		// The same bytes unpacked, under the member's name (gunzipped files keep .gz).
		p := filepath.Join(dir, strings.ReplaceAll(m.name, "/", "_"))
		if strings.HasSuffix(m.name, ".gz") {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(data)
			zw.Close()
			data = gz.Bytes()
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		unpacked = append(unpacked, p)
		add(m.name, data)
		if m.name == "Security/Sysmon_1.evtx" {
			add("README.txt", []byte("collected with a script\n"))
			add("inner.zip", []byte("PK\x03\x04 not scanned"))
			// Deflated data that is not deflate: reading it fails at once.
			w, err := zw.CreateRaw(&zip.FileHeader{Name: "broken.json", Method: zip.Deflate, CompressedSize64: 16, UncompressedSize64: 64})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(bytes.Repeat([]byte{0xff}, 16))
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "collection.zip")
	if err := os.WriteFile(archive, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	files, err := Files([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, archive) || len(files) != len(members)+1 {
		t.Fatalf("files %q: want the archive and the %d unpacked files", files, len(members))
	}
	var problems []string
	zopt := opt
	zopt.Problem = func(file string, err error) { problems = append(problems, file+": "+err.Error()) }
	zdets, zst := runScan(t, []string{archive}, zopt)
	udets, ust := runScan(t, unpacked, opt)
	if zst.Records != ust.Records || ust.Records == 0 {
		t.Fatalf("records: %d in the archive, %d unpacked", zst.Records, ust.Records)
	}
	if zst.Errors != 1 || len(problems) != 1 || !strings.HasPrefix(problems[0], archive+"!broken.json: ") {
		t.Fatalf("errors %d, problems %q: want the broken member alone", zst.Errors, problems)
	}
	if len(zdets) == 0 || len(zdets) != len(udets) {
		t.Fatalf("%d detections in the archive, %d unpacked", len(zdets), len(udets))
	}
	key := func(d Detection, file string) string { return fmt.Sprintf("%s|%s|%d", d.RuleID, file, d.Record) }
	var zk, uk []string
	for _, d := range zdets {
		member, ok := strings.CutPrefix(d.File, archive+"!")
		if !ok {
			t.Fatalf("detection file %q is not a member of %s", d.File, archive)
		}
		zk = append(zk, key(d, strings.ReplaceAll(member, "/", "_")))
	}
	for _, d := range udets {
		uk = append(uk, key(d, filepath.Base(d.File)))
	}
	slices.Sort(zk)
	slices.Sort(uk)
	if !slices.Equal(zk, uk) {
		t.Fatalf("detections differ:\narchive  %q\nunpacked %q", zk, uk)
	}
}
