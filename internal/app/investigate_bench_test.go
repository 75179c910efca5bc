package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// BenchmarkInvestigate measures deterministic investigations of the demo's three incidents
// (OAuth consent, password spray, ransomware with lateral movement), with the identity and
// endpoint tools calling the simulated services over HTTP. Each iteration investigates one
// incident under a new ID, so nothing is reused from an earlier investigation. ns/op is the
// time from an incident to its report; 1e9/ns/op is incidents per second per worker.
func BenchmarkInvestigate(b *testing.B) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	now := time.Now().UTC()
	stop, err := PrepareDemo(&cfg, now, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	a := openTestApp(b, cfg)
	if _, err := a.RunDemo(ctx, DemoOptions{Now: now}); err != nil {
		b.Fatal(err)
	}
	incs, err := a.Store.ListIncidents(ctx, store.IncidentQuery{Limit: 10})
	if err != nil || len(incs) == 0 {
		b.Fatalf("%d incidents, %v", len(incs), err)
	}
	type work struct {
		inc    event.Incident
		alerts []event.Alert
	}
	var ws []work
	for _, inc := range incs {
		als, err := a.Store.ListAlerts(ctx, store.AlertQuery{Incident: inc.ID})
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, work{inc, als})
	}
	for _, w := range ws {
		b.Run(fmt.Sprintf("%d_alerts", len(w.alerts)), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				inc := w.inc
				inc.ID = fmt.Sprintf("%s-bench-%d", w.inc.ID, i)
				out, err := a.investigator.Investigate(ctx, inc, w.alerts)
				if err != nil {
					b.Fatal(err)
				}
				if out.Report.Verdict != event.VerdictTruePositive {
					b.Fatalf("verdict %s", out.Report.Verdict)
				}
			}
		})
	}
	b.Run("parallel_mix", func(b *testing.B) {
		b.SetParallelism(2) // 4 workers on 2 cores, as the investigate stage runs
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				w := ws[i%len(ws)]
				i++
				inc := w.inc
				inc.ID = fmt.Sprintf("%s-par-%p-%d", w.inc.ID, &i, i)
				if _, err := a.investigator.Investigate(ctx, inc, w.alerts); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
