package app

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/falcon"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/mde"
	"github.com/vigil-soc/vigil/internal/connector/okta"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/investigate"
)

// The investigation tools backed by the connectors. They see the clients only through the
// read-only views below, so a tool cannot call an action even by mistake.

// graphReader is the read side of Microsoft Graph.
type graphReader interface {
	GetUser(ctx context.Context, id string) (*graph.User, error)
	MemberOf(ctx context.Context, userID string) (*graph.Membership, error)
	AuthenticationMethods(ctx context.Context, userID string) ([]graph.AuthenticationMethod, error)
	SignIns(ctx context.Context, q graph.SignInQuery) ([]graph.SignIn, error)
	DirectoryAudits(ctx context.Context, q graph.AuditQuery) ([]graph.DirectoryAudit, error)
	OAuth2PermissionGrants(ctx context.Context, q graph.GrantQuery) ([]graph.OAuth2PermissionGrant, error)
	ServicePrincipal(ctx context.Context, id string) (*graph.ServicePrincipal, error)
	ServicePrincipalByAppID(ctx context.Context, appID string) (*graph.ServicePrincipal, error)
	RiskyUser(ctx context.Context, userID string) (*graph.RiskyUser, error)
	InboxRules(ctx context.Context, userID string) ([]graph.MessageRule, error)
}

// oktaReader is the read side of Okta.
type oktaReader interface {
	GetUser(ctx context.Context, id string) (*okta.User, error)
	Roles(ctx context.Context, userID string) ([]okta.Role, error)
	Factors(ctx context.Context, userID string) ([]okta.Factor, error)
	Grants(ctx context.Context, userID string) ([]okta.Grant, error)
	SystemLog(ctx context.Context, q okta.LogQuery) ([]okta.LogEvent, error)
}

// mdeReader is the read side of Defender for Endpoint.
type mdeReader interface {
	MachineByName(ctx context.Context, name string) (*mde.Machine, error)
	MachineAlerts(ctx context.Context, machineID string) ([]mde.Alert, error)
	Isolation(ctx context.Context, machineID string) (*mde.IsolationState, error)
}

// falconReader is the read side of Falcon.
type falconReader interface {
	DeviceByHostname(ctx context.Context, hostname string) (*falcon.Device, error)
}

var (
	_ graphReader  = (*graph.Client)(nil)
	_ oktaReader   = (*okta.Client)(nil)
	_ mdeReader    = (*mde.Client)(nil)
	_ falconReader = (*falcon.Client)(nil)
)

// incidentSpanFunc tells when an incident's first and last events happened.
type incidentSpanFunc func(ctx context.Context, incident string) (first, last time.Time, ok bool)

// toolEnv is what the connector tools share.
type toolEnv struct {
	graph  graphReader // nil when not configured
	okta   oktaReader
	mde    mdeReader
	falcon falconReader
	r      *resolver
	tenant string
	now    func() time.Time
	span   atomic.Pointer[incidentSpanFunc] // set by connectorSet.UseIncidentTimes
}

func newToolEnv(cl *clients, r *resolver) *toolEnv {
	return &toolEnv{graph: r.graph, okta: r.okta, mde: r.mde, falcon: r.falcon, r: r, tenant: cl.tenant, now: time.Now}
}

// Bounds of what a tool reads and returns.
const (
	maxSignIns     = 500 // read per provider
	maxRows        = 50  // returned in a result's data
	maxApps        = 10  // service principals looked up per user
	maxProbeIPs    = 5   // addresses checked for failures before a success
	signInLookback = 7 * 24 * time.Hour
	resetLookback  = 72 * time.Hour
	recentApp      = 7 * 24 * time.Hour
)

// window returns the time the tools look at: from before the incident's first event (or now,
// when the incident's times are unknown) to an hour after its last, never past now.
func (e *toolEnv) window(ctx context.Context, incident string, before time.Duration) (ref, from, to time.Time) {
	now := e.now().UTC()
	first, last := now, now
	if fn := e.span.Load(); fn != nil && incident != "" {
		if f, l, ok := (*fn)(ctx, incident); ok && !f.IsZero() {
			first, last = f.UTC(), l.UTC()
		}
	}
	to = last.Add(time.Hour)
	if to.After(now) {
		to = now
	}
	return first, first.Add(-before), to
}

// connectorTools returns the tools the configured connectors support, with the names the
// recipes use.
func connectorTools(e *toolEnv) []investigate.Tool {
	var ts []investigate.Tool
	add := func(name, key, desc string, call func(context.Context, toolQuery) (investigate.Result, error)) {
		ts = append(ts, &connTool{name: name, key: key, desc: desc, call: call})
	}
	if e.graph != nil || e.okta != nil {
		add("identity.user", "user", "The account at the identity provider (Entra ID, Okta): status, groups, admin roles and Identity Protection risk.", e.identityUser)
		add("identity.mfa", "user", "The account's registered second factors at the identity provider; flags accounts that sign in with a password alone.", e.identityMFA)
		add("identity.signins", "user", "The account's sign-ins at the identity provider around the incident: sources, countries, failures; flags a success from a new country or after a burst of failures.", e.identitySignIns)
		add("identity.password_resets", "user", "Password resets and changes of the account at the identity provider in the 72 hours before the incident, and who made them.", e.identityPasswordResets)
		add("identity.oauth_grants", "user", "The OAuth applications the account consented to and their delegated permissions; flags mail access, unverified publishers and new apps.", e.identityOAuthGrants)
	}
	if e.graph != nil {
		add("identity.app", "app", "An OAuth application (by application ID) in the Entra tenant: publisher, creation, who consented and to which permissions.", e.identityApp)
		add("identity.mailbox_rules", "user", "The account's Exchange Online inbox rules; flags rules that forward mail outside or hide it.", e.identityMailboxRules)
	}
	if e.mde != nil || e.falcon != nil {
		add("endpoint.host", "host", "The host at the EDR (Defender for Endpoint, Falcon): OS, risk and exposure, open EDR alerts, isolation state.", e.endpointHost)
	}
	return ts
}

// toolQuery is one call's input.
type toolQuery struct {
	value    string // the entity as given
	entity   string // its canonical key: user:example\bob, host:ws01, app:<appId>
	incident string
}

// connTool is a connector-backed investigation tool taking one entity.
type connTool struct {
	name, key, desc string
	call            func(ctx context.Context, q toolQuery) (investigate.Result, error)
}

var _ investigate.Tool = (*connTool)(nil)

func (t *connTool) Name() string        { return t.name }
func (t *connTool) Description() string { return t.desc }

func (t *connTool) Schema() json.RawMessage {
	desc := map[string]string{
		"user": `the account: DOMAIN\name or a user principal name`,
		"host": "the host: its short name or FQDN",
		"app":  "the application ID (or service principal object ID)",
	}[t.key]
	return json.RawMessage(fmt.Sprintf(`{"type":"object","properties":{%q:{"type":"string","description":%q},`+
		`"incident":{"type":"string","description":"the incident under investigation; its time sets the window"}},"required":[%q]}`, t.key, desc, t.key))
}

// Call runs the tool. An entity the services do not know is a result saying so, not an error.
func (t *connTool) Call(ctx context.Context, in map[string]any) (investigate.Result, error) {
	v, _ := in[t.key].(string)
	v = strings.TrimSpace(v)
	if v == "" {
		return investigate.Result{Summary: "no " + t.key + " given"}, nil
	}
	inc, _ := in["incident"].(string)
	res, err := t.call(ctx, toolQuery{value: v, entity: entityKey(t.key, v), incident: inc})
	if connector.IsNotFound(err) {
		return investigate.Result{
			Summary: fmt.Sprintf("%s %s was not found at the connected services", t.key, v),
			Data:    map[string]any{"found": false, "detail": err.Error()},
		}, nil
	}
	if err != nil {
		return investigate.Result{}, fmt.Errorf("%s %s: %w", t.name, v, err)
	}
	res.Findings = mergeFindings(res.Findings)
	return res, nil
}

// entityKey returns the canonical entity key the other stages use.
func entityKey(kind, v string) string {
	switch kind {
	case "user":
		return "user:" + event.CanonicalUser(v, "")
	case "host":
		return "host:" + shortName(v)
	}
	return kind + ":" + strings.ToLower(v)
}

// mergeFindings keeps one finding per name and entity: the strongest, with the others'
// details appended.
func mergeFindings(fs []investigate.Finding) []investigate.Finding {
	var out []investigate.Finding
	for _, f := range fs {
		i := slices.IndexFunc(out, func(o investigate.Finding) bool { return o.Name == f.Name && o.Entity == f.Entity })
		if i < 0 {
			out = append(out, f)
			continue
		}
		keep, other := out[i], f
		if math.Abs(f.Weight) > math.Abs(keep.Weight) {
			keep, other = f, keep
		}
		keep.Detail += "; " + other.Detail
		for _, a := range other.Actions {
			if !slices.Contains(keep.Actions, a) {
				keep.Actions = append(keep.Actions, a)
			}
		}
		out[i] = keep
	}
	return out
}

func capped[T any](xs []T, n int) []T {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- users at the identity providers ----------------------------------------------------

// idpUser is a user as the configured identity providers know it.
type idpUser struct {
	name    string // the entity key's value, e.g. example\bob
	entra   *graph.User
	okta    *okta.User
	missing []string // providers that do not know the user
}

// lookupUser reads the user at each identity provider; ErrNotFound when none knows them.
func (e *toolEnv) lookupUser(ctx context.Context, q toolQuery) (*idpUser, error) {
	u := &idpUser{name: strings.TrimPrefix(q.entity, "user:")}
	if e.graph != nil {
		p, err := upn(q.value, e.r.cl.graphSuffix)
		if err != nil {
			return nil, err
		}
		gu, err := e.graph.GetUser(ctx, p)
		switch {
		case connector.IsNotFound(err):
			u.missing = append(u.missing, productEntra)
		case err != nil:
			return nil, err
		default:
			u.entra = gu
			e.r.cache.put("graph:user:"+p, gu.ID)
		}
	}
	if e.okta != nil {
		p, err := upn(q.value, e.r.cl.oktaSuffix)
		if err != nil {
			return nil, err
		}
		ou, err := e.okta.GetUser(ctx, p)
		switch {
		case connector.IsNotFound(err):
			u.missing = append(u.missing, productOkta)
		case err != nil:
			return nil, err
		default:
			u.okta = ou
			e.r.cache.put("okta:user:"+p, ou.ID)
		}
	}
	if u.entra == nil && u.okta == nil {
		return nil, fmt.Errorf("user %s at %s: %w", q.value, strings.Join(u.missing, " and "), connector.ErrNotFound)
	}
	return u, nil
}

// ---- identity.user ----------------------------------------------------------------------

func (e *toolEnv) identityUser(ctx context.Context, q toolQuery) (investigate.Result, error) {
	u, err := e.lookupUser(ctx, q)
	if err != nil {
		return investigate.Result{}, err
	}
	data := map[string]any{"user": u.name}
	if len(u.missing) > 0 {
		data["not_found_at"] = u.missing
	}
	var fs []investigate.Finding
	var roles, facts []string
	if u.entra != nil {
		r, f, d, err := e.entraUser(ctx, q, u.entra)
		if err != nil {
			return investigate.Result{}, err
		}
		roles, fs, data["entra"] = append(roles, r...), append(fs, f...), d
		facts = append(facts, fmt.Sprintf("%s at Entra ID (%s)", enabledWord(u.entra.AccountEnabled), dashIfEmpty(u.entra.Department)))
	}
	if u.okta != nil {
		r, f, d, err := e.oktaUserFacts(ctx, q, u.okta)
		if err != nil {
			return investigate.Result{}, err
		}
		roles, fs, data["okta"] = append(roles, r...), append(fs, f...), d
		facts = append(facts, fmt.Sprintf("%s at Okta", strings.ToLower(u.okta.Status)))
	}
	if len(roles) > 0 {
		fs = append(fs, investigate.Finding{Name: "privileged_account", Weight: 0.3, Entity: q.entity,
			Detail: fmt.Sprintf("%s holds the admin roles %s", u.name, strings.Join(roles, ", "))})
	}
	sum := fmt.Sprintf("%s is %s, with %d admin roles", u.name, strings.Join(facts, " and "), len(roles))
	return investigate.Result{Summary: sum, Data: data, Findings: fs}, nil
}

func enabledWord(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

func (e *toolEnv) entraUser(ctx context.Context, q toolQuery, u *graph.User) (roles []string, fs []investigate.Finding, data map[string]any, err error) {
	m, err := e.graph.MemberOf(ctx, u.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	risk, err := e.graph.RiskyUser(ctx, u.ID)
	if connector.IsNotFound(err) {
		risk, err = nil, nil // never at risk
	}
	if err != nil {
		return nil, nil, nil, err
	}
	var groups []string
	for _, g := range m.Groups {
		groups = append(groups, g.DisplayName)
	}
	for _, r := range m.Roles {
		roles = append(roles, r.DisplayName+" (Entra ID)")
	}
	data = map[string]any{
		"id": u.ID, "upn": u.UserPrincipalName, "display_name": u.DisplayName, "department": u.Department, "job_title": u.JobTitle,
		"enabled": u.AccountEnabled, "created": u.CreatedDateTime, "usage_location": u.UsageLocation,
		"sessions_valid_from": u.SignInSessionsValidFromDateTime, "password_changed": u.LastPasswordChangeDateTime,
		"groups": capped(groups, maxRows), "roles": roles,
	}
	if !u.AccountEnabled {
		fs = append(fs, investigate.Finding{Name: "account_disabled", Entity: q.entity, Detail: u.UserPrincipalName + " is disabled at Entra ID"})
	}
	if risk != nil {
		data["risk"] = map[string]any{"level": risk.RiskLevel, "state": risk.RiskState, "detail": risk.RiskDetail, "updated": risk.RiskLastUpdatedDateTime}
		if w := riskWeight(risk); w > 0 {
			fs = append(fs, investigate.Finding{Name: "risky_user", Weight: w, Entity: q.entity,
				Detail:  fmt.Sprintf("Entra ID Identity Protection rates %s at risk %s (%s) since %s", u.UserPrincipalName, risk.RiskLevel, risk.RiskState, rfc3339(risk.RiskLastUpdatedDateTime)),
				Actions: []string{"revoke_sessions " + q.entity, "reset_password " + q.entity}})
		}
	}
	return roles, fs, data, nil
}

// riskWeight weighs Identity Protection's user risk: confirmed or high risk is strong
// evidence; remediated and dismissed risk is none.
func riskWeight(r *graph.RiskyUser) float64 {
	switch {
	case r.RiskState == "confirmedCompromised", r.RiskState == "atRisk" && r.RiskLevel == "high":
		return 1.0
	case r.RiskState == "atRisk" && r.RiskLevel == "medium":
		return 0.6
	case r.RiskState == "atRisk":
		return 0.3
	}
	return 0
}

func (e *toolEnv) oktaUserFacts(ctx context.Context, q toolQuery, u *okta.User) (roles []string, fs []investigate.Finding, data map[string]any, err error) {
	rs, err := e.okta.Roles(ctx, u.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, r := range rs {
		roles = append(roles, cmp.Or(r.Label, r.Type)+" (Okta)")
	}
	data = map[string]any{
		"id": u.ID, "login": u.Profile.Login, "status": u.Status, "created": u.Created, "last_login": u.LastLogin,
		"password_changed": u.PasswordChanged, "department": u.Profile.Department, "roles": roles,
	}
	if u.Status == okta.StatusSuspended || u.Status == "DEPROVISIONED" {
		fs = append(fs, investigate.Finding{Name: "account_disabled", Entity: q.entity, Detail: u.Profile.Login + " is " + strings.ToLower(u.Status) + " at Okta"})
	}
	return roles, fs, data, nil
}

// ---- identity.mfa -----------------------------------------------------------------------

// weakFactor reports whether a second factor is phishable by SIM swap or mailbox access.
func weakFactor(t string) bool {
	switch strings.ToLower(t) {
	case "phone", "sms", "call", "email", "question":
		return true
	}
	return false
}

func (e *toolEnv) identityMFA(ctx context.Context, q toolQuery) (investigate.Result, error) {
	u, err := e.lookupUser(ctx, q)
	if err != nil {
		return investigate.Result{}, err
	}
	data := map[string]any{"user": u.name}
	factors := map[string][]string{} // provider -> second factors
	if u.entra != nil {
		ms, err := e.graph.AuthenticationMethods(ctx, u.entra.ID)
		if err != nil {
			return investigate.Result{}, err
		}
		var all []string
		for _, m := range ms {
			all = append(all, m.Type())
			if m.Type() != "password" {
				factors[productEntra] = append(factors[productEntra], m.Type())
			}
		}
		data["entra_methods"] = all
	}
	if u.okta != nil {
		fsx, err := e.okta.Factors(ctx, u.okta.ID)
		if err != nil {
			return investigate.Result{}, err
		}
		var all []string
		for _, f := range fsx {
			all = append(all, f.FactorType+" ("+strings.ToLower(f.Status)+")")
			if f.Status == "ACTIVE" {
				factors[productOkta] = append(factors[productOkta], f.FactorType)
			}
		}
		data["okta_factors"] = all
	}
	return mfaResult(q, u, factors, data), nil
}

func mfaResult(q toolQuery, u *idpUser, factors map[string][]string, data map[string]any) investigate.Result {
	var none, weak, strong []string
	for _, p := range []string{productEntra, productOkta} {
		if (p == productEntra && u.entra == nil) || (p == productOkta && u.okta == nil) {
			continue
		}
		fs := factors[p]
		switch {
		case len(fs) == 0:
			none = append(none, p)
		case !slices.ContainsFunc(fs, func(f string) bool { return !weakFactor(f) }):
			weak = append(weak, p)
		default:
			strong = append(strong, p)
		}
	}
	res := investigate.Result{Data: data}
	switch {
	case len(none) > 0:
		res.Summary = fmt.Sprintf("%s has no second factor at %s: a password alone signs in", u.name, strings.Join(none, " and "))
		res.Findings = append(res.Findings, investigate.Finding{Name: "no_mfa", Weight: 0.5, Entity: q.entity,
			Detail: fmt.Sprintf("%s has no second factor registered at %s, so a guessed or phished password is enough", u.name, strings.Join(none, " and "))})
	case len(weak) > 0:
		res.Summary = fmt.Sprintf("%s has only phone or e-mail factors at %s", u.name, strings.Join(weak, " and "))
		res.Findings = append(res.Findings, investigate.Finding{Name: "weak_mfa", Weight: 0.2, Entity: q.entity,
			Detail: fmt.Sprintf("%s's only second factors at %s are phone or e-mail codes", u.name, strings.Join(weak, " and "))})
	default:
		res.Summary = fmt.Sprintf("%s has strong second factors at %s", u.name, strings.Join(strong, " and "))
	}
	return res
}

// ---- identity.signins --------------------------------------------------------------------

// signIn is a sign-in at an identity provider, in one shape for both.
type signIn struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`
	IP      string    `json:"ip"`
	Country string    `json:"country,omitempty"`
	City    string    `json:"city,omitempty"`
	App     string    `json:"app,omitempty"`
	Success bool      `json:"success"`
	Reason  string    `json:"reason,omitempty"`
}

// signInSource is one provider's sign-in log.
type signInSource struct {
	name string
	list func(ctx context.Context, from, to time.Time) ([]signIn, error)
	// failuresFrom counts failed sign-ins of any account from an address.
	failuresFrom func(ctx context.Context, ip string, from, to time.Time) (int, error)
}

func (e *toolEnv) signInSources(u *idpUser) []signInSource {
	var out []signInSource
	if u.entra != nil {
		id := u.entra.ID
		out = append(out, signInSource{name: productEntra,
			list: func(ctx context.Context, from, to time.Time) ([]signIn, error) {
				ss, err := e.graph.SignIns(ctx, graph.SignInQuery{UserID: id, Since: from, Until: to, Max: maxSignIns})
				return entraSignIns(ss), err
			},
			failuresFrom: func(ctx context.Context, ip string, from, to time.Time) (int, error) {
				ss, err := e.graph.SignIns(ctx, graph.SignInQuery{IPAddress: ip, Since: from, Until: to, FailuresOnly: true, Max: maxSignIns})
				return len(ss), err
			}})
	}
	if u.okta != nil {
		id := u.okta.ID
		out = append(out, signInSource{name: productOkta,
			list: func(ctx context.Context, from, to time.Time) ([]signIn, error) {
				evs, err := e.okta.SystemLog(ctx, okta.LogQuery{ActorID: id, EventType: "user.session.start", Since: from, Until: to, Max: maxSignIns})
				return oktaSignIns(evs), err
			},
			failuresFrom: func(ctx context.Context, ip string, from, to time.Time) (int, error) {
				evs, err := e.okta.SystemLog(ctx, okta.LogQuery{IPAddress: ip, EventType: "user.session.start", Outcome: "FAILURE", Since: from, Until: to, Max: maxSignIns})
				return len(evs), err
			}})
	}
	return out
}

func entraSignIns(ss []graph.SignIn) []signIn {
	out := make([]signIn, 0, len(ss))
	for _, s := range ss {
		out = append(out, signIn{Time: s.CreatedDateTime, Source: productEntra, IP: s.IPAddress, Country: s.Location.CountryOrRegion,
			City: s.Location.City, App: s.AppDisplayName, Success: s.Succeeded(), Reason: s.Status.FailureReason})
	}
	return out
}

func oktaSignIns(evs []okta.LogEvent) []signIn {
	out := make([]signIn, 0, len(evs))
	for _, ev := range evs {
		out = append(out, signIn{Time: ev.Published, Source: productOkta, IP: ev.Client.IPAddress, Country: ev.Client.GeographicalContext.Country,
			City: ev.Client.GeographicalContext.City, Success: ev.Outcome.Result == "SUCCESS", Reason: ev.Outcome.Reason})
	}
	return out
}

func (e *toolEnv) identitySignIns(ctx context.Context, q toolQuery) (investigate.Result, error) {
	u, err := e.lookupUser(ctx, q)
	if err != nil {
		return investigate.Result{}, err
	}
	_, from, to := e.window(ctx, q.incident, signInLookback)
	var all []signIn
	var fs []investigate.Finding
	for _, src := range e.signInSources(u) {
		list, err := src.list(ctx, from, to)
		if err != nil {
			return investigate.Result{}, err
		}
		slices.SortStableFunc(list, func(a, b signIn) int { return a.Time.Compare(b.Time) })
		fs = append(fs, newCountry(q, list)...)
		f, err := successAfterFailures(ctx, q, src, list)
		if err != nil {
			return investigate.Result{}, err
		}
		fs = append(fs, f...)
		all = append(all, list...)
	}
	slices.SortStableFunc(all, func(a, b signIn) int { return b.Time.Compare(a.Time) })
	failed, countries := 0, []string{}
	for _, s := range all {
		if !s.Success {
			failed++
		}
		if s.Country != "" && !slices.Contains(countries, s.Country) {
			countries = append(countries, s.Country)
		}
	}
	sum := fmt.Sprintf("%s: %d sign-ins (%d failed) from %s between %s and %s", u.name, len(all), failed, dashIfEmpty(strings.Join(countries, ", ")), rfc3339(from), rfc3339(to))
	data := map[string]any{"user": u.name, "from": from, "to": to, "count": len(all), "failed": failed, "countries": countries, "signins": capped(all, maxRows)}
	return investigate.Result{Summary: sum, Data: data, Findings: fs}, nil
}

// newCountry finds the first successful sign-in (list in time order) from a country none of
// the user's earlier successful sign-ins came from. Without an earlier success there is no
// baseline and nothing is flagged.
func newCountry(q toolQuery, list []signIn) []investigate.Finding {
	seen := map[string]bool{}
	for _, s := range list {
		if !s.Success || s.Country == "" {
			continue
		}
		if len(seen) > 0 && !seen[s.Country] {
			var before []string
			for c := range seen {
				before = append(before, c)
			}
			slices.Sort(before)
			return []investigate.Finding{{Name: "signin_new_country", Weight: 1.2, Entity: q.entity,
				Detail: fmt.Sprintf("%s signed in successfully at %s from %s (%s), a country none of the earlier sign-ins came from (%s)",
					strings.TrimPrefix(q.entity, "user:"), s.Source, s.Country, s.IP, strings.Join(before, ", ")),
				Actions: []string{"revoke_sessions " + q.entity}}}
		}
		seen[s.Country] = true
	}
	return nil
}

// successAfterFailures finds a successful sign-in from an address that failed to sign in (to
// any account) at least five times in the hour before: a guessed password.
func successAfterFailures(ctx context.Context, q toolQuery, src signInSource, list []signIn) ([]investigate.Finding, error) {
	firstSuccess := map[string]time.Time{}
	var ips []string
	for _, s := range list {
		if s.Success && s.IP != "" && firstSuccess[s.IP].IsZero() {
			firstSuccess[s.IP] = s.Time
			ips = append(ips, s.IP)
		}
	}
	slices.Reverse(ips) // the newest addresses first
	for _, ip := range capped(ips, maxProbeIPs) {
		at := firstSuccess[ip]
		n, err := src.failuresFrom(ctx, ip, at.Add(-time.Hour), at)
		if err != nil {
			return nil, err
		}
		if n < 5 {
			continue
		}
		return []investigate.Finding{{Name: "signin_success_after_failures", Weight: 1.5, Entity: q.entity,
			Detail: fmt.Sprintf("%s signed in successfully at %s from %s at %s after %d failed sign-ins from that address in the hour before",
				strings.TrimPrefix(q.entity, "user:"), src.name, ip, rfc3339(at), n),
			Actions: []string{"revoke_sessions " + q.entity, "reset_password " + q.entity, "block_indicator ip:" + ip}}}, nil
	}
	return nil, nil
}

// ---- identity.password_resets ------------------------------------------------------------

// Directory audit activities of a user changing their own password.
const (
	activitySelfServiceReset  = "Reset password (self-service)"
	activitySelfServiceChange = "Change password (self-service)"
)

// passwordReset is a reset or change of the user's password.
type passwordReset struct {
	Time     time.Time `json:"time"`
	Source   string    `json:"source"`
	Activity string    `json:"activity"`
	By       string    `json:"by"`
	ByKind   string    `json:"by_kind"` // self, user, app
}

func (e *toolEnv) identityPasswordResets(ctx context.Context, q toolQuery) (investigate.Result, error) {
	u, err := e.lookupUser(ctx, q)
	if err != nil {
		return investigate.Result{}, err
	}
	_, from, to := e.window(ctx, q.incident, resetLookback)
	var resets []passwordReset
	if u.entra != nil {
		rs, err := e.entraResets(ctx, u.entra.ID, from, to)
		if err != nil {
			return investigate.Result{}, err
		}
		resets = append(resets, rs...)
	}
	if u.okta != nil {
		rs, err := e.oktaResets(ctx, u.okta.ID, from, to)
		if err != nil {
			return investigate.Result{}, err
		}
		resets = append(resets, rs...)
	}
	slices.SortStableFunc(resets, func(a, b passwordReset) int { return b.Time.Compare(a.Time) })
	res := investigate.Result{
		Summary: fmt.Sprintf("%s: %d password resets or changes between %s and %s", u.name, len(resets), rfc3339(from), rfc3339(to)),
		Data:    map[string]any{"user": u.name, "from": from, "to": to, "resets": capped(resets, maxRows)},
	}
	for _, r := range resets {
		res.Findings = append(res.Findings, resetFinding(q, u.name, r)...)
	}
	return res, nil
}

// resetFinding weighs a reset. One by another person shortly before the incident is how a
// help-desk social-engineering takeover looks (+0.4). One by the user themselves is recorded
// as a fact with no weight: it neither clears the account (OAuth grants and refresh tokens
// survive it, and an attacker holding the mailbox can do it too) nor implicates it. One by an
// application (automation, vigil's own response) is left in the data only.
func resetFinding(q toolQuery, name string, r passwordReset) []investigate.Finding {
	switch r.ByKind {
	case "user":
		return []investigate.Finding{{Name: "recent_password_reset", Weight: 0.4, Entity: q.entity,
			Detail: fmt.Sprintf("%s reset the password of %s at %s (%s) shortly before the incident", r.By, name, rfc3339(r.Time), r.Source)}}
	case "self":
		return []investigate.Finding{{Name: "self_service_password_reset", Entity: q.entity,
			Detail: fmt.Sprintf("%s changed their own password at %s (%s); OAuth grants and refresh tokens survive this", name, rfc3339(r.Time), r.Source)}}
	}
	return nil
}

func (e *toolEnv) entraResets(ctx context.Context, userID string, from, to time.Time) ([]passwordReset, error) {
	audits, err := e.graph.DirectoryAudits(ctx, graph.AuditQuery{
		Activities: []string{graph.ActivityResetPasswordByAdmin, graph.ActivityResetUserPassword, activitySelfServiceReset, activitySelfServiceChange},
		TargetID:   userID, Since: from, Max: maxRows,
	})
	if err != nil {
		return nil, err
	}
	var out []passwordReset
	for _, a := range audits {
		if a.ActivityDateTime.After(to) {
			continue
		}
		r := passwordReset{Time: a.ActivityDateTime, Source: productEntra, Activity: a.ActivityDisplayName}
		switch by := a.InitiatedBy; {
		case by.User != nil && (by.User.ID == userID || a.ActivityDisplayName == activitySelfServiceReset || a.ActivityDisplayName == activitySelfServiceChange):
			r.By, r.ByKind = by.User.UserPrincipalName, "self"
		case by.User != nil:
			r.By, r.ByKind = cmp.Or(by.User.UserPrincipalName, by.User.ID), "user"
		case by.App != nil:
			r.By, r.ByKind = cmp.Or(by.App.DisplayName, by.App.AppID), "app"
		}
		out = append(out, r)
	}
	return out, nil
}

func (e *toolEnv) oktaResets(ctx context.Context, userID string, from, to time.Time) ([]passwordReset, error) {
	evs, err := e.okta.SystemLog(ctx, okta.LogQuery{TargetID: userID, Since: from, Until: to, Max: maxRows,
		Filter: `eventType eq "user.account.reset_password" or eventType eq "user.account.update_password"`})
	if err != nil {
		return nil, err
	}
	var out []passwordReset
	for _, ev := range evs {
		r := passwordReset{Time: ev.Published, Source: productOkta, Activity: ev.EventType, By: cmp.Or(ev.Actor.AlternateID, ev.Actor.ID), ByKind: "user"}
		switch {
		case ev.Actor.ID == userID:
			r.ByKind = "self"
		case ev.Actor.Type != "" && ev.Actor.Type != "User":
			r.ByKind = "app"
		}
		out = append(out, r)
	}
	return out, nil
}

// ---- identity.oauth_grants and identity.app -----------------------------------------------

// microsoftTenants own Microsoft's first-party applications.
var microsoftTenants = map[string]bool{
	"f8cdef31-a31e-4b4a-93e4-5f571e91255a": true, // Microsoft Services
	"72f988bf-86f1-41af-91ab-2d7cd011db47": true, // Microsoft
}

// mailScopes returns the delegated scopes that read, change or send the user's mail.
func mailScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		switch strings.ToLower(s) {
		case "mail.read", "mail.readwrite", "mail.send", "mail.read.shared", "mail.readwrite.shared", "mail.send.shared",
			"mailboxsettings.readwrite", "ews.accessasuser.all", "imap.accessasuser.all", "pop.accessasuser.all", "smtp.send",
			"full_access_as_user":
			out = append(out, s)
		}
	}
	return out
}

// appFindings weighs an application with the given delegated scopes: mail access (+1.2 from
// a third party without a verified publisher, +0.3 otherwise, since mail clients need it),
// an unverified third-party publisher (+0.6), and a service principal created in the week
// before the incident (+0.4).
func (e *toolEnv) appFindings(sp *graph.ServicePrincipal, scopes []string, ref time.Time) []investigate.Finding {
	ent := "app:" + strings.ToLower(sp.AppID)
	name := cmp.Or(sp.DisplayName, sp.AppID)
	thirdParty := !microsoftTenants[sp.AppOwnerOrganizationID] && !strings.EqualFold(sp.AppOwnerOrganizationID, e.tenant)
	unverified := thirdParty && !sp.PublisherVerified()
	var fs []investigate.Finding
	if mail := mailScopes(scopes); len(mail) > 0 {
		w := 0.3
		if unverified {
			w = 1.2
		}
		persist := ""
		if slices.ContainsFunc(scopes, func(s string) bool { return strings.EqualFold(s, "offline_access") }) {
			persist = ", with offline_access to keep it without the user"
		}
		fs = append(fs, investigate.Finding{Name: "app_mail_permissions", Weight: w, Entity: ent,
			Detail:  fmt.Sprintf("%s holds the delegated mail permissions %s%s", name, strings.Join(mail, " "), persist),
			Actions: []string{"revoke_grant " + ent}})
	}
	if unverified {
		fs = append(fs, investigate.Finding{Name: "app_unverified_publisher", Weight: 0.6, Entity: ent,
			Detail: fmt.Sprintf("%s is published by %q from another organisation without a verified publisher", name, sp.PublisherName)})
	}
	if !sp.CreatedDateTime.IsZero() && sp.CreatedDateTime.After(ref.Add(-recentApp)) {
		fs = append(fs, investigate.Finding{Name: "app_recently_created", Weight: 0.4, Entity: ent,
			Detail: fmt.Sprintf("%s appeared in the tenant at %s, within a week of the incident", name, rfc3339(sp.CreatedDateTime))})
	}
	return fs
}

func spData(sp *graph.ServicePrincipal) map[string]any {
	return map[string]any{
		"id": sp.ID, "app_id": sp.AppID, "name": sp.DisplayName, "enabled": sp.AccountEnabled, "publisher": sp.PublisherName,
		"publisher_verified": sp.PublisherVerified(), "owner_tenant": sp.AppOwnerOrganizationID, "created": sp.CreatedDateTime,
		"sign_in_audience": sp.SignInAudience, "reply_urls": capped(sp.ReplyURLs, 10), "homepage": sp.Homepage,
	}
}

func (e *toolEnv) identityOAuthGrants(ctx context.Context, q toolQuery) (investigate.Result, error) {
	u, err := e.lookupUser(ctx, q)
	if err != nil {
		return investigate.Result{}, err
	}
	ref, _, _ := e.window(ctx, q.incident, 0)
	data := map[string]any{"user": u.name}
	var fs []investigate.Finding
	var names []string
	if u.entra != nil {
		apps, f, err := e.entraGrants(ctx, u.entra.ID, ref)
		if err != nil {
			return investigate.Result{}, err
		}
		data["entra_apps"], fs = apps, f
		for _, a := range apps {
			names = append(names, fmt.Sprint(a["name"]))
		}
	}
	if u.okta != nil {
		gs, err := e.okta.Grants(ctx, u.okta.ID)
		if err != nil {
			return investigate.Result{}, err
		}
		var rows []map[string]any
		for _, g := range capped(gs, maxRows) {
			rows = append(rows, map[string]any{"client": cmp.Or(g.ClientName(), g.ClientID), "scope": g.Scope(), "status": g.Status, "created": g.Created})
			if n := cmp.Or(g.ClientName(), g.ClientID); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		data["okta_grants"] = rows
	}
	sum := fmt.Sprintf("%s consented to %d applications: %s", u.name, len(names), dashIfEmpty(strings.Join(names, ", ")))
	return investigate.Result{Summary: sum, Data: data, Findings: fs}, nil
}

// entraGrants returns the apps the user granted delegated permissions to, with findings.
func (e *toolEnv) entraGrants(ctx context.Context, userID string, ref time.Time) ([]map[string]any, []investigate.Finding, error) {
	grants, err := e.graph.OAuth2PermissionGrants(ctx, graph.GrantQuery{PrincipalID: userID, Max: maxRows})
	if err != nil {
		return nil, nil, err
	}
	scopes := map[string][]string{} // client service principal -> scopes
	var clients []string
	for _, g := range grants {
		if _, ok := scopes[g.ClientID]; !ok {
			clients = append(clients, g.ClientID)
		}
		scopes[g.ClientID] = append(scopes[g.ClientID], g.Scopes()...)
	}
	var apps []map[string]any
	var fs []investigate.Finding
	for _, c := range capped(clients, maxApps) {
		sp, err := e.graph.ServicePrincipal(ctx, c)
		if connector.IsNotFound(err) {
			apps = append(apps, map[string]any{"id": c, "name": c, "scopes": scopes[c], "found": false})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		row := spData(sp)
		row["scopes"] = scopes[c]
		apps = append(apps, row)
		fs = append(fs, e.appFindings(sp, scopes[c], ref)...)
	}
	return apps, fs, nil
}

func (e *toolEnv) identityApp(ctx context.Context, q toolQuery) (investigate.Result, error) {
	sp, err := servicePrincipal(ctx, e.graph, q.value)
	if err != nil {
		return investigate.Result{}, err
	}
	grants, err := e.graph.OAuth2PermissionGrants(ctx, graph.GrantQuery{ClientID: sp.ID, Max: 200})
	if err != nil {
		return investigate.Result{}, err
	}
	var scopes []string
	users, tenantWide := 0, false
	var rows []map[string]any
	for _, g := range grants {
		for _, s := range g.Scopes() {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		if g.ConsentType == "AllPrincipals" {
			tenantWide = true
		} else {
			users++
		}
		rows = append(rows, map[string]any{"id": g.ID, "consent_type": g.ConsentType, "principal": g.PrincipalID, "scope": g.Scope})
	}
	ref, _, _ := e.window(ctx, q.incident, 0)
	data := spData(sp)
	data["scopes"], data["grants"], data["users_consented"], data["tenant_wide"] = scopes, capped(rows, maxRows), users, tenantWide
	fs := e.appFindings(sp, scopes, ref)
	if !sp.AccountEnabled {
		fs = append(fs, investigate.Finding{Name: "app_disabled", Entity: "app:" + strings.ToLower(sp.AppID), Detail: sp.DisplayName + " is disabled in the tenant"})
	}
	who := fmt.Sprintf("%d users", users)
	if tenantWide {
		who += " and the whole tenant"
	}
	sum := fmt.Sprintf("%s (publisher %q, verified %t) is %s and holds %d delegated grants (%s) for %s",
		sp.DisplayName, sp.PublisherName, sp.PublisherVerified(), enabledWord(sp.AccountEnabled), len(grants), who, dashIfEmpty(strings.Join(scopes, " ")))
	return investigate.Result{Summary: sum, Data: data, Findings: fs}, nil
}

// ---- identity.mailbox_rules -------------------------------------------------------------

// hidingFolders are well-known folders attackers move mail to so the user does not see it.
var hidingFolders = map[string]bool{"rssfeeds": true, "rss feeds": true, "rss subscriptions": true, "archive": true, "conversationhistory": true, "conversation history": true, "deleteditems": true, "junkemail": true}

// meaninglessName reports whether a rule's name has no letter or digit ("", ".", "..").
func meaninglessName(n string) bool {
	return !strings.ContainsFunc(n, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// external returns the addresses outside the domain (or its subdomains).
func externalAddrs(addrs []string, domain string) []string {
	var out []string
	for _, a := range addrs {
		_, d, _ := strings.Cut(strings.ToLower(a), "@")
		if d != domain && !strings.HasSuffix(d, "."+domain) {
			out = append(out, a)
		}
	}
	return out
}

func (e *toolEnv) identityMailboxRules(ctx context.Context, q toolQuery) (investigate.Result, error) {
	id, principal, err := e.r.graphUser(ctx, q.value)
	if err != nil {
		return investigate.Result{}, err
	}
	rules, err := e.graph.InboxRules(ctx, id)
	if err != nil {
		return investigate.Result{}, err
	}
	_, domain, _ := strings.Cut(principal, "@")
	var rows []map[string]any
	var fs []investigate.Finding
	for _, r := range rules {
		rows = append(rows, map[string]any{"id": r.ID, "name": r.DisplayName, "enabled": r.IsEnabled, "forwards_to": r.ForwardsTo(),
			"move_to": r.Actions.MoveToFolder, "delete": r.Actions.Delete || r.Actions.PermanentDelete, "mark_read": r.Actions.MarkAsRead,
			"sender_contains": r.Conditions.SenderContains, "subject_contains": r.Conditions.SubjectContains})
		fs = append(fs, ruleFindings(q, r, domain)...)
	}
	name := strings.TrimPrefix(q.entity, "user:")
	sum := fmt.Sprintf("%s has %d inbox rules, %d forwarding mail", name, len(rules), len(forwarding(slices.Clone(rules))))
	return investigate.Result{Summary: sum, Data: map[string]any{"user": name, "rules": capped(rows, maxRows)}, Findings: fs}, nil
}

// ruleFindings weighs an inbox rule: forwarding or redirecting outside the organisation is
// how mailbox takeovers exfiltrate (+1.5, +0.5 while disabled); a rule with a meaningless
// name that deletes mail or moves it out of sight hides the attacker's traces (+1.0).
func ruleFindings(q toolQuery, r graph.MessageRule, domain string) []investigate.Finding {
	name := strings.TrimPrefix(q.entity, "user:")
	hides := r.Actions.Delete || r.Actions.PermanentDelete || hidingFolders[strings.ToLower(r.Actions.MoveToFolder)]
	var traits []string
	if meaninglessName(r.DisplayName) {
		traits = append(traits, "has a meaningless name")
	}
	if r.Actions.MarkAsRead {
		traits = append(traits, "marks mail read")
	}
	if hides {
		traits = append(traits, "deletes or hides mail")
	}
	if ext := externalAddrs(r.ForwardsTo(), domain); len(ext) > 0 {
		w := 1.5
		if !r.IsEnabled {
			w = 0.5
		}
		detail := fmt.Sprintf("inbox rule %q of %s forwards mail to %s outside the organisation", r.DisplayName, name, strings.Join(ext, ", "))
		if len(traits) > 0 {
			detail += " and " + strings.Join(traits, ", ")
		}
		return []investigate.Finding{{Name: "inbox_forward_rule", Weight: w, Entity: q.entity, Detail: detail,
			Actions: []string{"delete_inbox_rule " + q.entity, "revoke_sessions " + q.entity}}}
	}
	if hides && (meaninglessName(r.DisplayName) || hidingFolders[strings.ToLower(r.Actions.MoveToFolder)]) {
		return []investigate.Finding{{Name: "inbox_hiding_rule", Weight: 1.0, Entity: q.entity,
			Detail:  fmt.Sprintf("inbox rule %q of %s %s", r.DisplayName, name, strings.Join(traits, ", ")),
			Actions: []string{"revoke_sessions " + q.entity}}}
	}
	return nil
}

// ---- endpoint.host ----------------------------------------------------------------------

func (e *toolEnv) endpointHost(ctx context.Context, q toolQuery) (investigate.Result, error) {
	host := strings.TrimPrefix(q.entity, "host:")
	data := map[string]any{"host": host}
	var fs []investigate.Finding
	var facts, missing []string
	found := false
	if e.mde != nil {
		m, err := e.r.machine(ctx, q.value)
		switch {
		case connector.IsNotFound(err):
			missing = append(missing, productMDE)
		case err != nil:
			return investigate.Result{}, err
		default:
			found = true
			d, f, fact, err := e.mdeHost(ctx, q, m)
			if err != nil {
				return investigate.Result{}, err
			}
			data["mde"], fs, facts = d, append(fs, f...), append(facts, fact)
		}
	}
	if e.falcon != nil {
		d, err := e.r.device(ctx, q.value)
		switch {
		case connector.IsNotFound(err):
			missing = append(missing, productFalcon)
		case err != nil:
			return investigate.Result{}, err
		default:
			found = true
			row, f, fact := falconHost(q, d)
			data["falcon"], fs, facts = row, append(fs, f...), append(facts, fact)
		}
	}
	if !found {
		return investigate.Result{}, fmt.Errorf("host %s at %s: %w", q.value, strings.Join(missing, " and "), connector.ErrNotFound)
	}
	if len(missing) > 0 {
		data["not_found_at"] = missing
	}
	return investigate.Result{Summary: host + ": " + strings.Join(facts, "; "), Data: data, Findings: fs}, nil
}

func (e *toolEnv) mdeHost(ctx context.Context, q toolQuery, m *mde.Machine) (map[string]any, []investigate.Finding, string, error) {
	alerts, err := e.mde.MachineAlerts(ctx, m.ID)
	if err != nil {
		return nil, nil, "", err
	}
	iso, err := e.mde.Isolation(ctx, m.ID)
	if err != nil {
		return nil, nil, "", err
	}
	var open []mde.Alert
	for _, a := range alerts {
		if a.Status != "Resolved" {
			open = append(open, a)
		}
	}
	slices.SortStableFunc(open, func(a, b mde.Alert) int { return b.AlertCreationTime.Compare(a.AlertCreationTime) })
	os := strings.TrimSpace(m.OSPlatform + " " + m.Version)
	fact := fmt.Sprintf("%s at Defender, risk %s, exposure %s, device value %s, %d open alerts", dashIfEmpty(os), dashIfEmpty(m.RiskScore), dashIfEmpty(m.ExposureLevel), dashIfEmpty(m.DeviceValue), len(open))
	var rows []map[string]any
	for _, a := range capped(open, maxRows) {
		rows = append(rows, map[string]any{"id": a.ID, "title": a.Title, "severity": a.Severity, "status": a.Status, "category": a.Category,
			"created": a.AlertCreationTime, "techniques": a.MitreTechniques})
	}
	data := map[string]any{
		"id": m.ID, "dns_name": m.ComputerDNSName, "os": os, "os_build": m.OSBuild, "risk": m.RiskScore, "exposure": m.ExposureLevel,
		"device_value": m.DeviceValue, "health": m.HealthStatus, "last_seen": m.LastSeen, "last_ip": m.LastIPAddress, "tags": m.MachineTags,
		"isolated": iso.Isolated, "isolation_pending": iso.Pending != nil, "open_alerts": rows,
	}
	fs := edrAlertFindings(q, open, fact)
	if iso.Isolated {
		fs = append(fs, investigate.Finding{Name: "host_isolated", Entity: q.entity, Detail: m.ComputerDNSName + " is isolated by Defender for Endpoint"})
	}
	return data, fs, fact, nil
}

// edrAlertFindings weighs open EDR alerts: any high-severity one +0.8, medium ones alone
// +0.4; the detail names the alerts and the host's OS, risk and exposure.
func edrAlertFindings(q toolQuery, open []mde.Alert, fact string) []investigate.Finding {
	var high, medium []string
	for _, a := range open {
		switch a.Severity {
		case "High":
			high = append(high, a.Title)
		case "Medium":
			medium = append(medium, a.Title)
		}
	}
	w, titles := 0.8, high
	if len(high) == 0 {
		w, titles = 0.4, medium
	}
	if len(titles) == 0 {
		return nil
	}
	slices.Sort(titles)
	titles = slices.Compact(titles)
	host := strings.TrimPrefix(q.entity, "host:")
	return []investigate.Finding{{Name: "edr_alerts_on_host", Weight: w, Entity: q.entity,
		Detail:  fmt.Sprintf("Defender for Endpoint has %d high and %d medium open alerts on %s (%s); %s", len(high), len(medium), host, strings.Join(capped(titles, 5), "; "), fact),
		Actions: []string{"contain_host " + q.entity}}}
}

func falconHost(q toolQuery, d *falcon.Device) (map[string]any, []investigate.Finding, string) {
	os := d.OSVersion
	if !strings.HasPrefix(os, d.PlatformName) {
		os = strings.TrimSpace(d.PlatformName + " " + os)
	}
	fact := fmt.Sprintf("%s at Falcon, containment %s", dashIfEmpty(os), dashIfEmpty(d.Status))
	data := map[string]any{
		"id": d.DeviceID, "hostname": d.Hostname, "platform": d.PlatformName, "os": d.OSVersion, "type": d.ProductTypeDesc,
		"status": d.Status, "last_seen": d.LastSeen, "local_ip": d.LocalIP, "external_ip": d.ExternalIP, "criticality": d.GroupingTag("Criticality"),
	}
	var fs []investigate.Finding
	if d.Contained() {
		fs = append(fs, investigate.Finding{Name: "host_isolated", Entity: q.entity, Detail: d.Hostname + " is network-contained by CrowdStrike Falcon"})
	}
	return data, fs, fact
}
