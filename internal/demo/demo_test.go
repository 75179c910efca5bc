package demo

import (
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/normalize"
)

func normalizeAll(t *testing.T, recs []Record) []event.Event {
	t.Helper()
	var out []event.Event
	for i, r := range recs {
		ev, err := normalize.Event(normalize.Input{Raw: r.Data, Origin: event.Origin{Source: "demo", Format: r.Format, Record: int64(i + 1), Received: r.Time}, Hint: r.Hint})
		if err != nil {
			t.Fatalf("record %d (%s): %v\n%s", i+1, r.Step, err, r.Data)
		}
		if !ev.Time.Equal(r.Time.Truncate(time.Microsecond)) && !ev.Time.Equal(r.Time.Truncate(time.Millisecond)) && !ev.Time.Equal(r.Time.Truncate(time.Second)) {
			t.Errorf("record %d (%s, %s): normalized time %v, generated %v", i+1, ev.Kind, r.Step, ev.Time, r.Time)
		}
		if ev.Kind == "generic_json" || ev.Kind == "text" {
			t.Errorf("record %d (%s) not recognised by a specific normalizer:\n%s", i+1, r.Step, r.Data)
		}
		out = append(out, ev)
	}
	return out
}

func TestBackgroundNormalizes(t *testing.T) {
	o := NewOrg()
	recs := o.Background(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if len(recs) < 90 {
		t.Fatalf("only %d background records", len(recs))
	}
	evs := normalizeAll(t, recs)
	kinds := map[string]int{}
	for _, ev := range evs {
		kinds[ev.Kind]++
		if ev.Device == nil && ev.User == nil {
			t.Errorf("%s event %s has neither device nor user", ev.Kind, ev.Code)
		}
	}
	for _, k := range []string{"windows_security", "sysmon", "okta", "entra_signin", "m365_audit", "cloudtrail", "linux_auth"} {
		if kinds[k] == 0 {
			t.Errorf("no %s events in the background day (%v)", k, kinds)
		}
	}
	for i := range recs {
		if recs[i].Malicious {
			t.Fatal("background record marked malicious")
		}
	}
}

func TestScenariosNormalize(t *testing.T) {
	o := NewOrg()
	start := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	for _, name := range Scenarios {
		t.Run(name, func(t *testing.T) {
			recs, err := o.Scenario(name, start)
			if err != nil {
				t.Fatal(err)
			}
			evs := normalizeAll(t, recs)
			for i := range recs {
				if !recs[i].Malicious || recs[i].Scenario != name || recs[i].Step == "" {
					t.Fatalf("record %d not labelled: %+v", i, recs[i])
				}
			}
			switch name {
			case ScenarioOAuthConsent:
				found := false
				for _, ev := range evs {
					if ev.Cloud != nil && ev.Cloud.App == MaliciousApp && len(ev.Cloud.Permissions) > 0 {
						found = true
					}
				}
				if !found {
					t.Error("the consent event does not carry the app and its permissions")
				}
			case ScenarioPasswordSpray:
				fails, ok := 0, false
				for _, ev := range evs {
					if ev.Class == event.ClassAuthentication && ev.Status == "failure" {
						fails++
					}
					if ev.Class == event.ClassAuthentication && ev.Status == "success" && ev.Src != nil && ev.Src.IP == SprayIP {
						ok = true
					}
				}
				if fails < 10 || !ok {
					t.Errorf("spray: %d failures, success from the spray address %v", fails, ok)
				}
			case ScenarioRansomware:
				hosts := map[string]bool{}
				for _, ev := range evs {
					if ev.Device != nil {
						hosts[ev.Device.Hostname] = true
					}
				}
				for _, h := range []string{"ws01", "srv-file01", "srv-db01"} {
					if !hosts[o.FQDN(h)] {
						t.Errorf("no events on %s (%v)", h, hosts)
					}
				}
			}
		})
	}
	if _, err := o.Scenario("nope", start); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}
