package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/llm/llmtest"
)

const testKey = "sk-test-9f8e7d6c5b4a3210SECRET"

var (
	searchTool = Tool{
		Name: "search_events", Description: "Search normalized events of the incident's hosts.", ReadOnly: true,
		Parameters: json.RawMessage(`{"type":"object","properties":{
			"query":{"type":"string","maxLength":200},
			"limit":{"type":"integer","minimum":1,"maximum":100},
			"since":{"type":"string","description":"RFC 3339"}},
			"required":["query"],"additionalProperties":false}`),
	}
	hostTool = Tool{
		Name: "get_host", Description: "Look up an asset.", ReadOnly: true,
		Parameters: json.RawMessage(`{"type":"object","properties":{
			"host":{"type":"string","minLength":1},
			"fields":{"type":"array","maxItems":3,"items":{"type":"string","enum":["os","owner","ip"]}}},
			"required":["host"]}`),
	}
	readOnlyTools = []Tool{searchTool, hostTool}
)

// newTestClient returns a client for srv whose debug log goes to the returned buffer.
func newTestClient(t *testing.T, srv *llmtest.Server, mod func(*Config)) (*Client, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	cfg := Config{
		BaseURL:     srv.URL,
		Model:       "test-model",
		APIKey:      SecretValue(testKey),
		Timeout:     5 * time.Second,
		MaxTokens:   256,
		Temperature: 0.1,
		HTTP:        &http.Client{},
		Logger:      slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, &logs
}

func userRequest(text string, tools ...Tool) *Request {
	return &Request{
		Incident: "INC-1",
		Messages: BuildMessages("Investigate.", "Decide the next step.", []DataBlock{{Kind: "alert", Content: text}}),
		Tools:    tools,
	}
}

func TestCompleteToolCallThenFinal(t *testing.T) {
	srv := llmtest.New(
		llmtest.ToolCall("search_events", `{"query":"process.name:rundll32.exe","limit":5}`),
		llmtest.FinalJSON(map[string]string{"verdict": "malicious", "summary": "rundll32 spawned from Word"}),
	)
	defer srv.Close()
	srv.RequireAPIKey(testKey)
	c, _ := newTestClient(t, srv, nil)
	ctx := context.Background()

	req := userRequest("winword.exe spawned rundll32.exe", readOnlyTools...)
	resp, err := c.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != "tool_calls" || len(resp.Message.ToolCalls) != 1 {
		t.Fatalf("resp = %+v", resp)
	}
	tc := resp.Message.ToolCalls[0]
	if tc.ID != "call_search_events" || tc.Name != "search_events" || string(tc.Arguments) != `{"query":"process.name:rundll32.exe","limit":5}` {
		t.Fatalf("tool call = %+v (%s)", tc, tc.Arguments)
	}
	if resp.Usage.TotalTokens == 0 || resp.Usage.PromptTokens == 0 {
		t.Errorf("usage = %+v", resp.Usage)
	}

	// Second turn: the assistant's call and the tool result go back.
	req.Messages = append(req.Messages, resp.Message, Message{Role: RoleTool, ToolCallID: tc.ID, Content: "no rows"})
	resp, err = c.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != "stop" || !strings.Contains(resp.Message.Content, `"verdict":"malicious"`) {
		t.Fatalf("final = %+v", resp)
	}

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		if r.Refused != 0 {
			t.Fatalf("server refused a request with %d", r.Refused)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("Authorization = %q", got)
		}
		ch := r.Chat
		if ch.Model != "test-model" || ch.Temperature == nil || *ch.Temperature != 0.1 || ch.MaxTokens == nil || *ch.MaxTokens != 256 {
			t.Errorf("model/temperature/max_tokens = %q %v %v", ch.Model, ch.Temperature, ch.MaxTokens)
		}
		if string(ch.ToolChoice) != `"auto"` {
			t.Errorf("tool_choice = %s", ch.ToolChoice)
		}
		if !slices.Equal(r.ToolNames(), []string{"search_events", "get_host"}) {
			t.Errorf("tools = %v", r.ToolNames())
		}
	}
	// The wire form of the second request, checked on the raw JSON.
	var raw struct {
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(reqs[1].Body, &raw); err != nil {
		t.Fatal(err)
	}
	asst, tool := raw.Messages[2], raw.Messages[3]
	if string(asst["role"]) != `"assistant"` || string(asst["content"]) != "null" {
		t.Errorf("assistant message = %v", asst)
	}
	var calls []struct {
		ID, Type string
		Function struct{ Name, Arguments string }
	}
	if err := json.Unmarshal(asst["tool_calls"], &calls); err != nil || len(calls) != 1 ||
		calls[0].Type != "function" || calls[0].Function.Arguments != `{"query":"process.name:rundll32.exe","limit":5}` {
		t.Errorf("assistant tool_calls = %s (%v)", asst["tool_calls"], err)
	}
	if string(tool["role"]) != `"tool"` || string(tool["tool_call_id"]) != `"call_search_events"` {
		t.Errorf("tool message = %v", tool)
	}
}

func TestCompleteLenientServers(t *testing.T) {
	// Arguments as an object and no ids (seen from Ollama and some vLLM parsers), content as
	// text parts, and a deprecated function_call.
	srv := llmtest.New(
		llmtest.ToolCalls(
			llmtest.Call{Name: "get_host", Arguments: `{"host":"ws-17"}`, AsObject: true},
			llmtest.Call{Name: "get_host", Arguments: `{"host":"dc01","fields":["os"]}`, AsObject: true},
		),
		llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"all "},{"type":"text","text":"done"}]},"finish_reason":"stop"}]}`),
		llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","content":null,"function_call":{"name":"get_host","arguments":"{\"host\":\"x\"}"}},"finish_reason":"function_call"}]}`),
		llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"get_host","arguments":""}}]}}]}`),
	)
	defer srv.Close()
	c, _ := newTestClient(t, srv, nil)
	ctx := context.Background()

	resp, err := c.Complete(ctx, userRequest("x", hostTool))
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.Message.ToolCalls
	if len(calls) != 2 || calls[0].ID == "" || calls[0].ID == calls[1].ID || string(calls[1].Arguments) != `{"host":"dc01","fields":["os"]}` {
		t.Fatalf("calls = %+v", calls)
	}
	resp, err = c.Complete(ctx, userRequest("x", hostTool))
	if err != nil || resp.Message.Content != "all done" || resp.Usage != (Usage{}) {
		t.Fatalf("text parts: %+v, %v", resp, err)
	}
	resp, err = c.Complete(ctx, userRequest("x", hostTool))
	if err != nil || len(resp.Message.ToolCalls) != 1 || resp.Message.ToolCalls[0].Name != "get_host" {
		t.Fatalf("function_call: %+v, %v", resp, err)
	}
	// Empty arguments read as {} and then fail the required property.
	resp, err = c.Complete(ctx, userRequest("x", hostTool))
	var tce *ToolCallError
	if !errors.As(err, &tce) || !errors.Is(err, ErrInvalidToolCall) || errors.Is(err, ErrUnknownTool) || resp == nil ||
		!strings.Contains(tce.Reason, `missing required property "host"`) {
		t.Fatalf("empty arguments: %+v, %v", resp, err)
	}
}

// failureModes are the ways a server fails, each with what Complete must return.
var failureModes = []struct {
	name  string
	reply llmtest.Reply
	is    []error
}{
	{"500", llmtest.ServerError(), []error{ErrServer}},
	{"503 html", llmtest.Raw(503, "<html><body>Bad gateway</body></html>"), []error{ErrServer}},
	{"401 echoing the key", llmtest.Status(401, "invalid_request_error", "Incorrect API key provided: "+testKey+". You can find your API key at ..."), []error{ErrServer}},
	{"429", llmtest.RateLimited("3"), []error{ErrRateLimited}},
	{"broken json", llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","content":"hi"`), []error{ErrMalformedResponse}},
	{"not json", llmtest.Malformed(`Internal Server Error`), []error{ErrMalformedResponse}},
	{"empty choices", llmtest.EmptyChoices(), []error{ErrMalformedResponse}},
	{"null message", llmtest.Malformed(`{"choices":[{"message":null}]}`), []error{ErrMalformedResponse}},
	{"empty message", llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","content":""},"finish_reason":"length"}]}`), []error{ErrMalformedResponse}},
	{"content wrong type", llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","content":42}}]}`), []error{ErrMalformedResponse}},
	{"tool calls wrong type", llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","tool_calls":"search"}}]}`), []error{ErrMalformedResponse}},
	{"tool call without function", llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"x","type":"function"}]}}]}`), []error{ErrMalformedResponse}},
	{"error in 200", llmtest.Malformed(`{"error":{"message":"model overloaded: ` + testKey + `","type":"server_error","code":503}}`), []error{ErrMalformedResponse, ErrServer}},
	{"refusal", llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}]}`), []error{ErrMalformedResponse}},
	{"array body", llmtest.Malformed(`[1,2,3]`), []error{ErrMalformedResponse}},
	{"empty body", llmtest.Malformed(``), []error{ErrMalformedResponse}},
}

func TestCompleteFailures(t *testing.T) {
	for _, tt := range failureModes {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.New(tt.reply)
			defer srv.Close()
			c, logs := newTestClient(t, srv, nil)
			resp, err := c.Complete(context.Background(), userRequest("x", readOnlyTools...))
			if resp != nil || err == nil {
				t.Fatalf("got %+v, %v", resp, err)
			}
			for _, want := range tt.is {
				if !errors.Is(err, want) {
					t.Errorf("error %q is not %v", err, want)
				}
			}
			checkNoKey(t, err.Error(), logs.String())
		})
	}
}

func checkNoKey(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, testKey) || strings.Contains(s, "SECRET") {
			t.Errorf("the API key leaked into %q", s)
		}
	}
}

func TestAPIErrorFields(t *testing.T) {
	srv := llmtest.New(
		llmtest.Status(401, "invalid_request_error", "Incorrect API key provided: "+testKey),
		llmtest.Raw(400, `{"object":"error","message":"max_tokens too large","type":"BadRequestError","param":null,"code":400}`),
		llmtest.Raw(400, `{"error":"model 'x' not found"}`),
		llmtest.Raw(502, strings.Repeat("\x1b[31mevil\n", 200)),
	)
	defer srv.Close()
	c, _ := newTestClient(t, srv, nil)
	want := []APIError{
		{StatusCode: 401, Type: "invalid_request_error", Message: "Incorrect API key provided: [redacted]"},
		{StatusCode: 400, Type: "BadRequestError", Code: "400", Message: "max_tokens too large"},
		{StatusCode: 400, Message: "model 'x' not found"},
	}
	for i, w := range want {
		_, err := c.Complete(context.Background(), userRequest("x"))
		var ae *APIError
		if !errors.As(err, &ae) || *ae != w {
			t.Errorf("%d: got %#v, want %#v", i, ae, w)
		}
	}
	_, err := c.Complete(context.Background(), userRequest("x"))
	var ae *APIError
	if !errors.As(err, &ae) || len(ae.Message) > 310 || strings.ContainsAny(ae.Message, "\x1b\n") {
		t.Errorf("control characters or length not cleaned: %q", err)
	}
}

func TestRateLimitRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	srv := llmtest.New(
		llmtest.RateLimited("20"),
		llmtest.RateLimited(now.Add(90*time.Second).Format(http.TimeFormat)),
		llmtest.RateLimited(""),
		llmtest.RateLimited("soon"),
	)
	defer srv.Close()
	c, _ := newTestClient(t, srv, func(cfg *Config) { cfg.Now = func() time.Time { return now } })
	for _, want := range []time.Duration{20 * time.Second, 90 * time.Second, 0, 0} {
		_, err := c.Complete(context.Background(), userRequest("x"))
		var ae *APIError
		if !errors.Is(err, ErrRateLimited) || errors.Is(err, ErrServer) || !errors.As(err, &ae) || ae.RetryAfter != want {
			t.Errorf("got %v (RetryAfter %v), want 429 with %v", err, ae, want)
		}
	}
}

func TestRetryAfterMs(t *testing.T) {
	h := http.Header{}
	h.Set("retry-after-ms", "1500")
	h.Set("Retry-After", "2")
	if got := retryAfter(h, time.Now()); got != 1500*time.Millisecond {
		t.Errorf("retry-after-ms: %v", got)
	}
	h = http.Header{}
	h.Set("Retry-After", "999999999")
	if got := retryAfter(h, time.Now()); got != 24*time.Hour {
		t.Errorf("huge Retry-After not capped: %v", got)
	}
}

func TestCompleteTimeoutAndCancel(t *testing.T) {
	srv := llmtest.New(llmtest.Hang(), llmtest.Hang())
	defer srv.Close()
	c, logs := newTestClient(t, srv, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond })
	_, err := c.Complete(context.Background(), userRequest("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}

	c, _ = newTestClient(t, srv, nil) // 5s timeout: the caller's cancellation comes first
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Complete(ctx, userRequest("x"))
		errc <- err
	}()
	waitFor(t, func() bool { return len(srv.Requests()) == 2 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	checkNoKey(t, err.Error(), logs.String())
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCompleteOversizedBody(t *testing.T) {
	big := `{"choices":[{"message":{"role":"assistant","content":"` + strings.Repeat("a", 2000) + `"}}]}`
	srv := llmtest.New(llmtest.Malformed(big))
	defer srv.Close()
	c, _ := newTestClient(t, srv, func(cfg *Config) { cfg.MaxResponseBytes = 1000 })
	if _, err := c.Complete(context.Background(), userRequest("x")); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("got %v", err)
	}
}

func TestCompleteInvalidToolCalls(t *testing.T) {
	tests := []struct {
		name    string
		reply   llmtest.Reply
		unknown bool
		reason  string
	}{
		{"arguments not json", llmtest.InvalidArguments("get_host"), false, "not valid JSON"},
		{"missing required", llmtest.ToolCall("search_events", `{"limit":3}`), false, `missing required property "query"`},
		{"wrong type", llmtest.ToolCall("search_events", `{"query":"x","limit":"5"}`), false, "$.limit: want integer, got string"},
		{"fraction for integer", llmtest.ToolCall("search_events", `{"query":"x","limit":2.5}`), false, "want integer, got number"},
		{"above maximum", llmtest.ToolCall("search_events", `{"query":"x","limit":1000}`), false, "at most 100"},
		{"unknown property", llmtest.ToolCall("search_events", `{"query":"x","drop_table":true}`), false, `unknown property "drop_table"`},
		{"enum", llmtest.ToolCall("get_host", `{"host":"a","fields":["password"]}`), false, "$.fields[0]: value is not one of"},
		{"array not object", llmtest.ToolCall("get_host", `["a"]`), false, "want a JSON object, got array"},
		{"two values", llmtest.ToolCall("get_host", `{"host":"a"}{"host":"b"}`), false, "not valid JSON"},
		{"action tool", llmtest.ToolCall("isolate_host", `{"host":"dc01"}`), true, "no tool of that name"},
		{"custom type", llmtest.Malformed(`{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"c","type":"custom","function":{"name":"get_host","arguments":"{\"host\":\"a\"}"}}]}}]}`), true, `type "custom"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.New(tt.reply)
			defer srv.Close()
			c, _ := newTestClient(t, srv, nil)
			resp, err := c.Complete(context.Background(), userRequest("x", readOnlyTools...))
			var tce *ToolCallError
			if resp == nil || !errors.As(err, &tce) || !errors.Is(err, ErrInvalidToolCall) || errors.Is(err, ErrUnknownTool) != tt.unknown {
				t.Fatalf("got %+v, %v", resp, err)
			}
			if !strings.Contains(tce.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", tce.Reason, tt.reason)
			}
			for _, tc := range resp.Message.ToolCalls {
				if !json.Valid(tc.Arguments) {
					t.Errorf("arguments %q are not valid JSON", tc.Arguments)
				}
			}
		})
	}
}

func TestContentImitatingAnActionCall(t *testing.T) {
	srv := llmtest.New(llmtest.ContentCallsAction("isolate_host", `{"host":"dc01"}`))
	defer srv.Close()
	c, _ := newTestClient(t, srv, nil)
	resp, err := c.Complete(context.Background(), userRequest("x", readOnlyTools...))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Message.ToolCalls) != 0 {
		t.Fatalf("text in content became a tool call: %+v", resp.Message.ToolCalls)
	}
	var summary struct {
		Verdict string `json:"verdict"`
		Summary string `json:"summary"`
	}
	if err := DecodeFinal(resp.Message.Content, &summary); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("the imitation decoded as a summary: %v", err)
	}
}

func TestCompleteRefusesBadRequestsBeforeSending(t *testing.T) {
	writer := Tool{Name: "isolate_host", Description: "Isolate a host.", Parameters: json.RawMessage(`{"type":"object"}`)}
	tests := []struct {
		name string
		req  *Request
	}{
		{"no messages", &Request{}},
		{"action tool", userRequest("x", searchTool, writer)},
		{"duplicate tool", userRequest("x", searchTool, searchTool)},
		{"bad tool name", userRequest("x", Tool{Name: "get host", ReadOnly: true})},
		{"unsupported keyword", userRequest("x", Tool{Name: "t", ReadOnly: true, Parameters: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string","pattern":"^x$"}}}`)})},
		{"parameters not an object", userRequest("x", Tool{Name: "t", ReadOnly: true, Parameters: json.RawMessage(`{"type":"string"}`)})},
		{"tool choice names no tool", &Request{Messages: []Message{{Role: RoleUser, Content: "x"}}, Tools: []Tool{searchTool}, ToolChoice: "isolate_host"}},
		{"required without tools", &Request{Messages: []Message{{Role: RoleUser, Content: "x"}}, ToolChoice: ToolChoiceRequired}},
		{"unknown role", &Request{Messages: []Message{{Role: "developer2", Content: "x"}}}},
		{"tool result without id", &Request{Messages: []Message{{Role: RoleTool, Content: "x"}}}},
		{"bad response format", &Request{Messages: []Message{{Role: RoleUser, Content: "x"}}, ResponseFormat: &ResponseFormat{Type: "yaml"}}},
	}
	srv := llmtest.New()
	defer srv.Close()
	c, _ := newTestClient(t, srv, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Complete(context.Background(), tt.req); !errors.Is(err, ErrBadRequest) {
				t.Errorf("got %v, want ErrBadRequest", err)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestCompleteToolChoiceAndResponseFormat(t *testing.T) {
	srv := llmtest.New(llmtest.Final("{}"), llmtest.Final("{}"), llmtest.Final("{}"))
	defer srv.Close()
	c, _ := newTestClient(t, srv, nil)
	ctx := context.Background()
	r := userRequest("x", readOnlyTools...)
	r.ToolChoice = "get_host"
	r.ResponseFormat = &ResponseFormat{Type: "json_schema", Name: "summary", Schema: json.RawMessage(`{"type":"object"}`), Strict: true}
	if _, err := c.Complete(ctx, r); err != nil {
		t.Fatal(err)
	}
	r = userRequest("x")
	r.ResponseFormat = &ResponseFormat{Type: "json_object"}
	r.MaxTokens = 77
	if _, err := c.Complete(ctx, r); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if got := string(reqs[0].Chat.ToolChoice); got != `{"type":"function","function":{"name":"get_host"}}` {
		t.Errorf("tool_choice = %s", got)
	}
	if got := string(reqs[0].Chat.ResponseFormat); got != `{"type":"json_schema","json_schema":{"name":"summary","schema":{"type":"object"},"strict":true}}` {
		t.Errorf("response_format = %s", got)
	}
	if len(reqs[1].Chat.ToolChoice) != 0 || len(reqs[1].Chat.Tools) != 0 || string(reqs[1].Chat.ResponseFormat) != `{"type":"json_object"}` || *reqs[1].Chat.MaxTokens != 77 {
		t.Errorf("second request: %s", reqs[1].Body)
	}
}

func TestAPIKeyOnlyInAuthorizationHeader(t *testing.T) {
	srv := llmtest.New(
		llmtest.ToolCall("get_host", `{"host":"ws-1"}`),
		llmtest.Status(500, "server_error", "upstream said "+testKey),
		llmtest.Hang(),
		llmtest.InvalidArguments("get_host"),
	)
	defer srv.Close()
	srv.RequireAPIKey(testKey)
	c, logs := newTestClient(t, srv, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond })
	var errs []string
	for range 4 {
		_, err := c.Complete(context.Background(), userRequest("x", readOnlyTools...))
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}
	if len(errs) != 9 {
		t.Fatalf("want 3 failing calls, got %d errors", len(errs)/3)
	}
	checkNoKey(t, errs...)
	checkNoKey(t, logs.String())
	if !strings.Contains(logs.String(), `"msg":"llm call"`) {
		t.Errorf("no debug log line: %s", logs)
	}
	for _, r := range srv.Requests() {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		checkNoKey(t, string(r.Body))
	}

	// A wrong key: the server refuses, the error does not show the key either.
	srv2 := llmtest.New(llmtest.Final("x"))
	defer srv2.Close()
	srv2.RequireAPIKey("sk-other")
	c2, logs2 := newTestClient(t, srv2, nil)
	_, err := c2.Complete(context.Background(), userRequest("x"))
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("got %v", err)
	}
	checkNoKey(t, err.Error(), logs2.String())
}

func TestNoKeyNoAuthorizationHeader(t *testing.T) {
	srv := llmtest.New(llmtest.Final("ok"))
	defer srv.Close()
	c, _ := newTestClient(t, srv, func(cfg *Config) { cfg.APIKey = Secret{} })
	if _, err := c.Complete(context.Background(), userRequest("x")); err != nil {
		t.Fatal(err)
	}
	if h := srv.Requests()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q", h)
	}
}

func TestSecretKeyResolverError(t *testing.T) {
	srv := llmtest.New(llmtest.Final("ok"))
	defer srv.Close()
	c, _ := newTestClient(t, srv, func(cfg *Config) {
		cfg.APIKey = SecretFunc(func() (string, error) { return "", errors.New("environment variable VIGIL_LLM_KEY: secret not set") })
	})
	_, err := c.Complete(context.Background(), userRequest("x"))
	if !errors.Is(err, ErrConfig) || len(srv.Requests()) != 0 {
		t.Fatalf("got %v", err)
	}
}

func TestSecretRedacts(t *testing.T) {
	s := SecretValue(testKey)
	cfg := Config{BaseURL: "http://x", APIKey: s}
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(f, s), fmt.Sprintf(f, cfg), fmt.Sprintf(f, &cfg))
	}
	j, _ := json.Marshal(cfg)
	out = append(out, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "key", s, "cfg", cfg)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "key", s, "cfg", cfg)
	out = append(out, buf.String())
	checkNoKey(t, out...)
	if v, err := s.reveal(); err != nil || v != testKey {
		t.Fatalf("reveal = %q, %v", v, err)
	}
	if (Secret{}).IsSet() || SecretValue("").IsSet() || !s.IsSet() {
		t.Error("IsSet")
	}
}

func TestNewChecksConfig(t *testing.T) {
	_, err := New(Config{BaseURL: "ftp://user:pw@host/v1?x=1", Temperature: 3, Timeout: -1})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"want http(s)", "model is empty", "no HTTP client", "temperature", "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "pw") {
		t.Errorf("credentials in error: %v", err)
	}
	for _, u := range []string{"https://user:pw@api.example.com/v1", "http://localhost:11434/v1?key=abc", ""} {
		if _, err := New(Config{BaseURL: u, Model: "m", HTTP: http.DefaultClient}); !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: %v", u, err)
		}
	}
	c, err := New(Config{BaseURL: "http://localhost:11434/v1/", Model: "llama3.1", HTTP: http.DefaultClient})
	if err != nil || c.endpoint != "http://localhost:11434/v1/chat/completions" || c.cfg.Timeout != DefaultTimeout || c.cfg.MaxTokens != DefaultMaxTokens {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

func TestCompleteChargesBudget(t *testing.T) {
	srv := llmtest.New(
		llmtest.WithUsage(llmtest.Final("one"), 300, 50),
		llmtest.ServerError(),
		llmtest.Malformed(`{"choices":[]}`),
	)
	defer srv.Close()
	b := NewBudget(Limits{PerIncident: 100_000, PerDay: 1_000_000}, nil)
	c, _ := newTestClient(t, srv, func(cfg *Config) { cfg.Budget = b })
	ctx := context.Background()
	if _, err := c.Complete(ctx, userRequest("x")); err != nil {
		t.Fatal(err)
	}
	if inc, day := b.Used("INC-1"); inc != 350 || day != 350 {
		t.Fatalf("after usage 350: incident %d, day %d", inc, day)
	}
	// A server error spends nothing.
	if _, err := c.Complete(ctx, userRequest("x")); !errors.Is(err, ErrServer) {
		t.Fatal(err)
	}
	if inc, _ := b.Used("INC-1"); inc != 350 {
		t.Fatalf("after a 500: %d", inc)
	}
	// A malformed answer keeps the estimate charged.
	if _, err := c.Complete(ctx, userRequest("x")); !errors.Is(err, ErrMalformedResponse) {
		t.Fatal(err)
	}
	if inc, _ := b.Used("INC-1"); inc <= 350+256 {
		t.Fatalf("after a malformed answer: %d", inc)
	}
}

func TestCompleteOverBudgetSendsNothing(t *testing.T) {
	srv := llmtest.New(llmtest.Final("never"))
	defer srv.Close()
	b := NewBudget(Limits{PerIncident: 100}, nil)
	c, _ := newTestClient(t, srv, func(cfg *Config) { cfg.Budget = b })
	_, err := c.Complete(context.Background(), userRequest("x"))
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("got %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests sent over budget", n)
	}
	if inc, day := b.Used("INC-1"); inc != 0 || day != 0 {
		t.Fatalf("a refused reservation was kept: %d %d", inc, day)
	}
}
