package normalize

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vigil-soc/vigil/internal/event"
)

// benchRecord reads one record from the Sigma regression data or the OTRF zips.
func benchRecord(b *testing.B, pick func(kind string, raw []byte) bool, sources ...map[string][][]byte) []byte {
	b.Helper()
	for _, src := range sources {
		keys := make([]string, 0, len(src))
		for k := range src {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, raw := range src[k] {
				ev, err := Event(Input{Raw: raw})
				if err == nil && pick(ev.Kind, raw) {
					return raw
				}
			}
		}
	}
	b.Skip("no record found")
	return nil
}

func benchEvent(b *testing.B, in Input) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Raw)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Event(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizeSysmon normalizes a Sysmon process creation event in the evtx_dump shape.
func BenchmarkNormalizeSysmon(b *testing.B) {
	p := filepath.Join(dataDir, "sigma", "regression_data", "rules", "windows", "process_creation",
		"proc_creation_win_sc_stop_service", "81bcb81b-5b1f-474b-b373-52c871aaa7b1.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		b.Skip(err)
	}
	raw = splitConcatenated(b, raw)[0]
	benchEvent(b, Input{Raw: raw, Origin: event.Origin{Source: "file", Format: "evtx", File: p, Record: 1}})
}

// BenchmarkNormalizeSysmonFlat normalizes a Sysmon process creation event in the flat OTRF shape.
func BenchmarkNormalizeSysmonFlat(b *testing.B) {
	raw := benchRecord(b, func(kind string, raw []byte) bool {
		return kind == "sysmon" && containsAll(raw, `"EventID":1,`, `"CommandLine"`)
	}, otrfRecords(b))
	benchEvent(b, Input{Raw: raw, Origin: event.Origin{Source: "file", Format: "json", Record: 7}})
}

// BenchmarkNormalizeCloudTrail normalizes an OTRF CloudTrail record.
func BenchmarkNormalizeCloudTrail(b *testing.B) {
	raw := benchRecord(b, func(kind string, raw []byte) bool { return kind == "cloudtrail" }, otrfRecords(b))
	benchEvent(b, Input{Raw: raw, Origin: event.Origin{Source: "hec", Format: "json"}, Hint: "aws:cloudtrail"})
}

// BenchmarkNormalizeSyslog normalizes an sshd auth.log line.
func BenchmarkNormalizeSyslog(b *testing.B) {
	line := []byte("Mar  5 08:16:01 bastion sshd[23901]: Failed password for invalid user oracle from 203.0.113.77 port 40122 ssh2")
	benchEvent(b, Input{Raw: line, Origin: event.Origin{Source: "syslog-udp", Format: "syslog", Received: goldenReceived}})
}

// BenchmarkNormalizeOkta normalizes an Okta System Log sign-in.
func BenchmarkNormalizeOkta(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "okta", "session_start_success.in"))
	if err != nil {
		b.Fatal(err)
	}
	benchEvent(b, Input{Raw: raw, Origin: event.Origin{Source: "http", Format: "json"}})
}

func containsAll(b []byte, subs ...string) bool {
	for _, s := range subs {
		if !contains(b, s) {
			return false
		}
	}
	return true
}

func contains(b []byte, s string) bool {
	return len(s) <= len(b) && indexOf(string(b), s) >= 0
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
