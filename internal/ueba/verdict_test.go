package ueba

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A confirmed intrusion is unlearned: the attacker's source raises a finding again when it
// returns, while the user's own sources stay usual. Without the verdict it would be silent.
func TestMaliciousVerdictUnlearnsTheSource(t *testing.T) {
	d := New(Options{Criticality: map[string]string{"dc01": "critical"}})
	history(t, d)
	at := day0.AddDate(0, 0, 29).Add(3 * time.Hour)
	ev := signIn("x1", at, "alice", "dc01", "203.0.113.9", "success")
	f := only(t, d.Observe(&ev), KindLogin)
	changed := d.Verdict(f.Kind, f.Evidence, true, at.Add(10*time.Minute))
	if got := strings.Join(changed, "; "); !strings.Contains(got, "unlearned address 203.0.113.9") || !strings.Contains(got, "unlearned network 203.0.113.0/24") {
		t.Fatalf("changes: %v", changed)
	}
	back := signIn("x2", at.Add(20*time.Minute), "alice", "dc01", "203.0.113.9", "success")
	only(t, d.Observe(&back), KindLogin)
	office := signIn("x3", at.Add(6*time.Hour), "alice", "ws01", "10.1.2.11", "success")
	if fs := d.Observe(&office); len(fs) != 0 {
		t.Fatalf("her office network became unusual: %s", fs[0].Message)
	}
}

// A benign verdict vouches for the source: another address of the same network, after two
// more weeks of office sign-ins, is neither new nor rare, where without the verdict the
// network (one sign-in among ~90) is rare.
func TestBenignVerdictVouchesForTheNetwork(t *testing.T) {
	run := func(vouch bool) []Finding {
		d := New(Options{Criticality: map[string]string{"dc01": "critical"}})
		history(t, d)
		at := day0.AddDate(0, 0, 29).Add(3 * time.Hour)
		ev := signIn("x1", at, "alice", "dc01", "203.0.113.9", "success")
		f := only(t, d.Observe(&ev), KindLogin)
		if vouch {
			if changed := d.Verdict(f.Kind, f.Evidence, false, at); len(changed) == 0 {
				t.Fatal("the benign verdict changed nothing")
			}
		}
		for day := 30; day < 44; day++ {
			for _, h := range []int{9, 13, 17} {
				o := signIn(fmt.Sprint("o", day, h), day0.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour), "alice", "ws01", "10.1.2.12", "success")
				d.Observe(&o)
			}
		}
		later := signIn("x2", day0.AddDate(0, 0, 44).Add(3*time.Hour), "alice", "dc01", "203.0.113.77", "success")
		return d.Observe(&later)
	}
	if fs := run(false); len(fs) == 0 || fs[0].Kind != KindLogin || !strings.Contains(fs[0].Message, "is rare for") {
		t.Fatalf("without a verdict the network should be rare: %v", fs)
	}
	if fs := run(true); len(fs) != 0 {
		t.Fatalf("a vouched-for network raised %s", fs[0].Message)
	}
}

// A confirmed malicious lineage and privileged action are unlearned too: they are reported
// again when they recur.
func TestMaliciousVerdictUnlearnsLineageAndPrivilegedAction(t *testing.T) {
	d := New(Options{})
	pairs := [][2]string{{"explorer.exe", "chrome.exe"}, {"explorer.exe", "outlook.exe"}, {"services.exe", "svchost.exe"}}
	n := 0
	for h := 0; h < 96; h++ {
		for _, host := range []string{"ws01", "ws02"} {
			for _, p := range pairs {
				n++
				ev := proc(fmt.Sprint("r", n), day0.Add(time.Duration(h)*time.Hour), host, p[0], p[1])
				d.Observe(&ev)
			}
		}
	}
	at := day0.Add(100 * time.Hour)
	ev := proc("bad", at, "ws01", "winword.exe", "powershell.exe")
	f := only(t, d.Observe(&ev), KindRareLineage)
	if changed := d.Verdict(f.Kind, f.Evidence, true, at); !strings.Contains(strings.Join(changed, ";"), "unlearned lineage winword.exe > powershell.exe on ws01") {
		t.Fatalf("changes: %v", changed)
	}
	again := proc("bad2", at.Add(time.Minute), "ws01", "winword.exe", "powershell.exe")
	only(t, d.Observe(&again), KindRareLineage)

	p := New(Options{})
	history(t, p)
	pat := day0.AddDate(0, 0, 29).Add(11 * time.Hour)
	g := groupAdd("p1", pat, "alice", "mallory")
	pf := only(t, p.Observe(&g), KindPrivileged)
	if changed := p.Verdict(pf.Kind, pf.Evidence, true, pat); len(changed) == 0 {
		t.Fatal("nothing unlearned")
	}
	g2 := groupAdd("p2", pat.Add(time.Hour), "alice", "trent")
	only(t, p.Observe(&g2), KindPrivileged)
	// A benign verdict on it changes nothing: the action is already learned.
	if changed := p.Verdict(pf.Kind, pf.Evidence, false, pat); len(changed) != 0 {
		t.Fatalf("benign privileged verdict changed %v", changed)
	}
}
