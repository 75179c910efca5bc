package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/natsbus"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store/sqlite"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/telemetry"
)

const token = "test-token"

type fixture struct {
	srv   *httptest.Server
	bus   *natsbus.Bus
	store *sqlite.Store
}

func newFixture(t *testing.T, maxIngest int64) *fixture {
	t.Helper()
	dir := t.TempDir()
	bus, err := natsbus.Open(context.Background(), natsbus.Options{StoreDir: filepath.Join(dir, "nats"), SyncAlways: true, MaxIngestBytes: maxIngest})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Store: st, Bus: bus, Token: token, Metrics: telemetry.New(), MaxBodyBytes: 1 << 20, BatchSize: 2}
	f := &fixture{srv: httptest.NewServer(s.Handler()), bus: bus, store: st}
	t.Cleanup(func() { f.srv.Close(); bus.Close(); st.Close() })
	return f
}

func (f *fixture) do(t *testing.T, method, path, auth string, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// consumed returns the records published on subject so far, draining the stream.
func (f *fixture) consumed(t *testing.T, subject string, want int) []pipeline.RawRecord {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan pipeline.RawRecord, 1000)
	name := strings.ReplaceAll(subject, ".", "-")
	go f.bus.Consume(ctx, pipeline.ConsumerConfig{Name: name, Subject: subject, Batch: 10}, func(_ context.Context, msgs []pipeline.Msg) error {
		for _, m := range msgs {
			var b pipeline.RawBatch
			if err := b.UnmarshalBinary(m.Data); err != nil {
				return err
			}
			for _, r := range b.Records {
				got <- r
			}
		}
		return nil
	})
	var out []pipeline.RawRecord
	for len(out) < want {
		out = append(out, <-got)
	}
	return out
}

func TestAuth(t *testing.T) {
	f := newFixture(t, 0)
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/api/v1/stats", "", 401},
		{"/api/v1/stats", "Bearer wrong", 401},
		{"/api/v1/stats", "Basic " + token, 401},
		{"/api/v1/stats", "Bearer " + token, 200},
		{"/metrics", "", 401},
		{"/metrics", "Bearer " + token, 200},
		{"/healthz", "", 200},
		{"/services/collector/health", "Splunk " + token, 200},
		{"/services/collector/health", "", 401},
	} {
		if code, _ := f.do(t, "GET", c.path, c.auth, ""); code != c.want {
			t.Errorf("GET %s with %q = %d, want %d", c.path, c.auth, code, c.want)
		}
	}
}

func TestPostEventsAcceptsAndRejects(t *testing.T) {
	f := newFixture(t, 0)
	code, body := f.do(t, "POST", "/api/v1/events", "Bearer "+token, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n\"text line\"\n")
	if code != 202 || body["accepted"] != float64(4) {
		t.Fatalf("POST events = %d %v", code, body)
	}
	code, body = f.do(t, "POST", "/api/v1/events", "Bearer "+token, `[{"a":1},{"a":}]`)
	if code != 400 || body["record"] != float64(2) || !strings.Contains(body["error"].(string), "record 2") {
		t.Fatalf("malformed body = %d %v", code, body)
	}
	// Nothing of the malformed body was stored: only the 4 good records are on the bus.
	recs := f.consumed(t, pipeline.SubjectRawEvents, 4)
	if string(recs[3].Data) != `"text line"` {
		t.Fatalf("fourth record = %s", recs[3].Data)
	}
	// A retried body gets the same IDs (deduplicated later by the store)...
	code, _ = f.do(t, "POST", "/api/v1/events", "Bearer "+token, "{\"a\":1}\n")
	if code != 202 {
		t.Fatal(code)
	}
	again := f.consumed(t, pipeline.SubjectRawEvents, 1)
	if again[0].ID != recs[0].ID {
		t.Fatalf("same record, different IDs: %s vs %s", again[0].ID, recs[0].ID)
	}
	// ...unless the sender gives an idempotency key: then identical records in different
	// submissions stay distinct.
	f.do(t, "POST", "/api/v1/events", "Bearer "+token, "{\"a\":1}\n", "Idempotency-Key", "k-1")
	f.do(t, "POST", "/api/v1/events", "Bearer "+token, "{\"a\":1}\n", "Idempotency-Key", "k-2")
	keyed := f.consumed(t, pipeline.SubjectRawEvents, 2)
	if keyed[0].ID == keyed[1].ID || keyed[0].ID == recs[0].ID {
		t.Fatalf("idempotency keys ignored: %s %s", keyed[0].ID, keyed[1].ID)
	}
	// Bodies over the limit: 413.
	big := bytes.Repeat([]byte(`{"a":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`+"\n"), 30000)
	if code, _ := f.do(t, "POST", "/api/v1/events", "Bearer "+token, string(big)); code != 413 {
		t.Fatalf("oversize body = %d, want 413", code)
	}
}

func TestPostAlertsGoToTriageSubject(t *testing.T) {
	f := newFixture(t, 0)
	code, _ := f.do(t, "POST", "/api/v1/alerts?source=wazuh", "Bearer "+token, `{"rule":{"id":"5710","level":5,"description":"sshd: attempt to login using a non-existent user"},"agent":{"name":"web01"}}`)
	if code != 202 {
		t.Fatal(code)
	}
	recs := f.consumed(t, pipeline.SubjectRawAlerts, 1)
	if !strings.HasPrefix(recs[0].ID, event.PrefixAlert) {
		t.Fatalf("alert ID %s", recs[0].ID)
	}
}

func TestHEC(t *testing.T) {
	f := newFixture(t, 0)
	code, body := f.do(t, "POST", "/services/collector/event", "Splunk "+token, `{"event":{"msg":"a"},"sourcetype":"okta"}{"event":"line two","host":"h1"}`)
	if code != 200 || body["code"] != float64(0) || body["text"] != "Success" {
		t.Fatalf("HEC = %d %v", code, body)
	}
	code, body = f.do(t, "POST", "/services/collector/event", "Splunk "+token, `{"event":{"msg":"a"}}{"time":1}`)
	if code != 400 || body["code"] != float64(12) || body["invalid-event-number"] != float64(1) {
		t.Fatalf("HEC without event = %d %v", code, body)
	}
	code, body = f.do(t, "POST", "/services/collector/event", "Splunk "+token, "")
	if code != 400 || body["code"] != float64(5) {
		t.Fatalf("HEC empty = %d %v", code, body)
	}
	code, body = f.do(t, "POST", "/services/collector/raw?sourcetype=linux", "Splunk "+token, "line one\n\nline two\n")
	if code != 200 || body["accepted"] != float64(2) {
		t.Fatalf("HEC raw = %d %v", code, body)
	}
	code, body = f.do(t, "POST", "/services/collector/event", "Splunk nope", `{"event":"x"}`)
	if code != 401 || body["code"] != float64(4) {
		t.Fatalf("HEC bad token = %d %v", code, body)
	}
	recs := f.consumed(t, pipeline.SubjectRawEvents, 4)
	if !strings.Contains(string(recs[0].Data), `"sourcetype":"okta"`) || string(recs[3].Data) != "line two" {
		t.Fatalf("HEC records: %q / %q", recs[0].Data, recs[3].Data)
	}
}

func TestBackPressure503(t *testing.T) {
	f := newFixture(t, 1<<20)
	line := `{"pad":"` + strings.Repeat("x", 1000) + `"}` + "\n"
	var code int
	var body map[string]any
	for i := range 20 {
		code, body = f.do(t, "POST", "/api/v1/events", "Bearer "+token, strings.Repeat(fmt.Sprintf(`{"i":%d}`+"\n", i)+line, 200))
		if code != 202 {
			break
		}
	}
	if code != 503 || !strings.Contains(fmt.Sprint(body["error"]), "capacity") {
		t.Fatalf("full bus answered %d %v, want 503", code, body)
	}
}

func TestReadEndpoints(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	ev := storetest.Event("ev_read1", 1, "WS9", "zoe")
	if _, err := f.store.PutEvents(ctx, []event.Event{ev}, nil); err != nil {
		t.Fatal(err)
	}
	code, body := f.do(t, "GET", "/api/v1/events/ev_read1", "Bearer "+token, "")
	if code != 200 || body["id"] != "ev_read1" || body["raw"].(map[string]any)["n"] != float64(1) || body["normalized"].(map[string]any)["class"] != "authentication" {
		t.Fatalf("GET event = %d %v", code, body)
	}
	if code, _ := f.do(t, "GET", "/api/v1/events/ev_nope", "Bearer "+token, ""); code != 404 {
		t.Fatalf("GET missing event = %d", code)
	}
	code, body = f.do(t, "GET", "/api/v1/stats", "Bearer "+token, "")
	if code != 200 || body["events"] != float64(1) || body["dead_letters"] != float64(0) {
		t.Fatalf("stats = %v", body)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/events?host=ws9", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list []EventView
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list) != 1 || list[0].ID != "ev_read1" {
		t.Fatalf("search = %+v", list)
	}
	if code, _ := f.do(t, "GET", "/api/v1/events?from=yesterday", "Bearer "+token, ""); code != 400 {
		t.Fatalf("bad time = %d", code)
	}
}
