// Package app is vigil's composition root: it builds the store, the bus, the pipeline stages,
// the API and the listeners from the configuration, runs them together (the first failure stops
// all) and shuts them down in reverse order. It is the only package that knows the concrete
// implementations.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/vigil-soc/vigil/internal/ask"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-soc/vigil/internal/audit"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/correlate"
	"github.com/vigil-soc/vigil/internal/detect"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/geoip"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/investigate"
	"github.com/vigil-soc/vigil/internal/natsbus"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/respond"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/sqlite"
	"github.com/vigil-soc/vigil/internal/telemetry"
)

// ErrLocked is returned when another vigil process holds the data directory.
var ErrLocked = errors.New("data directory is in use by another vigil process")

// App is an opened vigil instance: its store, bus and metrics.
type App struct {
	Cfg     config.Config
	Log     *slog.Logger
	Store   store.Store
	Bus     *natsbus.Bus
	Metrics *telemetry.Metrics
	// Detector runs the Sigma rules in the detect stage.
	Detector *detect.Detector
	// stateful holds the triage and correlation engines.
	stateful *stageState
	// investigator investigates incidents; extraTools are connector-backed tools added to it.
	investigator *investigate.Investigator
	extraTools   []investigate.Tool
	planner      investigate.Planner
	// ask compiles plain-English questions into hunting queries (with the planner's model, when one is configured).
	ask         *ask.Translator
	injection   func(string) (bool, []string)
	intelLookup func(string, time.Time) []investigate.IntelMatch
	intel       *intel.Store
	// auditor appends to the audit trail (auditLog).
	auditor  func(ctx context.Context, actor, action, subject string, data any) error
	auditLog *audit.Log
	// responder runs response actions through respondConns; idpPrivileged asks the identity
	// provider whether an account is privileged; notify sends webhook notifications.
	responder     *respond.Engine
	respondConns  respond.Connectors
	idpPrivileged func(ctx context.Context, user string) (bool, error)
	notify        func(ctx context.Context, kind string, payload any)
	// graph is the entity graph's in-memory window.
	graph       *correlate.Graph
	graphWindow time.Duration

	lock     *os.File
	geo      *geoip.DB // locates sign-in addresses for the behavioural profiles (optional)
	demoStop func()
}

// Open locks the data directory and opens the store and the bus.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	a := &App{Cfg: cfg, Log: log, Metrics: telemetry.New(), graphWindow: cfg.Correlate.GraphWindow.Std()}
	a.graph = correlate.NewGraph(a.graphWindow)
	a.graph.SetMaxEdges(cfg.Correlate.GraphMaxEdges)
	lock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.lock = lock
	if a.demoStop, err = reviveDemo(&a.Cfg); err != nil {
		a.Close()
		return nil, err
	}
	behavior := uebaOptions(cfg)
	if cfg.UEBA.GeoIP != "" {
		if a.geo, err = geoip.Open(cfg.UEBA.GeoIP); err != nil {
			a.Close()
			return nil, err
		}
		behavior.Locate = a.locate
	}
	if a.Detector, err = detect.New(detect.Options{Dirs: cfg.Rules, Log: log, Behavior: behavior, NoBehavior: cfg.UEBA.Disabled}); err != nil {
		a.Close()
		return nil, err
	}
	st, err := sqlite.Open(ctx, cfg.Path("vigil.db"), sqlite.Options{Synchronous: cfg.Store.Synchronous})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Store = st
	if err := a.openAudit(ctx); err != nil {
		a.Close()
		return nil, err
	}
	always, every := cfg.SyncInterval()
	bus, err := natsbus.Open(ctx, natsbus.Options{
		URL:            cfg.NATS.URL,
		CredsFile:      cfg.NATS.Credentials,
		StoreDir:       cfg.Path("nats"),
		SyncAlways:     always,
		SyncInterval:   every,
		Replicas:       cfg.NATS.Replicas,
		MaxIngestBytes: cfg.NATS.MaxRawBytes,
		MaxStageBytes:  cfg.NATS.MaxRawBytes,
		MaxAge:         cfg.NATS.StreamMaxAge.Std(),
		Logger:         log,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Bus = bus
	a.openIntel(ctx)
	if err := a.openStageState(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.wireOutside(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if a.investigator, err = a.newInvestigator(); err != nil {
		a.Close()
		return nil, err
	}
	if a.responder, err = a.newResponder(); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.Metrics.Register(telemetry.LagCollector{Source: bus}); err != nil {
		a.Close()
		return nil, fmt.Errorf("register lag metrics: %w", err)
	}
	if err := a.Metrics.Register(socCollector{a}); err != nil {
		a.Close()
		return nil, fmt.Errorf("register SOC metrics: %w", err)
	}
	return a, nil
}

// locate is the behavioural profiles' GeoIP lookup.
func (a *App) locate(ip string) (string, float64, float64, bool) {
	loc, ok := a.geo.Lookup(ip)
	if !ok {
		return "", 0, 0, false
	}
	return loc.Country, loc.Lat, loc.Lon, loc.Geo
}

// enrichGeo fills in the country, city and coordinates of an event's public source and
// destination addresses from the GeoIP database, where the record left them out. Coordinates
// are only added when the record gave no country or the same one, never mixed with another
// country's.
func (a *App) enrichGeo(ev *event.Event) {
	if a.geo == nil {
		return
	}
	for _, ep := range []*event.Endpoint{ev.Src, ev.Dst} {
		if ep == nil || ep.IP == "" || (ep.Country != "" && (ep.Lat != 0 || ep.Lon != 0)) {
			continue
		}
		loc, ok := a.geo.Lookup(ep.IP)
		if !ok {
			continue
		}
		if ep.Country == "" {
			ep.Country = loc.Country
		} else if !strings.EqualFold(ep.Country, loc.Country) {
			continue
		}
		if ep.City == "" {
			ep.City = loc.City
		}
		if loc.Geo && ep.Lat == 0 && ep.Lon == 0 {
			ep.Lat, ep.Lon = loc.Lat, loc.Lon
		}
	}
}

// Close releases everything in reverse order of Open.
func (a *App) Close() error {
	var errs []error
	if a.stateful != nil && a.Store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, a.saveStageState(ctx), a.saveDetectState(ctx))
		cancel()
	}
	if a.Bus != nil {
		errs = append(errs, a.Bus.Close())
	}
	if a.auditLog != nil {
		errs = append(errs, a.auditLog.Close())
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	if a.demoStop != nil {
		a.demoStop()
	}
	if a.geo != nil {
		errs = append(errs, a.geo.Close())
	}
	if a.lock != nil {
		_ = syscall.Flock(int(a.lock.Fd()), syscall.LOCK_UN)
		errs = append(errs, a.lock.Close())
	}
	return errors.Join(errs...)
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "vigil.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
	}
	return f, nil
}

// APIToken returns the API token: from the configuration, else VIGIL_API_TOKEN, else the file
// DIR/api-token, which is created (mode 0600) when missing. created reports that.
func (a *App) APIToken() (token string, created bool, err error) {
	if a.Cfg.API.Token.IsSet() {
		t, err := a.Cfg.API.Token.Value()
		return t, false, err
	}
	if t := os.Getenv("VIGIL_API_TOKEN"); t != "" {
		return t, false, nil
	}
	p := a.Cfg.Path("api-token")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), false, nil
	}
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	t := hex.EncodeToString(raw[:])
	if err := os.WriteFile(p, []byte(t+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write API token: %w", err)
	}
	return t, true, nil
}

// Drain waits until every stage has consumed everything published so far.
func (a *App) Drain(ctx context.Context) error {
	quiet := 0
	for {
		lag, err := a.Bus.Lag(ctx)
		if err != nil {
			return err
		}
		busy := false
		for _, l := range lag {
			if l != (pipeline.Lag{}) {
				busy = true
				break
			}
		}
		if busy {
			quiet = 0
		} else if quiet++; quiet >= 3 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Millisecond):
		}
	}
}

// OpenStore opens only the store of a data directory, without taking its lock or starting the
// bus: for commands that read (incident lists, reports) while a server may be running.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if _, err := os.Stat(cfg.Path("vigil.db")); err != nil {
		return nil, fmt.Errorf("no vigil data in %s: %w", cfg.DataDir, err)
	}
	return sqlite.Open(ctx, cfg.Path("vigil.db"), sqlite.Options{Synchronous: cfg.Store.Synchronous, Readers: 2})
}
