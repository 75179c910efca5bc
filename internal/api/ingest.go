package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/pipeline"
)

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

func (s *Server) batchSize() int {
	if s.BatchSize > 0 {
		return s.BatchSize
	}
	return 1000
}

// publishAll publishes every batch and returns once all are durable.
func (s *Server) publishAll(ctx context.Context, subject string, batches []*pipeline.RawBatch) error {
	for _, b := range batches {
		if err := ingest.Publish(ctx, s.Bus, subject, b); err != nil {
			return err
		}
	}
	return nil
}

// postEvents accepts raw telemetry: NDJSON, a JSON array, or concatenated JSON records.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	s.ingestJSON(w, r, pipeline.SubjectRawEvents, event.PrefixEvent)
}

// postAlerts accepts alerts from other tools: generic JSON, Wazuh alerts.json lines, Suricata
// EVE alerts. ?source=wazuh|suricata|... is passed on as a hint.
func (s *Server) postAlerts(w http.ResponseWriter, r *http.Request) {
	s.ingestJSON(w, r, pipeline.SubjectRawAlerts, event.PrefixAlert)
}

func (s *Server) ingestJSON(w http.ResponseWriter, r *http.Request, subject, prefix string) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hint := r.URL.Query().Get("source")
	if hint == "" {
		hint = r.Header.Get("X-Vigil-Source")
	}
	batches, n, err := ingest.SplitBody(body, ingest.Submission{Source: "http", Format: ingest.FormatJSON, Hint: hint, Peer: r.RemoteAddr, Prefix: prefix, BatchSize: s.batchSize(), MaxBytes: ingest.BatchBytes(s.Bus.MaxPayload()), Key: r.Header.Get("Idempotency-Key")})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.publishAll(r.Context(), subject, batches); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.Metrics.Ingested("http", n)
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": n})
}

// postHEC is the Splunk HTTP Event Collector endpoint: concatenated JSON envelopes
// {"event": ..., "time": ..., "host": ..., "source": ..., "sourcetype": ..., "fields": {...}}.
func (s *Server) postHEC(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"text": "No data", "code": 5})
		return
	}
	batches, n, err := ingest.SplitBody(body, ingest.Submission{Source: "hec", Format: ingest.FormatHEC, Hint: r.URL.Query().Get("sourcetype"), Peer: r.RemoteAddr, Prefix: event.PrefixEvent, BatchSize: s.batchSize(), MaxBytes: ingest.BatchBytes(s.Bus.MaxPayload()), Key: r.Header.Get("Idempotency-Key")})
	if err != nil {
		s.hecError(w, r, err)
		return
	}
	if err := s.publishAll(r.Context(), pipeline.SubjectRawEvents, batches); err != nil {
		s.hecError(w, r, err)
		return
	}
	s.Metrics.Ingested("hec", n)
	writeJSON(w, http.StatusOK, map[string]any{"text": "Success", "code": 0, "accepted": n})
}

// postHECRaw is HEC's raw endpoint: one event per line; ?sourcetype= names the format.
func (s *Server) postHECRaw(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	batches, n, err := ingest.SplitLines(body, ingest.Submission{Source: "hec", Format: ingest.FormatSyslog, Hint: r.URL.Query().Get("sourcetype"), Peer: r.RemoteAddr, Prefix: event.PrefixEvent, BatchSize: s.batchSize(), MaxBytes: ingest.BatchBytes(s.Bus.MaxPayload()), Key: r.Header.Get("Idempotency-Key")})
	if err == nil && n == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"text": "No data", "code": 5})
		return
	}
	if err == nil {
		err = s.publishAll(r.Context(), pipeline.SubjectRawEvents, batches)
	}
	if err != nil {
		s.hecError(w, r, err)
		return
	}
	s.Metrics.Ingested("hec", n)
	writeJSON(w, http.StatusOK, map[string]any{"text": "Success", "code": 0, "accepted": n})
}

// hecError answers in HEC's own error shape, keeping the record number.
func (s *Server) hecError(w http.ResponseWriter, r *http.Request, err error) {
	var rec *ingest.RecordError
	switch {
	case errors.As(err, &rec):
		s.Metrics.Rejected("hec", "malformed")
		code, text := 6, "Invalid data format"
		switch {
		case errors.Is(err, ingest.ErrHECNoEvent):
			code, text = 12, "Event field is required"
		case errors.Is(err, ingest.ErrHECBlankEvent):
			code, text = 13, "Event field cannot be blank"
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"text": text, "code": code, "invalid-event-number": rec.Record - 1, "error": rec.Error(), "record": rec.Record})
	case errors.Is(err, pipeline.ErrFull):
		s.Metrics.Rejected("hec", "full")
		s.Log.Warn("HEC ingest refused with 503: the bus is at its limit", "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"text": "Server is busy", "code": 9})
	default:
		s.writeError(w, r, err)
	}
}

func (s *Server) hecHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"text": "HEC is healthy", "code": 17})
}
