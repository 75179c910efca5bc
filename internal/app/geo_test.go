package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/geoip/geoiptest"
	"github.com/vigil-soc/vigil/internal/store"
)

// TestImportedEventsAreGeolocated imports Okta sign-ins through the pipeline with a GeoIP
// database configured: a public source the record did not locate gets the database's country,
// city and coordinates; a source the record located in another country keeps the record's
// country and gets no coordinates; a private address gets nothing.
func TestImportedEventsAreGeolocated(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.UEBA.GeoIP = geoiptest.Write(t)
	ctx := context.Background()
	a := openTestApp(t, cfg)
	okta := func(uuid, ip, geo string) string {
		return `{"uuid":"` + uuid + `","published":"2026-03-03T10:00:00.000Z","eventType":"user.session.start","displayMessage":"User login to Okta",` +
			`"actor":{"id":"00u1","type":"User","alternateId":"ann@example.com"},"outcome":{"result":"SUCCESS"},` +
			`"client":{"ipAddress":"` + ip + `"` + geo + `}}` + "\n"
	}
	file := filepath.Join(t.TempDir(), "okta.json")
	body := okta("11111111-aaaa-11ee-9d8e-000000000001", "81.2.69.5", "") +
		okta("11111111-aaaa-11ee-9d8e-000000000002", "81.2.69.6", `,"geographicalContext":{"country":"France"}`) +
		okta("11111111-aaaa-11ee-9d8e-000000000003", "10.1.2.3", "")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Import(ctx, []string{file}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	evs, err := a.Store.SearchEvents(ctx, store.EventQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][3]any{}
	for _, ev := range evs {
		if ev.Src == nil {
			t.Fatalf("event %s has no source", ev.ID)
		}
		got[ev.Src.IP] = [3]any{ev.Src.Country, ev.Src.City, ev.Src.Lat}
	}
	want := map[string][3]any{
		"81.2.69.5": {"GB", "London", 51.5142},
		"81.2.69.6": {"France", "", 0.0},
		"10.1.2.3":  {"", "", 0.0},
	}
	for ip, w := range want {
		if got[ip] != w {
			t.Errorf("%s: got %v, want %v", ip, got[ip], w)
		}
	}
}
