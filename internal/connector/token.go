package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/egress"
)

// ClientCredentials configure an OAuth2 client-credentials grant (RFC 6749 section 4.4):
// a POST of grant_type, client_id, client_secret and scope as a form to TokenURL.
type ClientCredentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret Secret
	Scope        string // space separated; omitted when empty
	// Extra form fields some services take, e.g. CrowdStrike's member_cid.
	Extra url.Values
}

// TokenSource fetches and caches a client-credentials access token until shortly before it
// expires. It is safe for concurrent use; concurrent callers share one fetch.
type TokenSource struct {
	http    *egress.Client
	cc      ClientCredentials
	service string
	decode  func(*http.Response, []byte) *APIError
	log     *slog.Logger
	now     func() time.Time

	// mu guards the cached token and serialises fetches.
	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewTokenSource returns a token source. decode reads the token endpoint's error body (nil
// uses DecodeGenericError); refusals are reported as ErrUnauthorized.
func NewTokenSource(hc *egress.Client, service string, cc ClientCredentials, decode func(*http.Response, []byte) *APIError, log *slog.Logger) *TokenSource {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TokenSource{http: hc, cc: cc, service: service, decode: decode, log: log, now: time.Now}
}

// Token returns a valid access token, fetching one when none is cached or the cached one
// expires within a minute (or within half its lifetime, for short-lived tokens).
func (t *TokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.expires) {
		return t.token, nil
	}
	tok, ttl, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	skew := time.Minute
	if ttl < 2*skew {
		skew = ttl / 2
	}
	t.token, t.expires = tok, t.now().Add(ttl-skew)
	t.log.Debug("access token acquired", "service", t.service, "client_id", t.cc.ClientID, "expires_in", ttl)
	return tok, nil
}

// Invalidate drops the cached token if it is still token (the one a request was refused
// with), so the next Token call fetches a new one. Other callers' fresher tokens survive.
func (t *TokenSource) Invalidate(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if token == "" || t.token == token {
		t.token, t.expires = "", time.Time{}
	}
}

// Authorize sets "Authorization: Bearer <token>" on req; it fits Caller.Authorize.
func (t *TokenSource) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := t.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Refresh invalidates the token req was sent with; it fits Caller.Refresh.
func (t *TokenSource) Refresh(req *http.Request) {
	tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	t.Invalidate(tok)
}

func (t *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {t.cc.ClientID},
		"client_secret": {t.cc.ClientSecret.Reveal()},
	}
	if t.cc.Scope != "" {
		form.Set("scope", t.cc.Scope)
	}
	for k, vs := range t.cc.Extra {
		form[k] = vs
	}
	c := &Caller{
		HTTP:        t.http,
		Service:     t.service,
		Authorize:   func(context.Context, *http.Request) error { return nil },
		DecodeError: t.decode,
		Logger:      t.log,
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	_, err := c.Do(ctx, Request{
		Method:      http.MethodPost,
		URL:         t.cc.TokenURL,
		RawBody:     []byte(form.Encode()),
		ContentType: "application/x-www-form-urlencoded",
		Idempotent:  true, // asking for a token twice is harmless
	}, &tr)
	if err != nil {
		if ae, ok := err.(*APIError); ok && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusTooManyRequests {
			ae.Kind = ErrUnauthorized
		}
		return "", 0, fmt.Errorf("get access token: %w", err)
	}
	if tr.AccessToken == "" {
		return "", 0, fmt.Errorf("get access token: %w: the token endpoint returned no access_token", ErrUnauthorized)
	}
	// expires_in is a number in OAuth2, a string in Entra's v1 endpoint.
	secs, err := strconv.ParseInt(strings.Trim(string(tr.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		secs = 300 // unknown lifetime: assume a short one
	}
	return tr.AccessToken, time.Duration(secs) * time.Second, nil
}
