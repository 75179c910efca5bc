package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/egress"
)

// Caller sends one service's JSON API requests through the egress client: it adds the
// credentials, retries once with fresh credentials after a 401, turns error answers into
// *APIError and decodes JSON answers. It is safe for concurrent use once built.
type Caller struct {
	HTTP    *egress.Client
	Service string // names the service in errors and logs
	// Authorize sets the request's credentials; it may fetch a token. Required.
	Authorize func(ctx context.Context, req *http.Request) error
	// Refresh, when set, is called after a 401 with the request that failed, to drop a
	// cached token; the request is then sent once more. Nil: a 401 is final.
	Refresh func(req *http.Request)
	// DecodeError decodes the service's error body; nil uses DecodeGenericError.
	DecodeError func(resp *http.Response, body []byte) *APIError
	// Logger gets a debug line per call (method, path, status, duration); nil discards.
	Logger *slog.Logger
	// Now is the clock for rate-limit headers; nil uses time.Now.
	Now func() time.Time
	// HidePath keeps request paths out of the logs, for URLs that carry a token in their
	// path (many webhook URLs do).
	HidePath bool
}

// Request is one API call.
type Request struct {
	Method string
	URL    string // absolute
	// Body is JSON-encoded when non-nil; a []byte or url.Values-encoded string can be sent
	// with RawBody instead.
	Body        any
	RawBody     []byte
	ContentType string // for RawBody
	Header      http.Header
	// Idempotent marks a POST or PATCH as safe to retry on 5xx and connection errors.
	Idempotent bool
}

// Response is a successful (2xx) answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends r and, on a 2xx answer, decodes its JSON body into out (when out is non-nil and
// the body is not empty). A non-2xx answer is returned as an *APIError.
func (c *Caller) Do(ctx context.Context, r Request, out any) (*Response, error) {
	var body []byte
	contentType := r.ContentType
	switch {
	case r.Body != nil:
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body, contentType = b, "application/json"
	case r.RawBody != nil:
		body = r.RawBody
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		if body == nil {
			req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
		}
		for k, v := range r.Header {
			req.Header[k] = v
		}
		req.Header.Set("Accept", "application/json")
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if _, ok := req.Header["Idempotency-Key"]; r.Idempotent && !ok {
			req.Header["Idempotency-Key"] = nil // marks for egress; not sent
		}
		if err := c.Authorize(ctx, req); err != nil {
			return nil, err
		}
		start := time.Now()
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, err
		}
		data, _ := io.ReadAll(resp.Body) // already in memory: egress read it
		path := req.URL.Path
		if c.HidePath {
			path = "[hidden]"
		}
		log.Debug("api call", "service", c.Service, "method", r.Method, "path", path, "status", resp.StatusCode, "duration", time.Since(start))
		if resp.StatusCode == http.StatusUnauthorized && try == 0 && c.Refresh != nil {
			c.Refresh(req)
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, c.apiError(resp, data)
		}
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return nil, fmt.Errorf("decode %s response: %w", c.Service, err)
			}
		}
		return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
	}
}

func (c *Caller) apiError(resp *http.Response, body []byte) *APIError {
	decode := c.DecodeError
	if decode == nil {
		decode = DecodeGenericError
	}
	e := decode(resp, body)
	if e == nil {
		e = DecodeGenericError(resp, body)
	}
	e.Service, e.Status = c.Service, resp.StatusCode
	if resp.StatusCode == http.StatusTooManyRequests {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		e.RetryAfter, _ = egress.RetryAfter(resp.Header, now())
	}
	return e
}

// DecodeGenericError reads {"error": "...", "message": "..."}-like bodies, or the start of
// a text body.
func DecodeGenericError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"code", "error_code", "errorCode"} {
			if v, ok := m[k].(string); ok {
				e.Code = v
				break
			}
		}
		for _, k := range []string{"message", "error_description", "errorSummary", "error", "detail", "title"} {
			if v, ok := m[k].(string); ok {
				e.Message = v
				break
			}
		}
		// {"error": "invalid_signature", "message": "..."}: the error names the kind.
		if v, ok := m["error"].(string); ok && e.Code == "" && v != e.Message {
			e.Code = v
		}
		return e
	}
	e.Message = Truncate(strings.TrimSpace(string(body)), 200)
	return e
}

// Truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// IsNotFound reports whether err wraps ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// SameOrigin checks that link (a next-page link from a service) points at the same scheme
// and host as base, so following it cannot send the credentials elsewhere.
func SameOrigin(base, link string) error {
	b, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("parse base URL: %w", err)
	}
	l, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("parse next link: %w", err)
	}
	if !strings.EqualFold(b.Scheme, l.Scheme) || !strings.EqualFold(b.Host, l.Host) {
		return fmt.Errorf("next link leaves %s://%s (to %s://%s): refused", b.Scheme, b.Host, l.Scheme, l.Host)
	}
	return nil
}
