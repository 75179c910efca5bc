// Package investigate is the investigation stage: for each new or changed incident it plans
// read-only tool calls (event search, entity profiles, the incident graph, identity provider,
// endpoint, threat intelligence, asset inventory, past incidents) from recipes written as data,
// runs them with branching on what they find, within step and time budgets, records every
// result as evidence with an ID, and writes one report: a verdict with confidence, the
// reasoning as steps citing evidence, a timeline, the affected entities and recommended
// actions. It never acts: response actions are only recommended, and the respond stage decides
// under policy (this package must not import internal/respond).
package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Tool is one read-only capability the investigator can call. Implementations must not change
// anything outside vigil; Call must honour ctx (the investigator sets a per-call timeout).
type Tool interface {
	// Name is the tool's stable identifier ("identity.user", "events.search", ...).
	Name() string
	// Description says what the tool returns, for people and for an LLM planner.
	Description() string
	// Schema is the JSON schema of the tool's input object.
	Schema() json.RawMessage
	// Call runs the tool. The result's findings feed the verdict; its data is kept as evidence.
	Call(ctx context.Context, input map[string]any) (Result, error)
}

// Result is what a tool call found.
type Result struct {
	// Summary is one human sentence about the result.
	Summary string `json:"summary"`
	// Data is the tool's output, kept as evidence (bounded by the tool).
	Data any `json:"data,omitempty"`
	// Findings are the facts the verdict reasons on.
	Findings []Finding `json:"findings,omitempty"`
	// EventIDs are stored events the result refers to.
	EventIDs []string `json:"event_ids,omitempty"`
}

// Finding is a fact a tool established. Weight is its evidence for maliciousness (positive)
// or benignity (negative), on a log-odds scale.
type Finding struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	Detail string  `json:"detail"`
	// Entity is what the finding is about ("user:example\\bob").
	Entity string `json:"entity,omitempty"`
	// Actions are response actions this finding supports ("revoke_sessions user:...").
	Actions []string `json:"actions,omitempty"`

	evidence string // the evidence the finding came from
}

// Registry holds the tools by name.
type Registry struct {
	tools map[string]Tool
	order []string
}

// NewRegistry returns a registry of the given tools.
func NewRegistry(tools ...Tool) *Registry {
	r := &Registry{tools: map[string]Tool{}}
	for _, t := range tools {
		r.Add(t)
	}
	return r
}

// Add registers a tool, replacing one of the same name.
func (r *Registry) Add(t Tool) {
	if _, ok := r.tools[t.Name()]; !ok {
		r.order = append(r.order, t.Name())
	}
	r.tools[t.Name()] = t
}

// Get returns a tool by name.
func (r *Registry) Get(name string) (Tool, bool) {
	t, ok := r.tools[name]
	return t, ok
}

// Names returns the tool names in registration order.
func (r *Registry) Names() []string { return append([]string(nil), r.order...) }

// Errors callers branch on.
var (
	ErrUnknownTool = errors.New("unknown tool")
	ErrBudget      = errors.New("investigation budget exhausted")
)

// Budget bounds one investigation.
type Budget struct {
	MaxSteps int
	MaxTime  time.Duration
	// CallTimeout bounds each tool call.
	CallTimeout time.Duration
}

func (b *Budget) defaults() {
	if b.MaxSteps <= 0 {
		b.MaxSteps = 40
	}
	if b.MaxTime <= 0 {
		b.MaxTime = 20 * time.Second
	}
	if b.CallTimeout <= 0 {
		b.CallTimeout = 5 * time.Second
	}
}
