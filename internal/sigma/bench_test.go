package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/evtx"
)

// cpuTime returns the CPU time the process has used. The benchmarks report it per operation
// because wall-clock time is unreliable on a shared, loaded machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// windowsRuleSet returns the SigmaHQ rules whose log source is Windows.
func windowsRuleSet(b testing.TB) *RuleSet {
	rs, _ := loadSigmaHQ(b)
	win := newLinkedSet(nil, nil)
	for _, r := range rs.Rules {
		if r.LogSource.Product == "windows" {
			win.Rules = append(win.Rules, r)
		}
	}
	return win
}

func buildRecords(b testing.TB, events [][]byte) []*Record {
	recs := make([]*Record, len(events))
	for i, ev := range events {
		recs[i] = &Record{}
		if err := recs[i].ResetJSON(ev); err != nil {
			b.Fatal(err)
		}
	}
	return recs
}

func benchMatch(b *testing.B, eng *Engine, recs []*Record) {
	m := eng.NewMatcher()
	for _, r := range recs { // warm up scratch memory
		m.Match(r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	evals, matches := m.evals, 0
	cpu0 := cpuTime()
	for b.Loop() {
		matches += len(m.Match(recs[n%len(recs)]))
		n++
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(m.evals-evals)/float64(n), "evals/op")
	b.ReportMetric(float64(matches)/float64(n), "matches/op")
	b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
}

// BenchmarkMatchRegressionEvents matches the ~2,900 Windows rules against the events of the
// SigmaHQ regression samples (mostly Sysmon, most of which match some rule).
func BenchmarkMatchRegressionEvents(b *testing.B) {
	eng, _ := NewEngine(windowsRuleSet(b), EngineOptions{})
	benchMatch(b, eng, buildRecords(b, regressionEvents(b)))
}

// BenchmarkMatchOTRF matches the Windows rules against the OTRF atomic datasets (13,000
// Sysmon and Security events of real hosts: background activity plus attacks).
func BenchmarkMatchOTRF(b *testing.B) {
	eng, _ := NewEngine(windowsRuleSet(b), EngineOptions{})
	benchMatch(b, eng, buildRecords(b, otrfEvents(b)))
}

// sysmonBenign is a Sysmon process creation event that matches no rule.
const sysmonBenign = `{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},
"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},
"EventID":1,"Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000",
"TimeCreated":{"#attributes":{"SystemTime":"2025-12-03T07:42:38.210937Z"}},"EventRecordID":26765,"Correlation":null,
"Execution":{"#attributes":{"ProcessID":3116,"ThreadID":1656}},"Channel":"Microsoft-Windows-Sysmon/Operational",
"Computer":"ws-0042.corp.example.com","Security":{"#attributes":{"UserID":"S-1-5-18"}}},
"EventData":{"RuleName":"-","UtcTime":"2025-12-03 07:42:38.149","ProcessGuid":"0197231E-E9EE-692F-B004-000000000900",
"ProcessId":9720,"Image":"C:\\Program Files\\Contoso\\Updater\\ContosoUpdate.exe","FileVersion":"4.2.1.7",
"Description":"Contoso Updater","Product":"Contoso Suite","Company":"Contoso Ltd.","OriginalFileName":"ContosoUpdate.exe",
"CommandLine":"\"C:\\Program Files\\Contoso\\Updater\\ContosoUpdate.exe\" --check --channel stable --quiet",
"CurrentDirectory":"C:\\Program Files\\Contoso\\Updater\\","User":"CORP\\jdoe","LogonGuid":"0197231E-BBFB-692F-3C8C-050000000000",
"LogonId":"0x58c3c","TerminalSessionId":1,"IntegrityLevel":"Medium",
"Hashes":"MD5=1736263E02468939F808C0528E8DBB7E,SHA256=1F9FFC2227F8DEA8B771D543C464CF8166C22A39420A5322B5892A640C4B34B6,IMPHASH=68A9FF9C8D0D4655E46E1A7A190A41D2",
"ParentProcessGuid":"0197231E-E967-692F-A904-000000000900","ParentProcessId":9076,
"ParentImage":"C:\\Program Files\\Contoso\\Agent\\ContosoAgent.exe","ParentCommandLine":"\"C:\\Program Files\\Contoso\\Agent\\ContosoAgent.exe\" -service",
"ParentUser":"NT AUTHORITY\\SYSTEM"}}}`

// BenchmarkMatchSysmonNoMatch matches the Windows rules against a benign Sysmon process
// creation event: the common case, which must not allocate.
func BenchmarkMatchSysmonNoMatch(b *testing.B) {
	eng, _ := NewEngine(windowsRuleSet(b), EngineOptions{})
	recs := buildRecords(b, [][]byte{[]byte(sysmonBenign)})
	if hits := eng.NewMatcher().Match(recs[0]); len(hits) != 0 {
		b.Fatalf("benign event matched %s", hits[0].Rule.Title)
	}
	benchMatch(b, eng, recs)
}

// BenchmarkResetJSON measures flattening an evtx_dump-shaped JSON event into a Record.
func BenchmarkResetJSON(b *testing.B) {
	data := []byte(sysmonBenign)
	var rec Record
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		if err := rec.ResetJSON(data); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/op")
}

// attackSampleRecords returns the records of the evtx-attack-samples files (8,255 events of
// attack simulations, the data `vigil scan` is measured on), as the scanner builds them.
func attackSampleRecords(b testing.TB) []*Record {
	b.Helper()
	var recs []*Record
	err := filepath.WalkDir(filepath.Join(sigmaData, "..", "evtx-attack-samples"), func(p string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".evtx") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rd, err := evtx.NewReader(f)
		if err != nil {
			return nil // not every sample is a valid file
		}
		for {
			r, err := rd.Next()
			if err != nil {
				return nil
			}
			rec := &Record{}
			// Names the reader interns (immutable), values copied, typed values told.
			r.FieldsTyped(func(name, value string, typed bool) { rec.AddStableTyped(name, strings.Clone(value), typed) })
			recs = append(recs, rec)
		}
	})
	if err != nil || len(recs) == 0 {
		b.Skipf("attack samples not available: %v", err)
	}
	return recs
}

// scanRuleSet returns the rules `vigil scan` is measured with: rules/windows,
// rules-emerging-threats and rules-threat-hunting.
func scanRuleSet(b testing.TB) *RuleSet {
	var src []Source
	for _, d := range []string{"rules/windows", "rules-emerging-threats", "rules-threat-hunting"} {
		src = append(src, DirSource(filepath.Join(sigmaData, d)))
	}
	rs, _ := LoadSources(src, LoadOptions{})
	if len(rs.Rules) == 0 {
		b.Skip("sigma rules not available")
	}
	return rs
}

// BenchmarkMatchAttackSamples matches the scan rule set against the EVTX attack samples.
func BenchmarkMatchAttackSamples(b *testing.B) {
	eng, _ := NewEngine(scanRuleSet(b), EngineOptions{})
	benchMatch(b, eng, attackSampleRecords(b))
}
