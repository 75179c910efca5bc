package falcon_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/connector/falcon"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
)

type env struct {
	org   *demo.Org
	fake  *connectortest.Falcon
	c     *falcon.Client
	waits *connectortest.Waits
	logs  *connectortest.LogBuffer
}

func setup(t *testing.T, opts ...func(*egress.Options, *falcon.Config)) *env {
	t.Helper()
	org := demo.NewOrg()
	fake := connectortest.NewFalcon(org)
	t.Cleanup(fake.Close)
	e := &env{org: org, fake: fake, waits: &connectortest.Waits{}, logs: &connectortest.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eo := egress.Options{AllowPrivate: connectortest.AllowLoopback, Sleep: e.waits.Sleep, Logger: log}
	cred := fake.Credentials()
	cfg := falcon.Config{BaseURL: fake.URL(), ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Logger: log}
	for _, o := range opts {
		o(&eo, &cfg)
	}
	hc, err := egress.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	if e.c, err = falcon.New(cfg, hc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l := e.logs.String(); strings.Contains(l, cred.ClientSecret.Reveal()) || strings.Contains(l, "fk.") {
			t.Errorf("logs contain a secret or token:\n%s", l)
		}
	})
	return e
}

func TestDevices(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	ids, err := e.c.QueryDevices(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(e.org.Hosts) {
		t.Fatalf("%d devices, want %d", len(ids), len(e.org.Hosts))
	}
	if n := e.fake.Count(http.MethodGet, "/devices/queries/devices/v1"); n != 3 {
		t.Errorf("%d pages, want 3 (page size 4)", n)
	}
	capped, _ := e.c.QueryDevices(ctx, "", 5)
	if len(capped) != 5 {
		t.Errorf("max 5 gave %d", len(capped))
	}
	ds, err := e.c.GetDevices(ctx, ids...)
	if err != nil || len(ds) != len(ids) {
		t.Fatalf("GetDevices = %d, %v", len(ds), err)
	}
	servers, err := e.c.QueryDevices(ctx, "product_type_desc:'Server'+platform_name:'Windows'", 0)
	if err != nil || len(servers) != 2 {
		t.Errorf("Windows servers = %v, %v", servers, err)
	}

	dc := e.org.Host("dc01")
	d, err := e.c.DeviceByHostname(ctx, "dc01")
	if err != nil {
		t.Fatal(err)
	}
	if d.DeviceID != dc.AgentID || d.LocalIP != dc.IP || d.GroupingTag("Criticality") != "critical" || d.ProductTypeDesc != "Domain Controller" || d.Status != falcon.StatusNormal {
		t.Errorf("dc01 = %+v", d)
	}
	if _, err := e.c.DeviceByHostname(ctx, "ws99"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown host: %v", err)
	}
	_, err = e.c.GetDevice(ctx, "0000")
	var ae *connector.APIError
	if !errors.Is(err, connector.ErrNotFound) || !errors.As(err, &ae) || ae.RequestID == "" || !strings.Contains(err.Error(), "Resource not found") {
		t.Errorf("unknown device: %v", err)
	}
	if _, err := e.c.QueryDevices(ctx, "hostname", 0); err == nil || !strings.Contains(err.Error(), "Invalid filter") {
		t.Errorf("bad filter: %v", err)
	}
}

func TestContainVerifyLift(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	id := e.org.Host("srv-file01").AgentID
	for range 2 {
		if err := e.c.Contain(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	d, err := e.c.GetDevice(ctx, id)
	if err != nil || d.Status != falcon.StatusContainmentPending {
		t.Fatalf("first read = %+v, %v; want containment_pending", d, err)
	}
	d, err = e.c.WaitForStatus(ctx, id, falcon.StatusContained, time.Millisecond)
	if err != nil || !d.Contained() {
		t.Fatalf("after wait = %+v, %v", d, err)
	}
	if err := e.c.Contain(ctx, id); err != nil {
		t.Fatalf("containing a contained host: %v", err)
	}
	if st := e.fake.Status(id); st != falcon.StatusContained {
		t.Fatalf("status after a repeated contain = %s", st)
	}
	if err := e.c.LiftContainment(ctx, id); err != nil {
		t.Fatal(err)
	}
	if d, err := e.c.WaitForStatus(ctx, id, falcon.StatusNormal, time.Millisecond); err != nil || d.Contained() {
		t.Fatalf("after lift = %+v, %v", d, err)
	}
	if err := e.c.Contain(ctx, "0000"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("contain unknown: %v", err)
	}
}

func TestIOCs(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	const hash = "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"
	ioc := falcon.IOC{Type: "sha256", Value: hash, Action: "prevent", Severity: "high", Platforms: []string{"windows"}, AppliedGlobally: true, Description: "ransomware payload"}
	created, err := e.c.CreateIOC(ctx, ioc, "vigil incident 42")
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Value != hash || created.Action != "prevent" {
		t.Fatalf("created = %+v", created)
	}
	again, err := e.c.CreateIOC(ctx, ioc, "again")
	if err != nil || again.ID != created.ID {
		t.Fatalf("creating again = %+v, %v; want the existing IOC", again, err)
	}
	ioc.Action = "detect"
	if _, err := e.c.CreateIOC(ctx, ioc, "other action"); !errors.Is(err, connector.ErrConflict) {
		t.Errorf("same IOC, other action: %v, want ErrConflict", err)
	}
	found, err := e.c.FindIOCs(ctx, "sha256", hash)
	if err != nil || len(found) != 1 {
		t.Fatalf("read-back = %+v, %v", found, err)
	}
	for range 2 {
		if err := e.c.DeleteIOCs(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
	}
	if found, _ := e.c.FindIOCs(ctx, "sha256", hash); len(found) != 0 {
		t.Errorf("IOC left: %+v", found)
	}
	_, err = e.c.CreateIOC(ctx, falcon.IOC{Type: "ipv4", Value: demo.C2IP, Action: "prevent"}, "")
	if err == nil || !strings.Contains(err.Error(), "only valid for hash types") {
		t.Errorf("prevent on an address: %v", err)
	}
	if _, err := e.c.CreateIOC(ctx, falcon.IOC{Type: "ipv4", Value: demo.C2IP, Action: "detect", Severity: "high", AppliedGlobally: true}, ""); err != nil {
		t.Errorf("detect on an address: %v", err)
	}
}

func TestTokenRefreshAndRateLimit(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	if _, err := e.c.DeviceByHostname(ctx, "ws01"); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Count(http.MethodPost, "/oauth2/token"); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
	e.fake.RevokeTokens()
	if _, err := e.c.DeviceByHostname(ctx, "ws01"); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Count(http.MethodPost, "/oauth2/token"); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	e.fake.RateLimitNext(2, 2*time.Second)
	if _, err := e.c.DeviceByHostname(ctx, "ws01"); err != nil {
		t.Fatal(err)
	}
	if w := e.waits.All(); len(w) != 2 || w[0] < time.Second || w[0] > 3*time.Second {
		t.Errorf("waits = %v, want about 2s each from X-Ratelimit-Retryafter", w)
	}
	e.fake.RateLimitNext(100, time.Second)
	if _, err := e.c.DeviceByHostname(ctx, "ws01"); !errors.Is(err, connector.ErrRateLimited) || !strings.Contains(err.Error(), "API rate limit exceeded") {
		t.Errorf("err = %v", err)
	}
}

func TestBadCredentials(t *testing.T) {
	e := setup(t, func(_ *egress.Options, c *falcon.Config) { c.ClientSecret = "0123456789wrongwrongwrong" })
	_, err := e.c.QueryDevices(t.Context(), "", 0)
	if !errors.Is(err, connector.ErrUnauthorized) || !strings.Contains(err.Error(), "Failed to issue access token") || strings.Contains(err.Error(), "0123456789wrong") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(e.logs.String(), "0123456789wrong") {
		t.Error("secret in logs")
	}
}

func TestServerErrorRetried(t *testing.T) {
	e := setup(t, func(o *egress.Options, _ *falcon.Config) { o.MaxRetries = 2 })
	ctx := t.Context()
	if _, err := e.c.QueryDevices(ctx, "", 1); err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext(2, http.StatusInternalServerError)
	if _, err := e.c.QueryDevices(ctx, "", 1); err != nil {
		t.Fatalf("two 500s within the retry budget: %v", err)
	}
	e.fake.FailNext(3, http.StatusInternalServerError)
	if _, err := e.c.QueryDevices(ctx, "", 1); err == nil || !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "Internal Server Error") {
		t.Fatalf("err = %v", err)
	}
}

func TestQuote(t *testing.T) {
	if got := falcon.Quote(`it's`); got != `'it\'s'` {
		t.Errorf("Quote = %s", got)
	}
}
