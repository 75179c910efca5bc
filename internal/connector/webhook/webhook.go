// Package webhook is vigil's generic HTTP connector. Client delivers events (notifications,
// response-action hand-offs to a SOAR or ticketing system) as signed JSON POSTs; Endpoint
// makes authenticated GET and POST calls to a custom JSON API, for read tools such as a CMDB
// or a threat-intelligence lookup.
//
// A delivery is signed like this: the body is an envelope {"id","type","time","data"}; the
// headers carry X-Vigil-Delivery (the envelope's ID, also sent as Idempotency-Key),
// X-Vigil-Event, X-Vigil-Timestamp (Unix seconds) and X-Vigil-Signature:
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)). A receiver recomputes the
// signature, rejects timestamps outside a tolerance (replay protection) and may drop
// delivery IDs it has seen (retries reuse them). Verify does exactly that.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

// Header names of a signed delivery.
const (
	HeaderSignature = "X-Vigil-Signature"
	HeaderTimestamp = "X-Vigil-Timestamp"
	HeaderDelivery  = "X-Vigil-Delivery"
	HeaderEvent     = "X-Vigil-Event"
)

// DefaultTolerance is how far a delivery's timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

var (
	// ErrBadSignature: the signature is missing or does not match the body.
	ErrBadSignature = errors.New("webhook: bad signature")
	// ErrStale: the timestamp is missing or outside the tolerance (a replay, or a skewed clock).
	ErrStale = errors.New("webhook: stale or missing timestamp")
)

// Config configures a Client.
type Config struct {
	// URL receives the deliveries. It may carry a token in its path (as many webhook URLs
	// do): it is never logged or put in errors.
	URL string
	// Secret is the HMAC-SHA256 key shared with the receiver.
	Secret connector.Secret
	Logger *slog.Logger
}

// Client delivers signed events. It is safe for concurrent use.
type Client struct {
	url    string
	secret connector.Secret
	call   *connector.Caller
	now    func() time.Time
}

// New returns a client that sends every delivery through hc.
func New(cfg Config, hc *egress.Client) (*Client, error) {
	if hc == nil {
		return nil, errors.New("webhook: an egress client is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("webhook: the URL must be an absolute http(s) URL")
	}
	if cfg.Secret.IsZero() {
		return nil, errors.New("webhook: a signing secret is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{url: cfg.URL, secret: cfg.Secret, now: time.Now, call: &connector.Caller{
		HTTP:      hc,
		Service:   "webhook",
		Authorize: func(context.Context, *http.Request) error { return nil }, // the signature authenticates
		Logger:    log.With("component", "connector.webhook", "host", u.Host),
		HidePath:  true,
	}}, nil
}

// Envelope is the body of a delivery.
type Envelope struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// Delivery is the result of a successful Send.
type Delivery struct {
	ID     string
	Status int
	// Response is the receiver's answer body, if any (capped by the egress client).
	Response []byte
}

// Send delivers an event of the given type with payload as its data and expects a 2xx
// answer. Retries (by the egress client, on 5xx and connection errors) resend the same
// delivery ID, signature and timestamp, so a receiver can drop duplicates. A non-2xx answer
// is an *connector.APIError (401/403: ErrUnauthorized, 429: ErrRateLimited).
func (c *Client) Send(ctx context.Context, eventType string, payload any) (*Delivery, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("webhook: encode %s payload: %w", eventType, err)
	}
	now := c.now().UTC()
	env := Envelope{ID: newID(), Type: eventType, Time: now, Data: data}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("webhook: encode envelope: %w", err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h := http.Header{}
	h.Set(HeaderDelivery, env.ID)
	h.Set(HeaderEvent, eventType)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign(c.secret, ts, body))
	h.Set("Idempotency-Key", env.ID) // lets the egress client retry the POST, and the receiver dedupe
	resp, err := c.call.Do(ctx, connector.Request{Method: http.MethodPost, URL: c.url, RawBody: body, ContentType: "application/json", Header: h}, nil)
	if err != nil {
		return nil, fmt.Errorf("webhook: deliver %s %s: %w", eventType, env.ID, err)
	}
	return &Delivery{ID: env.ID, Status: resp.Status, Response: resp.Body}, nil
}

// Sign returns the X-Vigil-Signature value for a timestamp and body.
func Sign(secret connector.Secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery as a receiver should: the timestamp within tolerance of now
// (DefaultTolerance when zero) and the signature over timestamp and body, compared in
// constant time.
func Verify(secret connector.Secret, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := h.Get(HeaderTimestamp)
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrStale, d.Round(time.Second))
	}
	got := h.Get(HeaderSignature)
	if !strings.HasPrefix(got, "sha256=") || !hmac.Equal([]byte(got), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "dlv_" + hex.EncodeToString(b)
}

// EndpointConfig configures an Endpoint.
type EndpointConfig struct {
	// BaseURL is the API's root; Call paths are relative to it.
	BaseURL string
	// AuthHeader names the credential header, e.g. "Authorization" or "X-API-Key"; empty
	// sends none.
	AuthHeader string
	// AuthValue is the header's value, e.g. "Bearer <token>".
	AuthValue connector.Secret
	Logger    *slog.Logger
}

// Endpoint calls a custom JSON API. It is safe for concurrent use.
type Endpoint struct {
	base *url.URL
	call *connector.Caller
}

// NewEndpoint returns an endpoint that sends every call through hc.
func NewEndpoint(cfg EndpointConfig, hc *egress.Client) (*Endpoint, error) {
	if hc == nil {
		return nil, errors.New("webhook: an egress client is required")
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("webhook: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.AuthHeader != "" && cfg.AuthValue.IsZero() {
		return nil, fmt.Errorf("webhook: %s has no value", cfg.AuthHeader)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name, value := cfg.AuthHeader, cfg.AuthValue
	return &Endpoint{base: base, call: &connector.Caller{
		HTTP:    hc,
		Service: "endpoint " + base.Host,
		Authorize: func(_ context.Context, req *http.Request) error {
			if name != "" {
				req.Header.Set(name, value.Reveal())
			}
			return nil
		},
		Logger: log.With("component", "connector.endpoint", "host", base.Host),
	}}, nil
}

// Response is a successful (2xx) answer of a Call.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode decodes the JSON body into v.
func (r *Response) Decode(v any) error { return json.Unmarshal(r.Body, v) }

// Call sends a GET or POST to path (relative to the base URL; it cannot leave it) with the
// query, and body JSON-encoded for a POST. Non-2xx answers are *connector.APIError.
func (e *Endpoint) Call(ctx context.Context, method, path string, query url.Values, body any) (*Response, error) {
	if method != http.MethodGet && method != http.MethodPost {
		return nil, fmt.Errorf("webhook: method %s not allowed (GET or POST)", method)
	}
	rel, err := url.Parse(path)
	if err != nil || rel.IsAbs() || rel.Host != "" || rel.RawQuery != "" || strings.Contains(path, "..") {
		return nil, fmt.Errorf("webhook: path %q must be relative to the base URL, without .. or a query", path)
	}
	u := *e.base
	u.Path = strings.TrimRight(e.base.Path, "/") + "/" + strings.TrimLeft(rel.Path, "/")
	u.RawQuery = query.Encode()
	r := connector.Request{Method: method, URL: u.String()}
	if method == http.MethodPost && body != nil {
		r.Body = body
	}
	resp, err := e.call.Do(ctx, r, nil)
	if err != nil {
		return nil, fmt.Errorf("webhook: %s %s: %w", method, rel.Path, err)
	}
	return &Response{Status: resp.Status, Header: resp.Header, Body: resp.Body}, nil
}
