package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/ask"
	"github.com/vigil-soc/vigil/internal/query"
)

// Answer is a question, the query it was compiled to, and (unless only the query was asked
// for) that query's result.
type Answer struct {
	ask.Translation
	Result *query.Result `json:"result,omitempty"`
}

// askRequest is the body of POST /api/v1/ask.
type askRequest struct {
	Question string `json:"question"`
	// Run, default true, runs the query; false returns the query only.
	Run *bool `json:"run,omitempty"`
}

// hunt runs a hunting query (the text of the query language) against the stored events and,
// as detection_finding events, the alerts.
func (s *Server) hunt(ctx context.Context, text string) (*query.Result, error) {
	q, err := query.Parse(text)
	if err != nil {
		return nil, err
	}
	return query.Run(ctx, query.WithAlerts(s.Store, s.Store), q, query.Options{Now: time.Now().UTC()})
}

// search answers GET /api/v1/search?q=QUERY.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	text := r.URL.Query().Get("q")
	if strings.TrimSpace(text) == "" {
		s.writeError(w, r, BadRequest("missing the query: ?q=..."))
		return
	}
	res, err := s.hunt(r.Context(), text)
	if err != nil {
		s.writeQueryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// ask answers POST /api/v1/ask {"question": "...", "run": true}.
func (s *Server) ask(w http.ResponseWriter, r *http.Request) {
	var req askRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.writeError(w, r, BadRequest("body: %v (want {\"question\": \"...\"})", err))
		return
	}
	tr := s.Ask
	if tr == nil {
		tr = &ask.Translator{}
	}
	t, err := tr.Translate(r.Context(), req.Question)
	if err != nil {
		var qe *ask.QuestionError
		if errors.As(err, &qe) {
			err = BadRequest("%v", err)
		}
		s.writeError(w, r, err)
		return
	}
	ans := Answer{Translation: t}
	if req.Run == nil || *req.Run {
		if ans.Result, err = s.hunt(r.Context(), t.Query); err != nil {
			s.writeQueryError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

// writeQueryError answers a query that does not parse with 400, naming the column.
func (s *Server) writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": se.Error(), "column": se.Pos + 1})
		return
	}
	s.writeError(w, r, err)
}
