// Package entra holds what vigil's Microsoft connectors (graph, mde) share: the Microsoft
// Entra ID client-credentials token source, the OData error body and OData paging.
package entra

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/egress"
)

// DefaultAuthority is the Entra ID sign-in endpoint of the global cloud.
const DefaultAuthority = "https://login.microsoftonline.com"

// Credentials are an Entra ID app registration's client credentials.
type Credentials struct {
	// Authority is the sign-in endpoint; empty means DefaultAuthority. Tests point it at a fake.
	Authority    string
	TenantID     string
	ClientID     string
	ClientSecret connector.Secret
}

// TokenURL returns the v2.0 token endpoint: {authority}/{tenant}/oauth2/v2.0/token.
func (c Credentials) TokenURL() string {
	a := c.Authority
	if a == "" {
		a = DefaultAuthority
	}
	return strings.TrimRight(a, "/") + "/" + c.TenantID + "/oauth2/v2.0/token"
}

// NewTokenSource returns a client-credentials token source for resource (e.g.
// "https://graph.microsoft.com"), asking for the scope "{resource}/.default".
func NewTokenSource(hc *egress.Client, service string, cred Credentials, resource string, log *slog.Logger) *connector.TokenSource {
	return connector.NewTokenSource(hc, service, connector.ClientCredentials{
		TokenURL:     cred.TokenURL(),
		ClientID:     cred.ClientID,
		ClientSecret: cred.ClientSecret,
		Scope:        strings.TrimRight(resource, "/") + "/.default",
	}, DecodeTokenError, log)
}

// DecodeTokenError reads the Entra token endpoint's error body:
// {"error":"invalid_client","error_description":"AADSTS7000215: ...","error_codes":[7000215],
// "trace_id":"...","correlation_id":"..."}.
func DecodeTokenError(resp *http.Response, body []byte) *connector.APIError {
	var e struct {
		Error         string `json:"error"`
		Description   string `json:"error_description"`
		TraceID       string `json:"trace_id"`
		CorrelationID string `json:"correlation_id"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return nil
	}
	// The description repeats trace and correlation IDs and a timestamp on further lines.
	desc, _, _ := strings.Cut(e.Description, "\r\n")
	return &connector.APIError{Code: e.Error, Message: desc, RequestID: e.CorrelationID}
}

// DecodeError reads an OData error body, as Microsoft Graph and Defender for Endpoint send:
// {"error":{"code":"Request_ResourceNotFound","message":"...","innerError":{"request-id":"..."}}}
// (Defender puts its request ID in "target").
func DecodeError(resp *http.Response, body []byte) *connector.APIError {
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			Target     string `json:"target"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Error.Code == "" && e.Error.Message == "") {
		return nil
	}
	id := e.Error.InnerError.RequestID
	if id == "" {
		id = e.Error.Target
	}
	if id == "" {
		id = resp.Header.Get("request-id")
	}
	return &connector.APIError{Code: e.Error.Code, Message: e.Error.Message, RequestID: id}
}

// Page is one page of an OData collection.
type Page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// List fetches an OData collection from first, following @odata.nextLink (which must stay on
// base's origin, so the token is never sent elsewhere) until the last page or max items
// (max <= 0: no limit).
func List[T any](ctx context.Context, c *connector.Caller, base, first string, max int) ([]T, error) {
	var out []T
	for next := first; next != ""; {
		var page Page[T]
		if _, err := c.Do(ctx, connector.Request{Method: http.MethodGet, URL: next}, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Value...)
		if max > 0 && len(out) >= max {
			return out[:max], nil
		}
		if page.NextLink != "" {
			if err := connector.SameOrigin(base, page.NextLink); err != nil {
				return nil, err
			}
		}
		next = page.NextLink
	}
	return out, nil
}

// Query encodes OData query options, keeping the "$" of system options literal and spaces
// as %20.
func Query(params ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(params[i])
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(params[i+1]), "+", "%20"))
	}
	if b.Len() == 0 {
		return ""
	}
	return "?" + b.String()
}

// String quotes s as an OData string literal, doubling any single quote in it.
func String(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Time formats t as an OData DateTimeOffset literal.
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
