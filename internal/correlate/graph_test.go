package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

func networkLogon(i int, at time.Time) *event.Event {
	return &event.Event{ID: fmt.Sprint("ev", i), Time: at, Kind: "windows_security", Code: "4624", Class: event.ClassAuthentication,
		Device: &event.Device{Hostname: fmt.Sprintf("srv%02d", i%20)}, User: &event.User{Name: fmt.Sprintf("user%d", i%50), Domain: "CORP"},
		Src: &event.Endpoint{IP: fmt.Sprintf("10.1.%d.%d", i%5, i%200+1)}, Auth: &event.Auth{LogonType: "3", LogonID: fmt.Sprintf("0x%x", i)}}
}

// TestGraphEdgeBound: dense telemetry inside the time window cannot grow the in-memory graph
// past its edge bound; the horizon moves up to the newest evicted edge, so callers know to read
// older edges from the store, and the newest edges stay queryable.
func TestGraphEdgeBound(t *testing.T) {
	g := NewGraph(6 * time.Hour)
	g.SetMaxEdges(1000)
	base := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var last time.Time
	for i := range 5000 {
		last = base.Add(time.Duration(i) * time.Second)
		g.Add(networkLogon(i, last))
		if n := g.Size(); n > 1000 {
			t.Fatalf("after %d events the graph holds %d edges, over its bound of 1000", i+1, n)
		}
	}
	if g.Size() < 900 {
		t.Fatalf("graph dropped more than it had to: %d edges", g.Size())
	}
	h := g.Horizon()
	if !h.After(base.Add(time.Hour)) || h.After(last) {
		t.Fatalf("horizon %v: want between the first evictions and the watermark %v", h, last)
	}
	// Everything after the horizon is still in memory for the hosts it touched.
	edges := g.Edges([]string{HostKey("srv07")}, h.Add(time.Second), last)
	if len(edges) == 0 {
		t.Fatal("no recent edges for srv07 after eviction")
	}
	for _, e := range edges {
		if !e.Time.After(h) {
			t.Fatalf("edge at %v before the horizon %v", e.Time, h)
		}
	}
	// Nothing before the horizon is indexed any more.
	if old := g.Edges([]string{HostKey("srv07")}, base, base.Add(30*time.Minute)); len(old) != 0 {
		t.Fatalf("%d evicted edges still indexed", len(old))
	}
	if len(g.sessions) > 1000 {
		t.Fatalf("%d logon sessions kept after eviction", len(g.sessions))
	}
}

// TestGraphHorizonFollowsWindow: without evictions the horizon is the window behind the newest
// event, and zero for an empty graph.
func TestGraphHorizonFollowsWindow(t *testing.T) {
	g := NewGraph(time.Hour)
	if !g.Horizon().IsZero() {
		t.Fatal("empty graph has a horizon")
	}
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	g.Add(networkLogon(1, at))
	if h := g.Horizon(); !h.Equal(at.Add(-time.Hour)) {
		t.Fatalf("horizon %v, want %v", h, at.Add(-time.Hour))
	}
}

// TestGraphDirtyBounded: between two Dirty calls the graph remembers at most maxDirty changed
// keys, then reports that everything changed.
func TestGraphDirtyBounded(t *testing.T) {
	g := NewGraph(6 * time.Hour)
	base := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	g.Add(networkLogon(1, base))
	if keys, all := g.Dirty(); all || len(keys) == 0 || !keys[HostKey("srv01")] {
		t.Fatalf("dirty after one logon: %v all=%v", keys, all)
	}
	for i := range maxDirty {
		ev := networkLogon(i, base.Add(time.Duration(i)*time.Millisecond))
		ev.Device.Hostname = fmt.Sprintf("h%d", i)
		g.Add(ev)
	}
	keys, all := g.Dirty()
	if !all || len(keys) > maxDirty {
		t.Fatalf("%d dirty keys remembered, all=%v; want at most %d and all", len(keys), all, maxDirty)
	}
	if keys, all := g.Dirty(); all || len(keys) != 0 {
		t.Fatal("Dirty did not clear")
	}
}
