package llm

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors for callers to branch on with errors.Is. Every one of them means the caller
// should fall back to the deterministic investigator for this step.
var (
	// ErrConfig means the client configuration is incomplete or invalid.
	ErrConfig = errors.New("invalid llm configuration")
	// ErrBadRequest means the request the caller built is unusable (no messages, an invalid or
	// duplicated tool, a tool not marked read-only); nothing was sent.
	ErrBadRequest = errors.New("invalid llm request")
	// ErrBudget means a token budget (per incident or per day) would be exceeded; nothing was sent.
	ErrBudget = errors.New("llm token budget exhausted")
	// ErrRateLimited means the server answered 429; the *APIError carries RetryAfter.
	ErrRateLimited = errors.New("llm rate limited")
	// ErrUnavailable means the server could not be reached or its answer not read.
	ErrUnavailable = errors.New("llm endpoint unavailable")
	// ErrServer means the server answered with a status other than 2xx or 429; the *APIError says
	// which.
	ErrServer = errors.New("llm server error")
	// ErrMalformedResponse means the server answered 2xx with something that is not a usable chat
	// completion: broken JSON, no choices, an empty message, an oversized body.
	ErrMalformedResponse = errors.New("malformed llm response")
	// ErrInvalidToolCall means the model called a tool with arguments that are not a JSON object
	// satisfying the tool's schema. It is wrapped by *ToolCallError.
	ErrInvalidToolCall = errors.New("invalid tool call")
	// ErrUnknownTool means the model called a tool it was not offered, for example an action tool
	// named by injected text. It is wrapped by *ToolCallError and also matches ErrInvalidToolCall.
	ErrUnknownTool = errors.New("call to a tool that was not offered")
	// ErrMaxSteps means a Conversation used all its steps without a final answer.
	ErrMaxSteps = errors.New("llm step limit reached")
	// ErrPendingToolCalls means Conversation.Next was called before every tool call of the last
	// answer got a result.
	ErrPendingToolCalls = errors.New("tool calls still waiting for results")
)

// APIError is a non-2xx answer from the chat-completions endpoint. It matches ErrRateLimited
// for status 429 and ErrServer otherwise. Message, Type and Code come from the OpenAI error body
// {"error":{"message","type","code"}} (or the flat {"message","type","code"} of some servers);
// they are truncated, stripped of control characters and of the API key, so the error is safe to
// log.
type APIError struct {
	StatusCode int
	Message    string
	Type       string
	Code       string
	// RetryAfter is how long the server asked to wait (Retry-After or retry-after-ms), 0 if it
	// did not say. The caller decides whether to wait or fall back.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	for _, s := range []string{e.Type, e.Code, e.Message} {
		if s != "" {
			b.WriteString(": ")
			b.WriteString(s)
		}
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is reports whether target is ErrRateLimited (status 429) or ErrServer (any other status).
func (e *APIError) Is(target error) bool {
	if e.StatusCode == http.StatusTooManyRequests {
		return target == ErrRateLimited
	}
	return target == ErrServer
}

// ToolCallError is a tool call the model made that must not be executed: its name was not
// offered (ErrUnknownTool) or its arguments fail the tool's schema (ErrInvalidToolCall).
type ToolCallError struct {
	// ID and Name identify the call as the model made it.
	ID, Name string
	// Reason says what was wrong, in words safe to log and to send back to the model.
	Reason string
	// Err is ErrUnknownTool or ErrInvalidToolCall.
	Err error
}

func (e *ToolCallError) Error() string {
	return fmt.Sprintf("tool call %s to %q: %s", e.ID, e.Name, e.Reason)
}

// Unwrap returns ErrUnknownTool and ErrInvalidToolCall (for unknown tools) or ErrInvalidToolCall.
func (e *ToolCallError) Unwrap() []error {
	if e.Err == ErrUnknownTool {
		return []error{ErrUnknownTool, ErrInvalidToolCall}
	}
	return []error{e.Err}
}
