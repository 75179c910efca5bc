package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

const samples = "../../../shared/data/evtx-attack-samples"

// importOne imports files into a fresh data directory with the SigmaHQ Windows rules and
// returns the incidents.
func importOne(t *testing.T, files ...string) []event.Incident {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Rules = []string{"../../../shared/data/sigma/rules/windows"}
	ctx := context.Background()
	a := openTestApp(t, cfg)
	rep, err := a.Import(ctx, files, ImportOptions{})
	if err != nil || rep.FailedFiles > 0 {
		t.Fatalf("import: %v %+v", err, rep.Files)
	}
	incs, err := a.Store.ListIncidents(ctx, store.IncidentQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return incs
}

// TestLateralMovementChainsLinkHosts imports EVTX-ATTACK-SAMPLES lateral-movement recordings
// (named after what they hold) and checks that the incident's chain links the source of the
// movement to the destination host.
func TestLateralMovementChainsLinkHosts(t *testing.T) {
	cases := []struct {
		file string
		dst  string // destination host (short name)
		kind string // the edge the recording shows
	}{
		{"Lateral Movement/LM_ScheduledTask_ATSVC_target_host.evtx", "win-77ltaphiq1r", "logon"},
		{"Lateral Movement/remote task update 4624 4702 same logonid.evtx", "01566s-win16-ir", "remote_task"},
		{"Lateral Movement/LM_WMIC_4648_rpcss.evtx", "", "explicit_credentials"},
		{"Lateral Movement/LM_renamed_psexecsvc_5145.evtx", "iewin7", "smb"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			incs := importOne(t, filepath.Join(samples, c.file))
			if len(incs) == 0 {
				t.Fatal("no incident")
			}
			found := false
			for _, inc := range incs {
				if inc.Chain == nil {
					continue
				}
				for _, e := range inc.Chain.Edges {
					if e.Kind != c.kind || e.From == e.To {
						continue
					}
					if c.dst != "" && e.To != "host:"+c.dst {
						continue
					}
					if !strings.HasPrefix(e.From, "host:") && !strings.HasPrefix(e.From, "ip:") {
						continue
					}
					found = true
					t.Logf("%s: %s -[%s %s]-> %s", inc.ID, e.From, e.Kind, e.Detail, e.To)
				}
			}
			if !found {
				for _, inc := range incs {
					if inc.Chain != nil {
						t.Logf("incident %s edges: %+v", inc.ID, inc.Chain.Edges)
					}
				}
				t.Fatalf("no %s edge into %q", c.kind, c.dst)
			}
		})
	}
}

// TestCredentialStepPrecedesUse plays the demo's ransomware scenario: the LSASS dump comes before
// the use of the stolen credentials, and the chain links the workstation to the servers.
func TestCredentialStepPrecedesUse(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	ctx := context.Background()
	a := openTestApp(t, cfg)
	rep, err := a.RunDemo(ctx, DemoOptions{Scenarios: []string{"ransomware"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Incidents) != 1 {
		t.Fatalf("%d incidents, want 1", len(rep.Incidents))
	}
	inc, err := a.Store.GetIncident(ctx, rep.Incidents[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	cred, use := 0, 0
	for _, s := range inc.Chain.Steps {
		if s.Tactic == "TA0006" && cred == 0 {
			cred = s.Index
		}
		if strings.Contains(s.Title, "Explicit Credentials") && use == 0 {
			use = s.Index
		}
	}
	if cred == 0 || use == 0 || cred >= use {
		t.Fatalf("credential step %d, use step %d: %+v", cred, use, inc.Chain.Steps)
	}
	linked := map[string]bool{}
	for _, s := range inc.Chain.Steps {
		if strings.Contains(s.Link, "from ws01") {
			linked[s.Host] = true
		}
	}
	if !linked["srv-file01"] || !linked["srv-db01"] {
		t.Fatalf("servers not linked to the workstation: %+v", inc.Chain.Steps)
	}
	active := 0
	for _, b := range inc.Chain.Blast {
		if b.Active {
			active++
		}
	}
	if len(inc.Chain.Blast) < 5 || active == 0 {
		t.Fatalf("blast radius %+v", inc.Chain.Blast)
	}
}
