package connectortest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/demo"
)

// Webhook is a fake webhook receiver and custom JSON API.
//
// Paths: POST /hooks/{name} receives signed deliveries (X-Vigil-Signature, X-Vigil-Timestamp,
// X-Vigil-Delivery; 401 on a bad signature or a timestamp more than 5 minutes off, 200
// {"status":"duplicate"} for a delivery ID already received). With the API key in X-API-Key:
// GET /api/assets/{name} (a host of the organisation), GET /api/users/{name} and POST
// /api/ti/lookup ({"indicator": "..."}: the demo's attacker infrastructure is malicious).
type Webhook struct {
	*fake
	org    *demo.Org
	secret connector.Secret
	apiKey connector.Secret

	// mu guards deliveries and seen.
	mu         sync.Mutex
	deliveries []Delivery
	seen       map[string]bool
}

// Delivery is a verified delivery the fake received.
type Delivery struct {
	Hook      string
	ID        string
	Event     string
	Timestamp time.Time
	Body      []byte
	Envelope  struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Time time.Time       `json:"time"`
		Data json.RawMessage `json:"data"`
	}
}

// NewWebhook starts a webhook receiver fake.
func NewWebhook(org *demo.Org) *Webhook {
	wh := &Webhook{fake: newFake(), org: org, secret: connector.Secret("whsec_" + randHex(20)), apiKey: connector.Secret("key_" + randHex(16)), seen: map[string]bool{}}
	f := wh.fake
	f.authorized = func(r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/hooks/") {
			return true // deliveries authenticate by signature
		}
		return subtle.ConstantTimeCompare([]byte(r.Header.Get("X-API-Key")), []byte(wh.apiKey.Reveal())) == 1
	}
	f.unauthorized = func(w http.ResponseWriter) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized", "message": "missing or invalid API key"})
	}
	f.rateLimited = func(w http.ResponseWriter, wait time.Duration) {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate_limited", "message": "slow down"})
	}
	f.serverError = func(w http.ResponseWriter, status int) {
		writeJSON(w, status, map[string]any{"error": "server_error", "message": "the receiver is unavailable"})
	}
	m := f.mux
	m.HandleFunc("POST /hooks/{name}", wh.receive)
	m.HandleFunc("GET /api/assets/{name}", wh.asset)
	m.HandleFunc("GET /api/users/{name}", wh.user)
	m.HandleFunc("POST /api/ti/lookup", wh.lookup)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found", "message": "no route for " + r.URL.Path})
	})
	f.start()
	return wh
}

// Secret returns the HMAC key deliveries must be signed with.
func (wh *Webhook) Secret() connector.Secret { return wh.secret }

// APIKey returns the key the custom API expects in X-API-Key.
func (wh *Webhook) APIKey() connector.Secret { return wh.apiKey }

// HookURL returns the URL of a named hook.
func (wh *Webhook) HookURL(name string) string { return wh.URL() + "/hooks/" + name }

// Deliveries returns the verified deliveries received, oldest first (duplicates once).
func (wh *Webhook) Deliveries() []Delivery {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return append([]Delivery(nil), wh.deliveries...)
}

func (wh *Webhook) receive(w http.ResponseWriter, r *http.Request) {
	var body []byte
	body, _ = readAll(r)
	ts := r.Header.Get("X-Vigil-Timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(secs, 0)).Abs() > 5*time.Minute {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "stale_timestamp", "message": "timestamp missing or outside the 5 minute tolerance"})
		return
	}
	mac := hmac.New(sha256.New, []byte(wh.secret.Reveal()))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Vigil-Signature")), []byte(want)) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_signature", "message": "signature does not match the body"})
		return
	}
	d := Delivery{Hook: r.PathValue("name"), ID: r.Header.Get("X-Vigil-Delivery"), Event: r.Header.Get("X-Vigil-Event"), Timestamp: time.Unix(secs, 0), Body: body}
	if err := json.Unmarshal(body, &d.Envelope); err != nil || d.Envelope.ID != d.ID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad_request", "message": "body is not a delivery envelope"})
		return
	}
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if wh.seen[d.ID] {
		writeJSON(w, http.StatusOK, map[string]any{"status": "duplicate", "id": d.ID})
		return
	}
	wh.seen[d.ID] = true
	wh.deliveries = append(wh.deliveries, d)
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "id": d.ID})
}

func (wh *Webhook) asset(w http.ResponseWriter, r *http.Request) {
	for _, h := range wh.org.Hosts {
		if strings.EqualFold(h.Name, r.PathValue("name")) || strings.EqualFold(wh.org.FQDN(h.Name), r.PathValue("name")) {
			writeJSON(w, http.StatusOK, map[string]any{
				"name": h.Name, "fqdn": wh.org.FQDN(h.Name), "ip": h.IP, "os": h.OS, "role": h.Role,
				"criticality": h.Criticality, "owner": h.Owner, "edrAgentId": h.AgentID,
			})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found", "message": "asset not found"})
}

func (wh *Webhook) user(w http.ResponseWriter, r *http.Request) {
	for _, u := range wh.org.Users {
		if strings.EqualFold(u.Name, r.PathValue("name")) || strings.EqualFold(u.UPN, r.PathValue("name")) {
			writeJSON(w, http.StatusOK, map[string]any{
				"name": u.Name, "displayName": u.Display, "upn": u.UPN, "department": u.Dept, "primaryHost": u.Host,
				"admin": u.Admin, "country": u.Country, "officeIp": u.OfficeIP,
			})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found", "message": "user not found"})
}

var threatIntel = map[string][]string{
	demo.SprayIP:   {"password-spray", "botnet"},
	demo.ConsentIP: {"oauth-phishing"},
	demo.C2IP:      {"c2", "ransomware"},
	demo.C2Host:    {"c2", "ransomware"},
	demo.ForwardTo: {"exfiltration"},
}

func (wh *Webhook) lookup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Indicator string `json:"indicator"`
	}
	if err := decodeBody(r, &in); err != nil || in.Indicator == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad_request", "message": "indicator is required"})
		return
	}
	verdict, tags := "unknown", []string{}
	if t, ok := threatIntel[strings.ToLower(in.Indicator)]; ok {
		verdict, tags = "malicious", t
	}
	writeJSON(w, http.StatusOK, map[string]any{"indicator": in.Indicator, "verdict": verdict, "tags": tags, "source": "example-ti"})
}
