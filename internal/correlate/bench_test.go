package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// BenchmarkGraphAdd measures building the entity graph from a realistic mix of events
// (network logons, process creations with parents, share access, connections).
func BenchmarkGraphAdd(b *testing.B) {
	g := NewGraph(time.Hour)
	evs := make([]event.Event, 4096)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range evs {
		ev := event.Event{ID: fmt.Sprint("ev", i), Time: base.Add(time.Duration(i) * 10 * time.Millisecond), Device: &event.Device{Hostname: fmt.Sprintf("ws%02d", i%40)},
			User: &event.User{Name: fmt.Sprintf("user%d", i%300), Domain: "CORP"}}
		switch i % 4 {
		case 0:
			ev.Kind, ev.Code, ev.Class = "windows_security", "4624", event.ClassAuthentication
			ev.Src = &event.Endpoint{IP: fmt.Sprintf("10.0.%d.%d", i%7, i%250+1)}
			ev.Auth = &event.Auth{LogonType: "3", LogonID: fmt.Sprintf("0x%x", i)}
		case 1:
			ev.Kind, ev.Code, ev.Class = "sysmon", "1", event.ClassProcess
			ev.Process = &event.Process{GUID: fmt.Sprintf("{g-%d}", i), Path: `C:\Windows\System32\cmd.exe`, Parent: &event.Process{GUID: fmt.Sprintf("{g-%d}", i-4), Path: `C:\Windows\explorer.exe`}}
		case 2:
			ev.Kind, ev.Code, ev.Class = "windows_security", "5145", event.ClassFile
			ev.Src = &event.Endpoint{IP: fmt.Sprintf("10.0.1.%d", i%250+1)}
			ev.File = &event.File{Share: `\\*\C$`}
		default:
			ev.Kind, ev.Code, ev.Class = "sysmon", "3", event.ClassNetwork
			ev.Dst = &event.Endpoint{IP: fmt.Sprintf("192.0.2.%d", i%250+1)}
		}
		evs[i] = ev
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev := evs[n%len(evs)]
		ev.Time = base.Add(time.Duration(n) * 10 * time.Millisecond)
		g.Add(&ev)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPlace measures placing triaged alerts into incidents.
func BenchmarkPlace(b *testing.B) {
	c := New(Options{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		d := event.AutoClosed
		if n%200 == 0 {
			d = event.Escalated
		}
		host := fmt.Sprintf("h%d", n%50)
		a := &event.Alert{ID: fmt.Sprint("a", n), Time: base.Add(time.Duration(n) * 100 * time.Millisecond), Host: host, RuleTitle: "t",
			Entities: []event.EntityRef{{Kind: event.EntityHost, Value: host}}, Triage: &event.Triage{Disposition: d, Score: 0.05}}
		c.Place(a)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
}
