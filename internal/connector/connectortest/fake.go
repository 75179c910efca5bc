// Package connectortest has local HTTP servers that speak the real APIs of the services
// vigil's connectors call (Microsoft Graph and Entra ID's token endpoint, Okta, Defender for
// Endpoint, CrowdStrike Falcon, a webhook receiver): the same paths, authentication, paging,
// error bodies and rate-limit headers, with in-memory state seeded from the demo
// organisation. Actions change the state, so a response action can be verified by reading
// back; every request is recorded for assertions. Tests use them, and so does `vigil demo`
// through Start.
package connectortest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/demo"
)

// Request is one request a fake received. The Authorization header is reduced to its scheme
// and client secrets in token requests are redacted.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	Status int // the status the fake answered
}

// fake is the machinery every service fake shares: the HTTP server, the request log, the
// switches that make the next requests fail or be rate limited, and issued bearer tokens.
type fake struct {
	srv *httptest.Server
	mux *http.ServeMux

	// per service, set before the server starts
	authorized   func(r *http.Request) bool  // nil: every request is authorized
	unauthorized func(w http.ResponseWriter) // the service's 401
	rateLimited  func(w http.ResponseWriter, wait time.Duration)
	serverError  func(w http.ResponseWriter, status int) // the service's 5xx
	open         func(r *http.Request) bool              // token endpoints: no auth, no switches

	// mu guards the fields below.
	mu         sync.Mutex
	requests   []Request
	limitN     int
	limitWait  time.Duration
	failN      int
	failStatus int
	tokens     map[string]time.Time // issued bearer tokens and their expiry
	tokenTTL   time.Duration
}

func newFake() *fake {
	f := &fake{mux: http.NewServeMux(), tokens: map[string]time.Time{}, tokenTTL: time.Hour}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fake) start() { f.srv.Start() }

// URL returns the fake's base URL (http://127.0.0.1:port).
func (f *fake) URL() string { return "http://" + f.srv.Listener.Addr().String() }

// Close shuts the server down.
func (f *fake) Close() { f.srv.Close() }

// Requests returns the requests received so far, oldest first.
func (f *fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// ResetRequests forgets the recorded requests.
func (f *fake) ResetRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// RateLimitNext makes the next n API requests (token requests excepted) answer 429 with the
// service's rate-limit headers asking to wait wait.
func (f *fake) RateLimitNext(n int, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limitN, f.limitWait = n, wait
}

// FailNext makes the next n API requests answer status (a 5xx) with the service's error body.
func (f *fake) FailNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failStatus = n, status
}

// RevokeTokens invalidates every bearer token issued so far, as a token expiring or being
// revoked server-side would: the next API call answers 401 and the client must fetch anew.
func (f *fake) RevokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// SetTokenLifetime sets the lifetime (expires_in) of the tokens issued from now on.
func (f *fake) SetTokenLifetime(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenTTL = d
}

// issueToken returns a new bearer token and its lifetime.
func (f *fake) issueToken() (string, time.Duration) {
	tok := "fk." + randHex(24)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[tok] = time.Now().Add(f.tokenTTL)
	return tok, f.tokenTTL
}

func (f *fake) bearerValid(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	exp, ok := f.tokens[tok]
	return ok && time.Now().Before(exp)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: redactForm(body)}
	if a := rec.Header.Get("Authorization"); a != "" {
		scheme, _, _ := strings.Cut(a, " ")
		rec.Header.Set("Authorization", scheme+" [redacted]")
	}
	sw := &statusRecorder{ResponseWriter: w}
	defer func() {
		rec.Status = sw.status
		f.mu.Lock()
		f.requests = append(f.requests, rec)
		f.mu.Unlock()
	}()
	if f.open != nil && f.open(r) {
		f.mux.ServeHTTP(sw, r)
		return
	}
	f.mu.Lock()
	limited, wait := f.limitN > 0, f.limitWait
	if limited {
		f.limitN--
	}
	failed, failStatus := !limited && f.failN > 0, f.failStatus
	if failed {
		f.failN--
	}
	f.mu.Unlock()
	switch {
	case limited:
		f.rateLimited(sw, wait)
	case failed:
		f.serverError(sw, failStatus)
	case f.authorized != nil && !f.authorized(r):
		f.unauthorized(sw)
	default:
		f.mux.ServeHTTP(sw, r)
	}
}

// redactForm hides client_secret values in a form body and passwords in a JSON body.
func redactForm(body []byte) []byte {
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) && bytes.Contains(body, []byte(`"password"`)) {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return []byte("[unparsable body redacted]")
		}
		redactPasswords(m)
		b, _ := json.Marshal(m)
		return b
	}
	if !bytes.Contains(body, []byte("client_secret=")) {
		return body
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return []byte("[unparsable form redacted]")
	}
	v.Set("client_secret", "[redacted]")
	return []byte(v.Encode())
}

func redactPasswords(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			redactPasswords(x)
		case string:
			if k == "password" {
				m[k] = "[redacted]"
			}
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uuid returns a random RFC 4122 version 4 UUID.
func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// decodeBody decodes a JSON request body into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	return dec.Decode(v)
}

// Option tunes a fake's seed.
type Option func(*seed)

// seed is the timeline the fakes' state is drawn from.
type seed struct {
	day        time.Time // midnight UTC of the day of normal activity
	spray      time.Time
	consent    time.Time
	ransomware time.Time
	pageSize   int
	recs       []demo.Record // memoised by records
}

// WithDay seeds the activity of the given day (its date is used). The default is yesterday,
// so "the last 7 days" queries find it.
func WithDay(day time.Time) Option {
	return func(s *seed) {
		s.day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	}
}

// WithScenarioTimes sets when the password spray, OAuth consent and ransomware scenarios
// start (zero values keep the defaults: 13:00, 15:00 and 16:00 UTC on the day).
func WithScenarioTimes(spray, consent, ransomware time.Time) Option {
	return func(s *seed) {
		if !spray.IsZero() {
			s.spray = spray
		}
		if !consent.IsZero() {
			s.consent = consent
		}
		if !ransomware.IsZero() {
			s.ransomware = ransomware
		}
	}
}

// WithPageSize sets the largest page the fake serves (small by default, so paging is used).
func WithPageSize(n int) Option {
	return func(s *seed) { s.pageSize = n }
}

func newSeed(defaultPage int, opts []Option) *seed {
	now := time.Now().UTC()
	s := &seed{day: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1), pageSize: defaultPage}
	var set []Option
	for _, o := range opts {
		if o != nil {
			set = append(set, o)
		}
	}
	for _, o := range set {
		o(s)
	}
	if s.spray.IsZero() {
		s.spray = s.day.Add(13 * time.Hour)
	}
	if s.consent.IsZero() {
		s.consent = s.day.Add(15 * time.Hour)
	}
	if s.ransomware.IsZero() {
		s.ransomware = s.day.Add(16 * time.Hour)
	}
	if s.pageSize <= 0 {
		s.pageSize = defaultPage
	}
	return s
}

// records returns the day's background activity and the three scenarios' records.
func (s *seed) records(org *demo.Org) []demo.Record {
	if s.recs != nil {
		return s.recs
	}
	recs := org.Background(s.day)
	for name, at := range map[string]time.Time{demo.ScenarioPasswordSpray: s.spray, demo.ScenarioOAuthConsent: s.consent, demo.ScenarioRansomware: s.ransomware} {
		sc, err := org.Scenario(name, at)
		if err != nil {
			panic(err) // programmer error: the names are the demo's own
		}
		recs = append(recs, sc...)
	}
	demo.Sort(recs)
	s.recs = recs
	return recs
}

// recordsWithHint decodes the JSON records with the given hint.
func (s *seed) recordsWithHint(org *demo.Org, hint string) []map[string]any {
	var out []map[string]any
	for _, r := range s.records(org) {
		if r.Hint != hint || r.Format != "json" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(r.Data, &m); err != nil {
			panic(err) // programmer error: the demo emits valid JSON
		}
		out = append(out, m)
	}
	return out
}

// clone deep-copies a JSON-shaped value, so answers never alias the state.
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// ts formats a time as the Microsoft APIs do.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Count returns how many recorded requests had the method (empty: any) and path; a path
// ending in "*" matches as a prefix.
func (f *fake) Count(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if method != "" && r.Method != method {
			continue
		}
		if p, ok := strings.CutSuffix(path, "*"); ok {
			if strings.HasPrefix(r.Path, p) {
				n++
			}
		} else if r.Path == path {
			n++
		}
	}
	return n
}

func readAll(r *http.Request) ([]byte, error) { return io.ReadAll(r.Body) }
