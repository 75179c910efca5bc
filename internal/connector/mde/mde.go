// Package mde is vigil's Microsoft Defender for Endpoint connector: it reads machines (with
// their criticality tags and device value), their alerts and machine actions for
// investigation, and takes the endpoint response actions: isolate and release a machine
// (verified by reading the machine action back), and block or allow a file hash, address,
// domain or URL with a custom indicator (deleted to roll back). It authenticates as an
// Entra ID app registration with the client-credentials grant.
package mde

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/entra"
	"github.com/vigil-soc/vigil/internal/egress"
)

// DefaultBaseURL is the Defender for Endpoint API of the global cloud (regional endpoints
// such as https://eu.api.security.microsoft.com work as BaseURL too).
const DefaultBaseURL = "https://api.securitycenter.microsoft.com"

// DefaultResource is the API's application ID URI, whose "/.default" scope is requested.
const DefaultResource = "https://api.securitycenter.microsoft.com"

// Config configures a Client. The app registration needs the WindowsDefenderATP application
// permissions Machine.Read.All, Alert.Read.All, Machine.Isolate and Ti.ReadWrite.All.
type Config struct {
	BaseURL      string // default DefaultBaseURL
	Resource     string // default DefaultResource
	Authority    string // default entra.DefaultAuthority
	TenantID     string
	ClientID     string
	ClientSecret connector.Secret
	Logger       *slog.Logger
}

// Client calls Defender for Endpoint. It is safe for concurrent use.
type Client struct {
	base string
	call *connector.Caller
}

// New returns a client that sends every request through hc.
func New(cfg Config, hc *egress.Client) (*Client, error) {
	if hc == nil {
		return nil, errors.New("mde: an egress client is required")
	}
	if cfg.TenantID == "" || cfg.ClientID == "" || cfg.ClientSecret.IsZero() {
		return nil, errors.New("mde: tenant ID, client ID and client secret are required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || u.Host == "" {
		return nil, fmt.Errorf("mde: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	resource := cfg.Resource
	if resource == "" {
		resource = DefaultResource
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "connector.mde")
	ts := entra.NewTokenSource(hc, "mde", entra.Credentials{Authority: cfg.Authority, TenantID: cfg.TenantID, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}, resource, log)
	return &Client{base: base, call: &connector.Caller{
		HTTP: hc, Service: "mde", Authorize: ts.Authorize, Refresh: ts.Refresh, DecodeError: decodeError, Logger: log,
	}}, nil
}

// decodeError reads the OData error body and marks "an action is already in progress" as a
// conflict.
func decodeError(resp *http.Response, body []byte) *connector.APIError {
	e := entra.DecodeError(resp, body)
	if e != nil && e.Code == "ActiveRequestAlreadyExists" {
		e.Kind = connector.ErrConflict
	}
	return e
}

func (c *Client) url(path, query string) string { return c.base + path + query }

func seg(s string) string { return url.PathEscape(s) }

// GetMachine returns a machine by its Defender machine ID.
func (c *Client) GetMachine(ctx context.Context, id string) (*Machine, error) {
	var m Machine
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: c.url("/api/machines/"+seg(id), "")}, &m); err != nil {
		return nil, fmt.Errorf("mde: get machine %q: %w", id, err)
	}
	return &m, nil
}

// Machines returns the machines matching q.
func (c *Client) Machines(ctx context.Context, q MachineQuery) ([]Machine, error) {
	var f []string
	if q.DNSName != "" {
		f = append(f, "computerDnsName eq "+entra.String(strings.ToLower(q.DNSName)))
	}
	if q.NamePrefix != "" {
		f = append(f, "startswith(computerDnsName,"+entra.String(strings.ToLower(q.NamePrefix))+")")
	}
	if q.IPAddress != "" {
		f = append(f, "lastIpAddress eq "+entra.String(q.IPAddress))
	}
	if q.RiskScore != "" {
		f = append(f, "riskScore eq "+entra.String(q.RiskScore))
	}
	if q.Tag != "" {
		f = append(f, "machineTags/any(tag: tag eq "+entra.String(q.Tag)+")")
	}
	max := q.Max
	if max <= 0 {
		max = 1000
	}
	ms, err := entra.List[Machine](ctx, c.call, c.base, c.url("/api/machines", entra.Query("$filter", strings.Join(f, " and "))), max)
	if err != nil {
		return nil, fmt.Errorf("mde: list machines: %w", err)
	}
	return ms, nil
}

// MachineByName returns the machine with a DNS name, or, for a short host name, the one
// whose DNS name starts with "name.". ErrNotFound when none; ErrConflict when a short name is
// ambiguous.
func (c *Client) MachineByName(ctx context.Context, name string) (*Machine, error) {
	ms, err := c.Machines(ctx, MachineQuery{DNSName: name})
	if err == nil && len(ms) == 0 && !strings.Contains(name, ".") {
		ms, err = c.Machines(ctx, MachineQuery{NamePrefix: name + "."})
	}
	switch {
	case err != nil:
		return nil, err
	case len(ms) == 0:
		return nil, fmt.Errorf("mde: find machine %q: %w", name, connector.ErrNotFound)
	case len(ms) > 1:
		return nil, fmt.Errorf("mde: find machine %q: %d machines match: %w", name, len(ms), connector.ErrConflict)
	}
	return &ms[0], nil
}

// MachineAlerts returns the alerts of a machine.
func (c *Client) MachineAlerts(ctx context.Context, machineID string) ([]Alert, error) {
	as, err := entra.List[Alert](ctx, c.call, c.base, c.url("/api/machines/"+seg(machineID)+"/alerts", ""), 0)
	if err != nil {
		return nil, fmt.Errorf("mde: list alerts of machine %q: %w", machineID, err)
	}
	return as, nil
}

// MachineAction returns a machine action, to follow an isolation to its end.
func (c *Client) MachineAction(ctx context.Context, id string) (*MachineAction, error) {
	var a MachineAction
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: c.url("/api/machineactions/"+seg(id), "")}, &a); err != nil {
		return nil, fmt.Errorf("mde: get machine action %q: %w", id, err)
	}
	return &a, nil
}

// MachineActions returns a machine's actions of the given types (all types when none),
// newest first.
func (c *Client) MachineActions(ctx context.Context, machineID string, types ...string) ([]MachineAction, error) {
	f := "machineId eq " + entra.String(machineID)
	if len(types) > 0 {
		var or []string
		for _, t := range types {
			or = append(or, "type eq "+entra.String(t))
		}
		f += " and (" + strings.Join(or, " or ") + ")"
	}
	as, err := entra.List[MachineAction](ctx, c.call, c.base, c.url("/api/machineactions", entra.Query("$filter", f)), 0)
	if err != nil {
		return nil, fmt.Errorf("mde: list machine actions of %q: %w", machineID, err)
	}
	slices.SortStableFunc(as, func(a, b MachineAction) int { return b.CreationDateTimeUtc.Compare(a.CreationDateTimeUtc) })
	return as, nil
}

// Isolation returns a machine's isolation state, derived as Defender does from its latest
// Isolate and Unisolate actions.
func (c *Client) Isolation(ctx context.Context, machineID string) (*IsolationState, error) {
	as, err := c.MachineActions(ctx, machineID, ActionIsolate, ActionUnisolate)
	if err != nil {
		return nil, err
	}
	st := &IsolationState{}
	for i := range as { // newest first
		a := &as[i]
		switch {
		case a.InProgress() && st.Pending == nil:
			st.Pending = a
		case a.Status == StatusSucceeded:
			st.Isolated = a.Type == ActionIsolate
			st.Last = a
			return st, nil
		}
	}
	return st, nil
}

// Isolate isolates a machine from the network (type IsolationFull or IsolationSelective) and
// returns the machine action to follow. It is idempotent: when the machine is already
// isolated, or an isolation is in progress, no new action is requested (Defender would
// queue a duplicate that can stay Pending) and that action is returned. A release in
// progress is an ErrConflict.
func (c *Client) Isolate(ctx context.Context, machineID, comment, isolationType string) (*MachineAction, error) {
	if isolationType == "" {
		isolationType = IsolationFull
	}
	return c.isolation(ctx, machineID, ActionIsolate, "/isolate", map[string]any{"Comment": comment, "IsolationType": isolationType})
}

// Release releases a machine from isolation (the rollback of Isolate). It is idempotent like
// Isolate; when the machine is not isolated and nothing is in progress, nothing is requested
// and the result is nil.
func (c *Client) Release(ctx context.Context, machineID, comment string) (*MachineAction, error) {
	return c.isolation(ctx, machineID, ActionUnisolate, "/unisolate", map[string]any{"Comment": comment})
}

func (c *Client) isolation(ctx context.Context, machineID, want, path string, body map[string]any) (*MachineAction, error) {
	if strings.TrimSpace(fmt.Sprint(body["Comment"])) == "" {
		return nil, fmt.Errorf("mde: %s machine %q: a comment is required", strings.ToLower(want), machineID)
	}
	st, err := c.Isolation(ctx, machineID)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Pending != nil && st.Pending.Type == want:
		return st.Pending, nil
	case st.Pending != nil:
		return nil, fmt.Errorf("mde: %s machine %q: %s action %s is in progress: %w", strings.ToLower(want), machineID, st.Pending.Type, st.Pending.ID, connector.ErrConflict)
	case st.Isolated == (want == ActionIsolate) && st.Last != nil:
		return st.Last, nil
	case want == ActionUnisolate && !st.Isolated:
		return nil, nil
	}
	var a MachineAction
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url("/api/machines/"+seg(machineID)+path, ""), Body: body}, &a); err != nil {
		return nil, fmt.Errorf("mde: %s machine %q: %w", strings.ToLower(want), machineID, err)
	}
	return &a, nil
}

// WaitForAction polls a machine action every interval until it leaves Pending/InProgress or
// ctx ends, and returns its last state. A Failed, TimeOut or Cancelled end is returned
// without error: the caller decides.
func (c *Client) WaitForAction(ctx context.Context, id string, interval time.Duration) (*MachineAction, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		a, err := c.MachineAction(ctx, id)
		if err != nil {
			return nil, err
		}
		if !a.InProgress() {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-t.C:
		}
	}
}

// SubmitIndicator creates or updates (same value and type) a custom indicator, e.g. Block a
// FileSha256 or an IpAddress. Submitting the same indicator twice updates it: idempotent.
func (c *Client) SubmitIndicator(ctx context.Context, in Indicator) (*Indicator, error) {
	if in.Severity == "" {
		in.Severity = "High"
	}
	var out Indicator
	// Submit-or-update is idempotent, so the POST may be retried.
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url("/api/indicators", ""), Body: in.request(), Idempotent: true}, &out); err != nil {
		return nil, fmt.Errorf("mde: submit %s indicator %q: %w", in.Type, in.Value, err)
	}
	return &out, nil
}

// Indicators returns the custom indicators with a value (and type, if given).
func (c *Client) Indicators(ctx context.Context, value, indicatorType string) ([]Indicator, error) {
	f := "indicatorValue eq " + entra.String(value)
	if indicatorType != "" {
		f += " and indicatorType eq " + entra.String(indicatorType)
	}
	is, err := entra.List[Indicator](ctx, c.call, c.base, c.url("/api/indicators", entra.Query("$filter", f)), 0)
	if err != nil {
		return nil, fmt.Errorf("mde: list indicators of %q: %w", value, err)
	}
	return is, nil
}

// DeleteIndicator deletes a custom indicator (the rollback of SubmitIndicator); one already
// gone is not an error.
func (c *Client) DeleteIndicator(ctx context.Context, id string) error {
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodDelete, URL: c.url("/api/indicators/"+seg(id), "")}, nil)
	if err != nil && !errors.Is(err, connector.ErrNotFound) {
		return fmt.Errorf("mde: delete indicator %q: %w", id, err)
	}
	return nil
}
