// Package falcon is vigil's CrowdStrike Falcon connector: it finds hosts and reads their
// details (with their criticality grouping tags) for investigation, and takes the endpoint
// response actions: network-contain a host and lift containment (verified by reading the
// host's status back), and create or delete custom IOCs. It authenticates with an API
// client's OAuth2 client credentials.
package falcon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/egress"
)

// DefaultBaseURL is the US-1 cloud's API; US-2, EU-1 and GovCloud have their own.
const DefaultBaseURL = "https://api.crowdstrike.com"

// Config configures a Client. The API client needs the scopes Hosts: Read and Write and
// IOC Management: Read and Write.
type Config struct {
	BaseURL      string // default DefaultBaseURL
	ClientID     string
	ClientSecret connector.Secret
	MemberCID    string // for a child CID in Flight Control; optional
	Logger       *slog.Logger
}

// Client calls the Falcon API. It is safe for concurrent use.
type Client struct {
	base string
	call *connector.Caller
}

// New returns a client that sends every request through hc.
func New(cfg Config, hc *egress.Client) (*Client, error) {
	if hc == nil {
		return nil, errors.New("falcon: an egress client is required")
	}
	if cfg.ClientID == "" || cfg.ClientSecret.IsZero() {
		return nil, errors.New("falcon: client ID and client secret are required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || u.Host == "" {
		return nil, fmt.Errorf("falcon: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "connector.falcon")
	cc := connector.ClientCredentials{TokenURL: base + "/oauth2/token", ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}
	if cfg.MemberCID != "" {
		cc.Extra = url.Values{"member_cid": {cfg.MemberCID}}
	}
	ts := connector.NewTokenSource(hc, "falcon", cc, decodeError, log)
	return &Client{base: base, call: &connector.Caller{
		HTTP: hc, Service: "falcon", Authorize: ts.Authorize, Refresh: ts.Refresh, DecodeError: decodeError, Logger: log,
	}}, nil
}

// envelope is every Falcon answer: {"meta":{...},"resources":[...],"errors":[...]}.
type envelope[T any] struct {
	Meta struct {
		TraceID    string `json:"trace_id"`
		Pagination *struct {
			Offset int `json:"offset"`
			Limit  int `json:"limit"`
			Total  int `json:"total"`
		} `json:"pagination"`
	} `json:"meta"`
	Resources []T        `json:"resources"`
	Errors    []apiError `json:"errors"`
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id"`
}

// decodeError reads Falcon's error body: {"meta":{"trace_id":"..."},"errors":[{"code":404,
// "message":"..."}]}. A duplicate IOC is a conflict.
func decodeError(resp *http.Response, body []byte) *connector.APIError {
	var e envelope[json.RawMessage]
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return nil
	}
	var msgs []string
	for _, x := range e.Errors {
		m := x.Message
		if x.ID != "" {
			m += " (" + x.ID + ")"
		}
		msgs = append(msgs, m)
	}
	id := e.Meta.TraceID
	if id == "" {
		id = resp.Header.Get("X-Cs-Traceid")
	}
	ae := &connector.APIError{Code: strconv.Itoa(e.Errors[0].Code), Message: strings.Join(msgs, "; "), RequestID: id}
	if strings.HasPrefix(e.Errors[0].Message, "Duplicate type") {
		ae.Kind = connector.ErrConflict
	}
	return ae
}

func (c *Client) url(path string, q url.Values) string {
	if len(q) == 0 {
		return c.base + path
	}
	return c.base + path + "?" + q.Encode()
}

// Quote quotes a value for an FQL filter: 'value' with quotes and backslashes escaped.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// DefaultMax bounds the IDs a query collects when none is given.
const DefaultMax = 5000

// query pages through an ID query endpoint with offset/limit until total or max.
func (c *Client) query(ctx context.Context, path, filter string, max int) ([]string, error) {
	if max <= 0 {
		max = DefaultMax
	}
	var ids []string
	for offset := 0; ; {
		q := url.Values{"limit": {"500"}, "offset": {strconv.Itoa(offset)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var page envelope[string]
		if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: c.url(path, q)}, &page); err != nil {
			return nil, err
		}
		ids = append(ids, page.Resources...)
		if len(ids) >= max {
			return ids[:max], nil
		}
		p := page.Meta.Pagination
		if p == nil || len(page.Resources) == 0 || offset+len(page.Resources) >= p.Total {
			return ids, nil
		}
		offset += len(page.Resources)
	}
}

// QueryDevices returns the IDs of hosts matching an FQL filter (e.g. hostname:'ws01'),
// following offset pages up to max.
func (c *Client) QueryDevices(ctx context.Context, filter string, max int) ([]string, error) {
	ids, err := c.query(ctx, "/devices/queries/devices/v1", filter, max)
	if err != nil {
		return nil, fmt.Errorf("falcon: query devices: %w", err)
	}
	return ids, nil
}

// GetDevices returns the details of hosts, 100 IDs a request. IDs Falcon does not know are
// left out; none known is ErrNotFound.
func (c *Client) GetDevices(ctx context.Context, ids ...string) ([]Device, error) {
	var out []Device
	var notFound error = connector.ErrNotFound
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		var page envelope[Device]
		_, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: c.url("/devices/entities/devices/v2", url.Values{"ids": batch})}, &page)
		switch {
		case errors.Is(err, connector.ErrNotFound):
			notFound = err // none of the batch is known; keep Falcon's answer
		case err != nil:
			return nil, fmt.Errorf("falcon: get devices: %w", err)
		}
		out = append(out, page.Resources...)
	}
	if len(out) == 0 && len(ids) > 0 {
		return nil, fmt.Errorf("falcon: get devices %s: %w", strings.Join(ids, ","), notFound)
	}
	return out, nil
}

// GetDevice returns one host's details.
func (c *Client) GetDevice(ctx context.Context, id string) (*Device, error) {
	ds, err := c.GetDevices(ctx, id)
	if err != nil {
		return nil, err
	}
	return &ds[0], nil
}

// DeviceByHostname returns the host with a host name; ErrNotFound when none, ErrConflict
// when several hosts share it.
func (c *Client) DeviceByHostname(ctx context.Context, hostname string) (*Device, error) {
	ids, err := c.QueryDevices(ctx, "hostname:"+Quote(hostname), 10)
	switch {
	case err != nil:
		return nil, err
	case len(ids) == 0:
		return nil, fmt.Errorf("falcon: find host %q: %w", hostname, connector.ErrNotFound)
	case len(ids) > 1:
		return nil, fmt.Errorf("falcon: find host %q: %d hosts match: %w", hostname, len(ids), connector.ErrConflict)
	}
	return c.GetDevice(ctx, ids[0])
}

// Contain network-contains hosts: they can reach only the Falcon cloud. Containing a
// contained host is accepted and changes nothing, so it is idempotent. Read the host back
// (Device.Status) to see it go from containment_pending to contained.
func (c *Client) Contain(ctx context.Context, ids ...string) error {
	return c.action(ctx, "contain", ids)
}

// LiftContainment lifts network containment (the rollback of Contain).
func (c *Client) LiftContainment(ctx context.Context, ids ...string) error {
	return c.action(ctx, "lift_containment", ids)
}

func (c *Client) action(ctx context.Context, name string, ids []string) error {
	if len(ids) == 0 {
		return fmt.Errorf("falcon: %s: no host IDs", name)
	}
	var out envelope[struct {
		ID string `json:"id"`
	}]
	_, err := c.call.Do(ctx, connector.Request{
		Method: http.MethodPost, URL: c.url("/devices/entities/devices-actions/v2", url.Values{"action_name": {name}}),
		Body: map[string]any{"ids": ids}, Idempotent: true, // containing twice is harmless
	}, &out)
	if err != nil {
		return fmt.Errorf("falcon: %s %s: %w", name, strings.Join(ids, ","), err)
	}
	return nil
}

// WaitForStatus polls a host every interval until its status is want (e.g. StatusContained)
// or ctx ends.
func (c *Client) WaitForStatus(ctx context.Context, id, want string, interval time.Duration) (*Device, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		d, err := c.GetDevice(ctx, id)
		if err != nil {
			return nil, err
		}
		if d.Status == want {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-t.C:
		}
	}
}

// CreateIOC creates a custom IOC. Creating one that exists (same type and value) with the
// same action returns the existing IOC; with another action it is ErrConflict.
func (c *Client) CreateIOC(ctx context.Context, ioc IOC, comment string) (*IOC, error) {
	var out envelope[IOC]
	_, err := c.call.Do(ctx, connector.Request{
		Method: http.MethodPost, URL: c.url("/iocs/entities/indicators/v1", nil),
		Body: map[string]any{"comment": comment, "indicators": []IOC{ioc}},
		// A replay meets the duplicate check below and returns the IOC created: safe to retry.
		Idempotent: true,
	}, &out)
	if errors.Is(err, connector.ErrConflict) {
		existing, ferr := c.FindIOCs(ctx, ioc.Type, ioc.Value)
		if ferr == nil && len(existing) == 1 {
			if existing[0].Action == ioc.Action {
				return &existing[0], nil
			}
			return nil, fmt.Errorf("falcon: create %s IOC %q: it exists with action %q: %w", ioc.Type, ioc.Value, existing[0].Action, connector.ErrConflict)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("falcon: create %s IOC %q: %w", ioc.Type, ioc.Value, err)
	}
	if len(out.Resources) == 0 {
		return nil, fmt.Errorf("falcon: create %s IOC %q: no IOC in the answer", ioc.Type, ioc.Value)
	}
	return &out.Resources[0], nil
}

// FindIOCs returns the custom IOCs of a type and value.
func (c *Client) FindIOCs(ctx context.Context, iocType, value string) ([]IOC, error) {
	ids, err := c.query(ctx, "/iocs/queries/indicators/v1", "type:"+Quote(iocType)+"+value:"+Quote(value), 0)
	if err != nil {
		return nil, fmt.Errorf("falcon: find IOCs: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return c.GetIOCs(ctx, ids...)
}

// GetIOCs returns custom IOCs by ID.
func (c *Client) GetIOCs(ctx context.Context, ids ...string) ([]IOC, error) {
	var page envelope[IOC]
	if _, err := c.call.Do(ctx, connector.Request{Method: http.MethodGet, URL: c.url("/iocs/entities/indicators/v1", url.Values{"ids": ids})}, &page); err != nil {
		return nil, fmt.Errorf("falcon: get IOCs: %w", err)
	}
	return page.Resources, nil
}

// DeleteIOCs deletes custom IOCs (the rollback of CreateIOC); ones already gone are not an
// error.
func (c *Client) DeleteIOCs(ctx context.Context, ids ...string) error {
	_, err := c.call.Do(ctx, connector.Request{Method: http.MethodDelete, URL: c.url("/iocs/entities/indicators/v1", url.Values{"ids": ids})}, nil)
	if err != nil && !errors.Is(err, connector.ErrNotFound) {
		return fmt.Errorf("falcon: delete IOCs: %w", err)
	}
	return nil
}

// Host containment statuses.
const (
	StatusNormal                 = "normal"
	StatusContainmentPending     = "containment_pending"
	StatusContained              = "contained"
	StatusLiftContainmentPending = "lift_containment_pending"
)

// Device is a host with the Falcon sensor.
type Device struct {
	DeviceID        string    `json:"device_id"`
	CID             string    `json:"cid"`
	Hostname        string    `json:"hostname"`
	LocalIP         string    `json:"local_ip"`
	ExternalIP      string    `json:"external_ip"`
	MACAddress      string    `json:"mac_address"`
	PlatformName    string    `json:"platform_name"`
	OSVersion       string    `json:"os_version"`
	ProductTypeDesc string    `json:"product_type_desc"` // Workstation, Server, Domain Controller
	MachineDomain   string    `json:"machine_domain"`
	AgentVersion    string    `json:"agent_version"`
	Status          string    `json:"status"`
	FirstSeen       time.Time `json:"first_seen"`
	LastSeen        time.Time `json:"last_seen"`
	Tags            []string  `json:"tags"`
}

// GroupingTag returns the value of a "FalconGroupingTags/Key-value" tag, e.g.
// GroupingTag("Criticality").
func (d Device) GroupingTag(key string) string {
	prefix := "falcongroupingtags/" + strings.ToLower(key) + "-"
	for _, t := range d.Tags {
		if strings.HasPrefix(strings.ToLower(t), prefix) {
			return t[len(prefix):]
		}
	}
	return ""
}

// Contained reports whether the host is contained.
func (d Device) Contained() bool { return d.Status == StatusContained }

// IOC is a custom indicator of compromise.
type IOC struct {
	ID              string     `json:"id,omitempty"`
	Type            string     `json:"type"` // sha256, md5, domain, ipv4, ipv6
	Value           string     `json:"value"`
	Action          string     `json:"action"` // prevent (hashes only), detect, allow, no_action, prevent_no_ui
	Severity        string     `json:"severity,omitempty"`
	Description     string     `json:"description,omitempty"`
	Platforms       []string   `json:"platforms,omitempty"` // windows, mac, linux
	Tags            []string   `json:"tags,omitempty"`
	Source          string     `json:"source,omitempty"`
	AppliedGlobally bool       `json:"applied_globally"`
	Expiration      *time.Time `json:"expiration,omitempty"`
	CreatedBy       string     `json:"created_by,omitempty"`
	CreatedOn       *time.Time `json:"created_on,omitempty"`
}
