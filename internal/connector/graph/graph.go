// Package graph is vigil's Microsoft Graph (v1.0) connector for Microsoft Entra ID and
// Exchange Online: it reads users, group and role membership, authentication methods,
// sign-in and directory audit logs, OAuth2 consent grants, service principals, risky users
// and inbox rules for investigation, and takes the identity response actions (revoke
// sessions, disable the account, reset the password, revoke a consent grant, disable an app,
// delete an inbox rule, confirm or dismiss user risk). It authenticates as an app
// registration with the client-credentials grant.
package graph

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/entra"
	"github.com/vigil-soc/vigil/internal/egress"
)

// DefaultBaseURL is the Microsoft Graph endpoint of the global cloud.
const DefaultBaseURL = "https://graph.microsoft.com"

// Config configures a Client. The app registration needs the application permissions
// User.Read.All, GroupMember.Read.All, UserAuthenticationMethod.Read.All, AuditLog.Read.All,
// Directory.Read.All, IdentityRiskyUser.ReadWrite.All, MailboxSettings.ReadWrite, and for
// the actions User.ReadWrite.All (or User.EnableDisableAccount.All), User.RevokeSessions.All,
// DelegatedPermissionGrant.ReadWrite.All and Application.ReadWrite.All.
type Config struct {
	BaseURL      string // default DefaultBaseURL
	Authority    string // default entra.DefaultAuthority
	TenantID     string
	ClientID     string
	ClientSecret connector.Secret
	Logger       *slog.Logger
}

// Client calls Microsoft Graph. It is safe for concurrent use.
type Client struct {
	base   string // e.g. https://graph.microsoft.com
	api    string // base + "/v1.0"
	tokens *connector.TokenSource
	call   *connector.Caller
}

// New returns a client that sends every request through hc.
func New(cfg Config, hc *egress.Client) (*Client, error) {
	if hc == nil {
		return nil, errors.New("graph: an egress client is required")
	}
	if cfg.TenantID == "" || cfg.ClientID == "" || cfg.ClientSecret.IsZero() {
		return nil, errors.New("graph: tenant ID, client ID and client secret are required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if _, err := url.Parse(base); err != nil {
		return nil, fmt.Errorf("graph: base URL: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "connector.graph")
	ts := entra.NewTokenSource(hc, "graph", entra.Credentials{Authority: cfg.Authority, TenantID: cfg.TenantID, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}, DefaultBaseURL, log)
	return &Client{
		base:   base,
		api:    base + "/v1.0",
		tokens: ts,
		call:   &connector.Caller{HTTP: hc, Service: "graph", Authorize: ts.Authorize, Refresh: ts.Refresh, DecodeError: entra.DecodeError, Logger: log},
	}, nil
}

func (c *Client) url(path string, query string) string { return c.api + path + query }

func seg(s string) string { return url.PathEscape(s) }

func (c *Client) get(ctx context.Context, u string, out any) error {
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: u}, out)
	return err
}

func (c *Client) send(ctx context.Context, method, u string, body any) error {
	_, err := c.call.Do(ctx, connector.Request{Method: method, URL: u, Body: body, Idempotent: true}, nil)
	return err
}

// userSelect is what GetUser asks for: Graph returns accountEnabled and the on-premises and
// session properties only when selected.
const userSelect = "id,displayName,givenName,surname,userPrincipalName,mail,jobTitle,department,officeLocation,accountEnabled,userType," +
	"createdDateTime,onPremisesSamAccountName,onPremisesSecurityIdentifier,onPremisesSyncEnabled,signInSessionsValidFromDateTime,lastPasswordChangeDateTime,usageLocation"

// GetUser returns a user by object ID or user principal name.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	var u User
	if err := c.get(ctx, c.url("/users/"+seg(id), entra.Query("$select", userSelect)), &u); err != nil {
		return nil, fmt.Errorf("graph: get user %q: %w", id, err)
	}
	return &u, nil
}

// MemberOf returns the groups and directory roles the user is a direct member of.
func (c *Client) MemberOf(ctx context.Context, userID string) (*Membership, error) {
	objs, err := entra.List[directoryObject](ctx, c.call, c.base, c.url("/users/"+seg(userID)+"/memberOf", entra.Query("$top", "100")), 0)
	if err != nil {
		return nil, fmt.Errorf("graph: list memberships of %q: %w", userID, err)
	}
	m := &Membership{}
	for _, o := range objs {
		switch o.Type {
		case "#microsoft.graph.group":
			m.Groups = append(m.Groups, Group{ID: o.ID, DisplayName: o.DisplayName, SecurityEnabled: o.SecurityEnabled, MailEnabled: o.MailEnabled})
		case "#microsoft.graph.directoryRole":
			m.Roles = append(m.Roles, DirectoryRole{ID: o.ID, DisplayName: o.DisplayName, RoleTemplateID: o.RoleTemplateID})
		}
	}
	return m, nil
}

// AuthenticationMethods returns the user's registered authentication methods.
func (c *Client) AuthenticationMethods(ctx context.Context, userID string) ([]AuthenticationMethod, error) {
	ms, err := entra.List[AuthenticationMethod](ctx, c.call, c.base, c.url("/users/"+seg(userID)+"/authentication/methods", ""), 0)
	if err != nil {
		return nil, fmt.Errorf("graph: list authentication methods of %q: %w", userID, err)
	}
	return ms, nil
}

// DefaultMax bounds the items a list call collects when its query sets no Max.
const DefaultMax = 1000

// SignIns returns sign-ins matching q, newest first, following pages up to q.Max.
func (c *Client) SignIns(ctx context.Context, q SignInQuery) ([]SignIn, error) {
	var f []string
	if !q.Since.IsZero() {
		f = append(f, "createdDateTime ge "+entra.Time(q.Since))
	}
	if !q.Until.IsZero() {
		f = append(f, "createdDateTime le "+entra.Time(q.Until))
	}
	for _, p := range []struct{ field, v string }{{"userId", q.UserID}, {"userPrincipalName", q.UserPrincipalName}, {"ipAddress", q.IPAddress}, {"appId", q.AppID}} {
		if p.v != "" {
			f = append(f, p.field+" eq "+entra.String(p.v))
		}
	}
	if q.FailuresOnly {
		f = append(f, "status/errorCode ne 0")
	}
	u := c.url("/auditLogs/signIns", entra.Query("$filter", strings.Join(f, " and "), "$top", "100"))
	out, err := entra.List[SignIn](ctx, c.call, c.base, u, maxOr(q.Max))
	if err != nil {
		return nil, fmt.Errorf("graph: list sign-ins: %w", err)
	}
	return out, nil
}

func maxOr(n int) int {
	if n <= 0 {
		return DefaultMax
	}
	return n
}

// Activities of password resets in the directory audit log: by an admin in the portal, and
// through the API (what ResetPassword causes).
const (
	ActivityResetPasswordByAdmin = "Reset password (by admin)"
	ActivityResetUserPassword    = "Reset user password"
)

// DirectoryAudits returns directory audit records matching q, newest first.
func (c *Client) DirectoryAudits(ctx context.Context, q AuditQuery) ([]DirectoryAudit, error) {
	var f []string
	if len(q.Activities) > 0 {
		var or []string
		for _, a := range q.Activities {
			or = append(or, "activityDisplayName eq "+entra.String(a))
		}
		clause := strings.Join(or, " or ")
		if len(or) > 1 {
			clause = "(" + clause + ")"
		}
		f = append(f, clause)
	}
	if !q.Since.IsZero() {
		f = append(f, "activityDateTime ge "+entra.Time(q.Since))
	}
	if q.TargetID != "" {
		f = append(f, "targetResources/any(t: t/id eq "+entra.String(q.TargetID)+")")
	}
	if q.InitiatedByUserID != "" {
		f = append(f, "initiatedBy/user/id eq "+entra.String(q.InitiatedByUserID))
	}
	u := c.url("/auditLogs/directoryAudits", entra.Query("$filter", strings.Join(f, " and "), "$top", "100"))
	out, err := entra.List[DirectoryAudit](ctx, c.call, c.base, u, maxOr(q.Max))
	if err != nil {
		return nil, fmt.Errorf("graph: list directory audits: %w", err)
	}
	return out, nil
}

// PasswordResets returns the password resets of a user (object ID) since the given time,
// whether done by an admin in the portal or through the API.
func (c *Client) PasswordResets(ctx context.Context, userID string, since time.Time) ([]DirectoryAudit, error) {
	return c.DirectoryAudits(ctx, AuditQuery{Activities: []string{ActivityResetPasswordByAdmin, ActivityResetUserPassword}, TargetID: userID, Since: since})
}

// OAuth2PermissionGrants returns the delegated permission grants matching q: by the user
// who consented (PrincipalID) and/or the client app's service principal (ClientID).
func (c *Client) OAuth2PermissionGrants(ctx context.Context, q GrantQuery) ([]OAuth2PermissionGrant, error) {
	var f []string
	if q.PrincipalID != "" {
		f = append(f, "principalId eq "+entra.String(q.PrincipalID))
	}
	if q.ClientID != "" {
		f = append(f, "clientId eq "+entra.String(q.ClientID))
	}
	out, err := entra.List[OAuth2PermissionGrant](ctx, c.call, c.base, c.url("/oauth2PermissionGrants", entra.Query("$filter", strings.Join(f, " and "))), maxOr(q.Max))
	if err != nil {
		return nil, fmt.Errorf("graph: list oauth2 permission grants: %w", err)
	}
	return out, nil
}

// OAuth2PermissionGrant returns one delegated permission grant.
func (c *Client) OAuth2PermissionGrant(ctx context.Context, id string) (*OAuth2PermissionGrant, error) {
	var g OAuth2PermissionGrant
	if err := c.get(ctx, c.url("/oauth2PermissionGrants/"+seg(id), ""), &g); err != nil {
		return nil, fmt.Errorf("graph: get oauth2 permission grant %q: %w", id, err)
	}
	return &g, nil
}

// ServicePrincipal returns a service principal by object ID.
func (c *Client) ServicePrincipal(ctx context.Context, id string) (*ServicePrincipal, error) {
	var sp ServicePrincipal
	if err := c.get(ctx, c.url("/servicePrincipals/"+seg(id), ""), &sp); err != nil {
		return nil, fmt.Errorf("graph: get service principal %q: %w", id, err)
	}
	return &sp, nil
}

// ServicePrincipalByAppID returns the tenant's service principal of an application ID.
func (c *Client) ServicePrincipalByAppID(ctx context.Context, appID string) (*ServicePrincipal, error) {
	sps, err := entra.List[ServicePrincipal](ctx, c.call, c.base, c.url("/servicePrincipals", entra.Query("$filter", "appId eq "+entra.String(appID))), 1)
	if err != nil {
		return nil, fmt.Errorf("graph: find service principal of app %q: %w", appID, err)
	}
	if len(sps) == 0 {
		return nil, fmt.Errorf("graph: find service principal of app %q: %w", appID, connector.ErrNotFound)
	}
	return &sps[0], nil
}

// RiskyUser returns Identity Protection's risk state of a user; ErrNotFound if the user has
// never been at risk.
func (c *Client) RiskyUser(ctx context.Context, userID string) (*RiskyUser, error) {
	var r RiskyUser
	if err := c.get(ctx, c.url("/identityProtection/riskyUsers/"+seg(userID), ""), &r); err != nil {
		return nil, fmt.Errorf("graph: get risky user %q: %w", userID, err)
	}
	return &r, nil
}

// InboxRules returns the rules of a user's inbox.
func (c *Client) InboxRules(ctx context.Context, userID string) ([]MessageRule, error) {
	rules, err := entra.List[MessageRule](ctx, c.call, c.base, c.url("/users/"+seg(userID)+"/mailFolders/inbox/messageRules", ""), 0)
	if err != nil {
		return nil, fmt.Errorf("graph: list inbox rules of %q: %w", userID, err)
	}
	return rules, nil
}

// InboxRule returns one inbox rule.
func (c *Client) InboxRule(ctx context.Context, userID, ruleID string) (*MessageRule, error) {
	var r MessageRule
	if err := c.get(ctx, c.url("/users/"+seg(userID)+"/mailFolders/inbox/messageRules/"+seg(ruleID), ""), &r); err != nil {
		return nil, fmt.Errorf("graph: get inbox rule %q of %q: %w", ruleID, userID, err)
	}
	return &r, nil
}

// Actions. Each is idempotent: repeating it when the state already holds is not an error.

// RevokeSignInSessions invalidates the user's refresh tokens and session cookies (resets
// signInSessionsValidFromDateTime), forcing a new sign-in everywhere.
func (c *Client) RevokeSignInSessions(ctx context.Context, userID string) error {
	var out struct {
		Value bool `json:"value"`
	}
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url("/users/"+seg(userID)+"/revokeSignInSessions", ""), Idempotent: true}, &out)
	if err != nil {
		return fmt.Errorf("graph: revoke sign-in sessions of %q: %w", userID, err)
	}
	if !out.Value {
		return fmt.Errorf("graph: revoke sign-in sessions of %q: the service answered false", userID)
	}
	return nil
}

// SetAccountEnabled enables or disables the user's account (PATCH accountEnabled).
func (c *Client) SetAccountEnabled(ctx context.Context, userID string, enabled bool) error {
	if err := c.send(ctx, http.MethodPatch, c.url("/users/"+seg(userID), ""), map[string]any{"accountEnabled": enabled}); err != nil {
		return fmt.Errorf("graph: set accountEnabled=%t on %q: %w", enabled, userID, err)
	}
	return nil
}

// DisableUser blocks the user's sign-in.
func (c *Client) DisableUser(ctx context.Context, userID string) error {
	return c.SetAccountEnabled(ctx, userID, false)
}

// EnableUser restores the user's sign-in (the rollback of DisableUser).
func (c *Client) EnableUser(ctx context.Context, userID string) error {
	return c.SetAccountEnabled(ctx, userID, true)
}

// ResetPassword sets a new password with PATCH /users/{id} and a passwordProfile (the
// documented way for an app with User.ReadWrite.All; the caller's app also needs an admin
// role able to reset the user's password, e.g. User Administrator for non-admins). An empty
// Password is replaced by a random 24-character one. The password set is returned (redacted
// when printed) so it can be handed to the user out of band; it is never logged.
func (c *Client) ResetPassword(ctx context.Context, userID string, r PasswordReset) (connector.Secret, error) {
	pw := r.Password
	if pw.IsZero() {
		pw = GeneratePassword()
	}
	body := map[string]any{"passwordProfile": map[string]any{
		"forceChangePasswordNextSignIn": r.ForceChangeNextSignIn,
		"password":                      pw.Reveal(),
	}}
	if err := c.send(ctx, http.MethodPatch, c.url("/users/"+seg(userID), ""), body); err != nil {
		return "", fmt.Errorf("graph: reset password of %q: %w", userID, err)
	}
	return pw, nil
}

// GeneratePassword returns a random 24-character password with upper- and lower-case
// letters, digits and symbols, meeting Entra ID's complexity rules.
func GeneratePassword() connector.Secret {
	const (
		lower   = "abcdefghijkmnopqrstuvwxyz"
		upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits  = "23456789"
		symbols = "!#%+-.:=?@^_~"
	)
	sets := []string{lower, upper, digits, symbols}
	all := lower + upper + digits + symbols
	b := make([]byte, 24)
	rnd := make([]byte, len(b))
	if _, err := rand.Read(rnd); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		set := all
		if i < len(sets) {
			set = sets[i]
		}
		b[i] = set[int(rnd[i])%len(set)]
	}
	// Move the guaranteed characters to random places.
	for i := len(b) - 1; i > 0; i-- {
		j := int(rnd[i]) % (i + 1)
		b[i], b[j] = b[j], b[i]
	}
	return connector.Secret(b)
}

// DeleteOAuth2PermissionGrant revokes a delegated permission grant (a user's or the
// tenant's consent to an app). A grant already gone is not an error.
func (c *Client) DeleteOAuth2PermissionGrant(ctx context.Context, id string) error {
	err := c.send(ctx, http.MethodDelete, c.url("/oauth2PermissionGrants/"+seg(id), ""), nil)
	if err != nil && !errors.Is(err, connector.ErrNotFound) {
		return fmt.Errorf("graph: delete oauth2 permission grant %q: %w", id, err)
	}
	return nil
}

// SetServicePrincipalEnabled enables or disables an app's service principal in the tenant
// (PATCH accountEnabled): disabled, no token is issued for it.
func (c *Client) SetServicePrincipalEnabled(ctx context.Context, id string, enabled bool) error {
	if err := c.send(ctx, http.MethodPatch, c.url("/servicePrincipals/"+seg(id), ""), map[string]any{"accountEnabled": enabled}); err != nil {
		return fmt.Errorf("graph: set accountEnabled=%t on service principal %q: %w", enabled, id, err)
	}
	return nil
}

// DisableServicePrincipal stops the app signing in to the tenant.
func (c *Client) DisableServicePrincipal(ctx context.Context, id string) error {
	return c.SetServicePrincipalEnabled(ctx, id, false)
}

// DeleteInboxRule deletes an inbox rule. A rule already gone is not an error.
func (c *Client) DeleteInboxRule(ctx context.Context, userID, ruleID string) error {
	err := c.send(ctx, http.MethodDelete, c.url("/users/"+seg(userID)+"/mailFolders/inbox/messageRules/"+seg(ruleID), ""), nil)
	if err != nil && !errors.Is(err, connector.ErrNotFound) {
		return fmt.Errorf("graph: delete inbox rule %q of %q: %w", ruleID, userID, err)
	}
	return nil
}

// ConfirmCompromised marks users as compromised in Identity Protection (risk high), which
// Conditional Access risk policies then act on.
func (c *Client) ConfirmCompromised(ctx context.Context, userIDs ...string) error {
	if err := c.send(ctx, http.MethodPost, c.url("/identityProtection/riskyUsers/confirmCompromised", ""), map[string]any{"userIds": userIDs}); err != nil {
		return fmt.Errorf("graph: confirm users compromised: %w", err)
	}
	return nil
}

// DismissRisk dismisses the users' risk in Identity Protection.
func (c *Client) DismissRisk(ctx context.Context, userIDs ...string) error {
	if err := c.send(ctx, http.MethodPost, c.url("/identityProtection/riskyUsers/dismiss", ""), map[string]any{"userIds": userIDs}); err != nil {
		return fmt.Errorf("graph: dismiss user risk: %w", err)
	}
	return nil
}

// CreateOAuth2PermissionGrant creates a delegated permission grant: the rollback of
// DeleteOAuth2PermissionGrant, from the grant as it was read. A grant that exists already
// (same client, resource and principal) is not an error: it is returned.
func (c *Client) CreateOAuth2PermissionGrant(ctx context.Context, g OAuth2PermissionGrant) (*OAuth2PermissionGrant, error) {
	body := map[string]any{"clientId": g.ClientID, "consentType": g.ConsentType, "resourceId": g.ResourceID, "scope": g.Scope}
	if g.ConsentType == "Principal" {
		body["principalId"] = g.PrincipalID
	}
	var out OAuth2PermissionGrant
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url("/oauth2PermissionGrants", ""), Body: body}, &out)
	if errors.Is(err, connector.ErrConflict) {
		existing, ferr := c.OAuth2PermissionGrants(ctx, GrantQuery{ClientID: g.ClientID, PrincipalID: g.PrincipalID})
		if ferr == nil {
			for _, e := range existing {
				if e.ResourceID == g.ResourceID && e.ConsentType == g.ConsentType {
					return &e, nil
				}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("graph: create oauth2 permission grant for client %q: %w", g.ClientID, err)
	}
	return &out, nil
}

// CreateInboxRule creates an inbox rule: the rollback of DeleteInboxRule, from the rule as
// it was read (its ID and read-only properties are not sent; the new rule has a new ID).
func (c *Client) CreateInboxRule(ctx context.Context, userID string, r MessageRule) (*MessageRule, error) {
	r.ID, r.HasError, r.IsReadOnly = "", false, false
	var out MessageRule
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url("/users/"+seg(userID)+"/mailFolders/inbox/messageRules", ""), Body: r}, &out); err != nil {
		return nil, fmt.Errorf("graph: create inbox rule %q of %q: %w", r.DisplayName, userID, err)
	}
	return &out, nil
}

// immutableIDs asks Exchange for immutable message IDs, which survive a move: the ID a
// quarantine recorded still finds the message for its release.
var immutableIDs = http.Header{"Prefer": {`IdType="ImmutableId"`}}

// Message returns a message in a user's mailbox (by its immutable ID).
func (c *Client) Message(ctx context.Context, userID, messageID string) (*Message, error) {
	var m Message
	u := c.url("/users/"+seg(userID)+"/messages/"+seg(messageID), entra.Query("$select", "id,subject,from,sender,receivedDateTime,parentFolderId,hasAttachments,internetMessageId,isRead"))
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: u, Header: immutableIDs}, &m); err != nil {
		return nil, fmt.Errorf("graph: get message %q of %q: %w", messageID, userID, err)
	}
	return &m, nil
}

// MoveMessage moves a message to a folder, by ID or well-known name ("junkemail",
// "deleteditems", "inbox", "archive"): how a message is quarantined (and released) through
// Graph. It keeps its immutable ID. Moving it where it already is changes nothing.
func (c *Client) MoveMessage(ctx context.Context, userID, messageID, destination string) (*Message, error) {
	var m Message
	_, err := c.call.Do(ctx, connector.Request{
		Method: http.MethodPost, URL: c.url("/users/"+seg(userID)+"/messages/"+seg(messageID)+"/move", ""),
		Body: map[string]any{"destinationId": destination}, Header: immutableIDs, Idempotent: true,
	}, &m)
	if err != nil {
		return nil, fmt.Errorf("graph: move message %q of %q to %q: %w", messageID, userID, destination, err)
	}
	return &m, nil
}
