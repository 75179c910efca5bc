package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/egress"
)

func TestSecretRedacted(t *testing.T) {
	s := Secret("hunter2-very-secret")
	type cfg struct {
		Name   string
		Secret Secret
	}
	c := cfg{"graph", s}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "secret", s, "cfg", c)
	js, _ := json.Marshal(c)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%s %v %+v %#v %q %x %d", s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", c, c, c), logBuf.String(), string(js), fmt.Sprint(&c), errors.New(s.String()).Error(),
	} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if !strings.Contains(string(js), `"[REDACTED]"`) {
		t.Errorf("JSON = %s", js)
	}
	var back cfg
	if err := json.Unmarshal([]byte(`{"Secret":"from-config"}`), &back); err != nil || back.Secret.Reveal() != "from-config" {
		t.Errorf("decoding a secret: %v, %q", err, back.Secret.Reveal())
	}
	if s.Reveal() != "hunter2-very-secret" || Secret("").String() != "" || !Secret("").IsZero() {
		t.Error("Reveal/IsZero")
	}
}

func TestAPIErrorKinds(t *testing.T) {
	for status, want := range map[int]error{401: ErrUnauthorized, 403: ErrUnauthorized, 404: ErrNotFound, 409: ErrConflict, 412: ErrConflict, 429: ErrRateLimited, 500: nil, 400: nil} {
		err := fmt.Errorf("wrap: %w", &APIError{Service: "x", Status: status, Code: "C", Message: "m"})
		for _, s := range []error{ErrUnauthorized, ErrNotFound, ErrConflict, ErrRateLimited} {
			if errors.Is(err, s) != (s == want) {
				t.Errorf("status %d: errors.Is(%v) = %v", status, s, !(s == want))
			}
		}
	}
	e := &APIError{Status: 400, Code: "ActiveRequestAlreadyExists", Message: "in progress", RequestID: "r1", Kind: ErrConflict}
	if !errors.Is(e, ErrConflict) || e.Error() != "HTTP 400 ActiveRequestAlreadyExists: in progress (request r1)" {
		t.Errorf("kind override: %v", e)
	}
}

func TestDecodeGenericError(t *testing.T) {
	resp := &http.Response{StatusCode: 400}
	for body, want := range map[string]string{
		`{"error":"invalid_signature","message":"bad sig"}`: "HTTP 400 invalid_signature: bad sig",
		`{"code":"X1","message":"m"}`:                       "HTTP 400 X1: m",
		`{"error":"only"}`:                                  "HTTP 400: only",
		"plain text failure":                                "HTTP 400: plain text failure",
	} {
		if got := DecodeGenericError(resp, []byte(body)).Error(); got != want {
			t.Errorf("%s -> %q, want %q", body, got, want)
		}
	}
	if got := Truncate(strings.Repeat("é", 200), 11); got != "ééééé…" {
		t.Errorf("Truncate = %q", got)
	}
}

func TestSameOrigin(t *testing.T) {
	if err := SameOrigin("https://graph.microsoft.com", "https://graph.microsoft.com/v1.0/x?$skiptoken=1"); err != nil {
		t.Error(err)
	}
	for _, l := range []string{"https://evil.example/v1.0/x", "http://graph.microsoft.com/v1.0/x", "https://graph.microsoft.com.evil.example/"} {
		if SameOrigin("https://graph.microsoft.com", l) == nil {
			t.Errorf("%s accepted", l)
		}
	}
}

// tokenServer issues tokens t1, t2, ... with the given lifetime.
func tokenServer(t *testing.T, lifetime int, status *atomic.Int32) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := status.Load(); s != 0 {
			w.WriteHeader(int(s))
			json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "bad secret"})
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_secret") != "s3cret" || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("member_cid") != "abc" {
			t.Errorf("token form = %v", r.PostForm)
		}
		i := n.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("t%d", i), "expires_in": lifetime})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func newTS(t *testing.T, srv *httptest.Server, log *slog.Logger) *TokenSource {
	hc, err := egress.New(egress.Options{AllowPrivate: []string{"127.0.0.1"}, MaxRetries: egress.NoRetries})
	if err != nil {
		t.Fatal(err)
	}
	return NewTokenSource(hc, "test", ClientCredentials{TokenURL: srv.URL, ClientID: "id", ClientSecret: "s3cret", Extra: map[string][]string{"member_cid": {"abc"}}}, nil, log)
}

func TestTokenSourceCachesUntilExpiry(t *testing.T) {
	var status atomic.Int32
	srv, fetches := tokenServer(t, 3600, &status)
	var logs bytes.Buffer
	ts := newTS(t, srv, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ts.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if tok, err := ts.Token(ctx); err != nil || tok != "t1" {
			t.Fatalf("Token = %q, %v", tok, err)
		}
	}
	now = now.Add(58 * time.Minute) // within the last minute before expiry: refresh
	if tok, _ := ts.Token(ctx); tok != "t1" {
		t.Fatalf("token refreshed too early: %s", tok)
	}
	now = now.Add(90 * time.Second)
	if tok, _ := ts.Token(ctx); tok != "t2" {
		t.Fatalf("token not refreshed near expiry: %s", tok)
	}
	ts.Invalidate("t1") // a stale token's refusal does not drop the fresh one
	if tok, _ := ts.Token(ctx); tok != "t2" {
		t.Fatalf("stale invalidation dropped the fresh token")
	}
	ts.Invalidate("t2")
	if tok, _ := ts.Token(ctx); tok != "t3" || fetches.Load() != 3 {
		t.Fatalf("after invalidation: %s, %d fetches", tok, fetches.Load())
	}
	if strings.Contains(logs.String(), "t3") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("token or secret logged: %s", logs.String())
	}
}

func TestTokenSourceConcurrentSingleFetch(t *testing.T) {
	var status atomic.Int32
	srv, fetches := tokenServer(t, 3600, &status)
	ts := newTS(t, srv, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := ts.Token(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if fetches.Load() != 1 {
		t.Errorf("%d fetches for concurrent callers, want 1", fetches.Load())
	}
}

func TestTokenSourceRefused(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusBadRequest)
	srv, _ := tokenServer(t, 3600, &status)
	ts := newTS(t, srv, nil)
	_, err := ts.Token(context.Background())
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

func TestCallerRetriesOnceAfter401(t *testing.T) {
	var status atomic.Int32
	tokSrv, fetches := tokenServer(t, 3600, &status)
	ts := newTS(t, tokSrv, nil)
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") == "Bearer t1" { // the first token was revoked
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer api.Close()
	hc, _ := egress.New(egress.Options{AllowPrivate: []string{"127.0.0.1"}})
	c := &Caller{HTTP: hc, Service: "x", Authorize: ts.Authorize, Refresh: ts.Refresh}
	var out struct{ OK bool }
	if _, err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: api.URL}, &out); err != nil || !out.OK {
		t.Fatalf("Do = %+v, %v", out, err)
	}
	if calls.Load() != 2 || fetches.Load() != 2 {
		t.Errorf("calls %d fetches %d, want 2 and 2", calls.Load(), fetches.Load())
	}
	// A persistent 401 is final after one refresh.
	always := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message":"nope"}`))
	}))
	defer always.Close()
	calls.Store(0)
	if _, err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: always.URL}, nil); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("err = %v", err)
	}
}
