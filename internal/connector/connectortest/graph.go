package connectortest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/demo"
)

// Well-known identifiers the Graph fake seeds.
const (
	// MaliciousAppSPID is the object ID of "Mail Sync Pro"'s service principal in the tenant
	// (the target of carol's consent in the demo's audit record).
	MaliciousAppSPID = "c3d4e5f6-0000-4000-8000-00000000ab01"
	// MaliciousGrantID is the ID of carol's delegated grant to Mail Sync Pro.
	MaliciousGrantID = "kP0x_q"
	// GraphSPID is the object ID of the Microsoft Graph service principal (the grants' resource).
	GraphSPID = "0e1f2a3b-0000-0000-0000-000000000003"
	// GraphAppID is Microsoft Graph's well-known application ID.
	GraphAppID = "00000003-0000-0000-c000-000000000000"
	// ExpenseAppSPID is a benign app with a tenant-wide (AllPrincipals) grant.
	ExpenseAppSPID = "c3d4e5f6-0000-4000-8000-00000000ab02"
	// ForwardingRuleID is the ID of the inbox rule the attacker created in bob's mailbox.
	ForwardingRuleID = "AQAAAJ5dZqA="
	// PasswordMethodID is Graph's well-known ID of every user's password method.
	PasswordMethodID = "28c10230-6103-485e-b985-444c60001490"
	// GlobalAdminTemplateID is the role template ID of Global Administrator.
	GlobalAdminTemplateID = "62e90394-69f5-4237-9190-012177145e10"
)

const graphResource = "https://graph.microsoft.com"

// Graph is a fake of Microsoft Graph v1.0 (the identity, audit, consent and mail-rule parts
// vigil uses) with Entra ID's token endpoint.
//
// Paths: POST /{tenant}/oauth2/v2.0/token; GET and PATCH /v1.0/users/{id} (object ID or UPN;
// $select honoured: accountEnabled and other non-default properties only when selected);
// GET /v1.0/users/{id}/memberOf; GET /v1.0/users/{id}/authentication/methods; POST
// /v1.0/users/{id}/revokeSignInSessions; GET and POST /v1.0/users/{id}/mailFolders/inbox/messageRules
// and GET, DELETE .../messageRules/{ruleId}; GET /v1.0/users/{id}/messages/{messageId} and POST
// .../messages/{messageId}/move; GET /v1.0/auditLogs/signIns and
// /v1.0/auditLogs/directoryAudits ($filter, $top, @odata.nextLink); GET and POST
// /v1.0/oauth2PermissionGrants ($filter) and GET, DELETE /v1.0/oauth2PermissionGrants/{id};
// GET /v1.0/servicePrincipals ($filter appId eq ...), GET and PATCH /v1.0/servicePrincipals/{id};
// GET /v1.0/identityProtection/riskyUsers and .../riskyUsers/{id}; POST
// .../riskyUsers/confirmCompromised and .../riskyUsers/dismiss.
type Graph struct {
	*fake
	org  *demo.Org
	app  entraApp
	seed *seed

	// mu guards the directory state below.
	mu       sync.Mutex
	users    []map[string]any
	memberOf map[string][]map[string]any // by user ID
	methods  map[string][]map[string]any
	signIns  []map[string]any // newest first
	audits   []map[string]any // newest first
	grants   []map[string]any
	sps      []map[string]any
	risky    []map[string]any
	rules    map[string][]map[string]any
	messages map[string][]map[string]any // by user ID
	nextID   int
}

// NewGraph starts a Graph fake seeded from org.
func NewGraph(org *demo.Org, opts ...Option) *Graph {
	g := &Graph{fake: newFake(), org: org, app: newEntraApp(org.Tenant, graphResource), seed: newSeed(5, opts)}
	g.seedState()
	f := g.fake
	f.open = isEntraToken
	f.authorized = f.bearerValid
	f.unauthorized = func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		odataError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience or the token has expired.")
	}
	f.rateLimited = func(w http.ResponseWriter, wait time.Duration) {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
		odataError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please retry after the time in the Retry-After header.")
	}
	f.serverError = func(w http.ResponseWriter, status int) {
		odataError(w, status, "serviceNotAvailable", "The service is temporarily unavailable. Please try again later.")
	}
	m := f.mux
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/token", f.handleEntraToken(g.app))
	m.HandleFunc("GET /v1.0/users/{id}", g.getUser)
	m.HandleFunc("PATCH /v1.0/users/{id}", g.patchUser)
	m.HandleFunc("GET /v1.0/users/{id}/memberOf", g.userList(func(id string) []map[string]any { return g.memberOf[id] }, "directoryObjects"))
	m.HandleFunc("GET /v1.0/users/{id}/authentication/methods", g.userList(func(id string) []map[string]any { return g.methods[id] }, "users('{id}')/authentication/methods"))
	m.HandleFunc("POST /v1.0/users/{id}/revokeSignInSessions", g.revokeSessions)
	m.HandleFunc("GET /v1.0/users/{id}/mailFolders/inbox/messageRules", g.userList(func(id string) []map[string]any { return g.rules[id] }, "users('{id}')/mailFolders('inbox')/messageRules"))
	m.HandleFunc("POST /v1.0/users/{id}/mailFolders/inbox/messageRules", g.createRule)
	m.HandleFunc("GET /v1.0/users/{id}/mailFolders/inbox/messageRules/{rule}", g.getRule)
	m.HandleFunc("GET /v1.0/users/{id}/messages/{msg}", g.getMessage)
	m.HandleFunc("POST /v1.0/users/{id}/messages/{msg}/move", g.moveMessage)
	m.HandleFunc("DELETE /v1.0/users/{id}/mailFolders/inbox/messageRules/{rule}", g.deleteRule)
	m.HandleFunc("GET /v1.0/auditLogs/signIns", g.collection(func() []map[string]any { return g.signIns }, "auditLogs/signIns"))
	m.HandleFunc("GET /v1.0/auditLogs/directoryAudits", g.collection(func() []map[string]any { return g.audits }, "auditLogs/directoryAudits"))
	m.HandleFunc("GET /v1.0/oauth2PermissionGrants", g.collection(func() []map[string]any { return g.grants }, "oauth2PermissionGrants"))
	m.HandleFunc("POST /v1.0/oauth2PermissionGrants", g.createGrant)
	m.HandleFunc("GET /v1.0/oauth2PermissionGrants/{id}", g.getGrant)
	m.HandleFunc("DELETE /v1.0/oauth2PermissionGrants/{id}", g.deleteGrant)
	m.HandleFunc("GET /v1.0/servicePrincipals", g.collection(func() []map[string]any { return g.sps }, "servicePrincipals"))
	m.HandleFunc("GET /v1.0/servicePrincipals/{id}", g.getSP)
	m.HandleFunc("PATCH /v1.0/servicePrincipals/{id}", g.patchSP)
	m.HandleFunc("GET /v1.0/identityProtection/riskyUsers", g.collection(func() []map[string]any { return g.risky }, "identityProtection/riskyUsers"))
	m.HandleFunc("GET /v1.0/identityProtection/riskyUsers/{id}", g.getRisky)
	m.HandleFunc("POST /v1.0/identityProtection/riskyUsers/confirmCompromised", g.riskAction("confirmedCompromised", "high", "adminConfirmedUserCompromised"))
	m.HandleFunc("POST /v1.0/identityProtection/riskyUsers/dismiss", g.riskAction("dismissed", "none", "adminDismissedAllRiskForUser"))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		odataError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(r.URL.Path)))
	})
	f.start()
	return g
}

// Credentials returns the client credentials the fake's token endpoint accepts.
func (g *Graph) Credentials() EntraCredentials {
	return EntraCredentials{Authority: g.URL(), TenantID: g.app.tenant, ClientID: g.app.clientID, ClientSecret: g.app.secret}
}

func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

var graphUserDefaults = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

var jobTitles = map[string]string{
	"finance": "Financial Analyst", "sales": "Account Executive", "hr": "HR Business Partner",
	"it": "Systems Administrator", "engineering": "Software Engineer", "executive": "Chief Operating Officer",
}

func (g *Graph) seedState() {
	o, s := g.org, g.seed
	g.memberOf, g.methods, g.rules = map[string][]map[string]any{}, map[string][]map[string]any{}, map[string][]map[string]any{}
	group := func(n int, name, desc string) map[string]any {
		return map[string]any{
			"@odata.type": "#microsoft.graph.group", "id": fmt.Sprintf("b1c2d3e4-0000-4000-9000-%012d", n),
			"displayName": name, "description": desc, "mail": nil, "mailEnabled": false, "securityEnabled": true, "groupTypes": []any{},
		}
	}
	allStaff := group(1, "All Staff", "Every employee of Example Corp")
	vpn := group(2, "VPN Users", "Remote access")
	itAdmins := group(3, "IT Admins", "Privileged administrators")
	globalAdmin := map[string]any{
		"@odata.type": "#microsoft.graph.directoryRole", "id": "d4e5f6a7-0000-4000-a000-000000000001",
		"displayName": "Global Administrator", "description": "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
		"roleTemplateId": GlobalAdminTemplateID,
	}
	secAdmin := map[string]any{
		"@odata.type": "#microsoft.graph.directoryRole", "id": "d4e5f6a7-0000-4000-a000-000000000002",
		"displayName": "Security Administrator", "description": "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.",
		"roleTemplateId": "194ae4cb-b126-40b2-bd5b-6091b380977d",
	}
	for i, u := range o.Users {
		given, surname, _ := strings.Cut(u.Display, " ")
		g.users = append(g.users, map[string]any{
			"id": u.EntraID, "displayName": u.Display, "givenName": given, "surname": surname,
			"userPrincipalName": u.UPN, "mail": u.UPN, "jobTitle": jobTitles[u.Dept], "department": strings.ToUpper(u.Dept[:1]) + u.Dept[1:],
			"officeLocation": "New York", "businessPhones": []any{fmt.Sprintf("+1 212 555 01%02d", 10+i)}, "mobilePhone": nil, "preferredLanguage": "en-US",
			"accountEnabled": true, "usageLocation": u.Country, "userType": "Member", "companyName": "Example Corp",
			"createdDateTime": ts(s.day.AddDate(-1, 0, -30*i)), "onPremisesSamAccountName": u.Name,
			"onPremisesSecurityIdentifier": u.SID, "onPremisesSyncEnabled": true,
			"signInSessionsValidFromDateTime": ts(s.day.AddDate(0, 0, -30)), "lastPasswordChangeDateTime": ts(s.day.AddDate(0, 0, -60+i)),
			"passwordPolicies": "None",
		})
		dept := group(10+i, strings.ToUpper(u.Dept[:1])+u.Dept[1:], "Members of the "+u.Dept+" department")
		g.memberOf[u.EntraID] = []map[string]any{allStaff, dept, vpn}
		if u.Admin {
			g.memberOf[u.EntraID] = append(g.memberOf[u.EntraID], itAdmins, globalAdmin, secAdmin)
		}
		created := ts(s.day.AddDate(0, -6, -i))
		methods := []map[string]any{{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": PasswordMethodID, "password": nil, "createdDateTime": created}}
		authenticator := map[string]any{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": fmt.Sprintf("6e7f8a9b-0000-4000-b000-%012d", i+1), "displayName": "iPhone 15", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.8.7", "createdDateTime": created}
		fido := map[string]any{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": fmt.Sprintf("7f8a9b0c-0000-4000-b000-%012d", i+1), "displayName": "YubiKey 5C", "model": "YubiKey 5 Series", "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a", "createdDateTime": created, "attestationLevel": "attested"}
		switch u.Name {
		case "bob": // no second factor: why the spray's success needed no MFA
		case "dave":
			methods = append(methods, authenticator, fido)
		case "erin":
			methods = append(methods, fido)
		case "frank":
			methods = append(methods, map[string]any{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": "+1 2125550199", "phoneType": "mobile", "smsSignInState": "notAllowedByPolicy"})
		default:
			methods = append(methods, authenticator)
		}
		g.methods[u.EntraID] = methods
	}

	// Sign-ins and audits come from the demo's own records (the same JSON the log sources get).
	g.signIns = s.recordsWithHint(o, "entra_signin")
	g.audits = s.recordsWithHint(o, "entra_audit")
	dave, frank, erin := o.User("dave"), o.User("frank"), o.User("erin")
	for i, target := range []demo.User{frank, erin} {
		at := s.day.AddDate(0, 0, -3-7*i).Add(10*time.Hour + 12*time.Minute)
		g.audits = append(g.audits, passwordResetAudit("Reset password (by admin)", at, dave, target))
	}
	sortByTimeDesc(g.signIns, "createdDateTime")
	sortByTimeDesc(g.audits, "activityDateTime")

	g.sps = []map[string]any{
		{
			"id": MaliciousAppSPID, "appId": demo.MaliciousAppID, "displayName": demo.MaliciousApp, "accountEnabled": true,
			"appOwnerOrganizationId": "7e1d0c3b-6a5f-4e2d-9c8b-1a2b3c4d5e6f", "publisherName": "Mail Sync Pro Ltd",
			"verifiedPublisher":    map[string]any{"displayName": nil, "verifiedPublisherId": nil, "addedDateTime": nil},
			"servicePrincipalType": "Application", "signInAudience": "AzureADMultipleOrgs", "appRoleAssignmentRequired": false,
			"replyUrls": []any{"https://mailsyncpro.example.net/auth/callback"}, "homepage": "https://mailsyncpro.example.net",
			"createdDateTime": ts(s.consent.Add(40 * time.Second)), "tags": []any{"WindowsAzureActiveDirectoryIntegratedApp"},
			"servicePrincipalNames": []any{demo.MaliciousAppID},
		},
		{
			"id": GraphSPID, "appId": GraphAppID, "displayName": "Microsoft Graph", "accountEnabled": true,
			"appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a", "publisherName": "Microsoft Services",
			"verifiedPublisher":    map[string]any{"displayName": nil, "verifiedPublisherId": nil, "addedDateTime": nil},
			"servicePrincipalType": "Application", "signInAudience": "AzureADMultipleOrgs", "appRoleAssignmentRequired": false,
			"replyUrls": []any{}, "createdDateTime": ts(s.day.AddDate(-3, 0, 0)), "tags": []any{}, "servicePrincipalNames": []any{"https://graph.microsoft.com", GraphAppID},
		},
		{
			"id": ExpenseAppSPID, "appId": "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", "displayName": "Expense Portal", "accountEnabled": true,
			"appOwnerOrganizationId": o.Tenant, "publisherName": "Example Corp",
			"verifiedPublisher":    map[string]any{"displayName": "Example Corp", "verifiedPublisherId": "5012345", "addedDateTime": ts(s.day.AddDate(-2, 0, 0))},
			"servicePrincipalType": "Application", "signInAudience": "AzureADMyOrg", "appRoleAssignmentRequired": true,
			"replyUrls": []any{"https://expenses.example.com/signin-oidc"}, "createdDateTime": ts(s.day.AddDate(-2, 0, 0)), "tags": []any{"WindowsAzureActiveDirectoryIntegratedApp"},
			"servicePrincipalNames": []any{"1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"},
		},
	}
	carol := o.User("carol")
	g.grants = []map[string]any{
		{"id": MaliciousGrantID, "clientId": MaliciousAppSPID, "consentType": "Principal", "principalId": carol.EntraID, "resourceId": GraphSPID, "scope": "Mail.Read Mail.ReadWrite Mail.Send offline_access User.Read"},
		{"id": "3uT1m2Ex9EenV3aGlAoRk0f8nQxW7Ytp", "clientId": ExpenseAppSPID, "consentType": "AllPrincipals", "principalId": nil, "resourceId": GraphSPID, "scope": "openid profile User.Read"},
	}
	for i, u := range o.Users {
		if u.Name == "erin" || u.Name == "dave" {
			g.grants = append(g.grants, map[string]any{"id": fmt.Sprintf("Xp4Zr%02dEenV3aGlAoRkGraphExplorer", i), "clientId": ExpenseAppSPID, "consentType": "Principal", "principalId": u.EntraID, "resourceId": GraphSPID, "scope": "Calendars.Read"})
		}
	}

	bob := o.User("bob")
	g.risky = []map[string]any{
		{"id": bob.EntraID, "isDeleted": false, "isProcessing": false, "riskLastUpdatedDateTime": ts(s.spray.Add(95 * time.Second)), "riskLevel": "high", "riskState": "atRisk", "riskDetail": "none", "userDisplayName": bob.Display, "userPrincipalName": bob.UPN},
		{"id": frank.EntraID, "isDeleted": false, "isProcessing": false, "riskLastUpdatedDateTime": ts(s.day.AddDate(0, 0, -3).Add(10 * time.Hour)), "riskLevel": "none", "riskState": "remediated", "riskDetail": "adminGeneratedTemporaryPassword", "userDisplayName": frank.Display, "userPrincipalName": frank.UPN},
	}

	g.rules[bob.EntraID] = []map[string]any{{
		"id": ForwardingRuleID, "displayName": "..", "sequence": 1, "isEnabled": true, "hasError": false, "isReadOnly": false,
		"conditions": map[string]any{}, "exceptions": map[string]any{},
		"actions": map[string]any{"forwardTo": []any{map[string]any{"emailAddress": map[string]any{"name": demo.ForwardTo, "address": demo.ForwardTo}}}, "markAsRead": true, "delete": true, "stopProcessingRules": true},
	}}
	alice := o.User("alice")
	g.messages = map[string][]map[string]any{
		alice.EntraID: {message(PhishingMessageID, "Invoice 0342 overdue - payment required", "Accounts Receivable", "accounts@invoices-example.net", s.ransomware.Add(-20*time.Minute), true)},
		carol.EntraID: {message(ConsentPhishMessageID, "Your mailbox is almost full: enable Mail Sync Pro", "IT Support", "it-support@mailsyncpro.example.net", s.consent.Add(-10*time.Minute), false)},
	}
	g.rules[alice.EntraID] = []map[string]any{{
		"id": "AQAAAJ5dZqB=", "displayName": "Newsletters", "sequence": 1, "isEnabled": true, "hasError": false, "isReadOnly": false,
		"conditions": map[string]any{"senderContains": []any{"newsletter@"}}, "exceptions": map[string]any{},
		"actions": map[string]any{"moveToFolder": "AAMkAGNewsletters", "stopProcessingRules": true},
	}}
}

// Well-known mail folder IDs of the fake (Graph accepts the well-known names as IDs too).
var mailFolders = map[string]string{
	"inbox": "AAMkAGFolderInbox", "junkemail": "AAMkAGFolderJunk", "deleteditems": "AAMkAGFolderDeleted",
	"archive": "AAMkAGFolderArchive", "recoverableitemsdeletions": "AAMkAGFolderRecoverable",
}

// Message IDs (immutable) of the phishing mails the fake seeds.
const (
	PhishingMessageID     = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AInvoice0342"
	ConsentPhishMessageID = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AMailSyncPro"
)

func message(id, subject, fromName, from string, at time.Time, attachment bool) map[string]any {
	return map[string]any{
		"id": id, "subject": subject, "receivedDateTime": ts(at), "sentDateTime": ts(at.Add(-5 * time.Second)),
		"from":           map[string]any{"emailAddress": map[string]any{"name": fromName, "address": from}},
		"sender":         map[string]any{"emailAddress": map[string]any{"name": fromName, "address": from}},
		"hasAttachments": attachment, "isRead": false, "importance": "high", "parentFolderId": mailFolders["inbox"],
		"internetMessageId": "<" + strings.ToLower(id[len(id)-12:]) + "@mail.invoices-example.net>",
	}
}

func passwordResetAudit(activity string, at time.Time, by, target demo.User) map[string]any {
	return map[string]any{
		"id": fmt.Sprintf("UserManagement_%s_%d", strings.ReplaceAll(target.EntraID, "-", "")[:12], at.Unix()), "category": "UserManagement",
		"correlationId": uuid(), "result": "success", "resultReason": "", "activityDisplayName": activity,
		"activityDateTime": at.UTC().Format("2006-01-02T15:04:05.0000000Z"), "loggedByService": "Core Directory", "operationType": "Update",
		"initiatedBy":       map[string]any{"user": map[string]any{"id": by.EntraID, "displayName": nil, "userPrincipalName": by.UPN, "ipAddress": by.OfficeIP}, "app": nil},
		"targetResources":   []any{map[string]any{"id": target.EntraID, "displayName": nil, "type": "User", "userPrincipalName": target.UPN, "modifiedProperties": []any{}}},
		"additionalDetails": []any{},
	}
}

func sortByTimeDesc(items []map[string]any, field string) {
	sort.SliceStable(items, func(i, j int) bool {
		a, _ := parseTime(fmt.Sprint(items[i][field]))
		b, _ := parseTime(fmt.Sprint(items[j][field]))
		return a.After(b)
	})
}

// user finds a user by object ID or UPN. Callers hold g.mu.
func (g *Graph) user(key string) map[string]any {
	for _, u := range g.users {
		if strings.EqualFold(u["id"].(string), key) || strings.EqualFold(u["userPrincipalName"].(string), key) {
			return u
		}
	}
	return nil
}

func userNotFound(w http.ResponseWriter, id string) {
	odataError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

func (g *Graph) getUser(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.user(r.PathValue("id"))
	if u == nil {
		userNotFound(w, r.PathValue("id"))
		return
	}
	sel := r.URL.Query().Get("$select")
	if sel == "" {
		sel = strings.Join(graphUserDefaults, ",")
	}
	out := selectFields(clone(u), sel)
	out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
	writeJSON(w, http.StatusOK, out)
}

func (g *Graph) patchUser(w http.ResponseWriter, r *http.Request) {
	var patch map[string]any
	if err := decodeBody(r, &patch); err != nil {
		odataError(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.user(r.PathValue("id"))
	if u == nil {
		userNotFound(w, r.PathValue("id"))
		return
	}
	if pp, ok := patch["passwordProfile"].(map[string]any); ok {
		pw, _ := pp["password"].(string)
		if len(pw) < 8 {
			odataError(w, http.StatusBadRequest, "Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password.")
			return
		}
		now := time.Now().UTC()
		u["lastPasswordChangeDateTime"] = ts(now)
		// The fake keeps whether a change is forced, never the password itself.
		u["passwordProfile"] = map[string]any{"password": nil, "forceChangePasswordNextSignIn": pp["forceChangePasswordNextSignIn"] == true}
		target := g.demoUser(u["id"].(string))
		g.audits = append([]map[string]any{passwordResetAudit("Reset user password", now, demo.User{EntraID: uuid(), UPN: "vigil-app@" + g.org.DNS}, target)}, g.audits...)
		delete(patch, "passwordProfile")
	}
	for k, v := range patch {
		switch k {
		case "id", "userPrincipalName", "onPremisesSecurityIdentifier":
			odataError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is read-only and cannot be set.", k))
			return
		}
		u[k] = v
	}
	w.WriteHeader(http.StatusNoContent)
}

func (g *Graph) demoUser(entraID string) demo.User {
	for _, u := range g.org.Users {
		if u.EntraID == entraID {
			return u
		}
	}
	return demo.User{EntraID: entraID}
}

// userList answers a user's sub-collection.
func (g *Graph) userList(list func(id string) []map[string]any, ctx string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		u := g.user(r.PathValue("id"))
		if u == nil {
			userNotFound(w, r.PathValue("id"))
			return
		}
		items := list(u["id"].(string))
		if items == nil {
			items = []map[string]any{}
		}
		odataList(w, r, items, g.seed.pageSize, "https://graph.microsoft.com/v1.0/$metadata#"+strings.ReplaceAll(ctx, "{id}", u["id"].(string)), "$skiptoken")
	}
}

func (g *Graph) collection(items func() []map[string]any, ctx string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		odataList(w, r, items(), g.seed.pageSize, "https://graph.microsoft.com/v1.0/$metadata#"+ctx, "$skiptoken")
	}
}

func (g *Graph) revokeSessions(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.user(r.PathValue("id"))
	if u == nil {
		userNotFound(w, r.PathValue("id"))
		return
	}
	u["signInSessionsValidFromDateTime"] = ts(time.Now())
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true})
}

func (g *Graph) findRule(r *http.Request) (userID string, idx int, ok bool) {
	u := g.user(r.PathValue("id"))
	if u == nil {
		return "", -1, false
	}
	userID = u["id"].(string)
	for i, rule := range g.rules[userID] {
		if rule["id"] == r.PathValue("rule") {
			return userID, i, true
		}
	}
	return userID, -1, false
}

func (g *Graph) getRule(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	uid, i, ok := g.findRule(r)
	if !ok {
		odataError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	out := clone(g.rules[uid][i])
	out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#users('" + uid + "')/mailFolders('inbox')/messageRules/$entity"
	writeJSON(w, http.StatusOK, out)
}

func (g *Graph) deleteRule(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	uid, i, ok := g.findRule(r)
	if !ok {
		odataError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	g.rules[uid] = append(g.rules[uid][:i:i], g.rules[uid][i+1:]...)
	w.WriteHeader(http.StatusNoContent)
}

func (g *Graph) grantIndex(id string) int {
	for i, gr := range g.grants {
		if gr["id"] == id {
			return i
		}
	}
	return -1
}

func (g *Graph) getGrant(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := g.grantIndex(r.PathValue("id"))
	if i < 0 {
		odataError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, clone(g.grants[i]))
}

func (g *Graph) deleteGrant(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := g.grantIndex(r.PathValue("id"))
	if i < 0 {
		odataError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", r.PathValue("id")))
		return
	}
	g.grants = append(g.grants[:i:i], g.grants[i+1:]...)
	w.WriteHeader(http.StatusNoContent)
}

func (g *Graph) sp(id string) map[string]any {
	for _, sp := range g.sps {
		if sp["id"] == id {
			return sp
		}
	}
	return nil
}

func (g *Graph) getSP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sp := g.sp(r.PathValue("id"))
	if sp == nil {
		odataError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, selectFields(clone(sp), r.URL.Query().Get("$select")))
}

func (g *Graph) patchSP(w http.ResponseWriter, r *http.Request) {
	var patch map[string]any
	if err := decodeBody(r, &patch); err != nil {
		odataError(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	sp := g.sp(r.PathValue("id"))
	if sp == nil {
		odataError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", r.PathValue("id")))
		return
	}
	for k, v := range patch {
		if k == "id" || k == "appId" {
			odataError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is read-only and cannot be set.", k))
			return
		}
		sp[k] = v
	}
	w.WriteHeader(http.StatusNoContent)
}

func (g *Graph) getRisky(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ru := range g.risky {
		if ru["id"] == r.PathValue("id") {
			out := clone(ru)
			out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#identityProtection/riskyUsers/$entity"
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	odataError(w, http.StatusNotFound, "ResourceNotFound", "The requested resource does not exist.")
}

func (g *Graph) riskAction(state, level, detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			UserIDs []string `json:"userIds"`
		}
		if err := decodeBody(r, &body); err != nil || len(body.UserIDs) == 0 {
			odataError(w, http.StatusBadRequest, "BadRequest", "userIds is required.")
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, id := range body.UserIDs {
			u := g.user(id)
			if u == nil {
				userNotFound(w, id)
				return
			}
			var ru map[string]any
			for _, x := range g.risky {
				if x["id"] == u["id"] {
					ru = x
				}
			}
			if ru == nil {
				ru = map[string]any{"id": u["id"], "isDeleted": false, "isProcessing": false, "userDisplayName": u["displayName"], "userPrincipalName": u["userPrincipalName"]}
				g.risky = append(g.risky, ru)
			}
			ru["riskState"], ru["riskLevel"], ru["riskDetail"] = state, level, detail
			ru["riskLastUpdatedDateTime"] = ts(time.Now())
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (g *Graph) createRule(w http.ResponseWriter, r *http.Request) {
	var rule map[string]any
	if err := decodeBody(r, &rule); err != nil || rule["displayName"] == nil {
		odataError(w, http.StatusBadRequest, "ErrorInvalidRequest", "The rule must have a displayName.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.user(r.PathValue("id"))
	if u == nil {
		userNotFound(w, r.PathValue("id"))
		return
	}
	uid := u["id"].(string)
	g.nextID++
	rule["id"] = fmt.Sprintf("AQAAAJ5dZq%02d=", g.nextID)
	rule["hasError"], rule["isReadOnly"] = false, false
	if _, ok := rule["isEnabled"]; !ok {
		rule["isEnabled"] = true
	}
	g.rules[uid] = append(g.rules[uid], rule)
	writeJSON(w, http.StatusCreated, clone(rule))
}

func (g *Graph) findMessage(r *http.Request) map[string]any {
	u := g.user(r.PathValue("id"))
	if u == nil {
		return nil
	}
	for _, m := range g.messages[u["id"].(string)] {
		if m["id"] == r.PathValue("msg") {
			return m
		}
	}
	return nil
}

func (g *Graph) getMessage(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.findMessage(r)
	if m == nil {
		odataError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	writeJSON(w, http.StatusOK, selectFields(clone(m), r.URL.Query().Get("$select")))
}

// moveMessage moves a message. With Prefer: IdType="ImmutableId" it keeps its ID, as in
// Exchange; without, it gets a new one.
func (g *Graph) moveMessage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DestinationID string `json:"destinationId"`
	}
	if err := decodeBody(r, &body); err != nil || body.DestinationID == "" {
		odataError(w, http.StatusBadRequest, "ErrorInvalidRequest", "destinationId is required.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.findMessage(r)
	if m == nil {
		odataError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	dest, ok := mailFolders[strings.ToLower(body.DestinationID)]
	if !ok {
		for _, id := range mailFolders {
			if id == body.DestinationID {
				dest, ok = id, true
			}
		}
	}
	if !ok {
		odataError(w, http.StatusNotFound, "ErrorInvalidIdMalformed", "Id is malformed.")
		return
	}
	m["parentFolderId"] = dest
	if !strings.Contains(r.Header.Get("Prefer"), `IdType="ImmutableId"`) {
		g.nextID++
		m["id"] = fmt.Sprintf("%s-moved%d", m["id"], g.nextID)
	}
	writeJSON(w, http.StatusCreated, clone(m))
}

func (g *Graph) createGrant(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := decodeBody(r, &in); err != nil {
		odataError(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	client, _ := in["clientId"].(string)
	resource, _ := in["resourceId"].(string)
	consent, _ := in["consentType"].(string)
	principal, _ := in["principalId"].(string)
	switch {
	case g.sp(client) == nil || g.sp(resource) == nil:
		odataError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'clientId' or 'resourceId' of resource 'OAuth2PermissionGrant'.")
		return
	case consent == "Principal" && g.user(principal) == nil, consent != "Principal" && consent != "AllPrincipals":
		odataError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'principalId' or 'consentType' of resource 'OAuth2PermissionGrant'.")
		return
	}
	for _, gr := range g.grants {
		if gr["clientId"] == client && gr["resourceId"] == resource && gr["consentType"] == consent && (consent == "AllPrincipals" || gr["principalId"] == principal) {
			odataError(w, http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.")
			return
		}
	}
	g.nextID++
	gr := map[string]any{"id": fmt.Sprintf("%sGrant%04d", randHex(8), g.nextID), "clientId": client, "consentType": consent, "principalId": nil, "resourceId": resource, "scope": in["scope"]}
	if consent == "Principal" {
		gr["principalId"] = principal
	}
	g.grants = append(g.grants, gr)
	writeJSON(w, http.StatusCreated, clone(gr))
}
