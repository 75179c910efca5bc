package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/config"
)

type demoInc struct {
	ID       string `json:"id"`
	Scenario string `json:"scenario"`
	Alerts   []struct {
		ID string `json:"id"`
	} `json:"alerts"`
}

// TestIncidentsMergeAndSplit merges and splits demo incidents from the command line, first in
// the data directory, then through the API of a server that holds it.
func TestIncidentsMergeAndSplit(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := run(t, "demo", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("demo: %d %s", code, errs)
	}
	byScen := map[string]demoInc{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var inc demoInc
		if err := json.Unmarshal([]byte(line), &inc); err != nil {
			t.Fatalf("demo --json line: %v", err)
		}
		if inc.Scenario != "" {
			byScen[inc.Scenario] = inc
		}
	}
	spray, rw, oauth := byScen["password-spray"], byScen["ransomware"], byScen["oauth-consent"]
	if spray.ID == "" || rw.ID == "" || oauth.ID == "" || len(spray.Alerts) == 0 {
		t.Fatalf("demo incidents: %+v", byScen)
	}

	// In the data directory.
	code, out, errs = run(t, "incidents", "merge", spray.ID, "--into", rw.ID, "--reason", "one intrusion", "--analyst", "erin", "--data", dir)
	if code != 0 || !strings.Contains(out, "merged "+spray.ID+" into "+rw.ID) {
		t.Fatalf("merge: %d %q %s", code, out, errs)
	}
	if code, _, errs = run(t, "incidents", "merge", spray.ID, "--into", rw.ID, "--analyst", "erin", "--data", dir); code != 1 || !strings.Contains(errs, "already merged") {
		t.Errorf("merging again: %d %s", code, errs)
	}
	if code, _, _ = run(t, "incidents", "merge", spray.ID, "--analyst", "erin", "--data", dir); code != 2 {
		t.Errorf("merge without --into: exit %d", code)
	}
	ids := make([]string, len(spray.Alerts))
	for i, a := range spray.Alerts {
		ids[i] = a.ID
	}
	code, out, errs = run(t, "incidents", "split", rw.ID, "--alerts", strings.Join(ids, ","), "--analyst", "erin", "--data", dir, "--json")
	var split struct {
		ID         string `json:"id"`
		AlertCount int    `json:"alert_count"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &split) != nil || split.ID == "" || split.AlertCount != len(ids) {
		t.Fatalf("split: %d %q %s", code, out, errs)
	}
	if code, _, errs = run(t, "incidents", "split", rw.ID, "--alerts", "al_nope", "--analyst", "erin", "--data", dir); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("splitting an unknown alert: %d %s", code, errs)
	}

	// Through the API of a server holding the directory.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfgFile := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(cfgFile, []byte("listen: "+addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, app.ServeOptions{Ready: func(string) { close(ready) }}) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server not ready")
	}
	code, out, errs = run(t, "incidents", "merge", split.ID, "--into", oauth.ID, "--analyst", "frank", "--reason", "via the server", "--data", dir, "--config", cfgFile)
	if code != 0 || !strings.Contains(out, "merged "+split.ID+" into "+oauth.ID) {
		t.Errorf("merge through the API: %d %q %s", code, out, errs)
	}
	code, _, errs = run(t, "incidents", "split", oauth.ID, "--alerts", "al_nope", "--analyst", "frank", "--data", dir, "--config", cfgFile)
	if code != 1 || !strings.Contains(errs, "404") {
		t.Errorf("split of an unknown alert through the API: %d %s", code, errs)
	}
	code, out, errs = run(t, "incidents", "split", oauth.ID, "--alerts", ids[0], "--analyst", "frank", "--data", dir, "--config", cfgFile)
	if code != 0 || !strings.Contains(out, "split 1 alerts of "+oauth.ID) {
		t.Errorf("split through the API: %d %q %s", code, out, errs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("close: %v", err)
	}

	// Every merge and split is in the audit trail, under the analyst who made it.
	code, out, errs = run(t, "audit", "export", "--data", dir)
	if code != 0 {
		t.Fatalf("audit export: %d %s", code, errs)
	}
	count := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && strings.HasPrefix(e.Action, "incident.") {
			count[e.Actor+" "+e.Action]++
		}
	}
	want := map[string]int{"analyst:erin incident.merge": 1, "analyst:erin incident.split": 1, "analyst:frank incident.merge": 1, "analyst:frank incident.split": 1}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("audit %s: %d entries, want %d (all: %v)", k, count[k], n, count)
		}
	}
	if code, out, _ = run(t, "audit", "verify", "--data", dir); code != 0 {
		t.Errorf("audit verify: %d %s", code, out)
	}
}
