// Package config is vigil's typed configuration: one YAML file decoded strictly (unknown keys are
// errors), defaults in code, and Validate returning every problem at once. Secrets are never
// written into the file itself: they are references to an environment variable or a file, and
// they redact themselves in logs.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of a vigil process.
type Config struct {
	// DataDir holds the embedded database, the embedded NATS store, the API token and the audit
	// keys.
	DataDir string `yaml:"data_dir"`
	// Listen is the HTTP API address.
	Listen string `yaml:"listen"`
	// Rules lists folders of Sigma rules.
	Rules []string `yaml:"rules"`

	API         API         `yaml:"api"`
	NATS        NATS        `yaml:"nats"`
	Store       Store       `yaml:"store"`
	Retention   Retention   `yaml:"retention"`
	Syslog      Syslog      `yaml:"syslog"`
	Ingest      Ingest      `yaml:"ingest"`
	Pipeline    Pipeline    `yaml:"pipeline"`
	Triage      Triage      `yaml:"triage"`
	UEBA        UEBA        `yaml:"ueba"`
	Correlate   Correlate   `yaml:"correlate"`
	Investigate Investigate `yaml:"investigate"`
	Assets      Assets      `yaml:"assets"`
	Respond     Respond     `yaml:"respond"`
	Connectors  Connectors  `yaml:"connectors"`
	LLM         LLM         `yaml:"llm"`
	Intel       Intel       `yaml:"intel"`
	Audit       Audit       `yaml:"audit"`
	Log         Log         `yaml:"log"`
}

// Respond configures the response stage.
type Respond struct {
	// Policy replaces the built-in policy: ordered rules whose first match decides.
	Policy []PolicyRule `yaml:"policy"`
	// MaxAttempts before a failing action is escalated to a human (4).
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the first retry delay; it doubles per attempt (2s).
	Backoff Duration `yaml:"backoff"`
}

// PolicyRule is one response policy rule: an expr-lang condition over the action's facts
// (action, target_kind, target, verdict, confidence, criticality, privileged, autonomy,
// requested_by, reversible) and the decision when it holds (automatic, approval, forbidden).
type PolicyRule struct {
	Name     string `yaml:"name"`
	When     string `yaml:"when"`
	Decision string `yaml:"decision"`
}

// Connectors configures the outside services vigil reads from and acts on. Each is optional.
type Connectors struct {
	// AllowPrivate lists host names, IPs or CIDRs the outbound client may reach although they
	// are internal addresses (an on-premises API); everything else internal is refused.
	AllowPrivate []string `yaml:"allow_private"`
	Graph        *Graph   `yaml:"graph"`
	Okta         *Okta    `yaml:"okta"`
	MDE          *MDE     `yaml:"mde"`
	Falcon       *Falcon  `yaml:"falcon"`
	// Webhooks receive signed notifications (actions awaiting approval, escalations, reports).
	Webhooks []Webhook `yaml:"webhooks"`
}

// Graph is Microsoft Graph (Entra ID, Exchange Online) with client credentials.
type Graph struct {
	TenantID     string `yaml:"tenant_id"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	BaseURL      string `yaml:"base_url"`
	Authority    string `yaml:"authority"`
	// UPNSuffix turns DOMAIN\user into user@suffix (e.g. example.com).
	UPNSuffix string `yaml:"upn_suffix"`
}

// Okta is an Okta org with an API token.
type Okta struct {
	BaseURL   string `yaml:"base_url"`
	APIToken  Secret `yaml:"api_token"`
	UPNSuffix string `yaml:"upn_suffix"`
}

// MDE is Microsoft Defender for Endpoint with client credentials.
type MDE struct {
	TenantID     string `yaml:"tenant_id"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	BaseURL      string `yaml:"base_url"`
	Authority    string `yaml:"authority"`
}

// Falcon is CrowdStrike Falcon with an API client.
type Falcon struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	BaseURL      string `yaml:"base_url"`
}

// Webhook is a signed outgoing notification.
type Webhook struct {
	Name   string `yaml:"name"`
	URL    Secret `yaml:"url"` // webhook URLs often carry a token
	Secret Secret `yaml:"secret"`
	// Events lists what is sent: action_pending, action_escalated, action_completed, report.
	Events []string `yaml:"events"`
}

// LLM configures the optional OpenAI-compatible model (OpenAI, Azure OpenAI, Ollama, vLLM).
type LLM struct {
	BaseURL string   `yaml:"base_url"`
	Model   string   `yaml:"model"`
	APIKey  Secret   `yaml:"api_key"`
	Timeout Duration `yaml:"timeout"`
	// IncidentTokens and DailyTokens cap what one incident and one day may spend.
	IncidentTokens int `yaml:"incident_tokens"`
	DailyTokens    int `yaml:"daily_tokens"`
}

// Intel configures the local threat-intelligence store.
type Intel struct {
	// Feeds are files or folders of STIX 2.1 bundles (.json), MISP events (.json) and CSV feeds.
	Feeds []string `yaml:"feeds"`
	// Reload is how often feeds are re-read (1h).
	Reload Duration `yaml:"reload"`
}

// Audit configures the audit trail.
type Audit struct {
	// CheckpointEvery is how many entries pass between signed checkpoints (100).
	CheckpointEvery int `yaml:"checkpoint_every"`
}

// Triage tunes the triage stage.
type Triage struct {
	// Threshold is the probability at or above which an alert is surfaced (0.5).
	Threshold float64 `yaml:"threshold"`
	// Warmup is how long baselines learn before novelty counts (24h).
	Warmup Duration `yaml:"warmup"`
	// Privileged lists privileged accounts; a trailing * matches a prefix.
	Privileged []string `yaml:"privileged"`
}

// UEBA tunes the behavioural detections of the detect stage (new-source sign-ins judged by
// hour, asset and history; impossible travel; spray or brute force then success; first-time
// privileged actions; rare process lineage). Asset criticality comes from assets, privileged
// accounts from triage.privileged.
type UEBA struct {
	// Disabled turns the behavioural detections off.
	Disabled bool `yaml:"disabled"`
	// Warmup is the history a user or host needs before its novelty is judged (72h).
	Warmup Duration `yaml:"warmup"`
	// PeerGroups assigns users (domain\name) and hosts to peer groups; others fall in a group
	// derived from their name (a user's domain, a host's name without its number).
	PeerGroups map[string]string `yaml:"peer_groups"`
	// SprayUsers (5) accounts failing from one address, or BruteFailures (8) failures of one
	// account, within FailWindow (30m) before a success are reported.
	SprayUsers    int      `yaml:"spray_users"`
	BruteFailures int      `yaml:"brute_failures"`
	FailWindow    Duration `yaml:"fail_window"`
	// TravelKmh is the speed above which two sign-ins are impossible travel (1000).
	TravelKmh float64 `yaml:"travel_kmh"`
	// LoginScore is the score at which a sign-in from a new source is reported (3).
	LoginScore float64 `yaml:"login_score"`
	// GeoIP is a MaxMind DB file (GeoLite2/GeoIP2 City or Country) that locates the public
	// addresses of stored events, and sign-ins whose events carry no country or coordinates.
	GeoIP string `yaml:"geoip"`
}

// Correlate tunes the correlation stage.
type Correlate struct {
	// GraphWindow is how much of the entity graph stays in memory; older edges are read from
	// the store (6h).
	GraphWindow Duration `yaml:"graph_window"`
	// GraphMaxEdges bounds the edges held in memory whatever their age (100000, about 40 MB);
	// older ones are read from the store.
	GraphMaxEdges int `yaml:"graph_max_edges"`
}

// Investigate tunes the investigation stage.
type Investigate struct {
	// Recipes are folders of extra investigation recipes (YAML).
	Recipes []string `yaml:"recipes"`
}

// Assets lists asset criticality by host name and the organisation's own address ranges.
type Assets struct {
	Critical     []string `yaml:"critical"`
	High         []string `yaml:"high"`
	InternalNets []string `yaml:"internal_nets"`
}

// API configures the HTTP API.
type API struct {
	// Token is the bearer token. When unset, VIGIL_API_TOKEN is used, else serve creates one in
	// DataDir/api-token.
	Token Secret `yaml:"token"`
	// MaxBodyBytes caps one request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// NATS configures the message bus between stages.
type NATS struct {
	// URL of an existing NATS cluster. Empty starts an embedded single-node server in-process.
	URL string `yaml:"url"`
	// Credentials is a NATS credentials file for URL.
	Credentials string `yaml:"credentials"`
	// Sync is the embedded server's fsync policy: "always" (every acknowledged write is on disk,
	// the default) or a duration such as "2m" (NATS's own default, which can lose acknowledged
	// writes on power loss).
	Sync string `yaml:"sync"`
	// Replicas for the streams vigil creates on a cluster.
	Replicas int `yaml:"replicas"`
	// MaxRawBytes bounds the raw-ingest stream. When it is full, ingestion applies
	// back-pressure (HTTP 503, TCP reads pause) instead of dropping.
	MaxRawBytes int64 `yaml:"max_raw_bytes"`
	// StreamMaxAge bounds how long the inter-stage streams keep messages.
	StreamMaxAge Duration `yaml:"stream_max_age"`
}

// Store configures state storage.
type Store struct {
	// Driver is "sqlite" (embedded, the default).
	Driver string `yaml:"driver"`
	// DSN for drivers that need one.
	DSN Secret `yaml:"dsn"`
	// Synchronous is SQLite's synchronous pragma: "full" (default; survives power loss) or
	// "normal" (survives process crashes only).
	Synchronous string `yaml:"synchronous"`
}

// Retention bounds stored events.
type Retention struct {
	EventsMaxAge   Duration `yaml:"events_max_age"`
	EventsMaxBytes int64    `yaml:"events_max_bytes"`
	Interval       Duration `yaml:"interval"`
}

// Syslog configures the syslog listeners. Empty addresses disable them.
type Syslog struct {
	UDP      string `yaml:"udp"`
	TCP      string `yaml:"tcp"`
	MaxFrame int    `yaml:"max_frame"`
}

// Ingest tunes batching of incoming records.
type Ingest struct {
	// BatchSize is the most records per pipeline message.
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long a listener waits to fill a batch.
	BatchWait Duration `yaml:"batch_wait"`
}

// Pipeline tunes the stages.
type Pipeline struct {
	// Workers per stage (normalize, detect, ...). Stages not named get 1.
	Workers map[string]int `yaml:"workers"`
	// MaxInflight bounds messages a stage holds unacknowledged.
	MaxInflight int `yaml:"max_inflight"`
	// MaxDeliver is how often a failing message is retried before it is dead-lettered.
	MaxDeliver int `yaml:"max_deliver"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		DataDir:   "./vigil-data",
		Listen:    "127.0.0.1:8750",
		API:       API{MaxBodyBytes: 64 << 20},
		NATS:      NATS{Sync: "always", Replicas: 1, MaxRawBytes: 2 << 30, StreamMaxAge: Duration(7 * 24 * time.Hour)},
		Store:     Store{Driver: "sqlite", Synchronous: "full"},
		Retention: Retention{EventsMaxAge: Duration(30 * 24 * time.Hour), EventsMaxBytes: 20 << 30, Interval: Duration(10 * time.Minute)},
		Syslog:    Syslog{MaxFrame: 64 << 10},
		Ingest:    Ingest{BatchSize: 1000, BatchWait: Duration(200 * time.Millisecond)},
		Pipeline:  Pipeline{MaxInflight: 64, MaxDeliver: 5, Workers: map[string]int{"normalize": 2, "investigate": 4, "respond": 2}},
		Correlate: Correlate{GraphWindow: Duration(6 * time.Hour)},
		UEBA:      UEBA{Warmup: Duration(72 * time.Hour), SprayUsers: 5, BruteFailures: 8, FailWindow: Duration(30 * time.Minute), TravelKmh: 1000, LoginScore: 3},
		Triage:    Triage{Threshold: 0.5, Warmup: Duration(24 * time.Hour), Privileged: []string{"administrator", "admin*", "root", "domain admins"}},
		Respond:   Respond{MaxAttempts: 4, Backoff: Duration(2 * time.Second)},
		LLM:       LLM{Timeout: Duration(60 * time.Second), IncidentTokens: 60000, DailyTokens: 2000000},
		Intel:     Intel{Reload: Duration(time.Hour)},
		Audit:     Audit{CheckpointEvery: 100},
		Log:       Log{Level: "info", Format: "text"},
	}
}

// Load reads the file at path over the defaults. Unknown keys are errors.
func Load(path string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := Decode(bytes.NewReader(b), &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Decode decodes YAML from r into cfg strictly.
func Decode(r io.Reader, cfg *Config) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate returns every problem in cfg joined into one error, or nil.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		add("data_dir: must not be empty")
	}
	if c.Listen == "" {
		add("listen: must not be empty")
	}
	switch c.NATS.Sync {
	case "always":
	default:
		if _, err := time.ParseDuration(c.NATS.Sync); err != nil {
			add("nats.sync: %q is neither \"always\" nor a duration", c.NATS.Sync)
		}
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		add("nats.replicas: %d is outside 1..5", c.NATS.Replicas)
	}
	if c.NATS.MaxRawBytes < 1<<20 {
		add("nats.max_raw_bytes: %d is below 1 MiB", c.NATS.MaxRawBytes)
	}
	switch c.Store.Driver {
	case "sqlite":
	default:
		add("store.driver: %q is not supported (sqlite)", c.Store.Driver)
	}
	switch c.Store.Synchronous {
	case "full", "normal":
	default:
		add("store.synchronous: %q must be full or normal", c.Store.Synchronous)
	}
	if c.Syslog.MaxFrame < 480 {
		add("syslog.max_frame: %d is below the 480 bytes RFC 5424 requires", c.Syslog.MaxFrame)
	}
	if c.Ingest.BatchSize < 1 || c.Ingest.BatchSize > 100000 {
		add("ingest.batch_size: %d is outside 1..100000", c.Ingest.BatchSize)
	}
	if c.Triage.Threshold <= 0 || c.Triage.Threshold >= 1 {
		add("triage.threshold: %v must be between 0 and 1", c.Triage.Threshold)
	}
	if c.UEBA.Warmup < 0 || c.UEBA.FailWindow < 0 || c.UEBA.SprayUsers < 0 || c.UEBA.BruteFailures < 0 || c.UEBA.TravelKmh < 0 || c.UEBA.LoginScore < 0 {
		add("ueba: warmup, fail_window, spray_users, brute_failures, travel_kmh and login_score must not be negative (0 means the default)")
	}
	if c.Correlate.GraphMaxEdges < 0 {
		add("correlate.graph_max_edges: must not be negative (0 means the default, 100000)")
	}
	if c.Pipeline.MaxInflight < 1 {
		add("pipeline.max_inflight: must be at least 1")
	}
	if c.Pipeline.MaxDeliver < 1 {
		add("pipeline.max_deliver: must be at least 1")
	}
	for name, n := range c.Pipeline.Workers {
		if n < 1 || n > 64 {
			add("pipeline.workers.%s: %d is outside 1..64", name, n)
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format: %q is not text or json", c.Log.Format)
	}
	if c.UEBA.GeoIP != "" {
		if st, err := os.Stat(c.UEBA.GeoIP); err != nil || st.IsDir() {
			add("ueba.geoip: %q is not a readable file", c.UEBA.GeoIP)
		}
	}
	for _, d := range c.Rules {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			add("rules: %q is not a readable folder", d)
		}
	}
	if err := c.API.Token.check(); err != nil {
		add("api.token: %v", err)
	}
	if err := c.Store.DSN.check(); err != nil {
		add("store.dsn: %v", err)
	}
	for i, r := range c.Respond.Policy {
		if r.Name == "" || r.When == "" {
			add("respond.policy[%d]: name and when are required", i)
		}
		switch r.Decision {
		case "automatic", "approval", "forbidden":
		default:
			add("respond.policy[%d] (%s): decision %q must be automatic, approval or forbidden", i, r.Name, r.Decision)
		}
	}
	if c.Respond.MaxAttempts < 1 || c.Respond.MaxAttempts > 20 {
		add("respond.max_attempts: %d is outside 1..20", c.Respond.MaxAttempts)
	}
	if c.Connectors.Graph != nil && (c.Connectors.Graph.TenantID == "" || c.Connectors.Graph.ClientID == "" || !c.Connectors.Graph.ClientSecret.IsSet()) {
		add("connectors.graph: tenant_id, client_id and client_secret are required")
	}
	if c.Connectors.MDE != nil && (c.Connectors.MDE.TenantID == "" || c.Connectors.MDE.ClientID == "" || !c.Connectors.MDE.ClientSecret.IsSet()) {
		add("connectors.mde: tenant_id, client_id and client_secret are required")
	}
	if c.Connectors.Okta != nil && (c.Connectors.Okta.BaseURL == "" || !c.Connectors.Okta.APIToken.IsSet()) {
		add("connectors.okta: base_url and api_token are required")
	}
	if c.Connectors.Falcon != nil && (c.Connectors.Falcon.ClientID == "" || !c.Connectors.Falcon.ClientSecret.IsSet()) {
		add("connectors.falcon: client_id and client_secret are required")
	}
	for i, w := range c.Connectors.Webhooks {
		if w.Name == "" || !w.URL.IsSet() || !w.Secret.IsSet() {
			add("connectors.webhooks[%d]: name, url and secret are required", i)
		}
	}
	if (c.LLM.BaseURL == "") != (c.LLM.Model == "") {
		add("llm: base_url and model go together")
	}
	if c.Audit.CheckpointEvery < 1 {
		add("audit.checkpoint_every: must be at least 1")
	}
	return errors.Join(errs...)
}

// SyncInterval returns the embedded NATS fsync setting: always, or the interval.
func (c *Config) SyncInterval() (always bool, every time.Duration) {
	if c.NATS.Sync == "always" {
		return true, 0
	}
	d, _ := time.ParseDuration(c.NATS.Sync)
	return false, d
}

// Path returns p resolved against the data directory unless it is absolute.
func (c *Config) Path(p ...string) string {
	return filepath.Join(append([]string{c.DataDir}, p...)...)
}

// Workers returns the worker count of a stage.
func (c *Config) Workers(stage string) int {
	if n := c.Pipeline.Workers[stage]; n > 0 {
		return n
	}
	return 1
}

// Level returns the slog level of the log configuration.
func (l Log) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
