package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
	"github.com/vigil-soc/vigil/internal/investigate"
	"github.com/vigil-soc/vigil/internal/respond"
)

// connLogBuffer is a log sink safe for concurrent writes.
type connLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *connLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *connLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// connEnv is the demo organisation's services faked locally and the connector set built
// from their configuration, as `vigil demo` does.
type connEnv struct {
	org *demo.Org
	srv *connectortest.Servers
	cc  config.Connectors
	set *connectorSet
	day time.Time
	log *connLogBuffer
}

// newConnEnv starts the fakes and builds the set; edit, when given, changes the
// configuration first (e.g. to leave connectors out).
func newConnEnv(t *testing.T, edit func(*config.Connectors)) *connEnv {
	t.Helper()
	org := demo.NewOrg()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	srv := connectortest.Start(org, connectortest.WithDay(day))
	t.Cleanup(srv.Close)
	cc, err := demoConnectors(srv, org, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cc)
	}
	e := &connEnv{org: org, srv: srv, cc: cc, day: day, log: &connLogBuffer{}}
	log := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.Default()
	cfg.Connectors = cc
	e.set, err = buildConnectors(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	fast := actionWait{max: 5 * time.Second, every: 5 * time.Millisecond}
	switch ep := e.set.Respond.Endpoint.(type) {
	case *mdeEndpoint:
		ep.wait = fast
	case *falconEndpoint:
		ep.wait = fast
	}
	t.Cleanup(func() { e.checkNoSecretsLogged(t) })
	return e
}

func (e *connEnv) checkNoSecretsLogged(t *testing.T) {
	logs := e.log.String()
	secrets := []connector.Secret{e.srv.Graph.Credentials().ClientSecret, e.srv.MDE.Credentials().ClientSecret,
		e.srv.Falcon.Credentials().ClientSecret, e.srv.Okta.APIToken(), e.srv.Webhook.Secret()}
	for _, s := range secrets {
		if strings.Contains(logs, s.Reveal()) {
			t.Errorf("a secret reached the logs:\n%s", logs)
		}
	}
	if strings.Contains(logs, "fk.") || strings.Contains(logs, "/hooks/soar") {
		t.Errorf("a bearer token or the webhook URL reached the logs:\n%s", logs)
	}
}

// graphClient is an independent Graph client on the fake, to check state without the code
// under test.
func (e *connEnv) graphClient(t *testing.T) *graph.Client {
	t.Helper()
	hc, err := egress.New(egress.Options{AllowPrivate: e.srv.AllowList()})
	if err != nil {
		t.Fatal(err)
	}
	gc := e.srv.Graph.Credentials()
	c, err := graph.New(graph.Config{BaseURL: e.srv.Graph.URL(), Authority: gc.Authority, TenantID: gc.TenantID, ClientID: gc.ClientID, ClientSecret: gc.ClientSecret}, hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *connEnv) tool(t *testing.T, name string) investigate.Tool {
	t.Helper()
	for _, tl := range e.set.Tools {
		if tl.Name() == name {
			return tl
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

func (e *connEnv) call(t *testing.T, name string, in map[string]any) investigate.Result {
	t.Helper()
	res, err := e.tool(t, name).Call(t.Context(), in)
	if err != nil {
		t.Fatalf("%s %v: %v", name, in, err)
	}
	if res.Summary == "" {
		t.Errorf("%s %v: no summary", name, in)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("%s %v: result does not encode: %v", name, in, err)
	}
	return res
}

func connFinding(res investigate.Result, name string) (investigate.Finding, bool) {
	for _, f := range res.Findings {
		if f.Name == name {
			return f, true
		}
	}
	return investigate.Finding{}, false
}

func mustConnFinding(t *testing.T, res investigate.Result, name string, weight float64, entity string) investigate.Finding {
	t.Helper()
	f, ok := connFinding(res, name)
	if !ok {
		t.Fatalf("no %s finding in %+v", name, res.Findings)
	}
	if f.Weight != weight || f.Entity != entity || f.Detail == "" {
		t.Errorf("%s = %+v, want weight %v on %s", name, f, weight, entity)
	}
	return f
}

func noConnFinding(t *testing.T, res investigate.Result, names ...string) {
	t.Helper()
	for _, n := range names {
		if f, ok := connFinding(res, n); ok {
			t.Errorf("unexpected %s finding: %+v", n, f)
		}
	}
}

func noIdentity(cc *config.Connectors) { cc.Graph, cc.Okta = nil, nil }
func noEDR(cc *config.Connectors)      { cc.MDE, cc.Falcon = nil, nil }

func TestConnectorsNoneConfigured(t *testing.T) {
	set, err := buildConnectors(t.Context(), config.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := set.Respond
	if r.Endpoint != nil || r.Identity != nil || r.Grants != nil || r.Indicators != nil || r.Mail != nil || len(r.Names) != 0 {
		t.Errorf("capabilities without connectors: %+v", r)
	}
	if len(set.Tools) != 0 || set.Privileged != nil {
		t.Errorf("tools %d, privileged %v", len(set.Tools), set.Privileged != nil)
	}
	set.Notify(t.Context(), "report", map[string]string{"x": "y"}) // no webhooks: a no-op
	set.UseIncidentTimes(func(context.Context, string) (time.Time, time.Time, bool) { return time.Time{}, time.Time{}, false })
}

func TestConnectorsConfigErrors(t *testing.T) {
	cfg := config.Default()
	cfg.Connectors.Graph = &config.Graph{TenantID: "t", ClientID: "c", ClientSecret: config.Secret{Env: "VIGIL_TEST_UNSET_SECRET"}}
	if _, err := buildConnectors(t.Context(), cfg, nil); !errors.Is(err, config.ErrSecretUnset) || !strings.Contains(err.Error(), "graph.client_secret") {
		t.Errorf("unset secret: %v", err)
	}
	cfg = config.Default()
	p := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Connectors.Webhooks = []config.Webhook{{Name: "w", URL: config.Secret{File: p}, Secret: config.Secret{File: p}}}
	if _, err := buildConnectors(t.Context(), cfg, nil); err == nil {
		t.Error("a webhook URL that is not a URL was accepted")
	}
	cfg.Connectors.AllowPrivate = []string{"not an address/99"}
	if _, err := buildConnectors(t.Context(), cfg, nil); err == nil {
		t.Error("a malformed allow-list entry was accepted")
	}
}

func TestConnectorsPreference(t *testing.T) {
	e := newConnEnv(t, nil)
	want := map[string]string{"endpoint": productMDE, "indicators": productMDE, "identity": productEntra, "grants": productEntra, "mail": productExchange}
	for k, v := range want {
		if e.set.Respond.Names[k] != v {
			t.Errorf("Names[%s] = %q, want %q", k, e.set.Respond.Names[k], v)
		}
	}
	if _, ok := e.set.Respond.Endpoint.(*mdeEndpoint); !ok {
		t.Errorf("endpoint = %T, want MDE", e.set.Respond.Endpoint)
	}
	if _, ok := e.set.Respond.Identity.(graphIdentity); !ok {
		t.Errorf("identity = %T, want Graph", e.set.Respond.Identity)
	}
	var names []string
	for _, tl := range e.set.Tools {
		names = append(names, tl.Name())
		var schema map[string]any
		if err := json.Unmarshal(tl.Schema(), &schema); err != nil || tl.Description() == "" {
			t.Errorf("%s: schema %v, description %q", tl.Name(), err, tl.Description())
		}
	}
	for _, n := range []string{"identity.user", "identity.mfa", "identity.signins", "identity.password_resets", "identity.oauth_grants", "identity.app", "identity.mailbox_rules", "endpoint.host"} {
		if !slices.Contains(names, n) {
			t.Errorf("tool %s missing from %v", n, names)
		}
	}
}

// TestConnectorsRecipeToolsExist checks every identity.* and endpoint.host tool the built-in
// recipes call is provided.
func TestConnectorsRecipeToolsExist(t *testing.T) {
	recipes, err := investigate.LoadRecipes()
	if err != nil {
		t.Fatal(err)
	}
	e := newConnEnv(t, nil)
	for _, r := range recipes {
		for _, s := range r.Steps {
			if strings.HasPrefix(s.Tool, "identity.") || s.Tool == "endpoint.host" {
				e.tool(t, s.Tool)
			}
		}
	}
}

func TestConnectorsEndpointMDE(t *testing.T) {
	e := newConnEnv(t, nil)
	ctx, ep := t.Context(), e.set.Respond.Endpoint
	id := e.org.Host("ws01").AgentID
	if on, err := ep.Contained(ctx, "ws01"); err != nil || on {
		t.Fatalf("before: contained %v, %v", on, err)
	}
	for range 2 { // the second time is a repeat, not an error
		if err := ep.Contain(ctx, "ws01"); err != nil {
			t.Fatal(err)
		}
	}
	if on, err := ep.Contained(ctx, "WS01.corp.example.com"); err != nil || !on || !e.srv.MDE.Isolated(id) {
		t.Fatalf("after contain: contained %v, %v; fake isolated %v", on, err, e.srv.MDE.Isolated(id))
	}
	for range 2 {
		if err := ep.Release(ctx, "ws01"); err != nil {
			t.Fatal(err)
		}
	}
	if on, err := ep.Contained(ctx, "ws01"); err != nil || on || e.srv.MDE.Isolated(id) {
		t.Fatalf("after release: contained %v, %v", on, err)
	}
	if err := ep.Contain(ctx, "no-such-host"); !connector.IsNotFound(err) {
		t.Errorf("unknown host: %v", err)
	}
}

func TestConnectorsEndpointFalconOnly(t *testing.T) {
	e := newConnEnv(t, func(cc *config.Connectors) { cc.MDE = nil })
	if e.set.Respond.Names["endpoint"] != productFalcon || e.set.Respond.Names["indicators"] != productFalcon {
		t.Fatalf("names = %v", e.set.Respond.Names)
	}
	ctx, ep := t.Context(), e.set.Respond.Endpoint
	id := e.org.Host("srv-file01").AgentID
	for range 2 {
		if err := ep.Contain(ctx, "srv-file01.corp.example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if on, err := ep.Contained(ctx, "srv-file01"); err != nil || !on || e.srv.Falcon.Status(id) != "contained" {
		t.Fatalf("after contain: %v, %v, fake %s", on, err, e.srv.Falcon.Status(id))
	}
	for range 2 {
		if err := ep.Release(ctx, "srv-file01"); err != nil {
			t.Fatal(err)
		}
	}
	if on, err := ep.Contained(ctx, "srv-file01"); err != nil || on || e.srv.Falcon.Status(id) != "normal" {
		t.Fatalf("after release: %v, %v, fake %s", on, err, e.srv.Falcon.Status(id))
	}

	ind := e.set.Respond.Indicators
	const hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	indicatorRoundTrip(t, ind, "hash", hash)
	if err := ind.Block(ctx, "ip", demo.C2IP); !errors.Is(err, errUnsupportedIndicator) {
		t.Errorf("falcon cannot block an address, yet: %v", err)
	}
}

// indicatorRoundTrip blocks, reads back, repeats, unblocks and reads back.
func indicatorRoundTrip(t *testing.T, ind respond.Indicators, kind, value string) {
	t.Helper()
	ctx := t.Context()
	if b, err := ind.Blocked(ctx, kind, value); err != nil || b {
		t.Fatalf("%s %s blocked before: %v, %v", kind, value, b, err)
	}
	for range 2 {
		if err := ind.Block(ctx, kind, value); err != nil {
			t.Fatalf("block %s %s: %v", kind, value, err)
		}
	}
	if b, err := ind.Blocked(ctx, kind, value); err != nil || !b {
		t.Fatalf("%s %s blocked after: %v, %v", kind, value, b, err)
	}
	for range 2 {
		if err := ind.Unblock(ctx, kind, value); err != nil {
			t.Fatalf("unblock %s %s: %v", kind, value, err)
		}
	}
	if b, err := ind.Blocked(ctx, kind, value); err != nil || b {
		t.Fatalf("%s %s blocked after unblock: %v, %v", kind, value, b, err)
	}
}

func TestConnectorsIndicatorsMDE(t *testing.T) {
	e := newConnEnv(t, noIdentity)
	ind := e.set.Respond.Indicators
	indicatorRoundTrip(t, ind, "ip", demo.SprayIP)
	indicatorRoundTrip(t, ind, "domain", demo.C2Host)
	indicatorRoundTrip(t, ind, "url", "https://"+demo.C2Host+"/a.ps1")
	indicatorRoundTrip(t, ind, "hash", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err := ind.Block(t.Context(), "hash", "not-a-hash"); !errors.Is(err, errUnsupportedIndicator) {
		t.Errorf("bad hash: %v", err)
	}
	// The seeded Allowed indicator of the backup agent is not a block, and unblocking
	// something else leaves it alone.
	const allowed = "a3f5c1e2b4d6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081"
	if b, err := ind.Blocked(t.Context(), "hash", allowed); err != nil || b {
		t.Errorf("an Allowed indicator reads as blocked: %v, %v", b, err)
	}
}

// identityRoundTrip disables and enables bob, revokes his sessions and resets his password,
// checking each read-back turns true only after the action.
func identityRoundTrip(t *testing.T, id respond.Identity) {
	t.Helper()
	ctx := t.Context()
	const bob = `example\bob`
	for range 2 {
		if err := id.Disable(ctx, bob); err != nil {
			t.Fatalf("disable: %v", err)
		}
	}
	if on, err := id.Enabled(ctx, "bob@example.com"); err != nil || on {
		t.Fatalf("enabled after disable: %v, %v", on, err)
	}
	for range 2 {
		if err := id.Enable(ctx, bob); err != nil {
			t.Fatalf("enable: %v", err)
		}
	}
	if on, err := id.Enabled(ctx, bob); err != nil || !on {
		t.Fatalf("enabled after enable: %v, %v", on, err)
	}
	since := time.Now()
	if ok, err := id.SessionsRevokedSince(ctx, bob, since); err != nil || ok {
		t.Fatalf("sessions revoked before the action: %v, %v", ok, err)
	}
	for range 2 {
		if err := id.RevokeSessions(ctx, bob); err != nil {
			t.Fatalf("revoke sessions: %v", err)
		}
	}
	if ok, err := id.SessionsRevokedSince(ctx, bob, since); err != nil || !ok {
		t.Fatalf("sessions revoked after the action: %v, %v", ok, err)
	}
	if ok, err := id.PasswordResetSince(ctx, bob, since); err != nil || ok {
		t.Fatalf("password reset before the action: %v, %v", ok, err)
	}
	for range 2 {
		if err := id.ResetPassword(ctx, bob); err != nil {
			t.Fatalf("reset password: %v", err)
		}
	}
	if ok, err := id.PasswordResetSince(ctx, bob, since); err != nil || !ok {
		t.Fatalf("password reset after the action: %v, %v", ok, err)
	}
	// Another user's read-back is unaffected.
	if ok, err := id.PasswordResetSince(ctx, `example\alice`, since); err != nil || ok {
		t.Errorf("alice's password reads as reset: %v, %v", ok, err)
	}
	if err := id.Disable(ctx, `example\nobody`); !connector.IsNotFound(err) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestConnectorsIdentityGraph(t *testing.T) {
	e := newConnEnv(t, noEDR)
	identityRoundTrip(t, e.set.Respond.Identity)
	for _, r := range e.srv.Graph.Requests() {
		if strings.Contains(string(r.Body), `"password":"`) && !strings.Contains(string(r.Body), "[redacted]") {
			t.Errorf("password sent unredacted to the fake log: %s", r.Body)
		}
	}
}

func TestConnectorsIdentityOktaOnly(t *testing.T) {
	e := newConnEnv(t, func(cc *config.Connectors) { cc.Graph = nil })
	if _, ok := e.set.Respond.Identity.(oktaIdentity); !ok || e.set.Respond.Names["identity"] != productOkta {
		t.Fatalf("identity = %T %v", e.set.Respond.Identity, e.set.Respond.Names)
	}
	if e.set.Respond.Grants != nil || e.set.Respond.Mail != nil {
		t.Error("grants or mail without Graph")
	}
	identityRoundTrip(t, e.set.Respond.Identity)
	if n := e.srv.Okta.Count(http.MethodPost, "/api/v1/users/"+e.org.User("bob").OktaID+"/lifecycle/reset_password"); n != 2 {
		t.Errorf("%d reset_password calls, want 2", n)
	}
	for _, r := range e.srv.Okta.Requests() {
		if strings.HasSuffix(r.Path, "/reset_password") && r.Query.Get("sendEmail") != "false" {
			t.Errorf("reset mails a link to a mailbox that may be the attacker's: %v", r.Query)
		}
	}
}

func TestConnectorsGrants(t *testing.T) {
	e := newConnEnv(t, noEDR)
	ctx, g, gc := t.Context(), e.set.Respond.Grants, e.graphClient(t)
	const app = demo.MaliciousAppID
	if on, err := g.AppGranted(ctx, app); err != nil || !on {
		t.Fatalf("granted before: %v, %v", on, err)
	}
	saved, err := g.RevokeApp(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if on, err := g.AppGranted(ctx, app); err != nil || on {
		t.Fatalf("granted after revoke: %v, %v", on, err)
	}
	if _, err := g.RevokeApp(ctx, app); err != nil {
		t.Fatalf("repeat revoke: %v", err)
	}
	sp, err := gc.ServicePrincipal(ctx, connectortest.MaliciousAppSPID)
	if err != nil || sp.AccountEnabled {
		t.Fatalf("service principal after revoke: %+v, %v", sp, err)
	}
	// An enabled service principal can still sign in, grants or not.
	if err := gc.SetServicePrincipalEnabled(ctx, sp.ID, true); err != nil {
		t.Fatal(err)
	}
	if on, err := g.AppGranted(ctx, app); err != nil || !on {
		t.Fatalf("granted while enabled without grants: %v, %v", on, err)
	}
	if err := gc.DisableServicePrincipal(ctx, sp.ID); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := g.RestoreApp(ctx, app, saved); err != nil {
			t.Fatalf("restore: %v", err)
		}
	}
	if on, err := g.AppGranted(ctx, app); err != nil || !on {
		t.Fatalf("granted after restore: %v, %v", on, err)
	}
	grants, err := gc.OAuth2PermissionGrants(ctx, graph.GrantQuery{ClientID: connectortest.MaliciousAppSPID})
	if err != nil || len(grants) != 1 {
		t.Fatalf("grants after restore: %+v, %v", grants, err)
	}
	carol := e.org.User("carol")
	if gr := grants[0]; gr.Scope != "Mail.Read Mail.ReadWrite Mail.Send offline_access User.Read" || gr.PrincipalID != carol.EntraID || gr.ConsentType != "Principal" {
		t.Errorf("restored grant = %+v", gr)
	}
	if sp, err := gc.ServicePrincipal(ctx, connectortest.MaliciousAppSPID); err != nil || !sp.AccountEnabled {
		t.Errorf("service principal after restore: %+v, %v", sp, err)
	}
	// By service principal object ID too; an unknown app is not found; nothing saved is no
	// rollback.
	if on, err := g.AppGranted(ctx, connectortest.MaliciousAppSPID); err != nil || !on {
		t.Errorf("by object ID: %v, %v", on, err)
	}
	if _, err := g.RevokeApp(ctx, "11111111-2222-3333-4444-555555555555"); !connector.IsNotFound(err) {
		t.Errorf("unknown app: %v", err)
	}
	if err := g.RestoreApp(ctx, app, nil); !errors.Is(err, respond.ErrNoRollback) {
		t.Errorf("restore of nothing: %v", err)
	}
}

func TestConnectorsMail(t *testing.T) {
	e := newConnEnv(t, noEDR)
	ctx, m := t.Context(), e.set.Respond.Mail
	const bob = `example\bob`
	if n, err := m.ForwardingRules(ctx, bob); err != nil || n != 1 {
		t.Fatalf("forwarding rules before: %d, %v", n, err)
	}
	saved, err := m.DeleteForwardingRules(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.ForwardingRules(ctx, bob); err != nil || n != 0 {
		t.Fatalf("forwarding rules after delete: %d, %v", n, err)
	}
	again, err := m.DeleteForwardingRules(ctx, bob)
	if err != nil || string(again) != "[]" {
		t.Fatalf("repeat delete: %s, %v", again, err)
	}
	for range 2 {
		if err := m.RestoreRules(ctx, bob, saved); err != nil {
			t.Fatalf("restore: %v", err)
		}
	}
	rules, err := e.graphClient(t).InboxRules(ctx, e.org.User("bob").EntraID)
	if err != nil || len(rules) != 1 || rules[0].DisplayName != ".." || !slices.Equal(rules[0].ForwardsTo(), []string{demo.ForwardTo}) {
		t.Fatalf("rules after restore: %+v, %v", rules, err)
	}
	// Alice's newsletter rule forwards nothing: it is neither counted nor deleted.
	if n, err := m.ForwardingRules(ctx, "alice@example.com"); err != nil || n != 0 {
		t.Errorf("alice: %d, %v", n, err)
	}

	msg := `example\alice/` + connectortest.PhishingMessageID
	if q, err := m.Quarantined(ctx, msg); err == nil && q {
		t.Fatal("quarantined before the action")
	}
	for range 2 {
		if err := m.Quarantine(ctx, msg); err != nil {
			t.Fatalf("quarantine: %v", err)
		}
	}
	if q, err := m.Quarantined(ctx, msg); err != nil || !q {
		t.Fatalf("quarantined after: %v, %v", q, err)
	}
	for range 2 {
		if err := m.Release(ctx, msg); err != nil {
			t.Fatalf("release: %v", err)
		}
	}
	if q, err := m.Quarantined(ctx, msg); err != nil || q {
		t.Fatalf("quarantined after release: %v, %v", q, err)
	}
	for _, bad := range []string{"no-slash", "/id", `example\alice/`} {
		if err := m.Quarantine(ctx, bad); err == nil {
			t.Errorf("target %q accepted", bad)
		}
	}
}

func TestConnectorsPrivileged(t *testing.T) {
	for name, edit := range map[string]func(*config.Connectors){
		"graph+okta": noEDR,
		"okta only":  func(cc *config.Connectors) { noEDR(cc); cc.Graph = nil },
		"graph only": func(cc *config.Connectors) { noEDR(cc); cc.Okta = nil },
	} {
		t.Run(name, func(t *testing.T) {
			e := newConnEnv(t, edit)
			ctx := t.Context()
			if v, err := e.set.Privileged(ctx, `example\dave`); err != nil || !v {
				t.Errorf("dave: %v, %v", v, err)
			}
			if v, err := e.set.Privileged(ctx, "bob@example.com"); err != nil || v {
				t.Errorf("bob: %v, %v", v, err)
			}
			if v, err := e.set.Privileged(ctx, `example\nobody`); err == nil || v {
				t.Errorf("unknown user: %v, %v", v, err)
			}
		})
	}
	e := newConnEnv(t, noIdentity)
	if e.set.Privileged != nil {
		t.Error("Privileged without an identity provider")
	}
}

func TestConnectorsNotify(t *testing.T) {
	e := newConnEnv(t, func(cc *config.Connectors) {
		noEDR(cc)
		reports := cc.Webhooks[0]
		reports.Name, reports.Events = "reports-only", []string{"report"}
		bad := cc.Webhooks[0]
		bad.Name = "wrong-secret"
		p := filepath.Join(filepath.Dir(bad.Secret.File), "wrong")
		if err := os.WriteFile(p, []byte("whsec_not-the-right-one"), 0o600); err != nil {
			t.Fatal(err)
		}
		bad.Secret = config.Secret{File: p}
		cc.Webhooks = append(cc.Webhooks, reports, bad)
	})
	payload := map[string]any{"id": "act_1", "name": "contain_host", "target": "host:ws01"}
	e.set.Notify(t.Context(), "action_pending", payload)
	ds := e.srv.Webhook.Deliveries()
	if len(ds) != 1 || ds[0].Event != "action_pending" || ds[0].Hook != "soar" {
		t.Fatalf("deliveries = %+v", ds)
	}
	var got map[string]any
	if err := json.Unmarshal(ds[0].Envelope.Data, &got); err != nil || got["target"] != "host:ws01" {
		t.Errorf("payload = %s, %v", ds[0].Envelope.Data, err)
	}
	e.set.Notify(t.Context(), "report", map[string]string{"incident": "inc_1"})
	if ds := e.srv.Webhook.Deliveries(); len(ds) != 3 { // the demo hook and the reports-only hook
		t.Errorf("%d deliveries after a report, want 3", len(ds))
	}
	if logs := e.log.String(); !strings.Contains(logs, "webhook delivery failed") || !strings.Contains(logs, "wrong-secret") {
		t.Errorf("the refused delivery was not logged:\n%s", logs)
	}
}

func TestConnectorsRateLimitRetried(t *testing.T) {
	e := newConnEnv(t, nil)
	ctx := t.Context()
	e.srv.Graph.RateLimitNext(1, 0)
	if on, err := e.set.Respond.Identity.Enabled(ctx, `example\carol`); err != nil || !on {
		t.Fatalf("graph after a 429: %v, %v", on, err)
	}
	e.srv.MDE.RateLimitNext(1, 0)
	if _, err := e.set.Respond.Endpoint.Contained(ctx, "ws02"); err != nil {
		t.Fatalf("mde after a 429: %v", err)
	}
	for name, reqs := range map[string][]connectortest.Request{"graph": e.srv.Graph.Requests(), "mde": e.srv.MDE.Requests()} {
		limited := 0
		for _, r := range reqs {
			if r.Status == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited != 1 {
			t.Errorf("%s: %d requests answered 429, want 1 (then retried)", name, limited)
		}
	}
}

// TestConnectorToolsSeeded runs every tool on the demo's seeded state.
func TestConnectorToolsSeeded(t *testing.T) {
	e := newConnEnv(t, nil)
	const bob, carol, dave = `user:example\bob`, `user:example\carol`, `user:example\dave`

	res := e.call(t, "identity.oauth_grants", map[string]any{"user": `example\carol`})
	f := mustConnFinding(t, res, "app_mail_permissions", 1.2, "app:"+demo.MaliciousAppID)
	if !slices.Contains(f.Actions, "revoke_grant app:"+demo.MaliciousAppID) || !strings.Contains(f.Detail, "Mail.ReadWrite") {
		t.Errorf("app_mail_permissions = %+v", f)
	}
	mustConnFinding(t, res, "app_unverified_publisher", 0.6, "app:"+demo.MaliciousAppID)
	mustConnFinding(t, res, "app_recently_created", 0.4, "app:"+demo.MaliciousAppID)
	if !strings.Contains(res.Summary, demo.MaliciousApp) {
		t.Errorf("summary = %q", res.Summary)
	}

	res = e.call(t, "identity.app", map[string]any{"app": demo.MaliciousAppID})
	mustConnFinding(t, res, "app_mail_permissions", 1.2, "app:"+demo.MaliciousAppID)
	if d := res.Data.(map[string]any); d["users_consented"] != 1 || d["publisher_verified"] != false {
		t.Errorf("app data = %v", d)
	}
	res = e.call(t, "identity.app", map[string]any{"app": "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"}) // Expense Portal
	noConnFinding(t, res, "app_mail_permissions", "app_unverified_publisher", "app_recently_created")

	res = e.call(t, "identity.user", map[string]any{"user": `example\bob`})
	f = mustConnFinding(t, res, "risky_user", 1.0, bob)
	if !slices.Contains(f.Actions, "revoke_sessions "+bob) {
		t.Errorf("risky_user actions = %v", f.Actions)
	}
	noConnFinding(t, res, "privileged_account", "account_disabled")
	res = e.call(t, "identity.user", map[string]any{"user": "dave@example.com"})
	f = mustConnFinding(t, res, "privileged_account", 0.3, dave)
	if !strings.Contains(f.Detail, "Global Administrator") || !strings.Contains(f.Detail, "Super Administrator") {
		t.Errorf("privileged_account detail = %q", f.Detail)
	}
	noConnFinding(t, res, "risky_user")

	res = e.call(t, "identity.mfa", map[string]any{"user": `example\bob`})
	mustConnFinding(t, res, "no_mfa", 0.5, bob)
	noConnFinding(t, e.call(t, "identity.mfa", map[string]any{"user": `example\dave`}), "no_mfa", "weak_mfa")
	mustConnFinding(t, e.call(t, "identity.mfa", map[string]any{"user": `example\frank`}), "weak_mfa", 0.2, `user:example\frank`)

	res = e.call(t, "identity.mailbox_rules", map[string]any{"user": `example\bob`})
	f = mustConnFinding(t, res, "inbox_forward_rule", 1.5, bob)
	if !slices.Contains(f.Actions, "delete_inbox_rule "+bob) || !strings.Contains(f.Detail, demo.ForwardTo) || !strings.Contains(f.Detail, "meaningless name") {
		t.Errorf("inbox_forward_rule = %+v", f)
	}
	noConnFinding(t, e.call(t, "identity.mailbox_rules", map[string]any{"user": `example\alice`}), "inbox_forward_rule", "inbox_hiding_rule")

	res = e.call(t, "identity.signins", map[string]any{"user": `example\bob`})
	f = mustConnFinding(t, res, "signin_new_country", 1.2, bob)
	if !strings.Contains(f.Detail, demo.SprayIP) {
		t.Errorf("signin_new_country = %+v", f)
	}
	f = mustConnFinding(t, res, "signin_success_after_failures", 1.5, bob)
	if !slices.Contains(f.Actions, "block_indicator ip:"+demo.SprayIP) || !slices.Contains(f.Actions, "reset_password "+bob) {
		t.Errorf("signin_success_after_failures = %+v", f)
	}
	if rows := res.Data.(map[string]any)["signins"].([]signIn); len(rows) == 0 || len(rows) > maxRows {
		t.Errorf("%d sign-in rows", len(rows))
	}
	noConnFinding(t, e.call(t, "identity.signins", map[string]any{"user": `example\alice`}), "signin_new_country", "signin_success_after_failures")
	noConnFinding(t, e.call(t, "identity.signins", map[string]any{"user": carol[len("user:"):]}), "signin_new_country", "signin_success_after_failures")

	res = e.call(t, "endpoint.host", map[string]any{"host": "ws01"})
	f = mustConnFinding(t, res, "edr_alerts_on_host", 0.8, "host:ws01")
	if !slices.Contains(f.Actions, "contain_host host:ws01") || !strings.Contains(f.Detail, "LSASS") || !strings.Contains(f.Detail, "Windows11") {
		t.Errorf("edr_alerts_on_host = %+v", f)
	}
	noConnFinding(t, res, "host_isolated")
	noConnFinding(t, e.call(t, "endpoint.host", map[string]any{"host": "srv-web01.corp.example.com"}), "edr_alerts_on_host")
}

func TestConnectorToolsHostIsolated(t *testing.T) {
	e := newConnEnv(t, nil)
	if err := e.set.Respond.Endpoint.Contain(t.Context(), "ws03"); err != nil {
		t.Fatal(err)
	}
	res := e.call(t, "endpoint.host", map[string]any{"host": "WS03"})
	if f := mustConnFinding(t, res, "host_isolated", 0, "host:ws03"); !strings.Contains(f.Detail, "Defender") {
		t.Errorf("host_isolated = %+v", f)
	}
}

func TestConnectorToolsPasswordResets(t *testing.T) {
	e := newConnEnv(t, nil)
	// The fake seeds dave's reset of frank's password three days before the day, at 10:12.
	incident := e.day.AddDate(0, 0, -2)
	e.set.UseIncidentTimes(func(_ context.Context, id string) (time.Time, time.Time, bool) {
		return incident, incident.Add(time.Hour), id == "inc_frank"
	})
	res := e.call(t, "identity.password_resets", map[string]any{"user": `example\frank`, "incident": "inc_frank"})
	f := mustConnFinding(t, res, "recent_password_reset", 0.4, `user:example\frank`)
	if !strings.Contains(f.Detail, "dave@example.com") {
		t.Errorf("recent_password_reset = %+v", f)
	}
	// Without the incident's time the window is the 72 hours before now: the reset is older.
	noConnFinding(t, e.call(t, "identity.password_resets", map[string]any{"user": `example\frank`}), "recent_password_reset")
	noConnFinding(t, e.call(t, "identity.password_resets", map[string]any{"user": `example\bob`, "incident": "inc_frank"}), "recent_password_reset")
}

func TestConnectorToolsNotFound(t *testing.T) {
	e := newConnEnv(t, nil)
	for _, c := range []struct {
		tool string
		in   map[string]any
	}{
		{"identity.user", map[string]any{"user": `example\nobody`}},
		{"identity.mfa", map[string]any{"user": "nobody@example.com"}},
		{"identity.signins", map[string]any{"user": `example\nobody`}},
		{"identity.password_resets", map[string]any{"user": `example\nobody`}},
		{"identity.oauth_grants", map[string]any{"user": `example\nobody`}},
		{"identity.mailbox_rules", map[string]any{"user": `example\nobody`}},
		{"identity.app", map[string]any{"app": "11111111-2222-3333-4444-555555555555"}},
		{"endpoint.host", map[string]any{"host": "ws99.corp.example.com"}},
	} {
		res := e.call(t, c.tool, c.in)
		if !strings.Contains(res.Summary, "not found") || len(res.Findings) > 0 {
			t.Errorf("%s %v: %+v", c.tool, c.in, res)
		}
	}
	res := e.call(t, "identity.user", map[string]any{})
	if res.Summary != "no user given" {
		t.Errorf("no input: %q", res.Summary)
	}
}

func TestConnectorToolsServiceError(t *testing.T) {
	e := newConnEnv(t, nil)
	e.srv.MDE.FailNext(10, http.StatusBadGateway)
	if _, err := e.tool(t, "endpoint.host").Call(t.Context(), map[string]any{"host": "ws01"}); err == nil || connector.IsNotFound(err) {
		t.Errorf("a failing service is not an error: %v", err)
	}
}

// TestConnectorToolsReadOnly calls every tool on several entities and checks from the fakes'
// request logs that only reads were made: GETs, and POSTs to token endpoints.
func TestConnectorToolsReadOnly(t *testing.T) {
	e := newConnEnv(t, nil)
	fakes := map[string]interface {
		Requests() []connectortest.Request
		ResetRequests()
	}{"graph": e.srv.Graph, "okta": e.srv.Okta, "mde": e.srv.MDE, "falcon": e.srv.Falcon, "webhook": e.srv.Webhook}
	for _, f := range fakes {
		f.ResetRequests()
	}
	inputs := map[string][]string{
		"user": {`example\bob`, `example\carol`, "dave@example.com", `example\frank`, `example\nobody`},
		"host": {"ws01", "srv-file01.corp.example.com", "nohost"},
		"app":  {demo.MaliciousAppID, connectortest.ExpenseAppSPID},
	}
	calls := 0
	for _, tl := range e.set.Tools {
		var schema struct {
			Required []string `json:"required"`
		}
		if err := json.Unmarshal(tl.Schema(), &schema); err != nil || len(schema.Required) != 1 {
			t.Fatalf("%s schema: %s", tl.Name(), tl.Schema())
		}
		for _, v := range inputs[schema.Required[0]] {
			if _, err := tl.Call(t.Context(), map[string]any{schema.Required[0]: v, "incident": "inc_1"}); err != nil {
				t.Errorf("%s %s: %v", tl.Name(), v, err)
			}
			calls++
		}
	}
	if calls < 20 {
		t.Fatalf("only %d calls", calls)
	}
	total := 0
	for name, f := range fakes {
		for _, r := range f.Requests() {
			total++
			token := strings.HasSuffix(r.Path, "/oauth2/v2.0/token") || r.Path == "/oauth2/token"
			if r.Method != http.MethodGet && !(r.Method == http.MethodPost && token) {
				t.Errorf("%s: a tool made %s %s", name, r.Method, r.Path)
			}
		}
	}
	if total == 0 {
		t.Error("no requests recorded")
	}
}

func TestDemoServices(t *testing.T) {
	org := demo.NewOrg()
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	spray := day.Add(13 * time.Hour)
	dir := filepath.Join(t.TempDir(), "secrets")
	cc, stop, err := startDemoServices(org, day, spray, day.Add(15*time.Hour), day.Add(16*time.Hour), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	files, err := os.ReadDir(dir)
	if err != nil || len(files) != 6 {
		t.Fatalf("secret files: %v, %v", files, err)
	}
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, f.Name()))
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
			t.Errorf("%s: %v, %v", f.Name(), st.Mode(), err)
		}
	}
	cfg := config.Default()
	cfg.Connectors = cc
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the demo's connector configuration is invalid: %v", err)
	}
	if cc.Graph.UPNSuffix != org.DNS || cc.Okta.UPNSuffix != org.DNS || len(cc.Webhooks) != 1 || len(cc.Webhooks[0].Events) != len(webhookEvents) {
		t.Errorf("config = %+v", cc)
	}
	set, err := buildConnectors(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Respond.Names) != 5 || len(set.Tools) != 8 {
		t.Errorf("names %v, %d tools", set.Respond.Names, len(set.Tools))
	}
	// The fakes are seeded with the given timeline: bob's spray success is on that day.
	set.UseIncidentTimes(func(context.Context, string) (time.Time, time.Time, bool) {
		return spray, spray.Add(10 * time.Minute), true
	})
	var signins investigate.Tool
	for _, tl := range set.Tools {
		if tl.Name() == "identity.signins" {
			signins = tl
		}
	}
	res, err := signins.Call(t.Context(), map[string]any{"user": `example\bob`, "incident": "inc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := connFinding(res, "signin_success_after_failures"); !ok {
		t.Errorf("no spray success on the seeded day: %+v", res)
	}
	stop()
	if _, err := set.Respond.Identity.Enabled(t.Context(), `example\bob`); err == nil {
		t.Error("the services still answer after cleanup")
	}
}

func TestConnectorsUserAndHostNames(t *testing.T) {
	for in, want := range map[string]string{
		`EXAMPLE\Bob`: "bob@example.com", "bob": "bob@example.com", "Bob@Example.com": "bob@example.com", `corp\carol`: "carol@example.com",
	} {
		if got, err := upn(in, "example.com"); err != nil || got != want {
			t.Errorf("upn(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := upn(`example\bob`, ""); err == nil {
		t.Error("no suffix: no error")
	}
	if _, err := upn(" ", "example.com"); err == nil {
		t.Error("empty user: no error")
	}
	for in, want := range map[string][]string{"WS01": {"ws01"}, "ws01.corp.example.com": {"ws01.corp.example.com", "ws01"}, "10.0.0.5": {"10.0.0.5"}, "": nil} {
		if got := hostNames(in); !slices.Equal(got, want) {
			t.Errorf("hostNames(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]string{`EXAMPLE\Bob`: `user:example\bob`, "bob@example.com": `user:example\bob`} {
		if got := entityKey("user", in); got != want {
			t.Errorf("entityKey(%q) = %q", in, got)
		}
	}
	if got := entityKey("host", "WS01.corp.example.com"); got != "host:ws01" {
		t.Errorf("host key = %q", got)
	}
}

func TestConnectorsIDCacheBounded(t *testing.T) {
	c := newIDCache(time.Minute, 3)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		c.put(k, "id-"+k)
	}
	if len(c.m) > 3 {
		t.Errorf("%d entries, max 3", len(c.m))
	}
	if id, ok := c.get("e"); !ok || id != "id-e" {
		t.Errorf("latest entry: %q, %v", id, ok)
	}
	now = now.Add(2 * time.Minute)
	if _, ok := c.get("e"); ok {
		t.Error("expired entry returned")
	}
}

func TestConnectorsMergeFindings(t *testing.T) {
	fs := mergeFindings([]investigate.Finding{
		{Name: "x", Weight: 0.5, Entity: "user:a", Detail: "one", Actions: []string{"a1"}},
		{Name: "x", Weight: 1.5, Entity: "user:a", Detail: "two", Actions: []string{"a2"}},
		{Name: "x", Weight: 1.0, Entity: "user:b", Detail: "three"},
	})
	if len(fs) != 2 || fs[0].Weight != 1.5 || fs[0].Detail != "two; one" || !slices.Equal(fs[0].Actions, []string{"a2", "a1"}) {
		t.Errorf("merged = %+v", fs)
	}
}
