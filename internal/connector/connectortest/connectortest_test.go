package connectortest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/demo"
)

func TestFilter(t *testing.T) {
	doc := map[string]any{
		"userPrincipalName": "Bob@example.com", "createdDateTime": "2025-03-01T13:00:00Z", "status": map[string]any{"errorCode": 50126.0},
		"isInteractive": true, "appDisplayName": "Mail Sync Pro",
		"targetResources": []any{map[string]any{"id": "u1", "type": "User"}, map[string]any{"id": "sp1"}},
		"target":          []any{map[string]any{"id": "00u1"}}, "actor": map[string]any{"alternateId": "bob@example.com"},
		"machineTags": []any{"criticality:high", "role:server"},
	}
	for _, tc := range []struct {
		f    string
		want bool
	}{
		{"userPrincipalName eq 'bob@example.com'", true},
		{"userPrincipalName ne 'bob@example.com'", false},
		{"createdDateTime ge 2025-03-01T00:00:00Z and createdDateTime le 2025-03-02T00:00:00Z", true},
		{"createdDateTime gt 2025-03-01T13:00:00Z", false},
		{"status/errorCode eq 50126", true},
		{"status/errorCode ne 0", true},
		{"isInteractive eq true", true},
		{"startswith(appDisplayName,'mail')", true},
		{"targetResources/any(t: t/id eq 'sp1')", true},
		{"targetResources/any(t: t/id eq 'nope')", false},
		{"machineTags/any(tag: tag eq 'role:server')", true},
		{"(userPrincipalName eq 'x' or appDisplayName eq 'Mail Sync Pro') and not (isInteractive eq false)", true},
		{`actor.alternateId sw "bob" and target.id eq "00u1"`, true},
		{`actor.alternateId co "example" and missing pr`, false},
		{`createdDateTime gt "2025-02-28T00:00:00.000Z"`, true},
		{"", true},
	} {
		f, err := parseFilter(tc.f)
		if err != nil {
			t.Errorf("parse %q: %v", tc.f, err)
			continue
		}
		if got := matches(f, doc); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.f, got, tc.want)
		}
	}
	for _, bad := range []string{"eq 'x'", "a eq", "a zz 'b'", "a eq 'unterminated", "(a eq 'b'", "a eq 'b' extra"} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFQL(t *testing.T) {
	doc := map[string]any{"hostname": "WS01", "platform_name": "Windows", "tags": []any{"FalconGroupingTags/Criticality-low"}}
	for _, tc := range []struct {
		f    string
		want bool
	}{
		{"hostname:'ws01'", true},
		{"hostname:'ws01'+platform_name:'Linux'", false},
		{"hostname:!'ws02'", true},
		{"hostname:['ws02','ws01']", true},
		{"hostname:*'ws*'", true},
		{"tags:'FalconGroupingTags/Criticality-low'", true},
		{"", true},
	} {
		terms, err := parseFQL(tc.f)
		if err != nil {
			t.Fatalf("%q: %v", tc.f, err)
		}
		if got := fqlMatch(terms, doc); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.f, got, tc.want)
		}
	}
	if _, err := parseFQL("hostname"); err == nil {
		t.Error("term without value parsed")
	}
}

func get(t *testing.T, u string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp, m
}

// Without credentials every fake answers with its service's own 401 body.
func TestStartServesUnauthorizedShapes(t *testing.T) {
	s := Start(demo.NewOrg(), WithDay(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)))
	defer s.Close()
	resp, m := get(t, s.Graph.URL()+"/v1.0/users/x")
	if resp.StatusCode != 401 || m["error"].(map[string]any)["code"] != "InvalidAuthenticationToken" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("graph 401 = %d %v", resp.StatusCode, m)
	}
	resp, m = get(t, s.Okta.URL()+"/api/v1/users/x", "Authorization", "SSWS wrong")
	if resp.StatusCode != 401 || m["errorCode"] != "E0000011" {
		t.Errorf("okta 401 = %d %v", resp.StatusCode, m)
	}
	resp, m = get(t, s.MDE.URL()+"/api/machines", "Authorization", "Bearer nope")
	if resp.StatusCode != 401 || m["error"].(map[string]any)["code"] != "Unauthorized" {
		t.Errorf("mde 401 = %d %v", resp.StatusCode, m)
	}
	resp, m = get(t, s.Falcon.URL()+"/devices/queries/devices/v1")
	if resp.StatusCode != 401 || m["errors"].([]any)[0].(map[string]any)["message"] != "access denied, invalid bearer token" {
		t.Errorf("falcon 401 = %d %v", resp.StatusCode, m)
	}
	resp, _ = get(t, s.Webhook.URL()+"/api/assets/dc01")
	if resp.StatusCode != 401 {
		t.Errorf("webhook API 401 = %d", resp.StatusCode)
	}
	if got := s.Graph.Requests(); len(got) != 1 || got[0].Status != 401 || got[0].Path != "/v1.0/users/x" {
		t.Errorf("recorded = %+v", got)
	}
	if got := s.Okta.Requests()[0].Header.Get("Authorization"); got != "SSWS [redacted]" {
		t.Errorf("recorded Authorization = %q", got)
	}
}

func TestTokenRequestSecretNotRecorded(t *testing.T) {
	g := NewGraph(demo.NewOrg())
	defer g.Close()
	c := g.Credentials()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret.Reveal()}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := http.PostForm(g.URL()+"/"+c.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok["token_type"] != "Bearer" || tok["access_token"] == "" {
		t.Fatalf("token = %d %v", resp.StatusCode, tok)
	}
	for _, r := range g.Requests() {
		if strings.Contains(string(r.Body), c.ClientSecret.Reveal()) {
			t.Error("the fake recorded the client secret")
		}
	}
	// The token works, and answers honour $select.
	resp2, m := get(t, g.URL()+"/v1.0/users/alice@example.com?$select=accountEnabled", "Authorization", "Bearer "+tok["access_token"].(string))
	if resp2.StatusCode != 200 || m["accountEnabled"] != true || m["displayName"] != nil {
		t.Errorf("user = %d %v", resp2.StatusCode, m)
	}
	resp2, m = get(t, g.URL()+"/v1.0/users/alice@example.com", "Authorization", "Bearer "+tok["access_token"].(string))
	if _, ok := m["accountEnabled"]; ok || m["displayName"] != "Alice Moreau" {
		t.Errorf("default properties = %v", m)
	}
}

func TestSeedTimeline(t *testing.T) {
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	s := newSeed(5, []Option{WithDay(day.Add(15 * time.Hour)), WithScenarioTimes(day.Add(9*time.Hour), time.Time{}, time.Time{}), WithPageSize(7)})
	if !s.day.Equal(day) || !s.spray.Equal(day.Add(9*time.Hour)) || !s.consent.Equal(day.Add(15*time.Hour)) || s.pageSize != 7 {
		t.Errorf("seed = %+v", s)
	}
}
