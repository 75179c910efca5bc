package llm

import (
	"encoding/json"
)

// Message roles of the chat-completions protocol.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Tool choices for Request.ToolChoice. Any other non-empty value names the one tool the model
// must call.
const (
	ToolChoiceAuto     = "auto"
	ToolChoiceNone     = "none"
	ToolChoiceRequired = "required"
)

// Message is one chat message. Content is plain text; for role "tool" it answers the call named
// by ToolCallID; for role "assistant" ToolCalls lists the calls the model made.
type Message struct {
	Role       string
	Content    string
	ToolCalls  []ToolCall
	ToolCallID string
}

// ToolCall is one call the model asked for. Arguments is always valid JSON: the model's
// arguments as sent (a JSON string on the wire is unwrapped), or, when the model sent text that is
// not JSON, that text as a JSON string, which no tool schema accepts.
type ToolCall struct {
	ID        string
	Name      string
	Arguments json.RawMessage

	// kind is the wire "type" when it was neither empty nor "function".
	kind string
	// badJSON reports that the model's arguments were not JSON (Arguments quotes them).
	badJSON bool
}

// Tool is a function the model may call. The package never defines tools: the caller passes
// them, and must pass read-only ones only (queries over events, alerts, assets, threat
// intelligence); Complete refuses a request holding a tool whose ReadOnly is false. Response
// actions (isolate a host, disable an account, block an address) are never offered to a model.
type Tool struct {
	// Name matches ^[A-Za-z0-9_-]{1,64}$.
	Name        string
	Description string
	// Parameters is the JSON schema of the arguments: an object schema in the subset that
	// ValidateArguments enforces. Nil means no arguments.
	Parameters json.RawMessage
	// ReadOnly must be true: the caller states that calling the tool changes nothing.
	ReadOnly bool
}

// ResponseFormat asks the server for JSON output: Type "json_object", or "json_schema" with
// Name and Schema (Strict asks OpenAI to enforce it). Not every server supports "json_schema".
type ResponseFormat struct {
	Type   string
	Name   string
	Schema json.RawMessage
	Strict bool
}

// Usage is the token count the server reported for one completion.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
}

// total returns TotalTokens, or the sum of the parts when the server left it out.
func (u Usage) total() int64 {
	if u.TotalTokens > 0 {
		return u.TotalTokens
	}
	return max(u.PromptTokens, 0) + max(u.CompletionTokens, 0)
}

// Request is one chat completion to ask for.
type Request struct {
	// Incident keys the per-incident budget; empty charges the daily budget only.
	Incident string
	Messages []Message
	// Tools are the read-only tools the model may call.
	Tools []Tool
	// ToolChoice is "" (auto when tools are offered), ToolChoiceAuto, ToolChoiceNone,
	// ToolChoiceRequired or the name of one offered tool.
	ToolChoice     string
	ResponseFormat *ResponseFormat
	// MaxTokens overrides Config.MaxTokens when positive.
	MaxTokens int
}

// Response is the model's answer: Message.Content for a final answer, Message.ToolCalls when it
// wants tools called.
type Response struct {
	ID    string
	Model string
	// Message has role "assistant".
	Message Message
	// FinishReason is "stop", "tool_calls", "length", "content_filter" or what the server said.
	FinishReason string
	// Refusal is the model's refusal text, when the server reports one (OpenAI structured output).
	Refusal string
	Usage   Usage
}
