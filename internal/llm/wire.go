package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The OpenAI chat-completions wire format, as OpenAI, Ollama's /v1, vLLM and llama.cpp's server
// speak it. Requests are written to the specification; responses are read leniently where
// OpenAI-compatible servers are known to differ (arguments as an object instead of a JSON string,
// missing tool call ids, content as an array of text parts, a flat error body), and strictly
// everywhere else.

type wireRequest struct {
	Model          string              `json:"model"`
	Messages       []wireMessage       `json:"messages"`
	Tools          []wireTool          `json:"tools,omitempty"`
	ToolChoice     any                 `json:"tool_choice,omitempty"`
	Temperature    float64             `json:"temperature"`
	MaxTokens      int                 `json:"max_tokens,omitempty"`
	ResponseFormat *wireResponseFormat `json:"response_format,omitempty"`
	Stream         bool                `json:"stream"`
}

type wireMessage struct {
	Role string `json:"role"`
	// Content is null only for an assistant message that carries tool calls and no text.
	Content    *string        `json:"content"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type wireToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function wireFunctionCall `json:"function"`
}

type wireFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type wireTool struct {
	Type     string       `json:"type"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

type wireToolChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

type wireResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema *wireJSONSchema `json:"json_schema,omitempty"`
}

type wireJSONSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict,omitempty"`
}

var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

// encodeRequest renders req for the wire. req has been checked by checkRequest.
func encodeRequest(model string, temperature float64, maxTokens int, req *Request) ([]byte, error) {
	w := wireRequest{
		Model:       model,
		Messages:    make([]wireMessage, 0, len(req.Messages)),
		Temperature: temperature,
		MaxTokens:   maxTokens,
	}
	for _, m := range req.Messages {
		wm := wireMessage{Role: m.Role, ToolCallID: m.ToolCallID}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			c := m.Content
			wm.Content = &c
		}
		for _, tc := range m.ToolCalls {
			args := string(tc.Arguments)
			if args == "" {
				args = "{}"
			}
			wm.ToolCalls = append(wm.ToolCalls, wireToolCall{
				ID: tc.ID, Type: "function", Function: wireFunctionCall{Name: tc.Name, Arguments: args},
			})
		}
		w.Messages = append(w.Messages, wm)
	}
	for _, t := range req.Tools {
		params := t.Parameters
		if len(params) == 0 {
			params = emptyObjectSchema
		}
		w.Tools = append(w.Tools, wireTool{Type: "function", Function: wireFunction{
			Name: t.Name, Description: t.Description, Parameters: params,
		}})
	}
	if len(req.Tools) > 0 {
		switch req.ToolChoice {
		case "":
			w.ToolChoice = ToolChoiceAuto
		case ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired:
			w.ToolChoice = req.ToolChoice
		default:
			var c wireToolChoice
			c.Type = "function"
			c.Function.Name = req.ToolChoice
			w.ToolChoice = c
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		w.ResponseFormat = &wireResponseFormat{Type: rf.Type}
		if rf.Type == "json_schema" {
			w.ResponseFormat.JSONSchema = &wireJSONSchema{Name: rf.Name, Schema: rf.Schema, Strict: rf.Strict}
		}
	}
	return json.Marshal(w)
}

// Response side: every field is read into a type that accepts what compatible servers send.

type wireResponse struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Choices []wireChoice    `json:"choices"`
	Usage   *wireUsage      `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type wireChoice struct {
	Message      *wireRespMessage `json:"message"`
	FinishReason *string          `json:"finish_reason"`
}

type wireRespMessage struct {
	Role         string             `json:"role"`
	Content      json.RawMessage    `json:"content"`
	ToolCalls    []wireRespToolCall `json:"tool_calls"`
	FunctionCall *wireRespFunction  `json:"function_call"`
	Refusal      *string            `json:"refusal"`
}

type wireRespToolCall struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Function *wireRespFunction `json:"function"`
}

type wireRespFunction struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

type wireUsage struct {
	PromptTokens     float64 `json:"prompt_tokens"`
	CompletionTokens float64 `json:"completion_tokens"`
	TotalTokens      float64 `json:"total_tokens"`
}

// Limits on what a response may hold.
const (
	maxToolCalls     = 32
	maxArgumentBytes = 64 << 10
)

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedResponse, fmt.Sprintf(format, args...))
}

// decodeResponse reads a 2xx body. It returns an error wrapping ErrMalformedResponse for anything
// that is not a usable completion, or an *APIError when a 2xx body carries only an error object.
func decodeResponse(status int, body []byte, key string) (*Response, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, malformedf("decode body: %s", jsonProblem(err))
	}
	if len(w.Choices) == 0 {
		if isPresent(w.Error) {
			e := &APIError{StatusCode: status}
			fillAPIError(e, body, key)
			return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, e)
		}
		return nil, malformedf("no choices")
	}
	ch := w.Choices[0]
	if ch.Message == nil {
		return nil, malformedf("choice without a message")
	}
	resp := &Response{ID: w.ID, Model: w.Model}
	if ch.FinishReason != nil {
		resp.FinishReason = *ch.FinishReason
	}
	if w.Usage != nil {
		resp.Usage = Usage{
			PromptTokens:     tokenCount(w.Usage.PromptTokens),
			CompletionTokens: tokenCount(w.Usage.CompletionTokens),
			TotalTokens:      tokenCount(w.Usage.TotalTokens),
		}
	}
	m := ch.Message
	content, err := decodeContent(m.Content)
	if err != nil {
		return nil, err
	}
	resp.Message = Message{Role: RoleAssistant, Content: content}
	if m.Refusal != nil {
		resp.Refusal = *m.Refusal
	}
	calls := m.ToolCalls
	if len(calls) == 0 && m.FunctionCall != nil {
		// The deprecated single function_call some older servers still send.
		calls = []wireRespToolCall{{Type: "function", Function: m.FunctionCall}}
	}
	if len(calls) > maxToolCalls {
		return nil, malformedf("%d tool calls, more than %d", len(calls), maxToolCalls)
	}
	seen := map[string]bool{}
	for i, wc := range calls {
		if wc.Function == nil {
			return nil, malformedf("tool call %d without a function", i)
		}
		args, ok := decodeArguments(wc.Function.Arguments)
		tc := ToolCall{ID: wc.ID, Name: wc.Function.Name, Arguments: args, badJSON: !ok}
		if wc.Type != "" && wc.Type != "function" {
			tc.kind = wc.Type
		}
		// Servers that leave ids out (or repeat them) get ids made up here, so that every tool
		// result can name the call it answers.
		if tc.ID == "" || seen[tc.ID] {
			tc.ID = "call_" + strconv.Itoa(i)
			for seen[tc.ID] {
				tc.ID += "_"
			}
		}
		seen[tc.ID] = true
		resp.Message.ToolCalls = append(resp.Message.ToolCalls, tc)
	}
	if resp.Message.Content == "" && len(resp.Message.ToolCalls) == 0 {
		if resp.Refusal != "" {
			return nil, malformedf("the model refused: %s", sanitize(resp.Refusal, key, 200))
		}
		return nil, malformedf("empty message (finish_reason %q)", sanitize(resp.FinishReason, key, 40))
	}
	return resp, nil
}

func isPresent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

func tokenCount(f float64) int64 {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f > 1e15 {
		return 1e15
	}
	return int64(f)
}

// decodeContent accepts a string, null, or an array of {"type":"text","text":...} parts.
func decodeContent(raw json.RawMessage) (string, error) {
	if !isPresent(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", malformedf("message content is neither text nor text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" || p.Type == "output_text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// decodeArguments returns valid JSON for whatever the server sent as arguments: the text of a
// JSON string when that text is JSON, an object or other JSON value as is, "{}" for nothing, and
// otherwise (ok false) the text quoted as a JSON string, which no object schema accepts.
func decodeArguments(raw json.RawMessage) (args json.RawMessage, ok bool) {
	raw = bytes.TrimSpace(raw)
	if !isPresent(raw) {
		return json.RawMessage(`{}`), true
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return quoteJSON(""), false
		}
		t := strings.TrimSpace(s)
		if t == "" {
			return json.RawMessage(`{}`), true
		}
		if len(t) <= maxArgumentBytes && json.Valid([]byte(t)) {
			return json.RawMessage(t), true
		}
		return quoteJSON(truncateUTF8(s, maxArgumentBytes)), false
	}
	if len(raw) > maxArgumentBytes {
		return quoteJSON(truncateUTF8(string(raw), maxArgumentBytes)), false
	}
	return append(json.RawMessage(nil), raw...), true
}

func quoteJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// jsonProblem describes a decode error without quoting the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type (%s)", shorten(te.Field, 64), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown field"
	}
	return "invalid JSON"
}

// wireError is the OpenAI error object; Code is a string at OpenAI, a number at llama.cpp and
// vLLM, null at Ollama.
type wireError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// fillAPIError reads an error body: {"error":{...}}, {"error":"text"} or a flat {...}.
func fillAPIError(e *APIError, body []byte, key string) {
	var outer struct {
		Error json.RawMessage `json:"error"`
	}
	var we wireError
	if json.Unmarshal(body, &outer) == nil && isPresent(outer.Error) {
		var s string
		if json.Unmarshal(outer.Error, &s) == nil {
			we.Message = s
		} else {
			_ = json.Unmarshal(outer.Error, &we)
		}
	} else if json.Unmarshal(body, &we) != nil || we.Message == "" {
		// Not JSON: a proxy's HTML page or plain text. Keep a short, cleaned excerpt.
		we = wireError{Message: string(body)}
	}
	e.Message = sanitize(we.Message, key, 300)
	e.Type = sanitize(we.Type, key, 60)
	if isPresent(we.Code) {
		var s string
		if json.Unmarshal(we.Code, &s) != nil {
			s = string(we.Code)
		}
		e.Code = sanitize(s, key, 60)
	}
}

// sanitize makes server-provided text safe for errors and logs: the API key is cut out, control
// and format characters become spaces, runs of white space shrink to one, and the text is cut to
// at most n bytes.
func sanitize(s, key string, n int) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, redacted)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > n {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
