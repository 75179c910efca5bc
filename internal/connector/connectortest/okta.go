package connectortest

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/demo"
)

// Okta is a fake of the Okta management API (users, groups, factors, roles, grants,
// lifecycle, sessions) and System Log, authenticated with an API token
// ("Authorization: SSWS <token>").
//
// Paths: GET /api/v1/users/{id} (ID or login); GET /api/v1/users/{id}/groups, /factors,
// /roles, /grants; DELETE /api/v1/users/{id}/grants and /grants/{grantId}; DELETE
// /api/v1/users/{id}/sessions; POST /api/v1/users/{id}/lifecycle/suspend, /unsuspend and
// /reset_password?sendEmail=; GET /api/v1/logs?since=&until=&filter=&q=&limit=&sortOrder=&after=
// (paged with Link: <...>; rel="next"). Actions append their System Log events.
type Okta struct {
	*fake
	org   *demo.Org
	token connector.Secret
	seed  *seed

	// mu guards the state below.
	mu      sync.Mutex
	users   []map[string]any
	groups  map[string][]map[string]any // by user ID
	factors map[string][]map[string]any
	roles   map[string][]map[string]any
	grants  map[string][]map[string]any
	events  []map[string]any // oldest first
}

// NewOkta starts an Okta fake seeded from org.
func NewOkta(org *demo.Org, opts ...Option) *Okta {
	o := &Okta{fake: newFake(), org: org, token: connector.Secret("00" + randHex(20)), seed: newSeed(10, opts)}
	o.seedState()
	f := o.fake
	f.authorized = func(r *http.Request) bool {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "SSWS ")
		return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(o.token.Reveal())) == 1
	}
	f.unauthorized = func(w http.ResponseWriter) {
		oktaError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
	}
	f.rateLimited = func(w http.ResponseWriter, wait time.Duration) {
		reset := time.Now().Add(wait)
		secs := reset.Unix()
		if reset.Nanosecond() > 0 {
			secs++
		}
		w.Header().Set("X-Rate-Limit-Limit", "600")
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(secs, 10))
		oktaError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
	}
	f.serverError = func(w http.ResponseWriter, status int) {
		oktaError(w, status, "E0000009", "Internal Server Error")
	}
	m := f.mux
	m.HandleFunc("GET /api/v1/users/{id}", o.getUser)
	m.HandleFunc("GET /api/v1/users/{id}/groups", o.userList(func(id string) []map[string]any { return o.groups[id] }))
	m.HandleFunc("GET /api/v1/users/{id}/factors", o.userList(func(id string) []map[string]any { return o.factors[id] }))
	m.HandleFunc("GET /api/v1/users/{id}/roles", o.userList(func(id string) []map[string]any { return o.roles[id] }))
	m.HandleFunc("GET /api/v1/users/{id}/grants", o.userList(func(id string) []map[string]any { return o.grants[id] }))
	m.HandleFunc("DELETE /api/v1/users/{id}/grants", o.revokeGrants)
	m.HandleFunc("DELETE /api/v1/users/{id}/grants/{grant}", o.revokeGrant)
	m.HandleFunc("DELETE /api/v1/users/{id}/sessions", o.clearSessions)
	m.HandleFunc("POST /api/v1/users/{id}/lifecycle/{op}", o.lifecycle)
	m.HandleFunc("GET /api/v1/logs", o.logs)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		oktaError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
	})
	f.start()
	return o
}

// APIToken returns the API token the fake accepts.
func (o *Okta) APIToken() connector.Secret { return o.token }

// The identity the fake's API token acts as, the actor of action events.
const oktaServiceActorID = "00u0vigilsvc000001"

func oktaError(w http.ResponseWriter, status int, code, summary string, causes ...string) {
	cs := []any{}
	for _, c := range causes {
		cs = append(cs, map[string]any{"errorSummary": c})
	}
	writeJSON(w, status, map[string]any{"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae" + randHex(11), "errorCauses": cs})
}

func oktaTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (o *Okta) seedState() {
	org, s := o.org, o.seed
	o.groups, o.factors, o.roles, o.grants = map[string][]map[string]any{}, map[string][]map[string]any{}, map[string][]map[string]any{}, map[string][]map[string]any{}
	group := func(n int, typ, name, desc string) map[string]any {
		t := oktaTime(s.day.AddDate(-2, 0, n))
		return map[string]any{
			"id": fmt.Sprintf("00g%02dexamplecorp%03d", n, n), "created": t, "lastUpdated": t, "lastMembershipUpdated": t,
			"objectClass": []any{"okta:user_group"}, "type": typ, "profile": map[string]any{"name": name, "description": desc},
		}
	}
	everyone := group(1, "BUILT_IN", "Everyone", "All users in your organization")
	admins := group(2, "OKTA_GROUP", "Okta Admins", "Administrators of the Okta org")
	vpn := group(3, "OKTA_GROUP", "VPN Users", "Remote access")
	for i, u := range org.Users {
		first, last, _ := strings.Cut(u.Display, " ")
		created := oktaTime(s.day.AddDate(-1, 0, -30*i))
		o.users = append(o.users, map[string]any{
			"id": u.OktaID, "status": "ACTIVE", "created": created, "activated": created, "statusChanged": created,
			"lastLogin": oktaTime(s.day.Add(8 * time.Hour)), "lastUpdated": created, "passwordChanged": oktaTime(s.day.AddDate(0, 0, -60+i)),
			"type":        map[string]any{"id": "oty1examplecorp0001"},
			"profile":     map[string]any{"firstName": first, "lastName": last, "displayName": u.Display, "email": u.UPN, "login": u.UPN, "secondEmail": nil, "mobilePhone": nil, "department": u.Dept, "title": jobTitles[u.Dept]},
			"credentials": map[string]any{"password": map[string]any{}, "provider": map[string]any{"type": "OKTA", "name": "OKTA"}},
			"_links":      map[string]any{"self": map[string]any{"href": "/api/v1/users/" + u.OktaID}},
		})
		o.groups[u.OktaID] = []map[string]any{everyone, group(10+i, "OKTA_GROUP", strings.ToUpper(u.Dept[:1])+u.Dept[1:], "The "+u.Dept+" department"), vpn}
		if u.Admin {
			o.groups[u.OktaID] = append(o.groups[u.OktaID], admins)
			o.roles[u.OktaID] = []map[string]any{{"id": "ra1examplecorp0001", "label": "Super Administrator", "type": "SUPER_ADMIN", "status": "ACTIVE", "created": created, "lastUpdated": created, "assignmentType": "USER"}}
		}
		factor := func(n int, typ, provider string, profile map[string]any) map[string]any {
			return map[string]any{"id": fmt.Sprintf("opf%02d%02dexamplecorp", i+1, n), "factorType": typ, "provider": provider, "vendorName": provider, "status": "ACTIVE", "created": created, "lastUpdated": created, "profile": profile}
		}
		push := factor(1, "push", "OKTA", map[string]any{"credentialId": u.UPN, "deviceType": "SmartPhone_IPhone", "name": "iPhone 15", "platform": "IOS", "version": "17.4"})
		switch u.Name {
		case "bob": // no factor enrolled: the spray's success was password-only
		case "dave":
			o.factors[u.OktaID] = []map[string]any{push, factor(2, "token:software:totp", "GOOGLE", map[string]any{"credentialId": u.UPN}), factor(3, "webauthn", "FIDO", map[string]any{"credentialId": "fido-" + u.Name, "authenticatorName": "YubiKey 5C"})}
		case "frank":
			o.factors[u.OktaID] = []map[string]any{factor(1, "sms", "OKTA", map[string]any{"phoneNumber": "+1 XXX-XXX-0199"})}
		default:
			o.factors[u.OktaID] = []map[string]any{push}
		}
		grant := func(n int, client, clientName, scope string) map[string]any {
			return map[string]any{
				"id": fmt.Sprintf("oag%02d%02dexamplecorp", i+1, n), "status": "ACTIVE", "created": created, "lastUpdated": created,
				"issuer": o.URL() + "/oauth2/default", "clientId": client, "userId": u.OktaID, "scopeId": "scp" + strings.ReplaceAll(scope, "_", "") + "0001", "source": "END_USER",
				"_links": map[string]any{"client": map[string]any{"href": "/oauth2/v1/clients/" + client, "title": clientName}, "scope": map[string]any{"href": "/api/v1/authorizationServers/default/scopes/" + scope, "title": scope}},
			}
		}
		o.grants[u.OktaID] = []map[string]any{grant(1, "0oa1intranet000001", "Example Intranet", "openid"), grant(2, "0oa1intranet000001", "Example Intranet", "profile")}
		if u.Name == "bob" {
			o.grants[u.OktaID] = append(o.grants[u.OktaID], grant(3, "0oa1intranet000001", "Example Intranet", "offline_access"))
		}
	}
	o.events = s.recordsWithHint(org, "okta")
	sort.SliceStable(o.events, func(i, j int) bool {
		return fmt.Sprint(o.events[i]["published"]) < fmt.Sprint(o.events[j]["published"])
	})
}

// user finds a user by ID or login. Callers hold o.mu.
func (o *Okta) user(key string) map[string]any {
	for _, u := range o.users {
		p := u["profile"].(map[string]any)
		if u["id"] == key || strings.EqualFold(p["login"].(string), key) {
			return u
		}
	}
	return nil
}

func oktaUserNotFound(w http.ResponseWriter, id string) {
	oktaError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (User)", id))
}

func (o *Okta) getUser(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.user(r.PathValue("id"))
	if u == nil {
		oktaUserNotFound(w, r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, clone(u))
}

func (o *Okta) userList(list func(id string) []map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		defer o.mu.Unlock()
		u := o.user(r.PathValue("id"))
		if u == nil {
			oktaUserNotFound(w, r.PathValue("id"))
			return
		}
		items := list(u["id"].(string))
		if items == nil {
			items = []map[string]any{}
		}
		writeJSON(w, http.StatusOK, clone(items))
	}
}

// event appends a System Log event for an action on user u. Callers hold o.mu.
func (o *Okta) event(eventType, message string, u map[string]any, r *http.Request) {
	p := u["profile"].(map[string]any)
	now := time.Now().UTC()
	o.events = append(o.events, map[string]any{
		"uuid": uuid(), "published": oktaTime(now), "eventType": eventType, "displayMessage": message, "severity": "INFO", "version": "0",
		"actor":       map[string]any{"id": oktaServiceActorID, "type": "User", "alternateId": "vigil-svc@" + o.org.DNS, "displayName": "vigil service account"},
		"client":      map[string]any{"userAgent": map[string]any{"rawUserAgent": r.UserAgent()}, "ipAddress": "198.51.100.250", "zone": "null"},
		"outcome":     map[string]any{"result": "SUCCESS"},
		"target":      []any{map[string]any{"id": u["id"], "type": "User", "alternateId": p["login"], "displayName": p["displayName"]}},
		"transaction": map[string]any{"type": "WEB", "id": "Y" + randHex(8)},
	})
}

func (o *Okta) clearSessions(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.user(r.PathValue("id"))
	if u == nil {
		oktaUserNotFound(w, r.PathValue("id"))
		return
	}
	o.event("user.session.clear", "Clear user session", u, r)
	if r.URL.Query().Get("oauthTokens") == "true" {
		o.event("app.oauth2.as.token.revoke", "OAuth2 tokens revoked", u, r)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (o *Okta) lifecycle(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.user(r.PathValue("id"))
	if u == nil {
		oktaUserNotFound(w, r.PathValue("id"))
		return
	}
	status := u["status"].(string)
	now := oktaTime(time.Now())
	switch r.PathValue("op") {
	case "suspend":
		if status != "ACTIVE" {
			oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: suspendUser", "Cannot suspend a user that is not active")
			return
		}
		u["status"], u["statusChanged"] = "SUSPENDED", now
		o.event("user.lifecycle.suspend", "Suspend Okta user", u, r)
		writeJSON(w, http.StatusOK, map[string]any{})
	case "unsuspend":
		if status != "SUSPENDED" {
			oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: unsuspendUser", "Cannot unsuspend a user that is not suspended")
			return
		}
		u["status"], u["statusChanged"] = "ACTIVE", now
		o.event("user.lifecycle.unsuspend", "Unsuspend Okta user", u, r)
		writeJSON(w, http.StatusOK, map[string]any{})
	case "reset_password":
		if status == "SUSPENDED" || status == "DEPROVISIONED" {
			oktaError(w, http.StatusForbidden, "E0000038", "This operation is not allowed in the user's current status.")
			return
		}
		u["status"], u["statusChanged"] = "RECOVERY", now
		o.event("user.account.reset_password", "Reset Okta user password", u, r)
		if r.URL.Query().Get("sendEmail") == "false" {
			writeJSON(w, http.StatusOK, map[string]any{"summary": "Reset password without sending email", "resetPasswordUrl": o.URL() + "/reset_password/" + randHex(10)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		oktaError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
	}
}

func (o *Okta) revokeGrants(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.user(r.PathValue("id"))
	if u == nil {
		oktaUserNotFound(w, r.PathValue("id"))
		return
	}
	delete(o.grants, u["id"].(string))
	o.event("app.oauth2.as.consent.revoke", "User consent revoked for all clients", u, r)
	w.WriteHeader(http.StatusNoContent)
}

func (o *Okta) revokeGrant(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.user(r.PathValue("id"))
	if u == nil {
		oktaUserNotFound(w, r.PathValue("id"))
		return
	}
	id := u["id"].(string)
	for i, g := range o.grants[id] {
		if g["id"] == r.PathValue("grant") {
			o.grants[id] = append(o.grants[id][:i:i], o.grants[id][i+1:]...)
			o.event("app.oauth2.as.consent.revoke", "User consent revoked", u, r)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	oktaError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (OAuth2ScopeConsentGrant)", r.PathValue("grant")))
}

func (o *Okta) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now().UTC()
	since, until := now.AddDate(0, 0, -7), now
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				oktaError(w, http.StatusBadRequest, "E0000030", "Bad request. Invalid date. Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, e.g. 2013-01-01T12:00:00.000-07:00.")
				return
			}
			*p.t = t
		}
	}
	filter, err := parseFilter(q.Get("filter"))
	if err != nil {
		oktaError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", err.Error())
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 || limit > 1000 {
			oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: limit", "limit must be between 1 and 1000")
			return
		}
	}
	limit = min(limit, o.seed.pageSize)
	offset := 0
	if v := q.Get("after"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err == nil {
			offset, err = strconv.Atoi(string(b))
		}
		if err != nil || offset < 0 {
			oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after", "invalid cursor")
			return
		}
	}
	o.mu.Lock()
	var matched []map[string]any
	for _, e := range o.events {
		pub, _ := parseTime(fmt.Sprint(e["published"]))
		if pub.Before(since) || !pub.Before(until) || !matches(filter, e) || !keywords(e, q.Get("q")) {
			continue
		}
		matched = append(matched, clone(e))
	}
	o.mu.Unlock()
	if strings.EqualFold(q.Get("sortOrder"), "DESCENDING") {
		for i, j := 0, len(matched)-1; i < j; i, j = i+1, j-1 {
			matched[i], matched[j] = matched[j], matched[i]
		}
	}
	end := min(offset+limit, len(matched))
	page := []map[string]any{}
	if offset < len(matched) {
		page = matched[offset:end]
	}
	self := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
	links := []string{"<" + self + `>; rel="self"`}
	if end < len(matched) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("after", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		links = append(links, "<http://"+r.Host+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
	}
	for _, l := range links {
		w.Header().Add("Link", l)
	}
	writeJSON(w, http.StatusOK, page)
}

// keywords applies the q parameter: every space-separated keyword must occur in the event.
func keywords(e map[string]any, q string) bool {
	if strings.TrimSpace(q) == "" {
		return true
	}
	b, _ := json.Marshal(e)
	text := strings.ToLower(string(b))
	for _, k := range strings.Fields(strings.ToLower(q)) {
		if !strings.Contains(text, k) {
			return false
		}
	}
	return true
}
