package connector

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The sentinels callers branch on. Every connector's errors wrap one of them where it applies
// (errors.Is), usually through an *APIError.
var (
	// ErrNotFound: the user, machine, grant, rule... does not exist (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the credentials were refused or lack a permission (HTTP 401, 403,
	// or a token endpoint's refusal).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: the service kept answering 429 after the client's retries, or asked
	// for a longer wait than the client is willing to make.
	ErrRateLimited = errors.New("rate limited")
	// ErrConflict: the request conflicts with the current state (HTTP 409/412, or a
	// service-specific code such as a duplicate indicator or an action already in progress).
	ErrConflict = errors.New("conflict")
)

// APIError is an error answer from a service, decoded from its own error body. It never
// holds request headers or credentials.
type APIError struct {
	Service    string        // "graph", "okta", "mde", "falcon", "webhook"
	Status     int           // HTTP status
	Code       string        // the service's error code, e.g. Request_ResourceNotFound, E0000007
	Message    string        // the service's message
	RequestID  string        // the service's request or trace ID, for its support
	RetryAfter time.Duration // for 429: how long the service asked to wait, if it said
	// Kind, when set, overrides the sentinel derived from Status (e.g. ErrConflict for a
	// 400 "already in progress").
	Kind error
}

// Error describes the answer; the service's name is left to the caller's wrapping
// ("graph: get user %q: HTTP 404 Request_ResourceNotFound: ...").
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request " + e.RequestID + ")")
	}
	return b.String()
}

// Unwrap returns the sentinel for the error's kind, or nil.
func (e *APIError) Unwrap() error {
	if e.Kind != nil {
		return e.Kind
	}
	return StatusKind(e.Status)
}

// StatusKind maps an HTTP status to a sentinel, or nil.
func StatusKind(status int) error {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusNotFound, http.StatusGone:
		return ErrNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return ErrConflict
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}
