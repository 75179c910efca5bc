// Package egress is vigil's one outbound HTTP client: every call vigil makes to the outside
// (connectors, enrichment, webhooks, LLM providers) goes through it. It refuses private and
// loopback destinations unless allowed, checks the address it actually dials (so DNS
// rebinding and redirects cannot reach the inside), bounds every attempt with a timeout and
// every response with a size cap, and retries what is safe to retry: idempotent requests on
// connection errors and 5xx, and any request the server refused with 429 (or 503 with
// Retry-After), waiting as long as the server asks, up to a bound.
package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultTimeout          = 15 * time.Second
	DefaultMaxRetries       = 3
	DefaultBaseBackoff      = 250 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultMaxRetryAfter    = 30 * time.Second
	DefaultMaxResponseBytes = 10 << 20
	DefaultMaxRedirects     = 5
	DefaultUserAgent        = "vigil/1 (+https://github.com/vigil-soc/vigil)"
)

// NoRetries as Options.MaxRetries disables retries.
const NoRetries = -1

// Options configure a Client. The zero value is a safe client with the defaults above.
type Options struct {
	// Timeout bounds one attempt, from dialling to the last byte of the body. Default 15s.
	// The caller's context bounds the whole call, retries and waits included.
	Timeout time.Duration
	// UserAgent is sent when a request sets none.
	UserAgent string
	// AllowPrivate lists host names (allowed whatever they resolve to) and IP addresses or
	// CIDRs that may be reached although they are loopback, private, link-local, CGNAT,
	// multicast or unspecified. Empty: only public addresses.
	AllowPrivate []string
	// MaxRetries is how many times a request is retried after the first attempt. Default 3;
	// NoRetries disables.
	MaxRetries int
	// BaseBackoff and MaxBackoff shape the exponential backoff with jitter between retries.
	BaseBackoff, MaxBackoff time.Duration
	// MaxRetryAfter bounds a server-requested wait (Retry-After and rate-limit reset
	// headers). A longer request is not waited for: the 429/503 response is returned.
	MaxRetryAfter time.Duration
	// MaxResponseBytes caps a response body; a larger one fails with ErrResponseTooLarge.
	MaxResponseBytes int64
	// MaxRedirects bounds the redirects followed. Default 5.
	MaxRedirects int
	// Logger receives a debug line per retry (method, host, status, wait); nil
	// discards. Paths, query strings, headers and bodies are never logged.
	Logger *slog.Logger
	// Resolver resolves host names; nil uses net.DefaultResolver.
	Resolver Resolver
	// TLSConfig, when set, is used for https (e.g. a private CA). Nil: system roots.
	TLSConfig *tls.Config
	// Sleep waits between attempts; nil uses a timer honouring ctx. Tests set it to observe
	// and skip the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for HTTP-date and epoch rate-limit headers; nil uses time.Now.
	Now func() time.Time
}

// Client is the outbound HTTP client. It is safe for concurrent use.
type Client struct {
	hc            *http.Client
	timeout       time.Duration
	userAgent     string
	maxRetries    int
	baseBackoff   time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	maxBody       int64
	log           *slog.Logger
	sleep         func(context.Context, time.Duration) error
	now           func() time.Time
}

// New returns a client for opts. It fails only on a malformed allow-list entry.
func New(opts Options) (*Client, error) {
	pol, err := newPolicy(opts.AllowPrivate)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	c := &Client{
		timeout:       or(opts.Timeout, DefaultTimeout),
		userAgent:     opts.UserAgent,
		maxRetries:    opts.MaxRetries,
		baseBackoff:   or(opts.BaseBackoff, DefaultBaseBackoff),
		maxBackoff:    or(opts.MaxBackoff, DefaultMaxBackoff),
		maxRetryAfter: or(opts.MaxRetryAfter, DefaultMaxRetryAfter),
		maxBody:       or(opts.MaxResponseBytes, DefaultMaxResponseBytes),
		log:           opts.Logger,
		sleep:         opts.Sleep,
		now:           opts.Now,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "egress")
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.now == nil {
		c.now = time.Now
	}
	var res Resolver = net.DefaultResolver
	if opts.Resolver != nil {
		res = opts.Resolver
	}
	tlsConf := opts.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	d := newDialer(pol, res)
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us and bypass the address check
		DialContext:           d.DialContext,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: c.timeout,
	}
	maxRedirects := opts.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = DefaultMaxRedirects
	}
	c.hc = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrRedirect, maxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("%w: scheme %q", ErrRedirect, req.URL.Scheme)
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme == "http" {
				return fmt.Errorf("%w: downgrade from https to http", ErrRedirect)
			}
			return nil // the dialer checks the new destination's address
		},
	}
	return c, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Do sends req, retrying as the package comment describes, and returns the last response
// with its body fully read into memory (so the caller may read it after the attempt's
// timeout). Non-2xx statuses are not errors. Request bodies are buffered so they can be
// replayed. A POST or PATCH is treated as idempotent when it carries an Idempotency-Key or
// X-Idempotency-Key header (a nil-valued entry marks it without sending it, as in net/http).
// Errors name the method and host but never the path or query, which may carry secrets.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return nil, fmt.Errorf("egress: only http and https URLs are supported")
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("egress: read request body: %w", err)
		}
		body = b
	}
	idempotent := isIdempotent(req)
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, req, body)
		if err != nil {
			if ctx.Err() != nil || !retryableErr(err) || !idempotent || attempt >= c.maxRetries {
				return nil, c.wrap(req, err)
			}
			wait := c.backoff(attempt)
			c.log.Debug("retrying after error", "method", req.Method, "host", req.URL.Host, "attempt", attempt+1, "wait", wait, "err", errString(err))
			if err := c.sleep(ctx, wait); err != nil {
				return nil, c.wrap(req, err)
			}
			continue
		}
		wait, retry := c.shouldRetry(resp, idempotent, attempt)
		if !retry {
			return resp, nil
		}
		c.log.Debug("retrying after status", "method", req.Method, "host", req.URL.Host, "status", resp.StatusCode, "attempt", attempt+1, "wait", wait)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, c.wrap(req, err)
		}
	}
}

// shouldRetry decides whether resp is worth another attempt and how long to wait first.
func (c *Client) shouldRetry(resp *http.Response, idempotent bool, attempt int) (time.Duration, bool) {
	if attempt >= c.maxRetries {
		return 0, false
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		d, ok := RetryAfter(resp.Header, c.now())
		if status == http.StatusServiceUnavailable && !idempotent && !ok {
			return 0, false // no sign the server did not act on it
		}
		if !ok {
			return c.backoff(attempt), true
		}
		if d > c.maxRetryAfter {
			return 0, false
		}
		return d, true
	case idempotent && (status == http.StatusInternalServerError || status == http.StatusBadGateway || status == http.StatusGatewayTimeout):
		return c.backoff(attempt), true
	}
	return 0, false
}

func (c *Client) attempt(ctx context.Context, req *http.Request, body []byte) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r := req.Clone(actx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	} else {
		r.Body = nil
		r.GetBody = nil
		r.ContentLength = 0
	}
	if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", c.userAgent)
	}
	// The idempotency markers with nil values are for us; net/http drops them on the wire.
	resp, err := c.hc.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(data)) > c.maxBody {
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrResponseTooLarge, c.maxBody)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// wrap drops net/http's *url.Error (which prints the whole URL) and names method and host.
func (c *Client) wrap(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, err)
}

func errString(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func retryableErr(err error) bool {
	if errors.Is(err, ErrBlocked) || errors.Is(err, ErrResponseTooLarge) || errors.Is(err, ErrRedirect) {
		return false
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
		return false
	}
	return true
}

func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := req.Header["X-Idempotency-Key"]
	return ok
}

// backoff is exponential with "equal jitter": half the step fixed, half random.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseBackoff << min(attempt, 30)
	if d <= 0 || d > c.maxBackoff {
		d = c.maxBackoff
	}
	half := d / 2
	return half + rand.N(half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RetryAfter reads how long the server asks to wait from h: Retry-After (delay-seconds or
// HTTP date), or the epoch-seconds reset headers some APIs send with 429 instead
// (X-Rate-Limit-Reset, Okta; X-RateLimit-Reset; X-Ratelimit-Retryafter, CrowdStrike).
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return secondsToDuration(secs), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	for _, k := range []string{"X-Rate-Limit-Reset", "X-RateLimit-Reset", "X-Ratelimit-Retryafter"} {
		v := strings.TrimSpace(h.Get(k))
		if v == "" {
			continue
		}
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			continue
		}
		if secs > 1_000_000_000 { // an epoch time, not a delay
			return max(time.Unix(secs, 0).Sub(now), 0), true
		}
		return secondsToDuration(secs), true
	}
	return 0, false
}

// secondsToDuration converts without overflowing: absurd delays become a year, which any
// MaxRetryAfter refuses to wait for.
func secondsToDuration(secs int64) time.Duration {
	const year = 365 * 24 * 3600
	return time.Duration(min(secs, year)) * time.Second
}
