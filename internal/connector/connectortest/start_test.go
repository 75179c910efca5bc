package connectortest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/connector/falcon"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/mde"
	"github.com/vigil-soc/vigil/internal/connector/okta"
	"github.com/vigil-soc/vigil/internal/connector/webhook"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
)

// TestStartWithClients wires every connector to Start's fakes, as `vigil demo` does, and
// plays the demo's responses: revoke carol's consent to the malicious app, suspend bob,
// isolate and contain the ransomware's first host, and notify a webhook.
func TestStartWithClients(t *testing.T) {
	org := demo.NewOrg()
	s := connectortest.Start(org)
	defer s.Close()
	hc, err := egress.New(egress.Options{AllowPrivate: s.AllowList()})
	if err != nil {
		t.Fatal(err)
	}
	gc, mc := s.Graph.Credentials(), s.MDE.Credentials()
	g, err := graph.New(graph.Config{BaseURL: s.Graph.URL(), Authority: gc.Authority, TenantID: gc.TenantID, ClientID: gc.ClientID, ClientSecret: gc.ClientSecret}, hc)
	if err != nil {
		t.Fatal(err)
	}
	o, err := okta.New(okta.Config{BaseURL: s.Okta.URL(), APIToken: s.Okta.APIToken()}, hc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mde.New(mde.Config{BaseURL: s.MDE.URL(), Authority: mc.Authority, TenantID: mc.TenantID, ClientID: mc.ClientID, ClientSecret: mc.ClientSecret}, hc)
	if err != nil {
		t.Fatal(err)
	}
	fcred := s.Falcon.Credentials()
	f, err := falcon.New(falcon.Config{BaseURL: s.Falcon.URL(), ClientID: fcred.ClientID, ClientSecret: fcred.ClientSecret}, hc)
	if err != nil {
		t.Fatal(err)
	}
	w, err := webhook.New(webhook.Config{URL: s.Webhook.HookURL("soar"), Secret: s.Webhook.Secret()}, hc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	sp, err := g.ServicePrincipalByAppID(ctx, demo.MaliciousAppID)
	if err != nil {
		t.Fatal(err)
	}
	grants, err := g.OAuth2PermissionGrants(ctx, graph.GrantQuery{ClientID: sp.ID})
	if err != nil || len(grants) != 1 {
		t.Fatalf("grants = %+v, %v", grants, err)
	}
	if err := g.DeleteOAuth2PermissionGrant(ctx, grants[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := g.OAuth2PermissionGrant(ctx, grants[0].ID); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("grant still there: %v", err)
	}

	bob := org.User("bob")
	if err := o.Suspend(ctx, bob.OktaID); err != nil {
		t.Fatal(err)
	}
	if u, _ := o.GetUser(ctx, bob.UPN); u.Status != okta.StatusSuspended {
		t.Errorf("bob = %s", u.Status)
	}

	ws01 := org.Host("ws01")
	machine, err := m.MachineByName(ctx, "ws01")
	if err != nil || machine.ID != ws01.AgentID {
		t.Fatalf("machine = %+v, %v", machine, err)
	}
	a, err := m.Isolate(ctx, machine.ID, "vigil demo", mde.IsolationFull)
	if err != nil {
		t.Fatal(err)
	}
	if done, err := m.WaitForAction(ctx, a.ID, time.Millisecond); err != nil || done.Status != mde.StatusSucceeded {
		t.Fatalf("isolation = %+v, %v", done, err)
	}
	host, err := f.DeviceByHostname(ctx, "ws01")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Contain(ctx, host.DeviceID); err != nil {
		t.Fatal(err)
	}
	if d, err := f.WaitForStatus(ctx, host.DeviceID, falcon.StatusContained, time.Millisecond); err != nil || !d.Contained() {
		t.Fatalf("containment = %+v, %v", d, err)
	}

	if _, err := w.Send(ctx, "response.completed", map[string]any{"isolated": ws01.Name, "suspended": bob.UPN}); err != nil {
		t.Fatal(err)
	}
	if got := s.Webhook.Deliveries(); len(got) != 1 || got[0].Event != "response.completed" {
		t.Errorf("deliveries = %+v", got)
	}
}
