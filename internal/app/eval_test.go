package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const aitDir = "../../../shared/data/ait-ads"

// TestBacktestRussellMitchell runs the triage backtest on the smallest AIT-ADS scenario and
// checks the targets on it.
func TestBacktestRussellMitchell(t *testing.T) {
	var out bytes.Buffer
	rep, err := EvalTriage(context.Background(), EvalOptions{Input: filepath.Join(aitDir, "russellmitchell_alerts.csv.gz"), Decisions: &out})
	if err != nil {
		t.Fatal(err)
	}
	ev := rep.Evaluation
	if ev == nil {
		t.Fatal("no evaluation")
	}
	t.Logf("%d alerts, %d surfaced incidents, phases %d/%d lost %v, FP-only %d of %d naive groups, %.0f alerts/s",
		rep.Alerts, rep.Incidents, ev.PhasesKept, ev.Phases, ev.PhasesLost, ev.FPOnlyIncidents, ev.NaiveGroups, rep.AlertsPerSec)
	if rep.Alerts != 45544 {
		t.Fatalf("alerts = %d", rep.Alerts)
	}
	for _, p := range []string{"webshell", "reverse_shell", "privilege_escalation", "cracking"} {
		if slices.Contains(ev.PhasesLost, p) {
			t.Errorf("critical phase %s lost", p)
		}
	}
	if ev.PhasesKept < 8 {
		t.Errorf("only %d of %d phases kept", ev.PhasesKept, ev.Phases)
	}
	if ev.FPOnlyShare > 0.01 {
		t.Errorf("false-positive-only incidents %.2f%% of the naive groups (target 1%%)", 100*ev.FPOnlyShare)
	}
	if ev.SurfacedShare > 0.02 {
		t.Errorf("surfaced incidents %.2f%% of the naive groups (target 2%%)", 100*ev.SurfacedShare)
	}
	if ev.AttackIncidents > 3 {
		t.Errorf("attack alerts spread over %d incidents (target 3)", ev.AttackIncidents)
	}
	// One decision per input alert, in input order.
	sc := bufio.NewScanner(&out)
	n := int64(0)
	for sc.Scan() {
		n++
		var d Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.Record != n {
			t.Fatalf("line %d has record %d", n, d.Record)
		}
		switch d.Disposition {
		case "escalated", "grouped":
			if d.Incident == "" {
				t.Fatalf("record %d %s without an incident", n, d.Disposition)
			}
		case "suppressed", "auto_closed":
		default:
			t.Fatalf("record %d: disposition %q", n, d.Disposition)
		}
	}
	if n != 45544 {
		t.Fatalf("%d decision lines", n)
	}
}

// TestBacktestNeverReadsLabels replays the same alerts with scrambled label columns: with no
// feedback budget every decision must be identical.
func TestBacktestNeverReadsLabels(t *testing.T) {
	src := filepath.Join(aitDir, "russellmitchell_alerts.csv.gz")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	scrambled := filepath.Join(t.TempDir(), "scrambled.csv")
	w, _ := os.Create(scrambled)
	sc := bufio.NewScanner(zr)
	rng := rand.New(rand.NewPCG(1, 1))
	phases := []string{"false_positive", "dirb", "webshell", "reverse_shell"}
	first := true
	for sc.Scan() {
		line := sc.Text()
		if !first {
			cols := strings.Split(line, ",")
			cols[5], cols[6] = phases[rng.IntN(len(phases))], "x"
			line = strings.Join(cols, ",")
		}
		first = false
		w.WriteString(line + "\n")
	}
	w.Close()
	f.Close()
	var a, b bytes.Buffer
	if _, err := EvalTriage(context.Background(), EvalOptions{Input: src, Decisions: &a}); err != nil {
		t.Fatal(err)
	}
	if _, err := EvalTriage(context.Background(), EvalOptions{Input: scrambled, Decisions: &b}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("decisions changed with the labels: the replay read them")
	}
}

// TestBacktestFeedbackHelps checks that analyst feedback reduces false-positive-only incidents
// without losing attack phases.
func TestBacktestFeedbackHelps(t *testing.T) {
	src := filepath.Join(aitDir, "russellmitchell_alerts.csv.gz")
	r0, err := EvalTriage(context.Background(), EvalOptions{Input: src})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := EvalTriage(context.Background(), EvalOptions{Input: src, FeedbackBudget: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Feedback == 0 {
		t.Fatal("the simulated analyst labelled nothing")
	}
	if r1.Evaluation.FPOnlyIncidents >= r0.Evaluation.FPOnlyIncidents {
		t.Errorf("feedback did not reduce false-positive-only incidents: %d -> %d", r0.Evaluation.FPOnlyIncidents, r1.Evaluation.FPOnlyIncidents)
	}
	if r1.Evaluation.PhasesKept < r0.Evaluation.PhasesKept {
		t.Errorf("feedback lost phases: %d -> %d", r0.Evaluation.PhasesKept, r1.Evaluation.PhasesKept)
	}
}
