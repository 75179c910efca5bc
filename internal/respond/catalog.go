// Package respond is the response stage: a catalog of actions modelled on OpenC2 (contain a
// host, disable an account, revoke sessions, reset a password, revoke an OAuth grant, block an
// indicator, quarantine a message, delete an inbox rule), each with its connector call, a
// verification read-back and, where one exists, a rollback. A policy written in an expression
// language (not code) decides per action whether it runs automatically, needs a human's
// approval, or is forbidden. Approvals keep separation of duties on critical assets. Actions are
// idempotent (a retry after a crash does not act twice), and a failure is visible, retried with
// backoff and then escalated, never silent.
package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors callers branch on.
var (
	ErrNoConnector   = errors.New("no connector can perform this action")
	ErrUnknownAction = errors.New("unknown action")
	ErrNotVerified   = errors.New("the read-back does not show the action's effect")
	ErrNoRollback    = errors.New("this action cannot be rolled back")
	ErrSeparation    = errors.New("separation of duties: the requester cannot approve an action on a critical asset")
	ErrState         = errors.New("the action is not in a state that allows this")
	ErrInvalid       = errors.New("invalid request")
)

// Capabilities are what connectors can do; a deployment wires the connectors it has. Every
// method must be idempotent: containing a contained host is not an error.
type (
	// Endpoint is an EDR (Microsoft Defender for Endpoint, CrowdStrike Falcon).
	Endpoint interface {
		Contain(ctx context.Context, host string) error
		Release(ctx context.Context, host string) error
		Contained(ctx context.Context, host string) (bool, error)
	}
	// Identity is an identity provider (Entra ID via Microsoft Graph, Okta).
	Identity interface {
		Disable(ctx context.Context, user string) error
		Enable(ctx context.Context, user string) error
		Enabled(ctx context.Context, user string) (bool, error)
		RevokeSessions(ctx context.Context, user string) error
		// SessionsRevokedSince reports whether the user's sessions were revoked at or after since
		// (the read-back).
		SessionsRevokedSince(ctx context.Context, user string, since time.Time) (bool, error)
		// ResetPassword forces a new password; the temporary one is never returned to vigil's
		// storage or logs.
		ResetPassword(ctx context.Context, user string) error
		PasswordResetSince(ctx context.Context, user string, since time.Time) (bool, error)
	}
	// Grants manages OAuth grants of applications.
	Grants interface {
		// RevokeApp removes every grant of the application and disables it; it returns what
		// rollback needs.
		RevokeApp(ctx context.Context, app string) (json.RawMessage, error)
		RestoreApp(ctx context.Context, app string, saved json.RawMessage) error
		AppGranted(ctx context.Context, app string) (bool, error)
	}
	// Indicators blocks indicators at the EDR or firewall.
	Indicators interface {
		Block(ctx context.Context, kind, value string) error
		Unblock(ctx context.Context, kind, value string) error
		Blocked(ctx context.Context, kind, value string) (bool, error)
	}
	// Mail manages mailboxes.
	Mail interface {
		// DeleteForwardingRules removes the user's forwarding rules and returns them.
		DeleteForwardingRules(ctx context.Context, user string) (json.RawMessage, error)
		RestoreRules(ctx context.Context, user string, saved json.RawMessage) error
		ForwardingRules(ctx context.Context, user string) (int, error)
		Quarantine(ctx context.Context, message string) error
		Release(ctx context.Context, message string) error
		Quarantined(ctx context.Context, message string) (bool, error)
	}
)

// Connectors are the capabilities a deployment has; nil ones make their actions fail with
// ErrNoConnector (visibly).
type Connectors struct {
	Endpoint   Endpoint
	Identity   Identity
	Grants     Grants
	Indicators Indicators
	Mail       Mail
	// Names say which product backs each capability, for the audit trail.
	Names map[string]string
}

// Spec describes one catalog action.
type Spec struct {
	Name string
	// Kind is the entity kind the target must be (host, user, app, ip, domain, hash, message).
	Kinds []string
	// OpenC2 is the action's OpenC2 form ("contain device", "deny ipv4_net", ...).
	OpenC2 string
	// Capability names the connector capability it needs.
	Capability string
	// Reversible says whether rollback exists.
	Reversible bool
	execute    func(ctx context.Context, c *Connectors, kind, value string) (json.RawMessage, error)
	verify     func(ctx context.Context, c *Connectors, kind, value string, since time.Time) (bool, string, error)
	rollback   func(ctx context.Context, c *Connectors, kind, value string, saved json.RawMessage) error
}

// Catalog returns the action catalog.
func Catalog() map[string]*Spec {
	specs := []*Spec{
		{Name: "contain_host", Kinds: []string{"host"}, OpenC2: "contain device", Capability: "endpoint", Reversible: true,
			execute: func(ctx context.Context, c *Connectors, _, v string) (json.RawMessage, error) {
				return nil, need(c.Endpoint != nil, "endpoint", func() error { return c.Endpoint.Contain(ctx, v) })
			},
			verify: func(ctx context.Context, c *Connectors, _, v string, since time.Time) (bool, string, error) {
				ok, err := c.Endpoint.Contained(ctx, v)
				return ok, fmt.Sprintf("EDR reports %s contained=%v", v, ok), err
			},
			rollback: func(ctx context.Context, c *Connectors, _, v string, _ json.RawMessage) error {
				return c.Endpoint.Release(ctx, v)
			},
		},
		{Name: "disable_account", Kinds: []string{"user"}, OpenC2: "deny account", Capability: "identity", Reversible: true,
			execute: func(ctx context.Context, c *Connectors, _, v string) (json.RawMessage, error) {
				return nil, need(c.Identity != nil, "identity", func() error { return c.Identity.Disable(ctx, v) })
			},
			verify: func(ctx context.Context, c *Connectors, _, v string, since time.Time) (bool, string, error) {
				en, err := c.Identity.Enabled(ctx, v)
				return !en, fmt.Sprintf("identity provider reports %s enabled=%v", v, en), err
			},
			rollback: func(ctx context.Context, c *Connectors, _, v string, _ json.RawMessage) error {
				return c.Identity.Enable(ctx, v)
			},
		},
		{Name: "revoke_sessions", Kinds: []string{"user"}, OpenC2: "stop account_sessions", Capability: "identity",
			execute: func(ctx context.Context, c *Connectors, _, v string) (json.RawMessage, error) {
				return nil, need(c.Identity != nil, "identity", func() error { return c.Identity.RevokeSessions(ctx, v) })
			},
			verify: func(ctx context.Context, c *Connectors, _, v string, since time.Time) (bool, string, error) {
				ok, err := c.Identity.SessionsRevokedSince(ctx, v, since)
				return ok, fmt.Sprintf("identity provider reports sessions of %s revoked since %s: %v", v, since.Format(time.RFC3339), ok), err
			},
		},
		{Name: "reset_password", Kinds: []string{"user"}, OpenC2: "update account_password", Capability: "identity",
			execute: func(ctx context.Context, c *Connectors, _, v string) (json.RawMessage, error) {
				return nil, need(c.Identity != nil, "identity", func() error { return c.Identity.ResetPassword(ctx, v) })
			},
			verify: func(ctx context.Context, c *Connectors, _, v string, since time.Time) (bool, string, error) {
				ok, err := c.Identity.PasswordResetSince(ctx, v, since)
				return ok, fmt.Sprintf("identity provider reports the password of %s changed since %s: %v", v, since.Format(time.RFC3339), ok), err
			},
		},
		{Name: "revoke_grant", Kinds: []string{"app"}, OpenC2: "deny oauth_grant", Capability: "grants", Reversible: true,
			execute: func(ctx context.Context, c *Connectors, _, v string) (json.RawMessage, error) {
				if c.Grants == nil {
					return nil, fmt.Errorf("grants: %w", ErrNoConnector)
				}
				return c.Grants.RevokeApp(ctx, v)
			},
			verify: func(ctx context.Context, c *Connectors, _, v string, since time.Time) (bool, string, error) {
				g, err := c.Grants.AppGranted(ctx, v)
				return !g, fmt.Sprintf("application %s still granted=%v", v, g), err
			},
			rollback: func(ctx context.Context, c *Connectors, _, v string, saved json.RawMessage) error {
				return c.Grants.RestoreApp(ctx, v, saved)
			},
		},
		{Name: "block_indicator", Kinds: []string{"ip", "domain", "hash", "url"}, OpenC2: "deny indicator", Capability: "indicators", Reversible: true,
			execute: func(ctx context.Context, c *Connectors, k, v string) (json.RawMessage, error) {
				return nil, need(c.Indicators != nil, "indicators", func() error { return c.Indicators.Block(ctx, k, v) })
			},
			verify: func(ctx context.Context, c *Connectors, k, v string, since time.Time) (bool, string, error) {
				b, err := c.Indicators.Blocked(ctx, k, v)
				return b, fmt.Sprintf("indicator %s %s blocked=%v", k, v, b), err
			},
			rollback: func(ctx context.Context, c *Connectors, k, v string, _ json.RawMessage) error {
				return c.Indicators.Unblock(ctx, k, v)
			},
		},
		{Name: "delete_inbox_rule", Kinds: []string{"user"}, OpenC2: "delete mail_rule", Capability: "mail", Reversible: true,
			execute: func(ctx context.Context, c *Connectors, _, v string) (json.RawMessage, error) {
				if c.Mail == nil {
					return nil, fmt.Errorf("mail: %w", ErrNoConnector)
				}
				return c.Mail.DeleteForwardingRules(ctx, v)
			},
			verify: func(ctx context.Context, c *Connectors, _, v string, since time.Time) (bool, string, error) {
				n, err := c.Mail.ForwardingRules(ctx, v)
				return n == 0, fmt.Sprintf("%s has %d forwarding rules left", v, n), err
			},
			rollback: func(ctx context.Context, c *Connectors, _, v string, saved json.RawMessage) error {
				return c.Mail.RestoreRules(ctx, v, saved)
			},
		},
		{Name: "quarantine_message", Kinds: []string{"message"}, OpenC2: "contain email", Capability: "mail", Reversible: true,
			execute: func(ctx context.Context, c *Connectors, _, v string) (json.RawMessage, error) {
				return nil, need(c.Mail != nil, "mail", func() error { return c.Mail.Quarantine(ctx, v) })
			},
			verify: func(ctx context.Context, c *Connectors, _, v string, since time.Time) (bool, string, error) {
				q, err := c.Mail.Quarantined(ctx, v)
				return q, fmt.Sprintf("message %s quarantined=%v", v, q), err
			},
			rollback: func(ctx context.Context, c *Connectors, _, v string, _ json.RawMessage) error {
				return c.Mail.Release(ctx, v)
			},
		},
	}
	out := map[string]*Spec{}
	for _, s := range specs {
		out[s.Name] = s
	}
	return out
}

func need(ok bool, capability string, fn func() error) error {
	if !ok {
		return fmt.Errorf("%s: %w", capability, ErrNoConnector)
	}
	return fn()
}

// splitTarget splits an entity key into kind and value.
func splitTarget(t string) (kind, value string) {
	kind, value, ok := strings.Cut(t, ":")
	if !ok {
		return "", t
	}
	return kind, value
}
