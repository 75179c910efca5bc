// Package okta is vigil's Okta connector: it reads users, their groups, admin roles, MFA
// factors and OAuth consent grants and the System Log for investigation, and takes the
// identity response actions (clear sessions, suspend and unsuspend, reset the password,
// revoke consent grants). It authenticates with an API token (Authorization: SSWS).
package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/egress"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the org's URL, e.g. https://example.okta.com.
	BaseURL string
	// APIToken is an API token of an admin able to manage users (for the actions) and read
	// the System Log.
	APIToken connector.Secret
	Logger   *slog.Logger
}

// Client calls the Okta API. It is safe for concurrent use.
type Client struct {
	base string
	call *connector.Caller
}

// New returns a client that sends every request through hc.
func New(cfg Config, hc *egress.Client) (*Client, error) {
	if hc == nil {
		return nil, errors.New("okta: an egress client is required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if u, err := url.Parse(base); err != nil || u.Host == "" {
		return nil, fmt.Errorf("okta: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	if cfg.APIToken.IsZero() {
		return nil, errors.New("okta: an API token is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	token := cfg.APIToken
	return &Client{base: base, call: &connector.Caller{
		HTTP:    hc,
		Service: "okta",
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "SSWS "+token.Reveal())
			return nil
		},
		DecodeError: decodeError,
		Logger:      log.With("component", "connector.okta"),
	}}, nil
}

// decodeError reads Okta's error body: {"errorCode":"E0000007","errorSummary":"Not found...",
// "errorId":"oae...","errorCauses":[{"errorSummary":"..."}]}.
func decodeError(resp *http.Response, body []byte) *connector.APIError {
	var e struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
		ErrorID      string `json:"errorId"`
		ErrorCauses  []struct {
			ErrorSummary string `json:"errorSummary"`
		} `json:"errorCauses"`
	}
	if json.Unmarshal(body, &e) != nil || e.ErrorCode == "" {
		return nil
	}
	msg := e.ErrorSummary
	for _, c := range e.ErrorCauses {
		msg += "; " + c.ErrorSummary
	}
	ae := &connector.APIError{Code: e.ErrorCode, Message: msg, RequestID: e.ErrorID}
	if e.ErrorCode == "E0000047" {
		ae.Kind = connector.ErrRateLimited
	}
	return ae
}

func (c *Client) url(path string, q url.Values) string {
	if len(q) == 0 {
		return c.base + path
	}
	return c.base + path + "?" + q.Encode()
}

func seg(s string) string { return url.PathEscape(s) }

func (c *Client) get(ctx context.Context, u string, out any) error {
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: u}, out)
	return err
}

// GetUser returns a user by ID or login.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	var u User
	if err := c.get(ctx, c.url("/api/v1/users/"+seg(id), nil), &u); err != nil {
		return nil, fmt.Errorf("okta: get user %q: %w", id, err)
	}
	return &u, nil
}

// Groups returns the groups the user belongs to.
func (c *Client) Groups(ctx context.Context, userID string) ([]Group, error) {
	var gs []Group
	if err := c.get(ctx, c.url("/api/v1/users/"+seg(userID)+"/groups", nil), &gs); err != nil {
		return nil, fmt.Errorf("okta: list groups of %q: %w", userID, err)
	}
	return gs, nil
}

// Roles returns the admin roles assigned to the user directly.
func (c *Client) Roles(ctx context.Context, userID string) ([]Role, error) {
	var rs []Role
	if err := c.get(ctx, c.url("/api/v1/users/"+seg(userID)+"/roles", nil), &rs); err != nil {
		return nil, fmt.Errorf("okta: list roles of %q: %w", userID, err)
	}
	return rs, nil
}

// Factors returns the user's enrolled MFA factors.
func (c *Client) Factors(ctx context.Context, userID string) ([]Factor, error) {
	var fs []Factor
	if err := c.get(ctx, c.url("/api/v1/users/"+seg(userID)+"/factors", nil), &fs); err != nil {
		return nil, fmt.Errorf("okta: list factors of %q: %w", userID, err)
	}
	return fs, nil
}

// Grants returns the user's OAuth 2.0 consent grants.
func (c *Client) Grants(ctx context.Context, userID string) ([]Grant, error) {
	var gs []Grant
	if err := c.get(ctx, c.url("/api/v1/users/"+seg(userID)+"/grants", nil), &gs); err != nil {
		return nil, fmt.Errorf("okta: list grants of %q: %w", userID, err)
	}
	return gs, nil
}

// DefaultMax bounds the events SystemLog collects when the query sets no Max.
const DefaultMax = 1000

// SystemLog returns System Log events matching q, oldest first, following the Link
// rel="next" pages until an empty page, no next link, or q.Max events.
func (c *Client) SystemLog(ctx context.Context, q LogQuery) ([]LogEvent, error) {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if f := q.filter(); f != "" {
		v.Set("filter", f)
	}
	if q.Keywords != "" {
		v.Set("q", q.Keywords)
	}
	v.Set("limit", "1000")
	v.Set("sortOrder", "ASCENDING")
	max := q.Max
	if max <= 0 {
		max = DefaultMax
	}
	var out []LogEvent
	for next := c.url("/api/v1/logs", v); next != ""; {
		var page []LogEvent
		resp, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: next}, &page)
		if err != nil {
			return nil, fmt.Errorf("okta: read system log: %w", err)
		}
		out = append(out, page...)
		if len(out) >= max {
			return out[:max], nil
		}
		if len(page) == 0 {
			break // polling queries always have a next link; an empty page is the end
		}
		next = NextLink(resp.Header)
		if next != "" {
			if err := connector.SameOrigin(c.base, next); err != nil {
				return nil, fmt.Errorf("okta: read system log: %w", err)
			}
		}
	}
	return out, nil
}

// NextLink returns the rel="next" URL of Link headers, or "".
func NextLink(h http.Header) string {
	for _, line := range h.Values("Link") {
		for _, part := range strings.Split(line, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// Actions. Each is idempotent: repeating it when the state already holds is not an error.

// ClearSessions ends all the user's Okta sessions; with revokeOAuthTokens it also revokes
// the OAuth access and refresh tokens issued to the user.
func (c *Client) ClearSessions(ctx context.Context, userID string, revokeOAuthTokens bool) error {
	q := url.Values{}
	if revokeOAuthTokens {
		q.Set("oauthTokens", "true")
	}
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodDelete, URL: c.url("/api/v1/users/"+seg(userID)+"/sessions", q)}, nil); err != nil {
		return fmt.Errorf("okta: clear sessions of %q: %w", userID, err)
	}
	return nil
}

// Suspend suspends an active user (they cannot sign in; their state is kept). Okta refuses
// to suspend a user who is not ACTIVE (E0000001); when the user is already SUSPENDED that is
// success.
func (c *Client) Suspend(ctx context.Context, userID string) error {
	return c.transition(ctx, userID, "suspend", StatusSuspended)
}

// Unsuspend returns a suspended user to ACTIVE (the rollback of Suspend); a user already
// ACTIVE is success.
func (c *Client) Unsuspend(ctx context.Context, userID string) error {
	return c.transition(ctx, userID, "unsuspend", StatusActive)
}

func (c *Client) transition(ctx context.Context, userID, op, want string) error {
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url("/api/v1/users/"+seg(userID)+"/lifecycle/"+op, nil)}, nil)
	var ae *connector.APIError
	if errors.As(err, &ae) && ae.Code == "E0000001" {
		// Okta's lifecycle operations are not idempotent; see whether the state already holds.
		if u, gerr := c.GetUser(ctx, userID); gerr == nil && u.Status == want {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("okta: %s user %q: %w", op, userID, err)
	}
	return nil
}

// ResetPassword puts the user in RECOVERY, invalidating the current password. With sendEmail
// Okta mails the user a reset link; without, the one-time link is returned (a Secret: it
// must be handed over out of band and is never logged).
func (c *Client) ResetPassword(ctx context.Context, userID string, sendEmail bool) (*PasswordReset, error) {
	q := url.Values{"sendEmail": {fmt.Sprint(sendEmail)}}
	var out struct {
		Summary          string `json:"summary"`
		ResetPasswordURL string `json:"resetPasswordUrl"`
	}
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url("/api/v1/users/"+seg(userID)+"/lifecycle/reset_password", q)}, &out); err != nil {
		return nil, fmt.Errorf("okta: reset password of %q: %w", userID, err)
	}
	return &PasswordReset{Summary: out.Summary, ResetURL: connector.Secret(out.ResetPasswordURL)}, nil
}

// RevokeGrants revokes all the user's OAuth consent grants.
func (c *Client) RevokeGrants(ctx context.Context, userID string) error {
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodDelete, URL: c.url("/api/v1/users/"+seg(userID)+"/grants", nil)}, nil); err != nil {
		return fmt.Errorf("okta: revoke grants of %q: %w", userID, err)
	}
	return nil
}

// RevokeGrant revokes one consent grant; a grant already gone is not an error.
func (c *Client) RevokeGrant(ctx context.Context, userID, grantID string) error {
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodDelete, URL: c.url("/api/v1/users/"+seg(userID)+"/grants/"+seg(grantID), nil)}, nil)
	if err != nil && !errors.Is(err, connector.ErrNotFound) {
		return fmt.Errorf("okta: revoke grant %q of %q: %w", grantID, userID, err)
	}
	if errors.Is(err, connector.ErrNotFound) {
		// Distinguish a missing grant from a missing user.
		if _, uerr := c.GetUser(ctx, userID); uerr != nil {
			return fmt.Errorf("okta: revoke grant %q of %q: %w", grantID, userID, uerr)
		}
	}
	return nil
}

// User statuses.
const (
	StatusActive    = "ACTIVE"
	StatusSuspended = "SUSPENDED"
	StatusRecovery  = "RECOVERY"
)

// User is an Okta user.
type User struct {
	ID              string    `json:"id"`
	Status          string    `json:"status"`
	Created         time.Time `json:"created"`
	Activated       time.Time `json:"activated"`
	StatusChanged   time.Time `json:"statusChanged"`
	LastLogin       time.Time `json:"lastLogin"`
	LastUpdated     time.Time `json:"lastUpdated"`
	PasswordChanged time.Time `json:"passwordChanged"`
	Profile         struct {
		Login       string `json:"login"`
		Email       string `json:"email"`
		FirstName   string `json:"firstName"`
		LastName    string `json:"lastName"`
		DisplayName string `json:"displayName"`
		Department  string `json:"department"`
		Title       string `json:"title"`
		MobilePhone string `json:"mobilePhone"`
	} `json:"profile"`
}

// Group is an Okta group.
type Group struct {
	ID      string `json:"id"`
	Type    string `json:"type"` // OKTA_GROUP, APP_GROUP, BUILT_IN
	Profile struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"profile"`
}

// Role is an admin role assignment.
type Role struct {
	ID             string `json:"id"`
	Type           string `json:"type"` // e.g. SUPER_ADMIN, ORG_ADMIN
	Label          string `json:"label"`
	Status         string `json:"status"`
	AssignmentType string `json:"assignmentType"`
}

// Factor is an enrolled MFA factor.
type Factor struct {
	ID         string         `json:"id"`
	FactorType string         `json:"factorType"` // push, sms, call, token:software:totp, webauthn...
	Provider   string         `json:"provider"`
	Status     string         `json:"status"`
	Created    time.Time      `json:"created"`
	Profile    map[string]any `json:"profile"`
}

// Grant is an OAuth 2.0 consent grant of a user to a client for a scope.
type Grant struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Created  time.Time `json:"created"`
	Issuer   string    `json:"issuer"`
	ClientID string    `json:"clientId"`
	UserID   string    `json:"userId"`
	ScopeID  string    `json:"scopeId"`
	Source   string    `json:"source"`
	Links    struct {
		Client struct {
			Title string `json:"title"`
		} `json:"client"`
		Scope struct {
			Title string `json:"title"`
		} `json:"scope"`
	} `json:"_links"`
}

// ClientName returns the client app's name, if Okta gave it.
func (g Grant) ClientName() string { return g.Links.Client.Title }

// Scope returns the granted scope's name, if Okta gave it.
func (g Grant) Scope() string { return g.Links.Scope.Title }

// PasswordReset is the answer to ResetPassword.
type PasswordReset struct {
	Summary  string
	ResetURL connector.Secret // empty when Okta e-mailed the link
}

// LogQuery selects System Log events; empty fields do not filter.
type LogQuery struct {
	Since, Until time.Time // default: the last 7 days
	ActorID      string
	TargetID     string // events whose target includes this ID
	EventType    string
	IPAddress    string // client.ipAddress
	Outcome      string // SUCCESS, FAILURE...
	// Filter is a raw System Log filter expression, combined with the fields above by "and".
	Filter   string
	Keywords string // the q parameter
	Max      int
}

func (q LogQuery) filter() string {
	var f []string
	quote := func(s string) string {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	if q.ActorID != "" {
		f = append(f, "actor.id eq "+quote(q.ActorID))
	}
	if q.TargetID != "" {
		f = append(f, "target.id eq "+quote(q.TargetID))
	}
	if q.EventType != "" {
		f = append(f, "eventType eq "+quote(q.EventType))
	}
	if q.IPAddress != "" {
		f = append(f, "client.ipAddress eq "+quote(q.IPAddress))
	}
	if q.Outcome != "" {
		f = append(f, "outcome.result eq "+quote(q.Outcome))
	}
	if q.Filter != "" {
		f = append(f, "("+q.Filter+")")
	}
	return strings.Join(f, " and ")
}

// LogEvent is a System Log event.
type LogEvent struct {
	UUID           string    `json:"uuid"`
	Published      time.Time `json:"published"`
	EventType      string    `json:"eventType"`
	DisplayMessage string    `json:"displayMessage"`
	Severity       string    `json:"severity"`
	Actor          Actor     `json:"actor"`
	Target         []Actor   `json:"target"`
	Client         struct {
		IPAddress string `json:"ipAddress"`
		UserAgent struct {
			RawUserAgent string `json:"rawUserAgent"`
		} `json:"userAgent"`
		GeographicalContext struct {
			City    string `json:"city"`
			Country string `json:"country"`
		} `json:"geographicalContext"`
	} `json:"client"`
	Outcome struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
	AuthenticationContext struct {
		ExternalSessionID string `json:"externalSessionId"`
	} `json:"authenticationContext"`
	DebugContext struct {
		DebugData map[string]any `json:"debugData"`
	} `json:"debugContext"`
}

// Actor is an event's actor or target.
type Actor struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}
