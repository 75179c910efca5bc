package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
)

type env struct {
	fake  *connectortest.Webhook
	hc    *egress.Client
	waits *connectortest.Waits
	logs  *connectortest.LogBuffer
	log   *slog.Logger
}

func setup(t *testing.T) *env {
	t.Helper()
	fake := connectortest.NewWebhook(demo.NewOrg())
	t.Cleanup(fake.Close)
	e := &env{fake: fake, waits: &connectortest.Waits{}, logs: &connectortest.LogBuffer{}}
	e.log = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hc, err := egress.New(egress.Options{AllowPrivate: connectortest.AllowLoopback, Sleep: e.waits.Sleep, Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	e.hc = hc
	t.Cleanup(func() {
		l := e.logs.String()
		if strings.Contains(l, fake.Secret().Reveal()) || strings.Contains(l, fake.APIKey().Reveal()) || strings.Contains(l, "s3cr3t-path") {
			t.Errorf("logs contain a secret:\n%s", l)
		}
	})
	return e
}

func (e *env) client(t *testing.T, secret connector.Secret) *Client {
	t.Helper()
	c, err := New(Config{URL: e.fake.HookURL("s3cr3t-path"), Secret: secret, Logger: e.log}, e.hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type incident struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"`
	Entities []string `json:"entities"`
}

func TestSendSigned(t *testing.T) {
	e := setup(t)
	c := e.client(t, e.fake.Secret())
	in := incident{ID: "inc-42", Severity: "high", Entities: []string{"bob@example.com", demo.SprayIP}}
	d, err := c.Send(t.Context(), "incident.created", in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != http.StatusAccepted || !strings.HasPrefix(d.ID, "dlv_") {
		t.Errorf("delivery = %+v", d)
	}
	got := e.fake.Deliveries()
	if len(got) != 1 || got[0].ID != d.ID || got[0].Event != "incident.created" || got[0].Hook != "s3cr3t-path" {
		t.Fatalf("deliveries = %+v", got)
	}
	var back incident
	if err := json.Unmarshal(got[0].Envelope.Data, &back); err != nil || back.ID != "inc-42" || len(back.Entities) != 2 {
		t.Errorf("payload = %+v, %v", back, err)
	}
	// The receiver's view passes Verify.
	req := e.fake.Requests()[0]
	if err := Verify(e.fake.Secret(), req.Header, req.Body, time.Now(), 0); err != nil {
		t.Errorf("Verify of a real delivery: %v", err)
	}
	if req.Header.Get("Idempotency-Key") != d.ID {
		t.Errorf("Idempotency-Key = %q, want the delivery ID", req.Header.Get("Idempotency-Key"))
	}
}

func TestSendWrongSecretRefused(t *testing.T) {
	e := setup(t)
	c := e.client(t, "not-the-shared-secret")
	_, err := c.Send(t.Context(), "incident.created", incident{ID: "x"})
	if !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "signature does not match") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-path") || strings.Contains(err.Error(), "not-the-shared-secret") {
		t.Errorf("error leaks the URL path or the secret: %v", err)
	}
	if len(e.fake.Deliveries()) != 0 {
		t.Error("an unsigned delivery was accepted")
	}
}

func TestSendStaleTimestampRefused(t *testing.T) {
	e := setup(t)
	c := e.client(t, e.fake.Secret())
	c.now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	if _, err := c.Send(t.Context(), "incident.created", incident{ID: "x"}); !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "stale_timestamp") {
		t.Fatalf("err = %v", err)
	}
}

func TestSendRetriedWithSameDelivery(t *testing.T) {
	e := setup(t)
	c := e.client(t, e.fake.Secret())
	e.fake.FailNext(2, http.StatusServiceUnavailable)
	d, err := c.Send(t.Context(), "action.requested", map[string]string{"action": "isolate", "host": "ws01"})
	if err != nil {
		t.Fatal(err)
	}
	reqs := e.fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get(HeaderDelivery) != d.ID {
			t.Errorf("attempt carried delivery %q, want %q", r.Header.Get(HeaderDelivery), d.ID)
		}
	}
	if len(e.fake.Deliveries()) != 1 {
		t.Errorf("deliveries = %d, want 1", len(e.fake.Deliveries()))
	}
	// A replay of the same delivery is recognised by the receiver.
	r := reqs[2]
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.fake.HookURL("s3cr3t-path"), bytes.NewReader(r.Body))
	req.Header = r.Header.Clone()
	resp, err := e.hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || len(e.fake.Deliveries()) != 1 {
		t.Errorf("replay: %v, %v; deliveries %d", resp, err, len(e.fake.Deliveries()))
	}
}

func TestSendRateLimited(t *testing.T) {
	e := setup(t)
	c := e.client(t, e.fake.Secret())
	e.fake.RateLimitNext(1, 2*time.Second)
	if _, err := c.Send(t.Context(), "x", 1); err != nil {
		t.Fatal(err)
	}
	if w := e.waits.All(); len(w) != 1 || w[0] != 2*time.Second {
		t.Errorf("waits = %v", w)
	}
	e.fake.RateLimitNext(100, time.Second)
	if _, err := c.Send(t.Context(), "x", 1); !errors.Is(err, connector.ErrRateLimited) {
		t.Errorf("err = %v", err)
	}
}

func TestVerify(t *testing.T) {
	secret := connector.Secret("k")
	body := []byte(`{"id":"dlv_1"}`)
	now := time.Unix(1_750_000_000, 0)
	ts := "1750000000"
	good := http.Header{HeaderTimestamp: {ts}, HeaderSignature: {Sign(secret, ts, body)}}
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"good", good, body, now, nil},
		{"tampered body", good, []byte(`{"id":"dlv_2"}`), now, ErrBadSignature},
		{"other secret", http.Header{HeaderTimestamp: {ts}, HeaderSignature: {Sign("other", ts, body)}}, body, now, ErrBadSignature},
		{"no signature", http.Header{HeaderTimestamp: {ts}}, body, now, ErrBadSignature},
		{"old", good, body, now.Add(6 * time.Minute), ErrStale},
		{"future", good, body, now.Add(-6 * time.Minute), ErrStale},
		{"no timestamp", http.Header{HeaderSignature: {Sign(secret, ts, body)}}, body, now, ErrStale},
		{"timestamp swapped", http.Header{HeaderTimestamp: {"1750000001"}, HeaderSignature: {Sign(secret, ts, body)}}, body, now, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(secret, tc.h, tc.body, tc.now, 0); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEndpointCalls(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	ep, err := NewEndpoint(EndpointConfig{BaseURL: e.fake.URL() + "/api", AuthHeader: "X-API-Key", AuthValue: e.fake.APIKey(), Logger: e.log}, e.hc)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ep.Call(ctx, http.MethodGet, "assets/dc01", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var asset struct {
		Criticality, EdrAgentID string
	}
	if err := resp.Decode(&asset); err != nil || asset.Criticality != "critical" || asset.EdrAgentID != "mde-dc01-0001" {
		t.Errorf("asset = %+v, %v", asset, err)
	}
	resp, err = ep.Call(ctx, http.MethodPost, "/ti/lookup", nil, map[string]string{"indicator": demo.SprayIP})
	if err != nil {
		t.Fatal(err)
	}
	var ti struct{ Verdict string }
	if resp.Decode(&ti); ti.Verdict != "malicious" {
		t.Errorf("verdict = %q", ti.Verdict)
	}
	_, err = ep.Call(ctx, http.MethodGet, "assets/ws99", url.Values{"detail": {"full"}}, nil)
	if !errors.Is(err, connector.ErrNotFound) || !strings.Contains(err.Error(), "asset not found") {
		t.Errorf("unknown asset: %v", err)
	}
	for _, p := range []string{"../hooks/x", "https://evil.example/x", "//evil.example/x", "assets/x?y=1"} {
		if _, err := ep.Call(ctx, http.MethodGet, p, nil, nil); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	if _, err := ep.Call(ctx, http.MethodDelete, "assets/dc01", nil, nil); err == nil {
		t.Error("DELETE accepted")
	}

	bad, _ := NewEndpoint(EndpointConfig{BaseURL: e.fake.URL() + "/api", AuthHeader: "X-API-Key", AuthValue: "wrong-key-123"}, e.hc)
	if _, err := bad.Call(ctx, http.MethodGet, "users/bob", nil, nil); !errors.Is(err, connector.ErrUnauthorized) || strings.Contains(err.Error(), "wrong-key-123") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	hc, _ := egress.New(egress.Options{})
	for _, cfg := range []Config{{URL: "https://x.example/h"}, {URL: "ftp://x/h", Secret: "s"}, {URL: "/relative", Secret: "s"}} {
		if _, err := New(cfg, hc); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := NewEndpoint(EndpointConfig{BaseURL: "https://x.example", AuthHeader: "Authorization"}, hc); err == nil {
		t.Error("auth header without value accepted")
	}
}
