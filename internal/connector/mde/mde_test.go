package mde_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/connector/mde"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
)

type env struct {
	org   *demo.Org
	fake  *connectortest.MDE
	c     *mde.Client
	waits *connectortest.Waits
	logs  *connectortest.LogBuffer
}

func setup(t *testing.T, opts ...func(*egress.Options, *mde.Config)) *env {
	t.Helper()
	org := demo.NewOrg()
	fake := connectortest.NewMDE(org)
	t.Cleanup(fake.Close)
	e := &env{org: org, fake: fake, waits: &connectortest.Waits{}, logs: &connectortest.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eo := egress.Options{AllowPrivate: connectortest.AllowLoopback, Sleep: e.waits.Sleep, Logger: log}
	cred := fake.Credentials()
	cfg := mde.Config{BaseURL: fake.URL(), Authority: cred.Authority, TenantID: cred.TenantID, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Logger: log}
	for _, o := range opts {
		o(&eo, &cfg)
	}
	hc, err := egress.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	if e.c, err = mde.New(cfg, hc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l := e.logs.String(); strings.Contains(l, cred.ClientSecret.Reveal()) || strings.Contains(l, "fk.") {
			t.Errorf("logs contain a secret or token:\n%s", l)
		}
	})
	return e
}

func TestMachines(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	dc := e.org.Host("dc01")
	m, err := e.c.GetMachine(ctx, dc.AgentID)
	if err != nil {
		t.Fatal(err)
	}
	if m.ComputerDNSName != e.org.FQDN("dc01") || m.LastIPAddress != dc.IP || m.Tag("criticality") != "critical" || m.DeviceValue != "High" || m.OSPlatform != "WindowsServer2022" {
		t.Errorf("dc01 = %+v", m)
	}
	if _, err := e.c.GetMachine(ctx, "nope"); !errors.Is(err, connector.ErrNotFound) || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("unknown machine: %v", err)
	}

	all, err := e.c.Machines(ctx, mde.MachineQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(e.org.Hosts) {
		t.Fatalf("%d machines, want %d", len(all), len(e.org.Hosts))
	}
	if n := e.fake.Count(http.MethodGet, "/api/machines"); n != 3 {
		t.Errorf("%d pages, want 3 (page size 4)", n)
	}
	critical, err := e.c.Machines(ctx, mde.MachineQuery{Tag: "criticality:critical"})
	if err != nil || len(critical) != 2 {
		t.Errorf("critical machines = %d, %v", len(critical), err)
	}
	for _, name := range []string{"ws03", e.org.FQDN("ws03"), "WS03"} {
		m, err := e.c.MachineByName(ctx, name)
		if err != nil || m.ID != e.org.Host("ws03").AgentID {
			t.Errorf("MachineByName(%s) = %+v, %v", name, m, err)
		}
	}
	if _, err := e.c.MachineByName(ctx, "ws99"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown name: %v", err)
	}
	byIP, err := e.c.Machines(ctx, mde.MachineQuery{IPAddress: e.org.Host("srv-web01").IP})
	if err != nil || len(byIP) != 1 || byIP[0].OSPlatform != "Linux" {
		t.Errorf("by IP = %+v, %v", byIP, err)
	}
}

func TestMachineAlerts(t *testing.T) {
	e := setup(t)
	as, err := e.c.MachineAlerts(t.Context(), e.org.Host("ws01").AgentID)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[1].MitreTechniques[0] != "T1003.001" || as[1].RelatedUser.UserName != "alice" {
		t.Errorf("ws01 alerts = %+v", as)
	}
	if as, _ := e.c.MachineAlerts(t.Context(), e.org.Host("ws05").AgentID); len(as) != 0 {
		t.Errorf("ws05 alerts = %+v", as)
	}
}

func TestIsolateVerifyRelease(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	ws := e.org.Host("ws01").AgentID
	if st, err := e.c.Isolation(ctx, ws); err != nil || st.Isolated || st.Pending != nil {
		t.Fatalf("initial state = %+v, %v", st, err)
	}
	a, err := e.c.Isolate(ctx, ws, "vigil: ransomware precursor on ws01", mde.IsolationFull)
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != mde.ActionIsolate || a.Scope != "Full" || a.Status != mde.StatusPending || a.MachineID != ws {
		t.Fatalf("action = %+v", a)
	}
	// Isolating again while it is in progress returns the same action, without a new request.
	again, err := e.c.Isolate(ctx, ws, "again", "")
	if err != nil || again.ID != a.ID {
		t.Fatalf("second isolate = %+v, %v; want action %s", again, err, a.ID)
	}
	done, err := e.c.WaitForAction(ctx, a.ID, time.Millisecond)
	if err != nil || done.Status != mde.StatusSucceeded {
		t.Fatalf("action end = %+v, %v", done, err)
	}
	if !e.fake.Isolated(ws) {
		t.Fatal("the fake does not show the machine isolated")
	}
	st, err := e.c.Isolation(ctx, ws)
	if err != nil || !st.Isolated || st.Last.ID != a.ID {
		t.Fatalf("read-back = %+v, %v", st, err)
	}
	third, err := e.c.Isolate(ctx, ws, "once more", "")
	if err != nil || third.ID != a.ID {
		t.Fatalf("isolating an isolated machine = %+v, %v; want the existing action", third, err)
	}
	if n := e.fake.Count(http.MethodPost, "/api/machines/"+ws+"/isolate"); n != 1 {
		t.Errorf("%d isolate requests, want 1", n)
	}

	r, err := e.c.Release(ctx, ws, "vigil: rollback")
	if err != nil || r.Type != mde.ActionUnisolate {
		t.Fatalf("release = %+v, %v", r, err)
	}
	if _, err := e.c.WaitForAction(ctx, r.ID, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if e.fake.Isolated(ws) {
		t.Fatal("still isolated after release")
	}
	if r2, err := e.c.Release(ctx, ws, "again"); err != nil || r2.ID != r.ID {
		t.Errorf("second release = %+v, %v", r2, err)
	}
	if r3, err := e.c.Release(ctx, e.org.Host("ws02").AgentID, "never isolated"); err != nil || r3 != nil {
		t.Errorf("release of a machine never isolated = %+v, %v; want nil, nil", r3, err)
	}
}

func TestIsolateConflictsWithReleaseInProgress(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.fake.SetActionLatency(100)
	ws := e.org.Host("ws02").AgentID
	if _, err := e.c.Isolate(ctx, ws, "contain", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Release(ctx, ws, "release"); !errors.Is(err, connector.ErrConflict) {
		t.Fatalf("release during isolation: %v, want ErrConflict", err)
	}
}

func TestIsolateValidation(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	if _, err := e.c.Isolate(ctx, e.org.Host("ws01").AgentID, "", ""); err == nil {
		t.Error("isolate without a comment succeeded")
	}
	_, err := e.c.Isolate(ctx, e.org.Host("ws01").AgentID, "x", "Sideways")
	if err == nil || !strings.Contains(err.Error(), "InvalidRequestBody") {
		t.Errorf("bad isolation type: %v", err)
	}
	if _, err := e.c.Isolate(ctx, "nope", "x", ""); err == nil {
		t.Error("isolating an unknown machine succeeded")
	}
}

func TestIndicators(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	in := mde.Indicator{Value: demo.C2IP, Type: "IpAddress", Action: "AlertAndBlock", Title: "C2 server", Description: "Ransomware C2 seen on ws01", GenerateAlert: true}
	first, err := e.c.SubmitIndicator(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID == "" || first.Value != demo.C2IP || first.Severity != "High" {
		t.Fatalf("indicator = %+v", first)
	}
	in.Description = "updated"
	second, err := e.c.SubmitIndicator(ctx, in)
	if err != nil || second.ID != first.ID || second.Description != "updated" {
		t.Fatalf("resubmit = %+v, %v; want an update of %s", second, err, first.ID)
	}
	found, err := e.c.Indicators(ctx, demo.C2IP, "IpAddress")
	if err != nil || len(found) != 1 {
		t.Fatalf("read-back = %+v, %v", found, err)
	}
	for range 2 {
		if err := e.c.DeleteIndicator(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
	}
	if found, _ := e.c.Indicators(ctx, demo.C2IP, ""); len(found) != 0 {
		t.Errorf("indicator left after delete: %+v", found)
	}
	_, err = e.c.SubmitIndicator(ctx, mde.Indicator{Value: "x", Type: "Bogus", Action: "Block", Title: "t", Description: "d"})
	if err == nil || !strings.Contains(err.Error(), "indicatorType") {
		t.Errorf("bad type: %v", err)
	}
}

func TestTokenRefreshAndRateLimit(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	ws := e.org.Host("ws01").AgentID
	if _, err := e.c.GetMachine(ctx, ws); err != nil {
		t.Fatal(err)
	}
	e.fake.RevokeTokens()
	if _, err := e.c.GetMachine(ctx, ws); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := e.fake.Count(http.MethodPost, "*"); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	e.fake.RateLimitNext(1, 5*time.Second)
	if _, err := e.c.GetMachine(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if w := e.waits.All(); len(w) != 1 || w[0] != 5*time.Second {
		t.Errorf("waits = %v", w)
	}
	e.fake.RateLimitNext(100, time.Second)
	if _, err := e.c.GetMachine(ctx, ws); !errors.Is(err, connector.ErrRateLimited) || !strings.Contains(err.Error(), "quota exceeded") {
		t.Errorf("err = %v", err)
	}
}

func TestBadSecret(t *testing.T) {
	e := setup(t, func(_ *egress.Options, c *mde.Config) { c.ClientSecret = "not-the-secret-42" })
	_, err := e.c.GetMachine(t.Context(), "x")
	if !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), "not-the-secret-42") {
		t.Fatalf("err = %v", err)
	}
	e = setup(t, func(_ *egress.Options, c *mde.Config) { c.Resource = "https://graph.microsoft.com" })
	if _, err := e.c.GetMachine(t.Context(), "x"); !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("wrong resource: %v", err)
	}
}
