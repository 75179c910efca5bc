package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ConversationConfig describes one investigation handed to a model.
type ConversationConfig struct {
	// System is vigil's own system prompt; it follows the safety preamble.
	System string
	// Task is vigil's own instruction for this incident. It must not hold attacker-controlled
	// text: that goes in Evidence.
	Task string
	// Evidence is the untrusted data the model starts from (alerts, events).
	Evidence []DataBlock
	// Tools are the read-only tools the model may ask for. Each must have ReadOnly set.
	Tools []Tool
	// MaxSteps bounds the completions asked for; the last one is asked with tool choice "none",
	// so the model has to answer. Default 8.
	MaxSteps int
	// Incident keys the per-incident budget.
	Incident string
	// ResponseFormat, when set, is asked for on every step.
	ResponseFormat *ResponseFormat
}

// DefaultMaxSteps is ConversationConfig.MaxSteps when left zero.
const DefaultMaxSteps = 8

// Conversation keeps the messages of one investigation: the system and user messages built by
// BuildMessages, then each model answer and the results of the tool calls it asked for, which
// are untrusted data and so go in data blocks too. It draws one boundary when created and uses it
// for all its messages, so the model's context stays one consistent prefix. A Conversation is not
// safe for concurrent use.
//
// The caller runs the loop: Next; if the answer has tool calls, run each (they are calls to the
// read-only tools offered, with arguments valid for their schema) and report it with
// AddToolResult; repeat until an answer has no tool calls, its Message.Content being the final
// answer. Any error means fall back to the deterministic investigator, except a *ToolCallError,
// which the caller may instead answer with AddToolError for each call of that answer.
type Conversation struct {
	cfg      ConversationConfig
	boundary string
	messages []Message
	steps    int
	// pending maps the id of each tool call of the last answer that has no result yet to it.
	pending map[string]ToolCall
}

// NewConversation checks cfg's tools and builds the first messages.
func NewConversation(cfg ConversationConfig) (*Conversation, error) {
	seen := map[string]bool{}
	for _, t := range cfg.Tools {
		if _, err := checkTool(t); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%w: tool %q offered twice", ErrBadRequest, t.Name)
		}
		seen[t.Name] = true
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = DefaultMaxSteps
	}
	cfg.Tools = slices.Clone(cfg.Tools)
	b := NewBoundary()
	return &Conversation{
		cfg:      cfg,
		boundary: b,
		messages: buildMessages(b, cfg.System, cfg.Task, cfg.Evidence),
		pending:  map[string]ToolCall{},
	}, nil
}

// Boundary returns the id of the conversation's data blocks.
func (c *Conversation) Boundary() string { return c.boundary }

// Messages returns a copy of the messages so far.
func (c *Conversation) Messages() []Message { return slices.Clone(c.messages) }

// Steps returns the completions asked for so far.
func (c *Conversation) Steps() int { return c.steps }

// Pending returns the tool calls of the last answer still waiting for a result.
func (c *Conversation) Pending() []ToolCall {
	var out []ToolCall
	for _, m := range slices.Backward(c.messages) {
		if m.Role != RoleAssistant {
			continue
		}
		for _, tc := range m.ToolCalls {
			if _, ok := c.pending[tc.ID]; ok {
				out = append(out, tc)
			}
		}
		break
	}
	return out
}

// Next asks the model for its next step. It returns ErrPendingToolCalls while tool calls of the
// last answer lack results, and ErrMaxSteps when the steps are used up or the model still calls
// tools on the last one. With a *ToolCallError it also returns the Response; its calls are then
// pending, to be answered with AddToolError (or AddToolResult for the valid ones).
func (c *Conversation) Next(ctx context.Context, model Completer) (*Response, error) {
	if len(c.pending) > 0 {
		return nil, fmt.Errorf("%w: %d", ErrPendingToolCalls, len(c.pending))
	}
	if c.steps >= c.cfg.MaxSteps {
		return nil, fmt.Errorf("%w: %d steps", ErrMaxSteps, c.steps)
	}
	c.steps++
	last := c.steps == c.cfg.MaxSteps
	req := &Request{
		Incident:       c.cfg.Incident,
		Messages:       slices.Clone(c.messages),
		Tools:          c.cfg.Tools,
		ResponseFormat: c.cfg.ResponseFormat,
	}
	if last && len(req.Tools) > 0 {
		req.ToolChoice = ToolChoiceNone
	}
	resp, err := model.Complete(ctx, req)
	var tce *ToolCallError
	if err != nil && (resp == nil || !errors.As(err, &tce)) {
		return nil, err
	}
	if last && len(resp.Message.ToolCalls) > 0 {
		return nil, fmt.Errorf("%w: the model still calls tools on step %d", ErrMaxSteps, c.steps)
	}
	msg := resp.Message
	msg.Role = RoleAssistant
	msg.ToolCalls = slices.Clone(msg.ToolCalls)
	c.messages = append(c.messages, msg)
	for _, tc := range msg.ToolCalls {
		c.pending[tc.ID] = tc
	}
	return resp, err
}

// AddToolResult records the output of a pending tool call, as a data block.
func (c *Conversation) AddToolResult(call ToolCall, result string) error {
	return c.answer(call, DataBlock{Kind: "tool_result", Source: call.Name, Content: result})
}

// AddToolError tells the model a pending tool call was not run and why (use the
// *ToolCallError's Reason), as a data block.
func (c *Conversation) AddToolError(call ToolCall, problem string) error {
	return c.answer(call, DataBlock{Kind: "tool_error", Source: call.Name, Content: "not run: " + problem})
}

func (c *Conversation) answer(call ToolCall, b DataBlock) error {
	if _, ok := c.pending[call.ID]; !ok {
		return fmt.Errorf("%w: no pending tool call %q", ErrBadRequest, sanitize(call.ID, "", 64))
	}
	delete(c.pending, call.ID)
	c.messages = append(c.messages, Message{Role: RoleTool, ToolCallID: call.ID, Content: RenderBlock(c.boundary, b)})
	return nil
}

// DecodeFinal decodes a final answer that should be one JSON object into v, strictly: unknown
// fields and trailing data are errors (wrapping ErrMalformedResponse). A surrounding Markdown code
// fence, which models often add, is removed first.
func DecodeFinal(content string, v any) error {
	s := strings.TrimSpace(content)
	if rest, ok := strings.CutPrefix(s, "```"); ok {
		rest = strings.TrimPrefix(rest, "json")
		if body, ok := strings.CutSuffix(strings.TrimSpace(rest), "```"); ok {
			s = strings.TrimSpace(body)
		}
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return malformedf("final answer: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformedf("final answer: data after the JSON object")
	}
	return nil
}
