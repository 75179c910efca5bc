package correlate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

const aliceSID = "S-1-5-21-3623811015-3361044348-30300820-1104"

func TestUsersResolveAliases(t *testing.T) {
	u := NewUsers(0)
	// A Windows logon (4624) names the account and its SID together.
	u.Learn(&event.User{Name: "alice", Domain: "CORP", UID: aliceSID})
	// Entra ID signs her in by a UPN whose realm is not the NetBIOS domain, with the same SID
	// (onPremisesSecurityIdentifier).
	u.Learn(&event.User{Name: "alice@example.com", UID: aliceSID})
	for _, name := range []string{`CORP\alice`, "alice@corp.example.com", "alice", aliceSID, "alice@example.com", `EXAMPLE\Alice`} {
		if got := u.Resolve(name); got != `corp\alice` {
			t.Errorf("Resolve(%q) = %q, want corp\\alice", name, got)
		}
	}
	// Names it knows nothing about stay as they are (canonical form).
	if got := u.Resolve(`CORP\bob`); got != `corp\bob` {
		t.Errorf("unknown user: %q", got)
	}
	if got := u.Resolve("S-1-5-21-1-2-3-500"); got != "s-1-5-21-1-2-3-500" {
		t.Errorf("unknown SID: %q", got)
	}
	// A user known only by its SID gets a key by name; an unknown SID alone gets none.
	if k := u.Key(&event.User{UID: aliceSID}); k != `user:corp\alice` {
		t.Errorf("Key(SID only) = %q", k)
	}
	if k := u.Key(&event.User{UID: "S-1-5-21-1-2-3-500"}); k != "" {
		t.Errorf("Key(unknown SID) = %q", k)
	}
	if k := u.Key(&event.User{Name: "WS01$", Domain: "CORP"}); k != "" {
		t.Errorf("machine account keyed: %q", k)
	}
}

func TestUsersAmbiguousBareNameStaysApart(t *testing.T) {
	u := NewUsers(0)
	u.Learn(&event.User{Name: "alice", Domain: "CORP", UID: aliceSID})
	if got := u.Resolve("alice"); got != `corp\alice` {
		t.Fatalf("one domain has an alice: %q", got)
	}
	u.Learn(&event.User{Name: "alice", Domain: "LAB", UID: "S-1-5-21-1-2-3-1001"})
	if got := u.Resolve("alice"); got != "alice" {
		t.Errorf("two domains have an alice, yet the bare name resolved to %q", got)
	}
	if a, b := u.Resolve(`LAB\alice`), u.Resolve(`CORP\alice`); a == b {
		t.Errorf("two people became one: %q", a)
	}
	// Seeing one of them again does not undo the ambiguity.
	u.Learn(&event.User{Name: "alice", Domain: "CORP", UID: aliceSID})
	if got := u.Resolve("alice"); got != "alice" {
		t.Errorf("ambiguity forgotten: %q", got)
	}
}

func TestUsersBoundedAndPersisted(t *testing.T) {
	u := NewUsers(40)
	for i := range 500 {
		u.Learn(&event.User{Name: fmt.Sprint("user", i), Domain: "CORP", UID: fmt.Sprint("S-1-5-21-1-2-3-", 2000+i)})
	}
	if n := u.Len(); n > 40 {
		t.Fatalf("table holds %d entries, max 40", n)
	}
	// The newest are kept.
	if got := u.Resolve("S-1-5-21-1-2-3-2499"); got != `corp\user499` {
		t.Errorf("newest SID: %q", got)
	}
	b, err := json.Marshal(u.State())
	if err != nil {
		t.Fatal(err)
	}
	var st UsersState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	v := NewUsers(40)
	v.Restore(st)
	if got := v.Resolve("S-1-5-21-1-2-3-2499"); got != `corp\user499` {
		t.Errorf("after restore: %q", got)
	}
	if got := v.Resolve("user499"); got != `corp\user499` {
		t.Errorf("bare name after restore: %q", got)
	}
}

func TestGraphLearnsOnlyFromSuccess(t *testing.T) {
	g := NewGraph(time.Hour)
	fail := &event.Event{ID: "e1", Time: t0, Kind: "windows_security", Code: "4625", Status: "failure",
		Device: &event.Device{Hostname: "dc01"}, User: &event.User{Name: "alice", Domain: "EVIL", UID: aliceSID}}
	g.Add(fail)
	if got := g.Users().Resolve(aliceSID); got != "s-1-5-21-3623811015-3361044348-30300820-1104" {
		t.Errorf("a failed logon taught %q", got)
	}
	ok := &event.Event{ID: "e2", Time: t0, Kind: "windows_security", Code: "4624", Status: "success",
		Device: &event.Device{Hostname: "ws01"}, Src: &event.Endpoint{IP: "10.0.0.5"}, Auth: &event.Auth{LogonType: "10"},
		User: &event.User{Name: "alice", Domain: "CORP", UID: aliceSID}}
	g.Add(ok)
	// A later event naming her by SID alone, or bare, lands on the same graph node.
	proc := &event.Event{ID: "e3", Time: t0.Add(time.Minute), Kind: "sysmon", Code: "1", Class: event.ClassProcess,
		Device: &event.Device{Hostname: "ws01"}, User: &event.User{Name: "alice"}, Process: &event.Process{GUID: "{p1}", Path: `C:\x.exe`}}
	edges := g.Add(proc)
	if len(edges) == 0 || edges[0].User != `corp\alice` {
		t.Fatalf("edges of a bare-named process: %+v", edges)
	}
	if es := g.Edges([]string{`user:corp\alice`}, t0.Add(-time.Hour), t0.Add(time.Hour)); len(es) == 0 {
		t.Error("no edges under the resolved user key")
	}
}

func userAlert(id string, at time.Duration, host, user string) *event.Alert {
	a := mk(id, at, host, event.Escalated, 0.9)
	a.User = user
	a.Entities = append(a.Entities, event.EntityRef{Kind: event.EntityUser, Value: user})
	return a
}

func TestCorrelatorJoinsOnePersonUnderAnyName(t *testing.T) {
	u := NewUsers(0)
	u.Learn(&event.User{Name: "alice", Domain: "CORP", UID: aliceSID})
	c := New(Options{Users: u, CampaignWindow: time.Second, Halo: -1})
	p1 := c.Place(userAlert("a", 0, "web01", `corp\alice`))
	p2 := c.Place(userAlert("b", 10*time.Minute, "db01", aliceSID))
	p3 := c.Place(userAlert("c", 20*time.Minute, "mail01", "alice"))
	if p2.IncidentID != p1.IncidentID || p3.IncidentID != p1.IncidentID {
		t.Fatalf("one person under three names opened several incidents: %s %s %s", p1.IncidentID, p2.IncidentID, p3.IncidentID)
	}
	inc, _ := c.Incident(p1.IncidentID)
	if !slices.Equal(inc.Users, []string{`corp\alice`}) {
		t.Errorf("users %v", inc.Users)
	}
	var ref event.EntityRef
	for _, e := range inc.Entities {
		if e.Kind == event.EntityUser {
			ref = e
		}
	}
	if !slices.Contains(ref.Aliases, "s-1-5-21-3623811015-3361044348-30300820-1104") || !slices.Contains(ref.Aliases, "alice") {
		t.Errorf("user entity aliases %+v", ref)
	}
}

func TestCorrelatorKeepsAmbiguousNamesApart(t *testing.T) {
	u := NewUsers(0)
	u.Learn(&event.User{Name: "alice", Domain: "CORP", UID: aliceSID})
	u.Learn(&event.User{Name: "alice", Domain: "LAB", UID: "S-1-5-21-1-2-3-1001"})
	c := New(Options{Users: u, CampaignWindow: time.Second, Halo: -1})
	p1 := c.Place(userAlert("a", 0, "web01", `corp\alice`))
	p2 := c.Place(userAlert("b", 10*time.Minute, "lab01", `lab\alice`))
	p3 := c.Place(userAlert("c", 20*time.Minute, "kiosk", "alice"))
	if p1.IncidentID == p2.IncidentID || p3.IncidentID == p1.IncidentID || p3.IncidentID == p2.IncidentID {
		t.Fatalf("distinct alices merged: %s %s %s", p1.IncidentID, p2.IncidentID, p3.IncidentID)
	}
}

// TestCorrelatorJoinsNamesLearnedLater opens an incident under a name the alias table cannot
// resolve yet; once a logon teaches that the name and another are one account, an alert under
// the other name joins the incident (and the two incidents it would otherwise make merge).
func TestCorrelatorJoinsNamesLearnedLater(t *testing.T) {
	u := NewUsers(0)
	c := New(Options{Users: u, CampaignWindow: time.Second, Halo: -1})
	p1 := c.Place(userAlert("a", 0, "web01", aliceSID))
	p2 := c.Place(userAlert("b", 5*time.Minute, "db01", `corp\bob`)) // someone else meanwhile
	u.Learn(&event.User{Name: "alice", Domain: "CORP", UID: aliceSID})
	p3 := c.Place(userAlert("c", 10*time.Minute, "mail01", `corp\alice`))
	if p3.IncidentID != p1.IncidentID || p2.IncidentID == p1.IncidentID {
		t.Fatalf("incidents %s (SID), %s (bob), %s (corp\\alice after the alias was learned)", p1.IncidentID, p2.IncidentID, p3.IncidentID)
	}
	if !strings.Contains(p3.Reason, "user") {
		t.Errorf("reason %q does not name the shared account", p3.Reason)
	}
}
