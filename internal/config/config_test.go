package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultValidates(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}

func TestDecodeStrict(t *testing.T) {
	c := Default()
	err := Decode(strings.NewReader("listen: 127.0.0.1:1\nlisten_typo: x\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "listen_typo") {
		t.Fatalf("unknown key not rejected: %v", err)
	}
}

func TestDecodeValues(t *testing.T) {
	c := Default()
	in := `
data_dir: /tmp/x
retention:
  events_max_age: 7d
nats:
  sync: 1s
pipeline:
  workers: {normalize: 2}
`
	if err := Decode(strings.NewReader(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/tmp/x" || c.Retention.EventsMaxAge.Std() != 7*24*time.Hour || c.Workers("normalize") != 2 || c.Workers("detect") != 1 {
		t.Fatalf("decoded %+v", c)
	}
	if always, every := c.SyncInterval(); always || every != time.Second {
		t.Fatalf("SyncInterval = %v %v", always, every)
	}
	if c.Listen != "127.0.0.1:8750" {
		t.Fatalf("default listen lost: %q", c.Listen)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.NATS.Sync = "sometimes"
	c.Store.Driver = "mongodb"
	c.Log.Level = "loud"
	c.UEBA.GeoIP = "/nonexistent/GeoLite2-City.mmdb"
	c.UEBA.TravelKmh = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"nats.sync", "store.driver", "log.level", `ueba.geoip: "/nonexistent/GeoLite2-City.mmdb"`, "travel_kmh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestSecretRefusesLiteralAndRedacts(t *testing.T) {
	c := Default()
	if err := Decode(strings.NewReader("api:\n  token: hunter2\n"), &c); err == nil {
		t.Fatal("literal secret accepted")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "tok")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = Default()
	if err := Decode(strings.NewReader("api:\n  token: {file: "+p+"}\n"), &c); err != nil {
		t.Fatal(err)
	}
	v, err := c.API.Token.Value()
	if err != nil || v != "s3cret" {
		t.Fatalf("Value = %q, %v", v, err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "token", c.API.Token)
	if strings.Contains(buf.String(), "s3cret") {
		t.Fatalf("secret leaked into log: %s", buf.String())
	}
	t.Setenv("VIGIL_TEST_SECRET", "abc")
	if v, err := (Secret{Env: "VIGIL_TEST_SECRET"}).Value(); err != nil || v != "abc" {
		t.Fatalf("env secret = %q, %v", v, err)
	}
	if _, err := (Secret{Env: "VIGIL_TEST_UNSET_XYZ"}).Value(); err == nil {
		t.Fatal("unset env secret resolved")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "2d": 48 * time.Hour, "1h30m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDuration("1.5d"); err == nil {
		t.Error("1.5d accepted")
	}
}
