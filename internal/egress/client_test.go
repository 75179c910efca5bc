package egress

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sleeps records the waits the client asked for and skips them.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func newClient(t *testing.T, opts Options) (*Client, *sleeps) {
	t.Helper()
	s := &sleeps{}
	if opts.Sleep == nil {
		opts.Sleep = s.sleep
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func get(t *testing.T, c *Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

func counting(h http.HandlerFunc) (http.Handler, *atomic.Int32) {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}), &n
}

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func TestLoopbackRefusedUnlessAllowed(t *testing.T) {
	h, hits := counting(ok)
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, _ := newClient(t, Options{})
	_, err := get(t, c, srv.URL+"/x?token=s3cr3t")
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("err = %v, want ErrBlocked", err)
	}
	var be *BlockedError
	if !errors.As(err, &be) || be.Reason != "loopback" {
		t.Fatalf("err = %#v, want a loopback BlockedError", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "/x") {
		t.Errorf("error leaks the path or query: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("server saw %d requests, want 0", hits.Load())
	}

	for _, allow := range [][]string{{"127.0.0.1"}, {"127.0.0.0/8"}, {"::1", "127.0.0.1/32"}} {
		c, _ := newClient(t, Options{AllowPrivate: allow})
		resp, err := get(t, c, srv.URL)
		if err != nil {
			t.Fatalf("allow %v: %v", allow, err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("allow %v: status %d", allow, resp.StatusCode)
		}
	}
}

func TestBlockedRanges(t *testing.T) {
	// None of these is dialled: the check happens before any socket connects.
	c, _ := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, MaxRetries: NoRetries})
	for _, tc := range []struct{ url, reason string }{
		{"http://10.1.2.3/", "private"},
		{"http://172.20.0.1/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://127.0.0.2/", "loopback"},
		{"http://[::1]/", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[fe80::1]/", "link-local"},
		{"http://100.64.0.1/", "CGNAT"},
		{"http://224.0.0.1/", "multicast"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://[fd00::1]/", "private"},
		{"http://[::ffff:10.0.0.1]/", "private"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://[64:ff9b::a9fe:a9fe]/", "link-local"}, // NAT64 of 169.254.169.254
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := get(t, c, tc.url)
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want BlockedError", err)
			}
			if be.Reason != tc.reason {
				t.Errorf("reason = %q, want %q", be.Reason, tc.reason)
			}
		})
	}
}

func TestClassifyPublic(t *testing.T) {
	for _, a := range []string{"8.8.8.8", "203.0.113.77", "2606:4700::1111", "172.32.0.1", "100.128.0.1", "64:ff9b::808:808"} {
		if r := classify(netip.MustParseAddr(a)); r != "" {
			t.Errorf("classify(%s) = %q, want public", a, r)
		}
	}
}

func TestBadAllowEntry(t *testing.T) {
	if _, err := New(Options{AllowPrivate: []string{"10.0.0.0/33"}}); err == nil {
		t.Fatal("want an error for a malformed CIDR")
	}
}

// fakeResolver answers every name with fixed addresses, like a rebinding DNS server would.
type fakeResolver struct{ addrs []netip.Addr }

func (f fakeResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return f.addrs, nil
}

func TestNameResolvingToLoopback(t *testing.T) {
	h, hits := counting(ok)
	srv := httptest.NewServer(h)
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	res := fakeResolver{[]netip.Addr{netip.MustParseAddr("127.0.0.1")}}

	c, _ := newClient(t, Options{Resolver: res})
	if _, err := get(t, c, "http://api.vendor.test"+port); !errors.Is(err, ErrBlocked) {
		t.Fatalf("name resolving to loopback: err = %v, want ErrBlocked", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the blocked name reached the server")
	}
	c, _ = newClient(t, Options{Resolver: res, AllowPrivate: []string{"API.vendor.test"}})
	if _, err := get(t, c, "http://api.vendor.test"+port); err != nil {
		t.Fatalf("allowed by name: %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("hits = %d, want 1", hits.Load())
	}
}

func TestRedirectToPrivateRefused(t *testing.T) {
	target, targetHits := counting(ok)
	inside := httptest.NewServer(target)
	defer inside.Close()
	insidePort := inside.URL[strings.LastIndex(inside.URL, ":"):]

	for _, tc := range []struct {
		name, location string
		want           error
	}{
		{"loopback not in allow-list", "http://127.0.0.2" + insidePort + "/", ErrBlocked},
		{"private", "http://10.9.8.7/admin", ErrBlocked},
		{"metadata", "http://169.254.169.254/latest/meta-data/", ErrBlocked},
		{"file scheme", "file:///etc/passwd", ErrRedirect},
		{"allowed", inside.URL + "/ok", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tc.location, http.StatusFound)
			}))
			defer front.Close()
			c, _ := newClient(t, Options{AllowPrivate: []string{"127.0.0.1/32"}, MaxRetries: NoRetries})
			before := targetHits.Load()
			resp, err := get(t, c, front.URL)
			if tc.want == nil {
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("resp %v, err %v", resp, err)
				}
				if targetHits.Load() != before+1 {
					t.Fatal("allowed redirect did not reach the target")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if targetHits.Load() != before {
				t.Fatal("refused redirect reached the target")
			}
		})
	}
}

func TestRedirectDowngradeRefused(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(ok))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL, http.StatusFound)
	}))
	defer tlsSrv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())
	tc := tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.RootCAs = pool
	c, _ := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, TLSConfig: tc})
	if _, err := get(t, c, tlsSrv.URL); !errors.Is(err, ErrRedirect) {
		t.Fatalf("err = %v, want ErrRedirect", err)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		want   time.Duration
	}{
		{"seconds", 429, http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"http date", 429, http.Header{"Retry-After": {now.Add(12 * time.Second).Format(http.TimeFormat)}}, 12 * time.Second},
		{"okta reset epoch", 429, http.Header{"X-Rate-Limit-Reset": {"1740830405"}}, 5 * time.Second},
		{"falcon retryafter epoch", 429, http.Header{"X-Ratelimit-Retryafter": {"1740830403"}}, 3 * time.Second},
		{"503 with retry-after", 503, http.Header{"Retry-After": {"2"}}, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					for k, v := range tc.header {
						w.Header()[k] = v
					}
					w.WriteHeader(tc.status)
					return
				}
				ok(w, r)
			}))
			defer srv.Close()
			c, s := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, Now: func() time.Time { return now }})
			// POST without an idempotency key: a 429 (or 503 with Retry-After) says the
			// server did not act, so it is still retried.
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(`{"a":1}`))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200 after the retry", resp.StatusCode)
			}
			if got := s.all(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("waits = %v, want [%v]", got, tc.want)
			}
		})
	}
}

func TestRetryAfterTooLongNotWaited(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	c, s := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, MaxRetryAfter: time.Minute})
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 || n.Load() != 1 || len(s.all()) != 0 {
		t.Fatalf("status %d, attempts %d, waits %v; want one 429 and no wait", resp.StatusCode, n.Load(), s.all())
	}
}

func TestRetriesStopAtLimit(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	c, s := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, MaxRetries: 2})
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 {
		t.Fatalf("status %d, want the last 429", resp.StatusCode)
	}
	if n.Load() != 3 || len(s.all()) != 2 {
		t.Fatalf("attempts %d waits %v, want 3 attempts and 2 waits", n.Load(), s.all())
	}
}

func TestServerErrorsRetriedOnlyWhenIdempotent(t *testing.T) {
	var n atomic.Int32
	var sawKey atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if _, ok := r.Header["Idempotency-Key"]; ok {
			sawKey.Store(true)
		}
		if b, _ := io.ReadAll(r.Body); string(b) != "payload" && r.Method != http.MethodGet {
			t.Errorf("attempt %d body = %q, want the replayed payload", n.Load(), b)
		}
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	c, s := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, MaxRetries: 3, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})

	cases := []struct {
		name     string
		method   string
		marker   bool
		attempts int32
	}{
		{"GET", http.MethodGet, false, 4},
		{"PUT", http.MethodPut, false, 4},
		{"POST", http.MethodPost, false, 1},
		{"POST with idempotency marker", http.MethodPost, true, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n.Store(0)
			var body io.Reader
			if tc.method != http.MethodGet {
				body = strings.NewReader("payload")
			}
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, srv.URL, body)
			if tc.marker {
				req.Header["Idempotency-Key"] = nil // marks without sending
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadGateway || n.Load() != tc.attempts {
				t.Fatalf("status %d attempts %d, want 502 after %d", resp.StatusCode, n.Load(), tc.attempts)
			}
		})
	}
	if sawKey.Load() {
		t.Error("a nil Idempotency-Key marker was sent on the wire")
	}
	// Backoff: each wait within [step/2, step], steps 100ms, 200ms, 300ms (capped).
	steps := []time.Duration{100, 200, 300}
	for i, d := range s.all()[:3] {
		hi := steps[i] * time.Millisecond
		if d < hi/2 || d > hi {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, hi/2, hi)
		}
	}
}

func TestConnectionErrorsRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	url := srv.URL
	srv.Close() // nothing listens: connection refused
	c, s := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, MaxRetries: 2})
	if _, err := get(t, c, url); err == nil {
		t.Fatal("want an error")
	}
	if len(s.all()) != 2 {
		t.Fatalf("waits %v, want 2 retries", s.all())
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader("x"))
	s.d = nil
	if _, err := c.Do(req); err == nil {
		t.Fatal("want an error")
	}
	if len(s.all()) != 0 {
		t.Fatalf("POST retried after a connection error: waits %v", s.all())
	}
}

func TestResponseSizeCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2048)))
	}))
	defer srv.Close()
	c, s := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, MaxResponseBytes: 1024})
	if _, err := get(t, c, srv.URL); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}
	if len(s.all()) != 0 {
		t.Fatal("an oversized response was retried")
	}
	c, _ = newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, MaxResponseBytes: 2048})
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); len(b) != 2048 {
		t.Fatalf("body %d bytes, want 2048", len(b))
	}
}

func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c, _ := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}, Timeout: 50 * time.Millisecond, MaxRetries: NoRetries})
	start := time.Now()
	_, err := get(t, c, srv.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the attempt timeout did not bound the call")
	}
}

func TestContextCancelledDuringWait(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	c, err := New(Options{AllowPrivate: []string{"127.0.0.1"}}) // real sleeps
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the wait ignored the context")
	}
}

func TestUserAgent(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.UserAgent()
	}))
	defer srv.Close()
	c, _ := newClient(t, Options{AllowPrivate: []string{"127.0.0.1"}})
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatal(err)
	}
	if ua := <-got; ua != DefaultUserAgent {
		t.Errorf("user agent %q, want %q", ua, DefaultUserAgent)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	req.Header.Set("User-Agent", "custom/1")
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if ua := <-got; ua != "custom/1" {
		t.Errorf("user agent %q, want the request's own", ua)
	}
}

func TestRejectsOtherSchemes(t *testing.T) {
	c, _ := newClient(t, Options{})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "ftp://example.com/x", nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("want an error for ftp")
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{}, 0, false},
		{http.Header{"Retry-After": {"0"}}, 0, true},
		{http.Header{"Retry-After": {"junk"}}, 0, false},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0, true},
		{http.Header{"X-Ratelimit-Reset": {"30"}}, 30 * time.Second, true},
	} {
		d, ok := RetryAfter(tc.h, now)
		if d != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%v) = %v, %v; want %v, %v", tc.h, d, ok, tc.want, tc.ok)
		}
	}
}
