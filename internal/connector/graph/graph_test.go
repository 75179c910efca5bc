package graph_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
)

type env struct {
	org   *demo.Org
	fake  *connectortest.Graph
	c     *graph.Client
	waits *connectortest.Waits
	logs  *connectortest.LogBuffer
}

func setup(t *testing.T, opts ...func(*egress.Options, *graph.Config)) *env {
	t.Helper()
	org := demo.NewOrg()
	fake := connectortest.NewGraph(org)
	t.Cleanup(fake.Close)
	e := &env{org: org, fake: fake, waits: &connectortest.Waits{}, logs: &connectortest.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eo := egress.Options{AllowPrivate: connectortest.AllowLoopback, Sleep: e.waits.Sleep, Logger: log}
	cred := fake.Credentials()
	cfg := graph.Config{BaseURL: fake.URL(), Authority: cred.Authority, TenantID: cred.TenantID, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Logger: log}
	for _, o := range opts {
		o(&eo, &cfg)
	}
	hc, err := egress.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	e.c, err = graph.New(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// No secret or bearer token ever reaches the logs.
		logs := e.logs.String()
		if strings.Contains(logs, cred.ClientSecret.Reveal()) || strings.Contains(logs, "fk.") {
			t.Errorf("logs contain a secret or a token:\n%s", logs)
		}
	})
	return e
}

func TestGetUser(t *testing.T) {
	e := setup(t)
	dave := e.org.User("dave")
	for _, key := range []string{dave.EntraID, dave.UPN} {
		u, err := e.c.GetUser(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != dave.EntraID || u.UserPrincipalName != dave.UPN || !u.AccountEnabled || u.OnPremisesSecurityIdentifier != dave.SID || u.OnPremisesSamAccountName != "dave" {
			t.Errorf("GetUser(%s) = %+v", key, u)
		}
		if u.LastPasswordChangeDateTime.IsZero() || u.SignInSessionsValidFromDateTime.IsZero() {
			t.Errorf("selected properties missing: %+v", u)
		}
	}
}

func TestGetUserNotFound(t *testing.T) {
	e := setup(t)
	_, err := e.c.GetUser(t.Context(), "nobody@example.com")
	if !errors.Is(err, connector.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	var ae *connector.APIError
	if !errors.As(err, &ae) || ae.Code != "Request_ResourceNotFound" || ae.RequestID == "" || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error does not carry Graph's error body: %v", err)
	}
}

func TestMemberOfPaged(t *testing.T) {
	e := setup(t)
	m, err := e.c.MemberOf(t.Context(), e.org.User("dave").EntraID)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Privileged() || !slices.ContainsFunc(m.Roles, func(r graph.DirectoryRole) bool { return r.RoleTemplateID == connectortest.GlobalAdminTemplateID }) {
		t.Errorf("dave is not a Global Administrator: %+v", m.Roles)
	}
	if !slices.ContainsFunc(m.Groups, func(g graph.Group) bool { return g.DisplayName == "IT Admins" }) {
		t.Errorf("dave not in IT Admins: %+v", m.Groups)
	}
	if n := e.fake.Count(http.MethodGet, "/v1.0/users/"+e.org.User("dave").EntraID+"/memberOf"); n < 2 {
		t.Errorf("memberOf fetched in %d pages, want at least 2", n)
	}
	m, err = e.c.MemberOf(t.Context(), e.org.User("alice").UPN)
	if err != nil {
		t.Fatal(err)
	}
	if m.Privileged() || len(m.Groups) != 3 {
		t.Errorf("alice: %+v", m)
	}
}

func TestAuthenticationMethods(t *testing.T) {
	e := setup(t)
	bob, err := e.c.AuthenticationMethods(t.Context(), e.org.User("bob").EntraID)
	if err != nil {
		t.Fatal(err)
	}
	if len(bob) != 1 || bob[0].Type() != "password" || graph.HasStrongMethod(bob) {
		t.Errorf("bob's methods = %+v, want the password only", bob)
	}
	dave, err := e.c.AuthenticationMethods(t.Context(), e.org.User("dave").EntraID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range dave {
		types = append(types, m.Type())
	}
	if !graph.HasStrongMethod(dave) || !slices.Contains(types, "fido2") || !slices.Contains(types, "microsoftAuthenticator") {
		t.Errorf("dave's methods = %v", types)
	}
}

func TestSignInsPagedAndFiltered(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	all, err := e.c.SignIns(ctx, graph.SignInQuery{Since: time.Now().AddDate(0, 0, -7)})
	if err != nil {
		t.Fatal(err)
	}
	// 6 users' morning sign-ins, 6 spray attempts, carol's sign-in to the malicious app.
	if len(all) != 13 {
		t.Fatalf("got %d sign-ins, want 13", len(all))
	}
	if n := e.fake.Count(http.MethodGet, "/v1.0/auditLogs/signIns"); n != 3 {
		t.Errorf("%d pages fetched, want 3 (page size 5)", n)
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedDateTime.After(all[i-1].CreatedDateTime) {
			t.Fatal("sign-ins not newest first")
		}
	}

	spray, err := e.c.SignIns(ctx, graph.SignInQuery{IPAddress: demo.SprayIP})
	if err != nil {
		t.Fatal(err)
	}
	if len(spray) != 6 {
		t.Fatalf("%d sign-ins from the spray address, want 6", len(spray))
	}
	for _, s := range spray {
		if s.Succeeded() || s.Status.ErrorCode != 50126 || s.Location.CountryOrRegion != demo.SprayCountry {
			t.Errorf("spray sign-in %+v", s)
		}
	}
	bob, err := e.c.SignIns(ctx, graph.SignInQuery{UserPrincipalName: e.org.User("bob").UPN, FailuresOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(bob) != 1 || bob[0].IPAddress != demo.SprayIP {
		t.Errorf("bob's failures = %+v", bob)
	}
	carol, err := e.c.SignIns(ctx, graph.SignInQuery{UserID: e.org.User("carol").EntraID, Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(carol) != 1 || carol[0].AppDisplayName != demo.MaliciousApp {
		t.Errorf("carol's newest sign-in = %+v, want the one to %s", carol, demo.MaliciousApp)
	}
	none, err := e.c.SignIns(ctx, graph.SignInQuery{Since: time.Now().Add(time.Hour)})
	if err != nil || len(none) != 0 {
		t.Errorf("future sign-ins = %v, %v", none, err)
	}
}

func TestConsentGrantRevokedAndVerified(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	carol := e.org.User("carol")
	grants, err := e.c.OAuth2PermissionGrants(ctx, graph.GrantQuery{PrincipalID: carol.EntraID})
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 {
		t.Fatalf("carol has %d grants, want 1", len(grants))
	}
	g := grants[0]
	for _, s := range []string{"Mail.Read", "Mail.ReadWrite", "Mail.Send"} {
		if !slices.Contains(g.Scopes(), s) {
			t.Errorf("grant scopes %v lack %s", g.Scopes(), s)
		}
	}
	sp, err := e.c.ServicePrincipalByAppID(ctx, demo.MaliciousAppID)
	if err != nil {
		t.Fatal(err)
	}
	if sp.ID != g.ClientID || sp.DisplayName != demo.MaliciousApp || sp.PublisherVerified() || !sp.AccountEnabled {
		t.Errorf("service principal %+v does not match the grant's client %s", sp, g.ClientID)
	}
	byClient, err := e.c.OAuth2PermissionGrants(ctx, graph.GrantQuery{ClientID: sp.ID})
	if err != nil || len(byClient) != 1 || byClient[0].ID != g.ID {
		t.Fatalf("grants by client = %+v, %v", byClient, err)
	}

	if err := e.c.DeleteOAuth2PermissionGrant(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.OAuth2PermissionGrant(ctx, g.ID); !errors.Is(err, connector.ErrNotFound) {
		t.Fatalf("read-back after delete: err = %v, want ErrNotFound", err)
	}
	if left, _ := e.c.OAuth2PermissionGrants(ctx, graph.GrantQuery{PrincipalID: carol.EntraID}); len(left) != 0 {
		t.Fatalf("grants left: %+v", left)
	}
	if err := e.c.DeleteOAuth2PermissionGrant(ctx, g.ID); err != nil {
		t.Fatalf("deleting again: %v, want nil (idempotent)", err)
	}

	for range 2 { // idempotent
		if err := e.c.DisableServicePrincipal(ctx, sp.ID); err != nil {
			t.Fatal(err)
		}
	}
	sp, err = e.c.ServicePrincipal(ctx, sp.ID)
	if err != nil || sp.AccountEnabled {
		t.Fatalf("service principal after disable: %+v, %v", sp, err)
	}
	if _, err := e.c.ServicePrincipal(ctx, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown service principal: %v", err)
	}
	if _, err := e.c.ServicePrincipalByAppID(ctx, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown app ID: %v", err)
	}
}

func TestDisableEnableUser(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	bob := e.org.User("bob")
	for range 2 { // idempotent
		if err := e.c.DisableUser(ctx, bob.EntraID); err != nil {
			t.Fatal(err)
		}
	}
	u, err := e.c.GetUser(ctx, bob.UPN)
	if err != nil || u.AccountEnabled {
		t.Fatalf("after disable: %+v, %v", u, err)
	}
	if err := e.c.EnableUser(ctx, bob.EntraID); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.c.GetUser(ctx, bob.UPN); !u.AccountEnabled {
		t.Fatal("enable did not restore the account")
	}
	if err := e.c.DisableUser(ctx, "ghost@example.com"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("disable unknown user: %v", err)
	}
}

func TestRevokeSignInSessions(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	bob := e.org.User("bob")
	before, err := e.c.GetUser(ctx, bob.EntraID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Second)
	if err := e.c.RevokeSignInSessions(ctx, bob.EntraID); err != nil {
		t.Fatal(err)
	}
	after, _ := e.c.GetUser(ctx, bob.EntraID)
	if !after.SignInSessionsValidFromDateTime.After(before.SignInSessionsValidFromDateTime) || after.SignInSessionsValidFromDateTime.Before(start) {
		t.Errorf("signInSessionsValidFromDateTime %v -> %v", before.SignInSessionsValidFromDateTime, after.SignInSessionsValidFromDateTime)
	}
	if err := e.c.RevokeSignInSessions(ctx, bob.EntraID); err != nil {
		t.Errorf("revoking again: %v", err)
	}
}

func TestResetPasswordAndAudit(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	frank := e.org.User("frank")
	resets, err := e.c.PasswordResets(ctx, frank.EntraID, time.Now().AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	if len(resets) != 1 || resets[0].ActivityDisplayName != graph.ActivityResetPasswordByAdmin || resets[0].InitiatedBy.User == nil || resets[0].InitiatedBy.User.UserPrincipalName != e.org.User("dave").UPN {
		t.Fatalf("frank's seeded resets = %+v", resets)
	}

	before := time.Now().Add(-time.Second)
	pw, err := e.c.ResetPassword(ctx, frank.EntraID, graph.PasswordReset{ForceChangeNextSignIn: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pw.Reveal()) != 24 || pw.String() != "[REDACTED]" {
		t.Errorf("generated password: len %d, String %q", len(pw.Reveal()), pw.String())
	}
	u, _ := e.c.GetUser(ctx, frank.EntraID)
	if u.LastPasswordChangeDateTime.Before(before) {
		t.Errorf("lastPasswordChangeDateTime not updated: %v", u.LastPasswordChangeDateTime)
	}
	resets, _ = e.c.PasswordResets(ctx, frank.EntraID, before)
	if len(resets) != 1 || resets[0].ActivityDisplayName != graph.ActivityResetUserPassword {
		t.Fatalf("resets since the action = %+v", resets)
	}
	if strings.Contains(e.logs.String(), pw.Reveal()) {
		t.Error("the new password reached the logs")
	}
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodPatch && (!bytes.Contains(r.Body, []byte(`"forceChangePasswordNextSignIn":true`)) || bytes.Contains(r.Body, []byte(pw.Reveal()))) {
			t.Errorf("recorded PATCH body %s: want the passwordProfile, with the password redacted", r.Body)
		}
	}

	_, err = e.c.ResetPassword(ctx, frank.EntraID, graph.PasswordReset{Password: "short"})
	if err == nil || !strings.Contains(err.Error(), "complexity") || strings.Contains(err.Error(), "short") {
		t.Errorf("weak password: err = %v, want Graph's complexity message without the password", err)
	}
}

func TestConsentAudit(t *testing.T) {
	e := setup(t)
	carol := e.org.User("carol")
	audits, err := e.c.DirectoryAudits(t.Context(), graph.AuditQuery{Activities: []string{"Consent to application"}, InitiatedByUserID: carol.EntraID})
	if err != nil {
		t.Fatal(err)
	}
	if len(audits) != 1 || audits[0].TargetResources[0].ID != connectortest.MaliciousAppSPID || audits[0].TargetResources[0].DisplayName != demo.MaliciousApp {
		t.Fatalf("consent audits = %+v", audits)
	}
	all, err := e.c.DirectoryAudits(t.Context(), graph.AuditQuery{})
	if err != nil || len(all) != 3 {
		t.Errorf("all audits = %d, %v; want 3 (consent and two resets)", len(all), err)
	}
}

func TestRiskyUsers(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	bob := e.org.User("bob")
	r, err := e.c.RiskyUser(ctx, bob.EntraID)
	if err != nil {
		t.Fatal(err)
	}
	if r.RiskLevel != "high" || r.RiskState != "atRisk" {
		t.Errorf("bob's risk = %+v", r)
	}
	if _, err := e.c.RiskyUser(ctx, e.org.User("alice").EntraID); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("alice never at risk: err = %v, want ErrNotFound", err)
	}
	if err := e.c.ConfirmCompromised(ctx, bob.EntraID); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.c.RiskyUser(ctx, bob.EntraID); r.RiskState != "confirmedCompromised" || r.RiskDetail != "adminConfirmedUserCompromised" {
		t.Errorf("after confirm: %+v", r)
	}
	if err := e.c.DismissRisk(ctx, bob.EntraID); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.c.RiskyUser(ctx, bob.EntraID); r.RiskState != "dismissed" || r.RiskLevel != "none" {
		t.Errorf("after dismiss: %+v", r)
	}
}

func TestInboxRules(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	bob := e.org.User("bob")
	rules, err := e.c.InboxRules(ctx, bob.UPN)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || !slices.Contains(rules[0].ForwardsTo(), demo.ForwardTo) || !rules[0].Actions.Delete {
		t.Fatalf("bob's rules = %+v", rules)
	}
	r, err := e.c.InboxRule(ctx, bob.UPN, rules[0].ID)
	if err != nil || r.DisplayName != ".." {
		t.Fatalf("InboxRule = %+v, %v", r, err)
	}
	for range 2 {
		if err := e.c.DeleteInboxRule(ctx, bob.UPN, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.InboxRule(ctx, bob.UPN, r.ID); !errors.Is(err, connector.ErrNotFound) {
		t.Fatalf("read-back after delete: %v", err)
	}
	if rules, _ := e.c.InboxRules(ctx, bob.UPN); len(rules) != 0 {
		t.Errorf("rules left: %+v", rules)
	}
}

func TestTokenCachedAndRefreshedAfter401(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	token := "/" + e.org.Tenant + "/oauth2/v2.0/token"
	for range 3 {
		if _, err := e.c.GetUser(ctx, e.org.User("alice").EntraID); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.fake.Count(http.MethodPost, token); n != 1 {
		t.Fatalf("%d token requests for 3 calls, want 1 (cached)", n)
	}
	e.fake.RevokeTokens()
	if _, err := e.c.GetUser(ctx, e.org.User("alice").EntraID); err != nil {
		t.Fatalf("after token revocation: %v", err)
	}
	if n := e.fake.Count(http.MethodPost, token); n != 2 {
		t.Fatalf("%d token requests, want 2 (refreshed after the 401)", n)
	}
	var saw401 bool
	for _, r := range e.fake.Requests() {
		if r.Status == http.StatusUnauthorized {
			saw401 = true
		}
		if r.Path == token && !bytes.Contains(r.Body, []byte("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default")) {
			t.Errorf("token request body %s lacks the .default scope", r.Body)
		}
	}
	if !saw401 {
		t.Error("the fake never answered 401")
	}
}

func TestBadCredentials(t *testing.T) {
	const wrong = connector.Secret("wrong-secret-value-123")
	e := setup(t, func(_ *egress.Options, c *graph.Config) { c.ClientSecret = wrong })
	_, err := e.c.GetUser(t.Context(), "alice@example.com")
	if !errors.Is(err, connector.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "AADSTS7000215") || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("error lacks Entra's reason: %v", err)
	}
	if strings.Contains(err.Error(), wrong.Reveal()) || strings.Contains(e.logs.String(), wrong.Reveal()) {
		t.Error("the secret leaked into the error or the logs")
	}
	if e.fake.Count("", "/v1.0/*") != 0 {
		t.Error("an API call was made without a token")
	}
}

func TestRateLimitHonoured(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	if _, err := e.c.GetUser(ctx, "alice@example.com"); err != nil { // warm the token
		t.Fatal(err)
	}
	e.fake.RateLimitNext(2, 3*time.Second)
	if _, err := e.c.GetUser(ctx, "alice@example.com"); err != nil {
		t.Fatalf("after two 429s: %v", err)
	}
	if w := e.waits.All(); len(w) != 2 || w[0] != 3*time.Second || w[1] != 3*time.Second {
		t.Errorf("waits = %v, want Retry-After's 3s twice", w)
	}

	e.fake.RateLimitNext(100, 4*time.Second)
	_, err := e.c.GetUser(ctx, "alice@example.com")
	if !errors.Is(err, connector.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited once retries run out", err)
	}
	var ae *connector.APIError
	if !errors.As(err, &ae) || ae.RetryAfter != 4*time.Second || ae.Code != "TooManyRequests" {
		t.Errorf("APIError = %+v", ae)
	}
}

func TestServerErrorSurfaced(t *testing.T) {
	e := setup(t, func(o *egress.Options, _ *graph.Config) { o.MaxRetries = 1 })
	ctx := t.Context()
	if _, err := e.c.GetUser(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext(1, http.StatusBadGateway)
	if _, err := e.c.GetUser(ctx, "alice@example.com"); err != nil {
		t.Fatalf("one 502 should be retried: %v", err)
	}
	e.fake.FailNext(5, http.StatusBadGateway)
	_, err := e.c.GetUser(ctx, "alice@example.com")
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), "serviceNotAvailable") {
		t.Fatalf("err = %v, want Graph's error body", err)
	}
}

func TestSecretRedacted(t *testing.T) {
	cfg := graph.Config{TenantID: "t", ClientID: "c", ClientSecret: "super-secret"}
	for _, s := range []string{
		slogString(cfg), strings.Join([]string{cfg.ClientSecret.String()}, ""),
	} {
		if strings.Contains(s, "super-secret") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func slogString(v any) string {
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "cfg", v)
	return b.String()
}

func TestNewValidates(t *testing.T) {
	hc, _ := egress.New(egress.Options{})
	if _, err := graph.New(graph.Config{TenantID: "t", ClientID: "c"}, hc); err == nil {
		t.Error("want an error without a secret")
	}
	if _, err := graph.New(graph.Config{TenantID: "t", ClientID: "c", ClientSecret: "s"}, nil); err == nil {
		t.Error("want an error without an egress client")
	}
}

func TestRollbacks(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	carol, bob := e.org.User("carol"), e.org.User("bob")

	// Revoke carol's consent, then restore it from what was read.
	grants, _ := e.c.OAuth2PermissionGrants(ctx, graph.GrantQuery{PrincipalID: carol.EntraID})
	saved := grants[0]
	if err := e.c.DeleteOAuth2PermissionGrant(ctx, saved.ID); err != nil {
		t.Fatal(err)
	}
	restored, err := e.c.CreateOAuth2PermissionGrant(ctx, saved)
	if err != nil {
		t.Fatal(err)
	}
	if restored.ClientID != saved.ClientID || restored.Scope != saved.Scope || restored.PrincipalID != carol.EntraID {
		t.Errorf("restored = %+v", restored)
	}
	again, err := e.c.CreateOAuth2PermissionGrant(ctx, saved)
	if err != nil || again.ID != restored.ID {
		t.Errorf("restoring twice = %+v, %v; want the existing grant", again, err)
	}
	if n, _ := e.c.OAuth2PermissionGrants(ctx, graph.GrantQuery{PrincipalID: carol.EntraID}); len(n) != 1 {
		t.Errorf("%d grants after restore, want 1", len(n))
	}
	if err := e.c.SetServicePrincipalEnabled(ctx, saved.ClientID, true); err != nil {
		t.Fatal(err)
	}

	// Delete bob's forwarding rule, then restore it.
	rules, _ := e.c.InboxRules(ctx, bob.EntraID)
	if err := e.c.DeleteInboxRule(ctx, bob.EntraID, rules[0].ID); err != nil {
		t.Fatal(err)
	}
	r, err := e.c.CreateInboxRule(ctx, bob.EntraID, rules[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.ID == rules[0].ID || r.DisplayName != ".." || len(r.ForwardsTo()) != 1 || r.ForwardsTo()[0] != demo.ForwardTo {
		t.Errorf("restored rule = %+v", r)
	}
}

func TestQuarantineMessage(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	alice := e.org.User("alice")
	m, err := e.c.Message(ctx, alice.EntraID, connectortest.PhishingMessageID)
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasAttachments || m.From.EmailAddress.Address != "accounts@invoices-example.net" {
		t.Errorf("message = %+v", m)
	}
	inbox := m.ParentFolderID
	for range 2 { // idempotent
		moved, err := e.c.MoveMessage(ctx, alice.EntraID, m.ID, "junkemail")
		if err != nil {
			t.Fatal(err)
		}
		if moved.ID != m.ID || moved.ParentFolderID == inbox {
			t.Fatalf("moved = %+v", moved)
		}
	}
	back, err := e.c.MoveMessage(ctx, alice.EntraID, m.ID, "inbox")
	if err != nil || back.ParentFolderID != inbox {
		t.Fatalf("release = %+v, %v", back, err)
	}
	if _, err := e.c.MoveMessage(ctx, alice.EntraID, m.ID, "nowhere"); err == nil {
		t.Error("move to an unknown folder succeeded")
	}
	if _, err := e.c.Message(ctx, alice.EntraID, "AAkALgnope"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown message: %v", err)
	}
}
