// Package telemetry holds vigil's Prometheus metrics: per-stage rates, latency, lag and queue
// depth, ingest counters, dead letters and drops. Every component records into one Metrics value
// that the composition root creates; /metrics serves its registry.
package telemetry

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-soc/vigil/internal/pipeline"
)

// Metrics is the set of vigil's metrics. Its methods are safe for concurrent use; a nil *Metrics
// records nothing, so components work without it in tests.
type Metrics struct {
	reg *prometheus.Registry

	IngestRecords  *prometheus.CounterVec   // source
	IngestRejected *prometheus.CounterVec   // source, reason
	Dropped        *prometheus.CounterVec   // source, reason
	StageRecords   *prometheus.CounterVec   // stage
	StageBatches   *prometheus.CounterVec   // stage
	StageErrors    *prometheus.CounterVec   // stage
	StageLatency   *prometheus.HistogramVec // stage
	DeadLetters    *prometheus.CounterVec   // stage
	HTTPRequests   *prometheus.CounterVec   // route, code
	HTTPLatency    *prometheus.HistogramVec // route
}

// New creates the metrics and registers them with a fresh registry, together with Go runtime and
// process metrics.
func New() *Metrics {
	m := &Metrics{
		reg:            prometheus.NewRegistry(),
		IngestRecords:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_records_total", Help: "Records accepted durably by ingest, by source."}, []string{"source"}),
		IngestRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_rejected_total", Help: "Submissions refused, by source and reason (malformed, full, too_large, auth)."}, []string{"source", "reason"}),
		Dropped:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_dropped_total", Help: "Records dropped on purpose (e.g. UDP syslog while the bus is full), by source and reason."}, []string{"source", "reason"}),
		StageRecords:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_stage_records_total", Help: "Records processed by a pipeline stage."}, []string{"stage"}),
		StageBatches:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_stage_batches_total", Help: "Batches processed by a pipeline stage."}, []string{"stage"}),
		StageErrors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_stage_errors_total", Help: "Batches a stage failed to process (they are retried)."}, []string{"stage"}),
		StageLatency:   prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_stage_batch_seconds", Help: "Time a stage takes per batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"stage"}),
		DeadLetters:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_dead_letters_total", Help: "Records set aside as dead letters, by stage."}, []string{"stage"}),
		HTTPRequests:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_http_requests_total", Help: "HTTP API requests by route and status code."}, []string{"route", "code"}),
		HTTPLatency:    prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_http_request_seconds", Help: "HTTP API latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
	}
	m.reg.MustRegister(m.IngestRecords, m.IngestRejected, m.Dropped, m.StageRecords, m.StageBatches, m.StageErrors,
		m.StageLatency, m.DeadLetters, m.HTTPRequests, m.HTTPLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Register adds another collector (for example a lag collector).
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(c)
}

// Stage records one processed batch of a stage.
func (m *Metrics) Stage(stage string, records int, took time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.StageErrors.WithLabelValues(stage).Inc()
		return
	}
	m.StageBatches.WithLabelValues(stage).Inc()
	m.StageRecords.WithLabelValues(stage).Add(float64(records))
	m.StageLatency.WithLabelValues(stage).Observe(took.Seconds())
}

// Ingested counts records accepted from a source.
func (m *Metrics) Ingested(source string, n int) {
	if m != nil {
		m.IngestRecords.WithLabelValues(source).Add(float64(n))
	}
}

// Rejected counts a refused submission.
func (m *Metrics) Rejected(source, reason string) {
	if m != nil {
		m.IngestRejected.WithLabelValues(source, reason).Inc()
	}
}

// Drop counts records dropped on purpose.
func (m *Metrics) Drop(source, reason string, n int) {
	if m != nil {
		m.Dropped.WithLabelValues(source, reason).Add(float64(n))
	}
}

// Dead counts dead letters.
func (m *Metrics) Dead(stage string, n int) {
	if m != nil {
		m.DeadLetters.WithLabelValues(stage).Add(float64(n))
	}
}

// LagSource reports consumer backlogs.
type LagSource interface {
	Lag(ctx context.Context) (map[string]pipeline.Lag, error)
}

// LagCollector exports every consumer's backlog as vigil_stage_lag and
// vigil_stage_ack_pending gauges, read from the bus at scrape time.
type LagCollector struct {
	Source LagSource
}

var (
	lagDesc        = prometheus.NewDesc("vigil_stage_lag", "Messages waiting for a stage's consumer.", []string{"consumer"}, nil)
	ackPendingDesc = prometheus.NewDesc("vigil_stage_ack_pending", "Messages delivered to a stage and not yet acknowledged (queue depth in flight).", []string{"consumer"}, nil)
)

// Describe implements prometheus.Collector.
func (c LagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- ackPendingDesc
}

// Collect implements prometheus.Collector.
func (c LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lag, err := c.Source.Lag(ctx)
	if err != nil {
		return
	}
	for name, l := range lag {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(l.Pending), name)
		ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, float64(l.AckPending), name)
	}
}
