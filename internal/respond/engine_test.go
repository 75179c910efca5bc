package respond_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/respond"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/sqlite"
)

// fakeOrg is an in-memory tenant behind every capability: it keeps state so that the read-back
// sees what the action did, counts calls, and can be told to fail or to "succeed" without effect.
type fakeOrg struct {
	mu         sync.Mutex
	now        func() time.Time
	contained  map[string]bool
	disabled   map[string]bool
	revokedAt  map[string]time.Time
	resetAt    map[string]time.Time
	grants     map[string][]string
	blocked    map[string]bool
	rules      map[string][]string
	quarantine map[string]bool
	calls      map[string]int
	failNext   int  // the next n acting calls fail
	noEffect   bool // acting calls return success but change nothing
}

func newFakeOrg(now func() time.Time) *fakeOrg {
	return &fakeOrg{now: now, contained: map[string]bool{}, disabled: map[string]bool{}, revokedAt: map[string]time.Time{},
		resetAt: map[string]time.Time{}, grants: map[string][]string{"app:mailsync": {"Mail.Read", "Mail.Send"}},
		blocked: map[string]bool{}, rules: map[string][]string{"bob": {"forward to bob.archive@evil.example"}},
		quarantine: map[string]bool{}, calls: map[string]int{}}
}

func (f *fakeOrg) act(name string, fn func()) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[name]++
	if f.failNext > 0 {
		f.failNext--
		return fmt.Errorf("%s: HTTP 503 service unavailable", name)
	}
	if !f.noEffect {
		fn()
	}
	return nil
}

func (f *fakeOrg) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeOrg) read(fn func()) { f.mu.Lock(); defer f.mu.Unlock(); fn() }

// Endpoint.
func (f *fakeOrg) Contain(_ context.Context, h string) error {
	return f.act("contain", func() { f.contained[h] = true })
}
func (f *fakeOrg) Release(_ context.Context, h string) error {
	return f.act("release", func() { delete(f.contained, h) })
}
func (f *fakeOrg) Contained(_ context.Context, h string) (v bool, _ error) {
	f.read(func() { v = f.contained[h] })
	return
}

// Identity.
func (f *fakeOrg) Disable(_ context.Context, u string) error {
	return f.act("disable", func() { f.disabled[u] = true })
}
func (f *fakeOrg) Enable(_ context.Context, u string) error {
	return f.act("enable", func() { delete(f.disabled, u) })
}
func (f *fakeOrg) Enabled(_ context.Context, u string) (v bool, _ error) {
	f.read(func() { v = !f.disabled[u] })
	return
}
func (f *fakeOrg) RevokeSessions(_ context.Context, u string) error {
	return f.act("revoke_sessions", func() { f.revokedAt[u] = f.now() })
}
func (f *fakeOrg) SessionsRevokedSince(_ context.Context, u string, since time.Time) (v bool, _ error) {
	f.read(func() { t, ok := f.revokedAt[u]; v = ok && !t.Before(since) })
	return
}
func (f *fakeOrg) ResetPassword(_ context.Context, u string) error {
	return f.act("reset_password", func() { f.resetAt[u] = f.now() })
}
func (f *fakeOrg) PasswordResetSince(_ context.Context, u string, since time.Time) (v bool, _ error) {
	f.read(func() { t, ok := f.resetAt[u]; v = ok && !t.Before(since) })
	return
}

// Grants.
func (f *fakeOrg) RevokeApp(_ context.Context, app string) (json.RawMessage, error) {
	var saved json.RawMessage
	err := f.act("revoke_app", func() {
		saved, _ = json.Marshal(f.grants["app:"+app])
		delete(f.grants, "app:"+app)
	})
	return saved, err
}
func (f *fakeOrg) RestoreApp(_ context.Context, app string, saved json.RawMessage) error {
	var scopes []string
	if err := json.Unmarshal(saved, &scopes); err != nil {
		return fmt.Errorf("saved grant: %w", err)
	}
	return f.act("restore_app", func() { f.grants["app:"+app] = scopes })
}
func (f *fakeOrg) AppGranted(_ context.Context, app string) (v bool, _ error) {
	f.read(func() { v = len(f.grants["app:"+app]) > 0 })
	return
}

// Indicators.
func (f *fakeOrg) Block(_ context.Context, k, v string) error {
	return f.act("block", func() { f.blocked[k+":"+v] = true })
}
func (f *fakeOrg) Unblock(_ context.Context, k, v string) error {
	return f.act("unblock", func() { delete(f.blocked, k+":"+v) })
}
func (f *fakeOrg) Blocked(_ context.Context, k, v string) (b bool, _ error) {
	f.read(func() { b = f.blocked[k+":"+v] })
	return
}

type fakeMail struct{ *fakeOrg }

func (m fakeMail) DeleteForwardingRules(_ context.Context, u string) (json.RawMessage, error) {
	var saved json.RawMessage
	err := m.act("delete_rules", func() { saved, _ = json.Marshal(m.rules[u]); delete(m.rules, u) })
	return saved, err
}
func (m fakeMail) RestoreRules(_ context.Context, u string, saved json.RawMessage) error {
	var rules []string
	if err := json.Unmarshal(saved, &rules); err != nil {
		return err
	}
	return m.act("restore_rules", func() { m.rules[u] = rules })
}
func (m fakeMail) ForwardingRules(_ context.Context, u string) (n int, _ error) {
	m.read(func() { n = len(m.rules[u]) })
	return
}
func (m fakeMail) Quarantine(_ context.Context, id string) error {
	return m.act("quarantine", func() { m.quarantine[id] = true })
}
func (m fakeMail) Release(_ context.Context, id string) error {
	return m.act("release_message", func() { delete(m.quarantine, id) })
}
func (m fakeMail) Quarantined(_ context.Context, id string) (v bool, _ error) {
	m.read(func() { v = m.quarantine[id] })
	return
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type auditRec struct {
	mu      sync.Mutex
	entries []string
}

func (r *auditRec) add(_ context.Context, actor, action, subject string, _ any) {
	r.mu.Lock()
	r.entries = append(r.entries, actor+" "+action+" "+subject)
	r.mu.Unlock()
}

func (r *auditRec) has(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

type rig struct {
	eng   *respond.Engine
	org   *fakeOrg
	st    *sqlite.Store
	clock *clock
	audit *auditRec
}

func newRig(t *testing.T, mod func(*respond.Options)) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	org := newFakeOrg(clk.Now)
	pol, err := respond.CompilePolicy(respond.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	rec := &auditRec{}
	opts := respond.Options{
		Store:      st,
		Connectors: &respond.Connectors{Endpoint: org, Identity: org, Grants: org, Indicators: org, Mail: fakeMail{org}, Names: map[string]string{"endpoint": "fake-edr"}},
		Policy:     pol,
		Criticality: func(h string) string {
			if h == "dc01" {
				return "critical"
			}
			return "medium"
		},
		Privileged: func(u string) bool { return u == "example\\dave" },
		Audit:      rec.add,
		Now:        clk.Now,
		Backoff:    time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	return &rig{eng: respond.NewEngine(opts), org: org, st: st, clock: clk, audit: rec}
}

func tp(action, target string) respond.Request {
	return respond.Request{Incident: "in_1", Action: action, Target: target, Verdict: "true_positive", Confidence: 0.95,
		Autonomy: "automatic", RequestedBy: "system:investigate"}
}

func TestDefaultPolicyDecisions(t *testing.T) {
	p, err := respond.CompilePolicy(respond.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	base := respond.Facts{Action: "contain_host", TargetKind: "host", Target: "ws07", Verdict: "true_positive", Confidence: 0.95,
		Criticality: "medium", Autonomy: "automatic"}
	cases := []struct {
		name string
		mod  func(*respond.Facts)
		want string
		rule string
	}{
		{"confident TP on ordinary host", func(*respond.Facts) {}, respond.Automatic, "confident-true-positive"},
		{"critical host", func(f *respond.Facts) { f.Criticality = "critical" }, respond.Approval, "critical-assets-need-a-human"},
		{"high host", func(f *respond.Facts) { f.Criticality = "high" }, respond.Approval, "critical-assets-need-a-human"},
		{"low confidence", func(f *respond.Facts) { f.Confidence = 0.7 }, respond.Approval, "everything-else"},
		{"needs human", func(f *respond.Facts) { f.Verdict = "needs_human" }, respond.Approval, "everything-else"},
		{"false positive", func(f *respond.Facts) { f.Verdict = "false_positive" }, respond.Forbidden, "no-action-on-benign"},
		{"benign TP", func(f *respond.Facts) { f.Verdict = "benign_true_positive"; f.Confidence = 1 }, respond.Forbidden, "no-action-on-benign"},
		{"injection lowers autonomy", func(f *respond.Facts) { f.Autonomy = "human_review"; f.Confidence = 0.99 }, respond.Approval, "human-review-requested"},
		{"privileged account", func(f *respond.Facts) {
			f.Action, f.TargetKind, f.Target, f.Privileged, f.Criticality = "disable_account", "user", "example\\dave", true, "unknown"
		}, respond.Approval, "privileged-accounts-need-a-human"},
		{"ordinary account", func(f *respond.Facts) {
			f.Action, f.TargetKind, f.Target, f.Criticality = "revoke_sessions", "user", "example\\bob", "unknown"
		}, respond.Automatic, "confident-true-positive"},
	}
	for _, c := range cases {
		f := base
		c.mod(&f)
		d, rule, err := p.Decide(f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d != c.want || rule != c.rule {
			t.Errorf("%s: decision %s by %s, want %s by %s", c.name, d, rule, c.want, c.rule)
		}
	}
}

func TestCompilePolicyNamesBadRules(t *testing.T) {
	_, err := respond.CompilePolicy([]respond.Rule{
		{Name: "typo", When: `verdic == "true_positive"`, Decision: respond.Automatic},
		{Name: "not-bool", When: `confidence + 1`, Decision: respond.Automatic},
		{Name: "bad-decision", When: `true`, Decision: "maybe"},
	})
	if err == nil {
		t.Fatal("bad policy compiled")
	}
	for _, name := range []string{"typo", "not-bool", "bad-decision"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name rule %s: %v", name, err)
		}
	}
	if _, err := respond.CompilePolicy(nil); err == nil {
		t.Error("empty policy compiled")
	}
	// A user policy: never contain servers automatically, by name pattern.
	p, err := respond.CompilePolicy([]respond.Rule{
		{Name: "servers", When: `action == "contain_host" && target startsWith "srv"`, Decision: respond.Approval},
		{Name: "rest", When: `verdict == "true_positive"`, Decision: respond.Automatic},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, _, _ := p.Decide(respond.Facts{Action: "contain_host", Target: "srv-db1", Verdict: "true_positive"}); d != respond.Approval {
		t.Errorf("srv-db1: %s", d)
	}
	if d, rule, _ := p.Decide(respond.Facts{Verdict: "needs_human"}); d != respond.Approval || rule != "no rule matched" {
		t.Errorf("no rule: %s %s", d, rule)
	}
}

func TestAutomaticContainmentCompletesAndIsVerified(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	a, err := r.eng.Submit(ctx, tp("contain_host", "host:ws07"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionCompleted || a.Decision != respond.Automatic {
		t.Fatalf("status %s decision %s (%s)", a.Status, a.Decision, a.Reason)
	}
	if !r.org.contained["ws07"] || r.org.count("contain") != 1 {
		t.Errorf("EDR: contained=%v calls=%d", r.org.contained["ws07"], r.org.count("contain"))
	}
	if !strings.Contains(a.Verification, "contained=true") || a.Connector != "fake-edr" {
		t.Errorf("verification %q connector %q", a.Verification, a.Connector)
	}
	if !r.audit.has("system:respond response.decision "+a.ID) || !r.audit.has("system:respond response.execute "+a.ID) {
		t.Errorf("audit: %v", r.audit.entries)
	}
	got, err := r.st.GetAction(ctx, a.ID)
	if err != nil || got.Status != event.ActionCompleted {
		t.Errorf("stored: %+v %v", got, err)
	}
}

func TestEveryCatalogActionVerifiesByReadBack(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	for _, c := range []struct{ action, target string }{
		{"contain_host", "host:ws01"}, {"disable_account", "user:example\\bob"}, {"revoke_sessions", "user:example\\bob"},
		{"reset_password", "user:example\\bob"}, {"revoke_grant", "app:mailsync"}, {"block_indicator", "ip:203.0.113.7"},
		{"delete_inbox_rule", "user:bob"}, {"quarantine_message", "message:AAMkAD1"},
	} {
		a, err := r.eng.Submit(ctx, tp(c.action, c.target))
		if err != nil {
			t.Fatalf("%s: %v", c.action, err)
		}
		if a.Status != event.ActionCompleted {
			t.Errorf("%s: %s %s", c.action, a.Status, a.LastError)
		}
	}
	// An action whose call "succeeds" without effect is not reported done.
	r.org.noEffect = true
	for _, c := range []struct{ action, target string }{
		{"contain_host", "host:ws02"}, {"revoke_sessions", "user:example\\carol"}, {"reset_password", "user:example\\carol"},
		{"block_indicator", "domain:evil.example"},
	} {
		a, err := r.eng.Submit(ctx, tp(c.action, c.target))
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != event.ActionFailed || !strings.Contains(a.LastError, "read-back") {
			t.Errorf("%s without effect: %s %q", c.action, a.Status, a.LastError)
		}
	}
}

func TestCriticalAssetNeedsApprovalWithSeparationOfDuties(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	req := tp("contain_host", "host:dc01")
	req.RequestedBy = "analyst:alice"
	a, err := r.eng.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionPending || a.PolicyRule != "critical-assets-need-a-human" {
		t.Fatalf("status %s rule %s", a.Status, a.PolicyRule)
	}
	if r.org.count("contain") != 0 {
		t.Fatal("a pending action acted")
	}
	if _, err := r.eng.Approve(ctx, a.ID, "alice", "looks bad"); !errors.Is(err, respond.ErrSeparation) {
		t.Fatalf("requester approved own request on a critical asset: %v", err)
	}
	if _, err := r.eng.Approve(ctx, a.ID, "ALICE", ""); !errors.Is(err, respond.ErrSeparation) {
		t.Fatalf("case change bypassed separation of duties: %v", err)
	}
	if _, err := r.eng.Approve(ctx, a.ID, "", ""); err == nil {
		t.Fatal("anonymous approval accepted")
	}
	a, err = r.eng.Approve(ctx, a.ID, "bob", "confirmed with the DC owner")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionCompleted || a.ApprovedBy != "bob" || !r.org.contained["dc01"] {
		t.Fatalf("after approval: %s by %q contained=%v", a.Status, a.ApprovedBy, r.org.contained["dc01"])
	}
	if !r.audit.has("analyst:bob response.approve " + a.ID) {
		t.Errorf("approval not audited: %v", r.audit.entries)
	}
	if _, err := r.eng.Approve(ctx, a.ID, "carol", ""); !errors.Is(err, respond.ErrState) {
		t.Errorf("second approval: %v", err)
	}
	// On an ordinary host, the requester may approve their own (low-confidence) request.
	req = tp("contain_host", "host:ws09")
	req.Confidence, req.RequestedBy = 0.6, "analyst:alice"
	a, _ = r.eng.Submit(ctx, req)
	if a.Status != event.ActionPending {
		t.Fatalf("low confidence: %s", a.Status)
	}
	if a, err = r.eng.Approve(ctx, a.ID, "alice", ""); err != nil || a.Status != event.ActionCompleted {
		t.Fatalf("self-approval on ordinary host: %v %s", err, a.Status)
	}
	// Privileged accounts keep separation of duties too.
	req = tp("disable_account", "user:example\\dave")
	req.RequestedBy = "analyst:erin"
	a, _ = r.eng.Submit(ctx, req)
	if _, err := r.eng.Approve(ctx, a.ID, "erin", ""); !errors.Is(err, respond.ErrSeparation) {
		t.Errorf("privileged self-approval: %v", err)
	}
}

func TestDenyAndForbidden(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	req := tp("contain_host", "host:ws03")
	req.Verdict = "false_positive"
	a, err := r.eng.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionForbidden {
		t.Fatalf("false positive: %s", a.Status)
	}
	if _, err := r.eng.Approve(ctx, a.ID, "bob", ""); !errors.Is(err, respond.ErrState) {
		t.Errorf("approving a forbidden action: %v", err)
	}
	if n, _ := r.eng.Retry(ctx); n != 0 || r.org.count("contain") != 0 {
		t.Errorf("forbidden action ran: retried %d, contain calls %d", n, r.org.count("contain"))
	}
	req = tp("contain_host", "host:dc01")
	a, _ = r.eng.Submit(ctx, req)
	a, err = r.eng.Deny(ctx, a.ID, "bob", "maintenance window")
	if err != nil || a.Status != event.ActionDenied || a.DeniedBy != "bob" {
		t.Fatalf("deny: %v %+v", err, a)
	}
	if _, err := r.eng.Approve(ctx, a.ID, "carol", ""); !errors.Is(err, respond.ErrState) {
		t.Errorf("approving a denied action: %v", err)
	}
	if r.org.count("contain") != 0 || !r.audit.has("analyst:bob response.deny") {
		t.Errorf("deny: contain calls %d, audit %v", r.org.count("contain"), r.audit.entries)
	}
}

func TestInjectionLowersAutonomy(t *testing.T) {
	r := newRig(t, nil)
	req := tp("revoke_grant", "app:mailsync")
	req.Confidence, req.Autonomy = 0.99, "human_review"
	a, err := r.eng.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionPending || r.org.count("revoke_app") != 0 {
		t.Fatalf("human_review autonomy acted: %s, calls %d", a.Status, r.org.count("revoke_app"))
	}
}

func TestRedeliveryAndConcurrentSubmitActOnce(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.eng.Submit(ctx, tp("contain_host", "host:ws04")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range 3 {
		if _, err := r.eng.Retry(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.eng.Submit(ctx, tp("contain_host", "host:ws04")); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.org.count("contain"); n != 1 {
		t.Fatalf("contain called %d times for one request", n)
	}
	as, _ := r.st.ListActions(ctx, store.ActionQuery{Incident: "in_1"})
	if len(as) != 1 || as[0].Status != event.ActionCompleted {
		t.Fatalf("actions: %+v", as)
	}
}

func TestCrashAfterEffectDoesNotActTwice(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	// The process died after the EDR contained the host and before vigil recorded completion:
	// the stored action is "executing" with one attempt, and the host is contained.
	id := event.DeriveID(event.PrefixAction, "in_1", "contain_host", "host:ws05")
	if _, err := r.st.UpdateAction(ctx, id, func(a *event.Action, _ bool) error {
		*a = event.Action{ID: id, Incident: "in_1", Name: "contain_host", Target: "host:ws05", Status: event.ActionExecuting,
			Decision: respond.Automatic, Attempts: 1, RequestedAt: r.clock.Now(), RequestedBy: "system:investigate"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.org.contained["ws05"] = true
	if n, err := r.eng.Retry(ctx); err != nil || n != 1 {
		t.Fatalf("retry: %d %v", n, err)
	}
	a, _ := r.st.GetAction(ctx, id)
	if a.Status != event.ActionCompleted || r.org.count("contain") != 0 {
		t.Fatalf("resumed action: %s, contain calls %d", a.Status, r.org.count("contain"))
	}
	// The same crash before the effect: the resume acts, once.
	id2 := event.DeriveID(event.PrefixAction, "in_1", "revoke_sessions", "user:example\\bob")
	r.st.UpdateAction(ctx, id2, func(a *event.Action, _ bool) error {
		*a = event.Action{ID: id2, Incident: "in_1", Name: "revoke_sessions", Target: "user:example\\bob", Status: event.ActionExecuting,
			Decision: respond.Automatic, Attempts: 1, RequestedAt: r.clock.Now()}
		return nil
	})
	r.clock.Add(time.Second)
	r.eng.Retry(ctx)
	a, _ = r.st.GetAction(ctx, id2)
	if a.Status != event.ActionCompleted || r.org.count("revoke_sessions") != 1 {
		t.Fatalf("resumed revoke: %s, calls %d (%s)", a.Status, r.org.count("revoke_sessions"), a.LastError)
	}
	// A revocation from before the request does not count as this action's effect.
	r.org.revokedAt["example\\carol"] = r.clock.Now().Add(-time.Hour)
	a, _ = r.eng.Submit(ctx, tp("revoke_sessions", "user:example\\carol"))
	if a.Status != event.ActionCompleted || r.org.count("revoke_sessions") != 2 {
		t.Fatalf("old revocation mistaken for this one: %s, calls %d", a.Status, r.org.count("revoke_sessions"))
	}
}

func TestFailureIsRetriedWithBackoffThenEscalated(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.org.failNext = 100
	a, err := r.eng.Submit(ctx, tp("contain_host", "host:ws06"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionFailed || a.Attempts != 1 || !strings.Contains(a.LastError, "503") {
		t.Fatalf("first failure: %s attempts %d %q", a.Status, a.Attempts, a.LastError)
	}
	if !a.NextAttempt.Equal(r.clock.Now().Add(time.Second)) {
		t.Errorf("next attempt %v, want now+1s", a.NextAttempt)
	}
	// Before the backoff passes nothing runs.
	if n, _ := r.eng.Retry(ctx); n != 0 {
		t.Errorf("retried before backoff: %d", n)
	}
	waits := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i, w := range waits {
		r.clock.Add(w)
		if n, _ := r.eng.Retry(ctx); n != 1 {
			t.Fatalf("retry %d ran %d", i+2, n)
		}
		a, _ = r.st.GetAction(ctx, a.ID)
		if i < len(waits)-1 {
			if a.Status != event.ActionFailed || a.Attempts != i+2 || !a.NextAttempt.Equal(r.clock.Now().Add(2*w)) {
				t.Fatalf("attempt %d: %s next %v", a.Attempts, a.Status, a.NextAttempt.Sub(r.clock.Now()))
			}
		}
	}
	if a.Status != event.ActionEscalated || a.Attempts != 4 || !strings.Contains(a.Reason, "a human must act") {
		t.Fatalf("after 4 attempts: %s %d %q", a.Status, a.Attempts, a.Reason)
	}
	if n, _ := r.eng.Retry(ctx); n != 0 {
		t.Error("an escalated action is retried silently")
	}
	if !r.audit.has("response.execute " + a.ID) {
		t.Error("failures not audited")
	}
	// A human fixes the EDR and approves the retry.
	r.org.failNext = 0
	a, err = r.eng.Approve(ctx, a.ID, "bob", "EDR back")
	if err != nil || a.Status != event.ActionCompleted {
		t.Fatalf("approve after escalation: %v %s", err, a.Status)
	}
}

func TestMissingConnectorEscalatesAtOnce(t *testing.T) {
	r := newRig(t, func(o *respond.Options) { o.Connectors = &respond.Connectors{} })
	a, err := r.eng.Submit(context.Background(), tp("contain_host", "host:ws08"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionEscalated || !strings.Contains(a.LastError, "no connector") {
		t.Fatalf("%s %q", a.Status, a.LastError)
	}
}

func TestRollback(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	a, _ := r.eng.Submit(ctx, tp("revoke_grant", "app:mailsync"))
	if a.Status != event.ActionCompleted || len(r.org.grants["app:mailsync"]) != 0 || len(a.Saved) == 0 {
		t.Fatalf("revoke: %s grants %v saved %s", a.Status, r.org.grants, a.Saved)
	}
	a, err := r.eng.Rollback(ctx, a.ID, "bob", "app approved by IT")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != event.ActionRolledBack || a.RolledBackBy != "bob" || strings.Join(r.org.grants["app:mailsync"], ",") != "Mail.Read,Mail.Send" {
		t.Fatalf("rollback: %s grants %v", a.Status, r.org.grants["app:mailsync"])
	}
	if _, err := r.eng.Rollback(ctx, a.ID, "bob", ""); !errors.Is(err, respond.ErrState) {
		t.Errorf("second rollback: %v", err)
	}
	a, _ = r.eng.Submit(ctx, tp("delete_inbox_rule", "user:bob"))
	if _, err := r.eng.Rollback(ctx, a.ID, "carol", ""); err != nil || len(r.org.rules["bob"]) != 1 {
		t.Errorf("restore rules: %v %v", err, r.org.rules["bob"])
	}
	a, _ = r.eng.Submit(ctx, tp("contain_host", "host:ws10"))
	if _, err := r.eng.Rollback(ctx, a.ID, "carol", ""); err != nil || r.org.contained["ws10"] {
		t.Errorf("release: %v contained=%v", err, r.org.contained["ws10"])
	}
	a, _ = r.eng.Submit(ctx, tp("revoke_sessions", "user:example\\bob"))
	if _, err := r.eng.Rollback(ctx, a.ID, "bob", ""); !errors.Is(err, respond.ErrNoRollback) {
		t.Errorf("revoke_sessions rollback: %v", err)
	}
	if !r.audit.has("analyst:bob response.rollback") {
		t.Errorf("rollback not audited: %v", r.audit.entries)
	}
}

func TestSubmitRejectsBadRequests(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	if _, err := r.eng.Submit(ctx, tp("format_disk", "host:ws01")); !errors.Is(err, respond.ErrUnknownAction) {
		t.Errorf("unknown action: %v", err)
	}
	if _, err := r.eng.Submit(ctx, tp("contain_host", "user:bob")); err == nil || !strings.Contains(err.Error(), "host") {
		t.Errorf("wrong target kind: %v", err)
	}
	if _, err := r.eng.Approve(ctx, "ac_missing", "bob", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approve missing: %v", err)
	}
}
