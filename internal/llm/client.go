package llm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPDoer sends one HTTP request. vigil's egress client satisfies it, and so does *http.Client.
// Do must honour the request's context: when it is cancelled, Do returns promptly with an error.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// Config configures a Client.
type Config struct {
	// BaseURL is the API root the path /chat/completions is appended to:
	// https://api.openai.com/v1, http://localhost:11434/v1 (Ollama), http://host:8000/v1 (vLLM),
	// http://host:8080/v1 (llama.cpp).
	BaseURL string
	// Model is sent as the request's model.
	Model string
	// APIKey is sent as "Authorization: Bearer <key>" when set.
	APIKey Secret
	// Timeout bounds one call, from sending to the end of the body. Default 60s.
	Timeout time.Duration
	// MaxTokens bounds the completion (max_tokens). Default 1024.
	MaxTokens int
	// Temperature is sent as is; 0, the default, asks for the most repeatable answers.
	Temperature float64
	// MaxResponseBytes bounds the body read from the server. Default 4 MiB.
	MaxResponseBytes int64

	// HTTP sends the requests; required (pass vigil's egress client).
	HTTP HTTPDoer
	// Budget, when set, is charged for every call; calls over budget fail with ErrBudget.
	Budget *Budget
	// Logger receives one debug line per call (ids, sizes, usage, never content or secrets).
	// Nil discards.
	Logger *slog.Logger
	// Now is the clock used to read Retry-After dates. Default time.Now.
	Now func() time.Time
}

// Defaults for Config fields left zero.
const (
	DefaultTimeout          = 60 * time.Second
	DefaultMaxTokens        = 1024
	DefaultMaxResponseBytes = 4 << 20
)

// Client calls an OpenAI-compatible chat-completions endpoint. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	log      *slog.Logger
}

// Completer is what Conversation needs from a Client; tests and the investigator may fake it.
type Completer interface {
	Complete(ctx context.Context, req *Request) (*Response, error)
}

var _ Completer = (*Client)(nil)

// New checks cfg, fills in defaults and returns a Client. Every problem is reported at once,
// wrapped in ErrConfig.
func New(cfg Config) (*Client, error) {
	var errs []error
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case cfg.BaseURL == "":
		errs = append(errs, errors.New("base URL is empty"))
	case err != nil:
		errs = append(errs, errors.New("base URL does not parse"))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("base URL %q: want http(s)://host[/path]", u.Redacted()))
	case u.User != nil:
		errs = append(errs, errors.New("base URL must not hold credentials; set the API key instead"))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, errors.New("base URL must not hold a query or fragment"))
	}
	if cfg.Model == "" {
		errs = append(errs, errors.New("model is empty"))
	}
	if cfg.HTTP == nil {
		errs = append(errs, errors.New("no HTTP client: pass the egress client"))
	}
	if cfg.Timeout < 0 || cfg.MaxTokens < 0 || cfg.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("timeout, max tokens and max response bytes must not be negative"))
	}
	if cfg.Temperature < 0 || cfg.Temperature > 2 {
		errs = append(errs, fmt.Errorf("temperature %v: want 0 to 2", cfg.Temperature))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		log:      log.With("component", "llm", "model", cfg.Model, "host", u.Host),
	}, nil
}

// EstimateTokens is the reservation Complete makes for req: its size in bytes divided by three
// (log text tokenizes worse than prose) plus the completion limit.
func EstimateTokens(body []byte, maxTokens int) int64 {
	return int64(len(body))/3 + int64(maxTokens)
}

// Complete asks for one chat completion. Before sending it checks the request (ErrBadRequest)
// and reserves its estimate in the budget (ErrBudget). It returns:
//   - the Response, nil error: a final answer (Message.Content) or valid calls to offered tools;
//   - the Response and a *ToolCallError: the model called a tool it was not offered
//     (ErrUnknownTool) or with arguments failing the tool's schema (ErrInvalidToolCall); none of
//     the calls may be executed, but the caller may tell the model (Conversation.AddToolError);
//   - nil and an error otherwise: *APIError (ErrRateLimited, ErrServer), ErrMalformedResponse,
//     or the context's error on timeout or cancellation.
//
// Errors never contain the API key or prompt content.
func (c *Client) Complete(ctx context.Context, req *Request) (*Response, error) {
	schemas, err := checkRequest(req)
	if err != nil {
		return nil, err
	}
	maxTokens := c.cfg.MaxTokens
	if req.MaxTokens > 0 {
		maxTokens = req.MaxTokens
	}
	body, err := encodeRequest(c.cfg.Model, c.cfg.Temperature, maxTokens, req)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrBadRequest, err)
	}
	var res *Reservation
	if c.cfg.Budget != nil {
		if res, err = c.cfg.Budget.Reserve(req.Incident, EstimateTokens(body, maxTokens)); err != nil {
			c.log.Debug("llm call refused", "incident", req.Incident, "err", err)
			return nil, err
		}
	}
	start := time.Now()
	resp, usage, err := c.send(ctx, body)
	if res != nil {
		switch {
		case usage != nil:
			res.Commit(*usage)
		case errors.Is(err, ErrMalformedResponse):
			res.Commit(Usage{}) // the server worked and said nothing of it: keep the estimate
		default:
			res.Release()
		}
	}
	attrs := []any{"incident", req.Incident, "request_bytes", len(body), "duration", time.Since(start)}
	if err != nil {
		c.log.Debug("llm call failed", append(attrs, "err", err)...)
		return nil, err
	}
	names := make([]string, len(resp.Message.ToolCalls))
	for i, tc := range resp.Message.ToolCalls {
		names[i] = sanitize(tc.Name, "", 64)
	}
	c.log.Debug("llm call", append(attrs, "finish_reason", resp.FinishReason, "tool_calls", names,
		"prompt_tokens", resp.Usage.PromptTokens, "completion_tokens", resp.Usage.CompletionTokens)...)
	for _, tc := range resp.Message.ToolCalls {
		if err := checkCall(tc, schemas); err != nil {
			return resp, err
		}
	}
	return resp, nil
}

// send posts body and decodes the answer. usage is non-nil when a completion was decoded.
func (c *Client) send(ctx context.Context, body []byte) (*Response, *Usage, error) {
	key, err := c.cfg.APIKey.reveal()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: build request: %w", ErrConfig, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", "vigil-llm")
	if key != "" {
		hreq.Header.Set("Authorization", "Bearer "+key)
	}
	hresp, err := c.cfg.HTTP.Do(hreq)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, fmt.Errorf("chat completion: %w", ctxErr)
		}
		return nil, nil, &transportError{msg: sanitize(err.Error(), key, 300), err: err}
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, fmt.Errorf("chat completion: read body: %w", ctxErr)
		}
		return nil, nil, &transportError{msg: "read body: " + sanitize(err.Error(), key, 300), err: err}
	}
	if hresp.StatusCode < 200 || hresp.StatusCode > 299 {
		e := &APIError{StatusCode: hresp.StatusCode, RetryAfter: retryAfter(hresp.Header, c.cfg.Now())}
		fillAPIError(e, data[:min(len(data), 64<<10)], key)
		return nil, nil, e
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return nil, nil, malformedf("body larger than %d bytes", c.cfg.MaxResponseBytes)
	}
	resp, err := decodeResponse(hresp.StatusCode, data, key)
	if err != nil {
		return nil, nil, err
	}
	return resp, &resp.Usage, nil
}

// transportError is a failure to reach the server or read its answer. Its text is cleaned of
// the API key; it unwraps to ErrUnavailable and to the HTTP client's error.
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string   { return "chat completion: " + e.msg }
func (e *transportError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// retryAfter reads retry-after-ms (OpenAI, Azure) or Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	const most = 24 * time.Hour
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms > 0 {
			return min(time.Duration(ms*float64(time.Millisecond)), most)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return min(time.Duration(s*float64(time.Second)), most)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), most)
	}
	return 0
}

// checkRequest checks req before anything is sent and returns the parsed schema of each tool.
func checkRequest(req *Request) (map[string]*schema, error) {
	if req == nil || len(req.Messages) == 0 {
		return nil, fmt.Errorf("%w: no messages", ErrBadRequest)
	}
	schemas := make(map[string]*schema, len(req.Tools))
	for _, t := range req.Tools {
		s, err := checkTool(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		if _, dup := schemas[t.Name]; dup {
			return nil, fmt.Errorf("%w: tool %q offered twice", ErrBadRequest, t.Name)
		}
		schemas[t.Name] = s
	}
	switch req.ToolChoice {
	case "", ToolChoiceAuto, ToolChoiceNone:
	case ToolChoiceRequired:
		if len(req.Tools) == 0 {
			return nil, fmt.Errorf("%w: tool choice %q without tools", ErrBadRequest, req.ToolChoice)
		}
	default:
		if schemas[req.ToolChoice] == nil {
			return nil, fmt.Errorf("%w: tool choice %q names no offered tool", ErrBadRequest, req.ToolChoice)
		}
	}
	for i, m := range req.Messages {
		switch m.Role {
		case RoleSystem, RoleUser, RoleAssistant:
		case RoleTool:
			if m.ToolCallID == "" {
				return nil, fmt.Errorf("%w: message %d: tool result without a tool call id", ErrBadRequest, i)
			}
		default:
			return nil, fmt.Errorf("%w: message %d: unknown role %q", ErrBadRequest, i, m.Role)
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_object", "text":
		case "json_schema":
			if !toolNameRE.MatchString(rf.Name) || len(rf.Schema) == 0 {
				return nil, fmt.Errorf("%w: json_schema response format needs a name and a schema", ErrBadRequest)
			}
		default:
			return nil, fmt.Errorf("%w: response format %q", ErrBadRequest, rf.Type)
		}
	}
	return schemas, nil
}

// checkCall validates one tool call against the tools offered.
func checkCall(tc ToolCall, schemas map[string]*schema) error {
	if tc.kind != "" {
		return toolCallError(tc, fmt.Sprintf("tool call of type %q", sanitize(tc.kind, "", 32)), ErrUnknownTool)
	}
	s, ok := schemas[tc.Name]
	if !ok {
		return toolCallError(tc, "no tool of that name was offered", ErrUnknownTool)
	}
	if tc.badJSON {
		return toolCallError(tc, "arguments are not valid JSON", ErrInvalidToolCall)
	}
	if err := s.validateJSON(tc.Arguments); err != nil {
		return toolCallError(tc, sanitize(err.Error(), "", 300), ErrInvalidToolCall)
	}
	return nil
}

func toolCallError(tc ToolCall, reason string, kind error) *ToolCallError {
	return &ToolCallError{ID: sanitize(tc.ID, "", 64), Name: sanitize(tc.Name, "", 64), Reason: reason, Err: kind}
}
