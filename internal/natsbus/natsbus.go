// Package natsbus implements pipeline.Bus over NATS JetStream. It either starts an embedded,
// single-node NATS server in-process (the laptop default: JetStream file store under the data
// directory, fsync on every write so that an acknowledged write is on disk) or connects to an
// existing NATS cluster by URL. Both paths run the same stream and consumer code, so scaling out
// is a configuration change.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-soc/vigil/internal/pipeline"
)

var _ pipeline.Bus = (*Bus)(nil)

// Stream names.
const (
	StreamIngest = "VIGIL_INGEST" // raw records: work queue, bounded, discard-new (back-pressure)
	StreamStages = "VIGIL_STAGES" // stage-to-stage messages: interest retention
)

// Options configure the bus.
type Options struct {
	// URL of an existing NATS server or cluster; empty starts an embedded server.
	URL string
	// CredsFile for URL.
	CredsFile string
	// StoreDir is the embedded server's JetStream directory.
	StoreDir string
	// SyncAlways makes the embedded server fsync every write before acknowledging it. When
	// false, SyncInterval is the fsync period.
	SyncAlways   bool
	SyncInterval time.Duration
	// ListenAddr, when set, makes the embedded server accept NATS clients (other vigil workers)
	// on that address; by default it accepts in-process connections only.
	ListenAddr string
	// Replicas of the streams.
	Replicas int
	// MaxIngestBytes bounds the ingest stream; MaxStageBytes the stage stream.
	MaxIngestBytes int64
	MaxStageBytes  int64
	// MaxAge bounds how long stage messages are kept.
	MaxAge time.Duration
	Logger *slog.Logger
}

// Bus is a pipeline.Bus on JetStream.
type Bus struct {
	ns  *server.Server // nil when connected by URL
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger

	// mu guards consumers.
	mu        sync.Mutex
	consumers map[string]jetstream.Consumer
}

// Open starts or connects to NATS and makes sure the streams exist.
func Open(ctx context.Context, opt Options) (*Bus, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	b := &Bus{log: log.With("component", "natsbus"), consumers: map[string]jetstream.Consumer{}}
	var err error
	if opt.URL == "" {
		if b.ns, err = startEmbedded(opt); err != nil {
			return nil, err
		}
		b.nc, err = nats.Connect("", nats.InProcessServer(b.ns), nats.Name("vigil"), nats.MaxReconnects(-1))
	} else {
		nopts := []nats.Option{nats.Name("vigil"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
		if opt.CredsFile != "" {
			nopts = append(nopts, nats.UserCredentials(opt.CredsFile))
		}
		b.nc, err = nats.Connect(opt.URL, nopts...)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := b.ensureStreams(ctx, opt); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func startEmbedded(opt Options) (*server.Server, error) {
	so := &server.Options{
		ServerName:   "vigil",
		JetStream:    true,
		StoreDir:     opt.StoreDir,
		SyncAlways:   opt.SyncAlways,
		SyncInterval: opt.SyncInterval,
		NoSigs:       true,
		NoLog:        true,
		MaxPayload:   8 << 20,
	}
	if opt.ListenAddr == "" {
		so.DontListen = true
	} else {
		host, port, err := splitHostPort(opt.ListenAddr)
		if err != nil {
			return nil, err
		}
		so.Host, so.Port = host, port
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	return ns, nil
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("nats listen address %q: want host:port", addr)
	}
	var port int
	if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
		return "", 0, fmt.Errorf("nats listen address %q: bad port", addr)
	}
	return addr[:i], port, nil
}

func (b *Bus) ensureStreams(ctx context.Context, opt Options) error {
	replicas := max(opt.Replicas, 1)
	maxIngest := opt.MaxIngestBytes
	if maxIngest <= 0 {
		maxIngest = 1 << 30
	}
	maxStage := opt.MaxStageBytes
	if maxStage <= 0 {
		maxStage = 1 << 30
	}
	maxAge := opt.MaxAge
	if maxAge <= 0 {
		maxAge = 7 * 24 * time.Hour
	}
	streams := []jetstream.StreamConfig{
		{
			Name:        StreamIngest,
			Description: "vigil raw records awaiting normalization",
			Subjects:    []string{pipeline.SubjectRawEvents, pipeline.SubjectRawAlerts},
			Retention:   jetstream.WorkQueuePolicy,
			Discard:     jetstream.DiscardNew,
			MaxBytes:    maxIngest,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Duplicates:  10 * time.Minute,
		},
		{
			Name:        StreamStages,
			Description: "vigil messages between pipeline stages",
			Subjects:    []string{pipeline.SubjectEvents, pipeline.SubjectAlerts, pipeline.SubjectTriaged, pipeline.SubjectIncidents, pipeline.SubjectActions},
			Retention:   jetstream.InterestPolicy,
			Discard:     jetstream.DiscardNew,
			MaxBytes:    maxStage,
			MaxAge:      maxAge,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Duplicates:  10 * time.Minute,
		},
	}
	for _, sc := range streams {
		if _, err := b.js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("create stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

func streamOf(subject string) string {
	if strings.HasPrefix(subject, "vigil.raw.") {
		return StreamIngest
	}
	return StreamStages
}

// Publish stores data on subject and waits for the durable acknowledgement.
func (b *Bus) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	_, err := b.js.Publish(ctx, subject, data, opts...)
	if err != nil {
		if isFull(err) {
			return fmt.Errorf("publish to %s: %w: %v", subject, pipeline.ErrFull, err)
		}
		return fmt.Errorf("publish to %s: %w", subject, err)
	}
	return nil
}

func isFull(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		d := apiErr.Description
		return apiErr.ErrorCode == 10077 && (strings.Contains(d, "maximum bytes") || strings.Contains(d, "maximum messages"))
	}
	return strings.Contains(err.Error(), "maximum bytes exceeded") || strings.Contains(err.Error(), "maximum messages exceeded")
}

// MaxPayload returns the largest message the server accepts.
func (b *Bus) MaxPayload() int { return int(b.nc.MaxPayload()) }

// Close stops consumers, the connection and the embedded server.
func (b *Bus) Close() error {
	if b.nc != nil {
		_ = b.nc.Drain()
		b.nc.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
	return nil
}

// ClientURL returns the embedded server's client URL, or "" when it accepts in-process
// connections only or the bus is connected to an external server.
func (b *Bus) ClientURL() string {
	if b.ns == nil || b.ns.Addr() == nil {
		return ""
	}
	return b.ns.ClientURL()
}

// Lag returns every consumer's backlog.
func (b *Bus) Lag(ctx context.Context) (map[string]pipeline.Lag, error) {
	out := map[string]pipeline.Lag{}
	for _, stream := range []string{StreamIngest, StreamStages} {
		s, err := b.js.Stream(ctx, stream)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", stream, err)
		}
		lister := s.ListConsumers(ctx)
		for ci := range lister.Info() {
			out[ci.Name] = pipeline.Lag{Pending: ci.NumPending, AckPending: uint64(ci.NumAckPending)}
		}
		if err := lister.Err(); err != nil {
			return nil, fmt.Errorf("list consumers of %s: %w", stream, err)
		}
	}
	return out, nil
}
