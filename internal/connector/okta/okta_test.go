package okta_test

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/connector/okta"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
)

type env struct {
	org   *demo.Org
	fake  *connectortest.Okta
	c     *okta.Client
	waits *connectortest.Waits
	logs  *connectortest.LogBuffer
}

func setup(t *testing.T, opts ...func(*egress.Options, *okta.Config)) *env {
	t.Helper()
	org := demo.NewOrg()
	fake := connectortest.NewOkta(org)
	t.Cleanup(fake.Close)
	e := &env{org: org, fake: fake, waits: &connectortest.Waits{}, logs: &connectortest.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eo := egress.Options{AllowPrivate: connectortest.AllowLoopback, Sleep: e.waits.Sleep, Logger: log}
	cfg := okta.Config{BaseURL: fake.URL(), APIToken: fake.APIToken(), Logger: log}
	for _, o := range opts {
		o(&eo, &cfg)
	}
	hc, err := egress.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	if e.c, err = okta.New(cfg, hc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), fake.APIToken().Reveal()) || strings.Contains(e.logs.String(), cfg.APIToken.Reveal()) {
			t.Error("the API token reached the logs")
		}
	})
	return e
}

func TestGetUser(t *testing.T) {
	e := setup(t)
	bob := e.org.User("bob")
	for _, key := range []string{bob.OktaID, bob.UPN} {
		u, err := e.c.GetUser(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != bob.OktaID || u.Profile.Login != bob.UPN || u.Status != okta.StatusActive || u.Profile.DisplayName != bob.Display {
			t.Errorf("GetUser(%s) = %+v", key, u)
		}
	}
	var ae *connector.APIError
	_, err := e.c.GetUser(t.Context(), "00unobody")
	if !errors.Is(err, connector.ErrNotFound) || !errors.As(err, &ae) || ae.Code != "E0000007" || !strings.Contains(err.Error(), "Resource not found") {
		t.Errorf("unknown user: %v", err)
	}
}

func TestGroupsRolesFactorsGrants(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	dave, bob := e.org.User("dave"), e.org.User("bob")
	groups, err := e.c.Groups(ctx, dave.OktaID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(groups, func(g okta.Group) bool { return g.Profile.Name == "Okta Admins" }) {
		t.Errorf("dave's groups = %+v", groups)
	}
	roles, err := e.c.Roles(ctx, dave.OktaID)
	if err != nil || len(roles) != 1 || roles[0].Type != "SUPER_ADMIN" {
		t.Errorf("dave's roles = %+v, %v", roles, err)
	}
	if roles, _ := e.c.Roles(ctx, bob.OktaID); len(roles) != 0 {
		t.Errorf("bob's roles = %+v", roles)
	}
	factors, err := e.c.Factors(ctx, bob.OktaID)
	if err != nil || len(factors) != 0 {
		t.Errorf("bob's factors = %+v, %v (want none: the spray got in with a password)", factors, err)
	}
	factors, _ = e.c.Factors(ctx, dave.OktaID)
	if len(factors) != 3 || factors[0].FactorType != "push" {
		t.Errorf("dave's factors = %+v", factors)
	}
	grants, err := e.c.Grants(ctx, bob.OktaID)
	if err != nil || len(grants) != 3 || grants[0].ClientName() != "Example Intranet" || grants[0].Scope() != "openid" {
		t.Errorf("bob's grants = %+v, %v", grants, err)
	}
	if _, err := e.c.Factors(ctx, "00unobody"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("factors of unknown user: %v", err)
	}
}

func TestSystemLogPaged(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	all, err := e.c.SystemLog(ctx, okta.LogQuery{Since: time.Now().AddDate(0, 0, -7)})
	if err != nil {
		t.Fatal(err)
	}
	// Background: 6 sign-ins and 2 typo failures; spray: 12 failures and bob's success.
	if len(all) != 21 {
		t.Fatalf("%d events, want 21", len(all))
	}
	if pages := e.fake.Count(http.MethodGet, "/api/v1/logs"); pages != 3 {
		t.Errorf("%d pages, want 3 (page size 10)", pages)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Published.Before(all[i-1].Published) {
			t.Fatal("events not oldest first")
		}
	}

	spray, err := e.c.SystemLog(ctx, okta.LogQuery{IPAddress: demo.SprayIP, EventType: "user.session.start"})
	if err != nil {
		t.Fatal(err)
	}
	if len(spray) != 13 {
		t.Fatalf("%d events from the spray address, want 13", len(spray))
	}
	ok, err := e.c.SystemLog(ctx, okta.LogQuery{IPAddress: demo.SprayIP, Outcome: "SUCCESS"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok) != 1 || ok[0].Actor.ID != e.org.User("bob").OktaID || ok[0].Client.GeographicalContext.Country != "Brazil" {
		t.Fatalf("successful spray sign-ins = %+v", ok)
	}
	raw, err := e.c.SystemLog(ctx, okta.LogQuery{Filter: `outcome.reason eq "INVALID_CREDENTIALS" and actor.alternateId sw "erin"`, Max: 1})
	if err != nil || len(raw) != 1 {
		t.Fatalf("raw filter: %+v, %v", raw, err)
	}
	if _, err := e.c.SystemLog(ctx, okta.LogQuery{Filter: `eventType eq`}); err == nil || !strings.Contains(err.Error(), "E0000031") {
		t.Errorf("bad filter: %v", err)
	}
}

func TestSuspendIdempotentAndLogged(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	bob := e.org.User("bob")
	start := time.Now().Add(-time.Second)
	for range 2 {
		if err := e.c.Suspend(ctx, bob.OktaID); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := e.c.GetUser(ctx, bob.OktaID); u.Status != okta.StatusSuspended {
		t.Fatalf("status after suspend = %s", u.Status)
	}
	// The second call met Okta's E0000001 and was resolved by reading the state.
	if n := e.fake.Count(http.MethodPost, "/api/v1/users/"+bob.OktaID+"/lifecycle/suspend"); n != 2 {
		t.Errorf("%d suspend calls, want 2", n)
	}
	evs, err := e.c.SystemLog(ctx, okta.LogQuery{Since: start, TargetID: bob.OktaID, EventType: "user.lifecycle.suspend"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("suspend events = %+v, %v", evs, err)
	}
	for range 2 {
		if err := e.c.Unsuspend(ctx, bob.OktaID); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := e.c.GetUser(ctx, bob.OktaID); u.Status != okta.StatusActive {
		t.Fatalf("status after unsuspend = %s", u.Status)
	}
	if err := e.c.Suspend(ctx, "00unobody"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("suspend unknown user: %v", err)
	}
}

func TestClearSessions(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	bob := e.org.User("bob")
	start := time.Now().Add(-time.Second)
	if err := e.c.ClearSessions(ctx, bob.OktaID, true); err != nil {
		t.Fatal(err)
	}
	reqs := e.fake.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != http.MethodDelete || last.Query.Get("oauthTokens") != "true" || last.Header.Get("Authorization") != "SSWS [redacted]" {
		t.Errorf("request = %+v", last)
	}
	evs, _ := e.c.SystemLog(ctx, okta.LogQuery{Since: start, TargetID: bob.OktaID})
	var types []string
	for _, ev := range evs {
		types = append(types, ev.EventType)
	}
	if !slices.Contains(types, "user.session.clear") || !slices.Contains(types, "app.oauth2.as.token.revoke") {
		t.Errorf("events after clearing sessions: %v", types)
	}
}

func TestResetPassword(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	carol := e.org.User("carol")
	r, err := e.c.ResetPassword(ctx, carol.OktaID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.ResetURL.Reveal(), "/reset_password/") || r.ResetURL.String() != "[REDACTED]" {
		t.Errorf("reset = %+v", r)
	}
	if strings.Contains(e.logs.String(), r.ResetURL.Reveal()) {
		t.Error("the reset link reached the logs")
	}
	if u, _ := e.c.GetUser(ctx, carol.OktaID); u.Status != okta.StatusRecovery {
		t.Errorf("status = %s, want RECOVERY", u.Status)
	}
	r, err = e.c.ResetPassword(ctx, e.org.User("erin").OktaID, true)
	if err != nil || !r.ResetURL.IsZero() {
		t.Errorf("with e-mail: %+v, %v", r, err)
	}
}

func TestRevokeGrants(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	bob, alice := e.org.User("bob"), e.org.User("alice")
	grants, _ := e.c.Grants(ctx, alice.OktaID)
	for range 2 {
		if err := e.c.RevokeGrant(ctx, alice.OktaID, grants[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := e.c.Grants(ctx, alice.OktaID); len(left) != len(grants)-1 {
		t.Errorf("alice has %d grants left, want %d", len(left), len(grants)-1)
	}
	if err := e.c.RevokeGrant(ctx, "00unobody", "oag1"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("revoke a grant of an unknown user: %v", err)
	}
	for range 2 {
		if err := e.c.RevokeGrants(ctx, bob.OktaID); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := e.c.Grants(ctx, bob.OktaID); len(left) != 0 {
		t.Errorf("bob's grants after revoke = %+v", left)
	}
}

func TestBadToken(t *testing.T) {
	const wrong = connector.Secret("00wrongtoken0123456789")
	e := setup(t, func(_ *egress.Options, c *okta.Config) { c.APIToken = wrong })
	_, err := e.c.GetUser(t.Context(), "alice@example.com")
	if !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "E0000011") || !strings.Contains(err.Error(), "Invalid token provided") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), wrong.Reveal()) || strings.Contains(e.logs.String(), wrong.Reveal()) {
		t.Error("the token leaked")
	}
}

func TestRateLimitResetHonoured(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.fake.RateLimitNext(1, 2*time.Second)
	if _, err := e.c.GetUser(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	// X-Rate-Limit-Reset is an epoch second: the wait is the time to it, within a second.
	if w := e.waits.All(); len(w) != 1 || w[0] < time.Second || w[0] > 3*time.Second {
		t.Errorf("waits = %v, want about 2s from X-Rate-Limit-Reset", w)
	}
	e.fake.RateLimitNext(100, 2*time.Second)
	_, err := e.c.GetUser(ctx, "alice@example.com")
	var ae *connector.APIError
	if !errors.Is(err, connector.ErrRateLimited) || !errors.As(err, &ae) || ae.Code != "E0000047" || ae.RetryAfter <= 0 {
		t.Fatalf("err = %v (%+v), want ErrRateLimited with the reset time", err, ae)
	}
}

func TestServerError(t *testing.T) {
	e := setup(t, func(o *egress.Options, _ *okta.Config) { o.MaxRetries = egress.NoRetries })
	e.fake.FailNext(1, http.StatusInternalServerError)
	_, err := e.c.GetUser(t.Context(), "alice@example.com")
	if err == nil || !strings.Contains(err.Error(), "E0000009") || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("err = %v", err)
	}
}

func TestNextLink(t *testing.T) {
	h := http.Header{}
	h.Add("Link", `<https://x.okta.com/api/v1/logs?limit=2>; rel="self"`)
	h.Add("Link", `<https://x.okta.com/api/v1/logs?after=abc&limit=2>; rel="next"`)
	if got := okta.NextLink(h); got != "https://x.okta.com/api/v1/logs?after=abc&limit=2" {
		t.Errorf("NextLink = %q", got)
	}
	h = http.Header{"Link": {`<https://a/1>; rel="self", <https://a/2>; rel=next`}}
	if got := okta.NextLink(h); got != "https://a/2" {
		t.Errorf("NextLink combined = %q", got)
	}
	if got := okta.NextLink(http.Header{}); got != "" {
		t.Errorf("NextLink none = %q", got)
	}
}

func TestNewValidates(t *testing.T) {
	hc, _ := egress.New(egress.Options{})
	for _, cfg := range []okta.Config{{BaseURL: "https://x.okta.com"}, {BaseURL: "not a url", APIToken: "t"}} {
		if _, err := okta.New(cfg, hc); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
