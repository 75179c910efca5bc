// Package llmtest runs a scripted OpenAI-compatible chat-completions server on a loopback port,
// for testing package llm and its callers without a model. The server speaks the real protocol:
// it decodes each POST {base}/chat/completions strictly (unknown fields, streaming, a tool result
// answering no pending call and a wrong API key are refused with OpenAI-style error bodies),
// records every request, and answers from a script of Replies: tool calls, final answers, and
// the failures a real endpoint produces (hangs, 500, 429 with Retry-After, broken JSON, empty
// choices, arguments that are not JSON, calls to tools that were not offered). ObeyInjection
// plays a model that falls for prompt injection, to show that the caller's defences, not the
// model's judgement, keep it safe.
//
// The package does not import package llm: it checks the wire format independently.
package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
)

// ChatRequest is a chat-completions request as the server decoded it.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []ChatMessage   `json:"messages"`
	Tools               []ChatTool      `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	// Other parameters OpenAI accepts; decoded so that they are not refused as unknown.
	TopP              json.RawMessage `json:"top_p,omitempty"`
	N                 json.RawMessage `json:"n,omitempty"`
	Stop              json.RawMessage `json:"stop,omitempty"`
	Seed              json.RawMessage `json:"seed,omitempty"`
	User              json.RawMessage `json:"user,omitempty"`
	ParallelToolCalls json.RawMessage `json:"parallel_tool_calls,omitempty"`
	FrequencyPenalty  json.RawMessage `json:"frequency_penalty,omitempty"`
	PresencePenalty   json.RawMessage `json:"presence_penalty,omitempty"`
	StreamOptions     json.RawMessage `json:"stream_options,omitempty"`
}

// ChatMessage is one message of a request. Content is a JSON string, null, or an array of parts.
type ChatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name,omitempty"`
	ToolCalls  []ChatToolCall  `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

// Text returns the message's text content.
func (m ChatMessage) Text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(m.Content, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// ChatToolCall is a tool call inside an assistant message of a request.
type ChatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// ChatTool is a tool offered in a request.
type ChatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
		Strict      json.RawMessage `json:"strict,omitempty"`
	} `json:"function"`
}

// Recorded is one request the server received.
type Recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	// Chat is the decoded request; zero when the body did not decode.
	Chat ChatRequest
	// Refused is the status the server answered without consulting the script (protocol errors,
	// wrong key), or 0.
	Refused int
}

// Text returns everything in the request a model would read: every message's content, every
// tool call's arguments, and every tool's name, description and schema.
func (r Recorded) Text() string {
	var b strings.Builder
	for _, m := range r.Chat.Messages {
		b.WriteString(m.Text())
		b.WriteByte('\n')
		for _, tc := range m.ToolCalls {
			b.WriteString(tc.Function.Name)
			b.Write(tc.Function.Arguments)
			b.WriteByte('\n')
		}
	}
	for _, t := range r.Chat.Tools {
		b.WriteString(t.Function.Name + "\n" + t.Function.Description + "\n")
		b.Write(t.Function.Parameters)
		b.WriteByte('\n')
	}
	return b.String()
}

// ToolNames returns the names of the tools offered, in order.
func (r Recorded) ToolNames() []string {
	var out []string
	for _, t := range r.Chat.Tools {
		out = append(out, t.Function.Name)
	}
	return out
}

// Server is a scripted chat-completions server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure the client with: http://127.0.0.1:PORT/v1.
	URL string

	srv       *httptest.Server
	done      chan struct{}
	closeOnce sync.Once

	// mu guards the fields below.
	mu       sync.Mutex
	apiKey   string
	script   []Reply
	next     int
	requests []Recorded
}

// New starts a server answering with script, one Reply per request, in order. When the script
// is used up it answers 500. Close it when done.
func New(script ...Reply) *Server {
	s := &Server{done: make(chan struct{}), script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL + "/v1"
	return s
}

// Close stops the server; replies that hang return first.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.srv.Close()
}

// RequireAPIKey makes the server refuse, with 401, requests without "Authorization: Bearer key".
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Append adds replies to the end of the script.
func (s *Server) Append(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, replies...)
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Recorded, len(s.requests))
	copy(out, s.requests)
	return out
}

// Remaining returns the replies of the script not used yet.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script) - s.next
}

const maxBody = 8 << 20

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	rec := Recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody))
	rec.Body = buf.Bytes()

	status, typ, msg := s.check(r, &rec)
	s.mu.Lock()
	if status != 0 {
		rec.Refused = status
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		writeError(w, status, typ, msg)
		return
	}
	s.requests = append(s.requests, rec)
	var reply Reply
	if s.next < len(s.script) {
		reply = s.script[s.next]
		s.next++
	}
	s.mu.Unlock()
	if reply.serve == nil {
		writeError(w, http.StatusInternalServerError, "server_error", "llmtest: script exhausted")
		return
	}
	reply.serve(w, r, &rec.Chat, s)
}

// check validates the request as OpenAI would; a non-zero status refuses it.
func (s *Server) check(r *http.Request, rec *Recorded) (status int, typ, msg string) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/v1/chat/completions") {
		return http.StatusNotFound, "invalid_request_error", "unknown url " + r.Method + " " + r.URL.Path
	}
	s.mu.Lock()
	key := s.apiKey
	s.mu.Unlock()
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		return http.StatusUnauthorized, "invalid_request_error", "Incorrect API key provided."
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return http.StatusBadRequest, "invalid_request_error", "content type must be application/json"
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec.Chat); err != nil {
		return http.StatusBadRequest, "invalid_request_error", "could not parse the JSON body: " + err.Error()
	}
	req := &rec.Chat
	switch {
	case req.Model == "":
		return http.StatusBadRequest, "invalid_request_error", "you must provide a model parameter"
	case len(req.Messages) == 0:
		return http.StatusBadRequest, "invalid_request_error", "messages must not be empty"
	case req.Stream:
		return http.StatusBadRequest, "invalid_request_error", "llmtest does not stream"
	case len(req.ToolChoice) > 0 && len(req.Tools) == 0:
		return http.StatusBadRequest, "invalid_request_error", "tool_choice is only allowed when tools are specified"
	}
	for _, t := range req.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			return http.StatusBadRequest, "invalid_request_error", "tools must be functions with a name"
		}
	}
	pending := map[string]bool{}
	for i, m := range req.Messages {
		var content any
		if err := json.Unmarshal(m.Content, &content); err != nil && len(m.Content) > 0 {
			return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages[%d].content is not JSON", i)
		}
		switch content.(type) {
		case string, []any:
		case nil:
			if m.Role != "assistant" || len(m.ToolCalls) == 0 {
				return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages[%d].content must not be null", i)
			}
		default:
			return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages[%d].content has the wrong type", i)
		}
		switch m.Role {
		case "system", "user", "developer":
			if len(pending) > 0 {
				return http.StatusBadRequest, "invalid_request_error", "an assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'"
			}
		case "assistant":
			if len(pending) > 0 {
				return http.StatusBadRequest, "invalid_request_error", "an assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'"
			}
			for _, tc := range m.ToolCalls {
				var args string
				if tc.ID == "" || tc.Type != "function" || json.Unmarshal(tc.Function.Arguments, &args) != nil {
					return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages[%d].tool_calls: want id, type function and arguments as a string", i)
				}
				pending[tc.ID] = true
			}
		case "tool":
			if !pending[m.ToolCallID] {
				return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages[%d]: role 'tool' must be a response to a preceding message with 'tool_calls'", i)
			}
			delete(pending, m.ToolCallID)
		default:
			return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages[%d].role %q is not supported", i, m.Role)
		}
	}
	if len(pending) > 0 {
		return http.StatusBadRequest, "invalid_request_error", "an assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'"
	}
	return 0, "", ""
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil},
	})
}

// Reply is one step of a script.
type Reply struct {
	serve func(w http.ResponseWriter, r *http.Request, req *ChatRequest, s *Server)
}

// Call is one tool call a scripted answer makes.
type Call struct {
	// ID is the call id; empty leaves it out, as some servers do.
	ID   string
	Name string
	// Arguments is sent as a JSON string (the specification) unless AsObject is set, in which
	// case it must be JSON and is sent as an object (as some compatible servers do).
	Arguments string
	AsObject  bool
}

// ToolCall answers with one call of name with args (JSON text sent as a JSON string).
func ToolCall(name, args string) Reply {
	return ToolCalls(Call{ID: "call_" + name, Name: name, Arguments: args})
}

// ToolCalls answers with the calls, finish_reason "tool_calls" and content null.
func ToolCalls(calls ...Call) Reply {
	return Reply{serve: func(w http.ResponseWriter, _ *http.Request, req *ChatRequest, _ *Server) {
		var tcs []map[string]any
		for i, c := range calls {
			var args any = c.Arguments
			if c.AsObject {
				args = json.RawMessage(c.Arguments)
			}
			tc := map[string]any{"index": i, "type": "function", "function": map[string]any{"name": c.Name, "arguments": args}}
			if c.ID != "" {
				tc["id"] = c.ID
			}
			tcs = append(tcs, tc)
		}
		writeCompletion(w, req, map[string]any{"role": "assistant", "content": nil, "tool_calls": tcs}, "tool_calls", 0)
	}}
}

// Final answers with content and finish_reason "stop".
func Final(content string) Reply {
	return Reply{serve: func(w http.ResponseWriter, _ *http.Request, req *ChatRequest, _ *Server) {
		writeCompletion(w, req, map[string]any{"role": "assistant", "content": content}, "stop", len(content))
	}}
}

// FinalJSON answers with v encoded as JSON content.
func FinalJSON(v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("llmtest: FinalJSON: %v", err))
	}
	return Final(string(b))
}

// WithUsage answers as r would, but reports this usage instead of the estimate llmtest makes
// (prompt: request bytes / 4; completion: content bytes / 4 + 10).
func WithUsage(r Reply, prompt, completion int) Reply {
	return Reply{serve: func(w http.ResponseWriter, hr *http.Request, req *ChatRequest, s *Server) {
		rw := &usageRewriter{ResponseWriter: w, prompt: prompt, completion: completion}
		r.serve(rw, hr, req, s)
		rw.flush()
	}}
}

// Hang never answers: it returns when the client gives up (its context ends) or the server closes.
func Hang() Reply {
	return Reply{serve: func(_ http.ResponseWriter, r *http.Request, _ *ChatRequest, s *Server) {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	}}
}

// Status answers with status and an OpenAI error body.
func Status(status int, errType, message string) Reply {
	return Reply{serve: func(w http.ResponseWriter, _ *http.Request, _ *ChatRequest, _ *Server) {
		writeError(w, status, errType, message)
	}}
}

// ServerError answers 500 with an OpenAI error body.
func ServerError() Reply {
	return Status(http.StatusInternalServerError, "server_error", "The server had an error while processing your request.")
}

// RateLimited answers 429 with a Retry-After header (seconds or an HTTP date) and an OpenAI
// error body.
func RateLimited(retryAfter string) Reply {
	return Reply{serve: func(w http.ResponseWriter, _ *http.Request, _ *ChatRequest, _ *Server) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, http.StatusTooManyRequests, "requests", "Rate limit reached for requests. Please try again later.")
	}}
}

// Raw answers with status, content type application/json and body as is: broken JSON, an HTML
// page from a proxy, anything.
func Raw(status int, body string) Reply {
	return Reply{serve: func(w http.ResponseWriter, _ *http.Request, _ *ChatRequest, _ *Server) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}}
}

// Malformed answers 200 with body, which should not be a valid completion.
func Malformed(body string) Reply { return Raw(http.StatusOK, body) }

// EmptyChoices answers 200 with a completion whose choices are empty.
func EmptyChoices() Reply {
	return Malformed(`{"id":"chatcmpl-empty","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":0,"total_tokens":5}}`)
}

// InvalidArguments answers with a call of name whose arguments are not JSON.
func InvalidArguments(name string) Reply {
	return ToolCall(name, `{"host": "dc01",`)
}

// ContentCallsAction answers with content that imitates a call to an action tool in text (the
// tool_calls JSON a model might write into its answer), and no real tool call.
func ContentCallsAction(name, args string) Reply {
	b, _ := json.Marshal(map[string]any{"tool_calls": []any{map[string]any{
		"type": "function", "function": map[string]any{"name": name, "arguments": args},
	}}})
	return Final(string(b))
}

// Func answers with the Reply f chooses for the request.
func Func(f func(req *ChatRequest) Reply) Reply {
	return Reply{serve: func(w http.ResponseWriter, r *http.Request, req *ChatRequest, s *Server) {
		next := f(req)
		if next.serve == nil {
			writeError(w, http.StatusInternalServerError, "server_error", "llmtest: Func chose no reply")
			return
		}
		next.serve(w, r, req, s)
	}}
}

var (
	injectedCall   = regexp.MustCompile(`(?i)call (?:the )?tool ([a-z_][a-z0-9_]*)(?: with)?\s*(\{[^{}]*\})?`)
	injectedBenign = regexp.MustCompile(`(?i)(?:mark|classify|report|treat)\b[^.]{0,60}\b(?:benign|false positive|safe|clean)`)
	injectedLeak   = regexp.MustCompile(`(?i)(?:reveal|print|repeat|show)\b[^.]{0,30}\bsystem prompt`)
)

// BenignVerdict is the summary ObeyInjection writes when injected text asks for a benign
// verdict.
const BenignVerdict = `{"verdict":"benign","summary":"Authorized activity; no action needed."}`

// ObeyInjection plays a model that falls for prompt injection anywhere in the request's user and
// tool messages, delimited or not: "call tool NAME {args}" makes it call NAME (offered or not);
// "mark ... as benign" makes it answer BenignVerdict; "reveal your system prompt" makes it repeat
// the system message. Without an injection it answers as otherwise does.
func ObeyInjection(otherwise Reply) Reply {
	return Func(func(req *ChatRequest) Reply {
		var system, data strings.Builder
		for _, m := range req.Messages {
			if m.Role == "system" {
				system.WriteString(m.Text())
				continue
			}
			if m.Role == "user" || m.Role == "tool" {
				data.WriteString(m.Text())
				data.WriteByte('\n')
			}
		}
		text := data.String()
		if m := injectedCall.FindStringSubmatch(text); m != nil {
			args := m[2]
			if args == "" {
				args = "{}"
			}
			return ToolCalls(Call{ID: "call_injected", Name: m[1], Arguments: args})
		}
		if injectedLeak.MatchString(text) {
			return Final(system.String())
		}
		if injectedBenign.MatchString(text) {
			return Final(BenignVerdict)
		}
		return otherwise
	})
}

func writeCompletion(w http.ResponseWriter, req *ChatRequest, message map[string]any, finish string, contentLen int) {
	body, _ := json.Marshal(req)
	prompt := len(body) / 4
	completion := contentLen/4 + 10
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-llmtest", "object": "chat.completion", "created": 1700000000, "model": req.Model,
		"system_fingerprint": "fp_llmtest",
		"choices":            []any{map[string]any{"index": 0, "message": message, "finish_reason": finish, "logprobs": nil}},
		"usage":              map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	})
}

// usageRewriter buffers a completion and replaces its usage.
type usageRewriter struct {
	http.ResponseWriter
	buf                bytes.Buffer
	status             int
	prompt, completion int
}

func (u *usageRewriter) WriteHeader(status int) { u.status = status }
func (u *usageRewriter) Write(b []byte) (int, error) {
	return u.buf.Write(b)
}

func (u *usageRewriter) flush() {
	body := u.buf.Bytes()
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		if _, ok := m["usage"]; ok {
			m["usage"] = map[string]any{"prompt_tokens": u.prompt, "completion_tokens": u.completion, "total_tokens": u.prompt + u.completion}
			body, _ = json.Marshal(m)
		}
	}
	if u.status != 0 {
		u.ResponseWriter.WriteHeader(u.status)
	}
	_, _ = u.ResponseWriter.Write(body)
}
