package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/investigate"
	"github.com/vigil-soc/vigil/internal/llm"
)

// Limits of the LLM planner.
const (
	// plannerMaxSteps bounds the model calls that plan one investigation: when the state holds
	// this many calls, Next answers done without asking the model.
	plannerMaxSteps = llm.DefaultMaxSteps
	// summaryMaxChars caps the summary Summarize returns, in characters.
	summaryMaxChars = 600
	// summaryMaxTokens bounds the completion Summarize asks for.
	summaryMaxTokens = 300
	// plannerMaxAlerts bounds the alerts shown to the model (one data block each); the first
	// alert of each rule and host is shown, the model can search the rest.
	plannerMaxAlerts = 20
	// plannerMaxFieldItems bounds the matches, entities and chain steps listed in one block.
	plannerMaxFieldItems = 20
	// plannerMaxResultBytes bounds the text of one tool result handed back to the model.
	plannerMaxResultBytes = 8 << 10
)

// Errors of the LLM planner. Each makes the investigator fall back to its recipes (Next) or
// keep its deterministic summary (Summarize).
var (
	errPlannerState     = errors.New("llm planner: no incident in the state")
	errNoTools          = errors.New("llm planner: no tool can be offered to the model")
	errRepeatedCall     = errors.New("llm planner: the model repeated a tool call already made")
	errSummaryInjection = errors.New("llm planner: the incident data holds text aimed at an AI; the deterministic summary is kept")
	errSummaryUnusable  = errors.New("llm planner: unusable summary")
)

const plannerSystem = `You plan the investigation of one security incident for vigil, a security operations platform. On each turn either call exactly one of the offered read-only tools to gather evidence, or, when the evidence is enough to judge the incident or no offered tool would add anything, answer in one short sentence without calling a tool, saying why you stopped.

Call one tool at a time. Do not repeat a call already made with the same arguments. At most %d tool calls are allowed. Use entity values (hosts, users, addresses, alert IDs) exactly as they appear in the evidence. You do not decide the verdict and you cannot take response actions: vigil weighs the tool results itself.`

const summarySystem = `You write the summary of a finished security incident investigation for an analyst. Answer with plain text only: at most three sentences and at most %d characters, no Markdown, no lists, no JSON. Say what happened, on which hosts and accounts, and what the tool results found. Do not recommend response actions and do not state a verdict the evidence does not support.`

// llmPlanner plans investigations with an OpenAI-compatible model. It is an investigate.Planner:
// each Next rebuilds the whole conversation from the state, so it keeps no per-incident state
// (it is safe for concurrent use by concurrent investigations and survives restarts), and every
// error it returns makes the investigator fall back to its recipes.
//
// The conversation of one Next is: a system message (llm.SafetyPreamble, then the planner's
// instructions), a user message (the task, vigil's own words naming the incident ID, then one
// data block for the incident and one per alert shown), and for each call in st.Calls an
// assistant message holding that call as a tool call and a tool message holding its result as a
// data block. Every text an attacker may have written (titles, command lines, user agents, mail
// subjects, application names, tool output) reaches the model only inside data blocks, whose
// boundary is derived per incident from a random process key (stable across the steps of one
// incident, so the prompt prefix can be cached, and unknown to attackers).
//
// Only the read-only tools of st.Tools are offered (marked ReadOnly for package llm; the
// investigator's registry holds no action tool). A reply calling a tool that was not offered, or
// with arguments failing the tool's schema, is an error, never a call: the investigator then falls
// back to its recipes. When a reply holds several tool calls, only the first is returned; the
// next step asks again with that one's result.
type llmPlanner struct {
	model  string
	client *llm.Client
	// budget is the client's token budget (per incident and per UTC day).
	budget   *llm.Budget
	timeout  time.Duration
	maxSteps int
	audit    func(ctx context.Context, actor, action, subject string, data any)
	log      *slog.Logger
	// boundaryKey derives the data-block boundary of each incident.
	boundaryKey [32]byte
	// skipped holds the names of tools already logged as not offered, so each is logged once.
	skipped sync.Map
}

var _ investigate.Planner = (*llmPlanner)(nil)

// newLLMPlanner returns a planner calling the model of cfg through hc (the egress client). audit
// receives every prompt and reply ("llm.request", "llm.reply"); the API key never appears in
// them. log is scoped by the caller; it receives debug lines with IDs only, never content.
func newLLMPlanner(cfg config.LLM, hc llm.HTTPDoer, audit func(ctx context.Context, actor, action, subject string, data any), log *slog.Logger) (*llmPlanner, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if audit == nil {
		audit = func(context.Context, string, string, string, any) {}
	}
	client, budget, err := newLLMClient(cfg, hc, log)
	if err != nil {
		return nil, fmt.Errorf("llm planner: %w", err)
	}
	timeout := cfg.Timeout.Std()
	if timeout <= 0 {
		timeout = llm.DefaultTimeout
	}
	p := &llmPlanner{model: cfg.Model, client: client, budget: budget, timeout: timeout, maxSteps: plannerMaxSteps, audit: audit, log: log}
	_, _ = rand.Read(p.boundaryKey[:]) // crypto/rand.Read never fails (Go 1.24+)
	return p, nil
}

// newLLMClient returns a client for the model of cfg through hc, with its token budget.
func newLLMClient(cfg config.LLM, hc llm.HTTPDoer, log *slog.Logger) (*llm.Client, *llm.Budget, error) {
	var key llm.Secret
	if cfg.APIKey.IsSet() {
		key = llm.SecretFunc(cfg.APIKey.Value)
	}
	budget := llm.NewBudget(llm.Limits{PerIncident: int64(cfg.IncidentTokens), PerDay: int64(cfg.DailyTokens)}, nil)
	client, err := llm.New(llm.Config{
		BaseURL: cfg.BaseURL,
		Model:   cfg.Model,
		APIKey:  key,
		Timeout: cfg.Timeout.Std(),
		HTTP:    hc,
		Budget:  budget,
		Logger:  log,
	})
	return client, budget, err
}

// Name identifies the planner in reports.
func (p *llmPlanner) Name() string { return "llm:" + p.model }

// Next asks the model for the next tool call. It answers done without asking when the step limit
// is reached, and done when the model answers without a tool call (its text is audited and
// otherwise ignored: the verdict is vigil's).
func (p *llmPlanner) Next(ctx context.Context, st *investigate.State) (investigate.Call, bool, error) {
	if st == nil || st.Incident == nil {
		return investigate.Call{}, false, errPlannerState
	}
	if len(st.Calls) >= p.maxSteps {
		return investigate.Call{}, true, nil
	}
	tools, byWire, schemas := p.offer(st.Tools)
	if len(tools) == 0 {
		return investigate.Call{}, false, errNoTools
	}
	id := st.Incident.ID
	step := len(st.Calls) + 1
	boundary := p.boundary(id)
	msgs, flags := p.planMessages(boundary, st)
	resp, err := p.complete(ctx, id, "plan", step, &llm.Request{Incident: id, Messages: msgs, Tools: tools}, flags, true)
	if err != nil {
		return investigate.Call{}, false, fmt.Errorf("llm planner step %d: %w", step, err)
	}
	if len(resp.Message.ToolCalls) == 0 {
		p.log.Debug("planner done", "incident", id, "step", step)
		return investigate.Call{}, true, nil
	}
	tc := resp.Message.ToolCalls[0]
	name, ok := byWire[tc.Name]
	if !ok { // the client refuses calls to tools not offered; this guards that promise
		return investigate.Call{}, false, fmt.Errorf("llm planner step %d: tool %q: %w", step, tc.Name, llm.ErrUnknownTool)
	}
	if err := llm.ValidateArguments(schemas[tc.Name], tc.Arguments); err != nil {
		return investigate.Call{}, false, fmt.Errorf("llm planner step %d: %s: %w: %w", step, name, llm.ErrInvalidToolCall, err)
	}
	input := map[string]any{}
	if err := json.Unmarshal(tc.Arguments, &input); err != nil {
		return investigate.Call{}, false, fmt.Errorf("llm planner step %d: %s: %w", step, name, llm.ErrInvalidToolCall)
	}
	// The investigator sets the incident of every call; compare with that in place, because it
	// silently skips a call made before and the loop would ask again without end.
	input["incident"] = id
	for _, r := range st.Calls {
		if r.Call.Tool == name && sameJSON(r.Call.Input, input) {
			return investigate.Call{}, false, fmt.Errorf("llm planner step %d: %s: %w", step, name, errRepeatedCall)
		}
	}
	p.log.Debug("planner call", "incident", id, "step", step, "tool", name)
	return investigate.Call{Tool: name, Input: input}, false, nil
}

// Summarize asks the model for a short plain-text summary of the investigation. It refuses,
// without asking, when the data holds text the injection detector flags (the deterministic
// summary then keeps its warning), and refuses a reply that is empty, not plain text or itself
// flagged. The summary is cut to summaryMaxChars characters.
func (p *llmPlanner) Summarize(ctx context.Context, st *investigate.State) (string, error) {
	if st == nil || st.Incident == nil {
		return "", errPlannerState
	}
	id := st.Incident.ID
	boundary := p.boundary(id)
	msgs, flags := p.summaryMessages(boundary, st)
	for _, f := range flags {
		if f.Suspicious {
			p.log.Debug("planner summary refused", "incident", id, "block", f.Block)
			return "", errSummaryInjection
		}
	}
	resp, err := p.complete(ctx, id, "summarize", len(st.Calls)+1, &llm.Request{Incident: id, Messages: msgs, MaxTokens: summaryMaxTokens}, flags, false)
	if err != nil {
		return "", fmt.Errorf("llm planner summary: %w", err)
	}
	if resp.Refusal != "" || resp.FinishReason == "content_filter" {
		return "", fmt.Errorf("%w: the model refused", errSummaryUnusable)
	}
	s := plainText(resp.Message.Content)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty", errSummaryUnusable)
	case strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") || strings.HasPrefix(s, "```"):
		return "", fmt.Errorf("%w: not plain text", errSummaryUnusable)
	case llm.Detect(s).Suspicious:
		return "", fmt.Errorf("%w: the summary holds text aimed at an AI", errSummaryUnusable)
	}
	return capRunes(s, summaryMaxChars), nil
}

// complete sends req, recording the prompt and the reply in the audit trail. When planning
// (reserve set), one request never takes more than half of the time ctx has left, so that the
// recipes keep time to run after a failure.
func (p *llmPlanner) complete(ctx context.Context, incident, purpose string, step int, req *llm.Request, flags []injectionFlag, reserve bool) (*llm.Response, error) {
	if dl, ok := ctx.Deadline(); ok && reserve {
		if half := time.Until(dl) / 2; half < p.timeout {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, half)
			defer cancel()
		}
	}
	actor := p.Name()
	tools := make([]string, len(req.Tools))
	for i, t := range req.Tools {
		tools[i] = t.Name
	}
	var injection []injectionFlag
	for _, f := range flags {
		if len(f.Matches) > 0 {
			injection = append(injection, f)
		}
	}
	p.audit(ctx, actor, "llm.request", incident, map[string]any{
		"purpose": purpose, "step": step, "model": p.model, "tools": tools,
		"messages": auditMessages(req.Messages), "injection": injection,
	})
	start := time.Now()
	resp, err := p.client.Complete(ctx, req)
	reply := map[string]any{"purpose": purpose, "step": step, "model": p.model, "duration_ms": time.Since(start).Milliseconds()}
	if resp != nil {
		reply["content"] = resp.Message.Content
		reply["tool_calls"] = auditMessages([]llm.Message{resp.Message})[0].ToolCalls
		reply["finish_reason"] = resp.FinishReason
		reply["usage"] = map[string]int64{"prompt_tokens": resp.Usage.PromptTokens, "completion_tokens": resp.Usage.CompletionTokens, "total_tokens": resp.Usage.TotalTokens}
		if resp.Refusal != "" {
			reply["refusal"] = resp.Refusal
		}
	}
	if err != nil {
		reply["error"] = err.Error() // package llm keeps the key and prompt text out of errors
	}
	p.audit(ctx, actor, "llm.reply", incident, reply)
	return resp, err
}

// offer returns the tools of ts the model may call, under wire names package llm accepts, with
// the map from wire name to tool name and each tool's schema. A tool whose name or schema package
// llm cannot handle is left out.
func (p *llmPlanner) offer(ts []investigate.Tool) ([]llm.Tool, map[string]string, map[string]json.RawMessage) {
	var out []llm.Tool
	byWire := map[string]string{}
	schemas := map[string]json.RawMessage{}
	for _, t := range ts {
		w := wireName(t.Name())
		if _, dup := byWire[w]; dup {
			p.skip(t.Name(), errors.New("its name clashes with another tool's"))
			continue
		}
		// The investigator's tools are read-only by contract (investigate.Tool); action tools
		// live in the respond stage and never reach st.Tools.
		lt := llm.Tool{Name: w, Description: t.Description(), Parameters: t.Schema(), ReadOnly: true}
		// NewConversation checks the tool as Complete would (name, read-only, schema subset).
		if _, err := llm.NewConversation(llm.ConversationConfig{Tools: []llm.Tool{lt}}); err != nil {
			p.skip(t.Name(), err)
			continue
		}
		out = append(out, lt)
		byWire[w] = t.Name()
		schemas[w] = t.Schema()
	}
	return out, byWire, schemas
}

// skip logs, once per tool, that a tool is not offered to the model.
func (p *llmPlanner) skip(tool string, why error) {
	if _, seen := p.skipped.LoadOrStore(tool, true); !seen {
		p.log.Warn("tool not offered to the model", "tool", tool, "err", why)
	}
}

// wireName turns a tool name ("events.search") into one the chat-completions protocol accepts
// ("events_search").
func wireName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() == 64 {
			break
		}
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// boundary returns the data-block boundary of an incident.
func (p *llmPlanner) boundary(incident string) string {
	m := hmac.New(sha256.New, p.boundaryKey[:])
	m.Write([]byte(incident))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// injectionFlag is what the injection detector found in one data block.
type injectionFlag struct {
	Block      string   `json:"block"`
	Suspicious bool     `json:"suspicious"`
	Score      float64  `json:"score"`
	Matches    []string `json:"matches,omitempty"`
}

// blocks collects the data blocks of a conversation and the detector's view of each.
type blocks struct {
	list  []llm.DataBlock
	flags []injectionFlag
}

func (b *blocks) add(name string, db llm.DataBlock) {
	b.list = append(b.list, db)
	b.flags = append(b.flags, scan(name, db.Content))
}

func scan(name, text string) injectionFlag {
	f := llm.Detect(text)
	return injectionFlag{Block: name, Suspicious: f.Suspicious, Score: f.Score, Matches: f.Matches}
}

// evidenceBlocks returns the blocks for the incident and the alerts shown, and how many alerts
// are shown.
func evidenceBlocks(st *investigate.State) (*blocks, int) {
	b := &blocks{}
	inc := st.Incident
	incData := map[string]any{
		"id": inc.ID, "title": inc.Title, "status": inc.Status, "severity_id": inc.Severity, "score": inc.Score,
		"first_seen": inc.FirstSeen, "last_seen": inc.LastSeen, "alert_count": inc.AlertCount,
		"hosts": firstItems(inc.Hosts), "users": firstItems(inc.Users), "tactics": inc.Tactics, "techniques": inc.Techniques,
		"entities": firstItems(inc.Entities),
	}
	if inc.Chain != nil {
		incData["attack_chain"] = firstItems(inc.Chain.Steps)
	}
	b.add("incident", llm.DataBlock{Kind: "incident", Source: "vigil", Content: jsonText(incData)})
	seen := map[string]bool{}
	shown := 0
	for i := range st.Alerts {
		a := &st.Alerts[i]
		k := a.RuleTitle + "|" + a.Host
		if seen[k] || shown >= plannerMaxAlerts {
			continue
		}
		seen[k] = true
		shown++
		b.add("alert:"+a.ID, llm.DataBlock{Kind: "alert", Source: a.Source, Content: jsonText(alertData(a))})
	}
	return b, shown
}

func alertData(a *event.Alert) map[string]any {
	return map[string]any{
		"id": a.ID, "time": a.Time, "source": a.Source, "rule_id": a.RuleID, "rule_title": a.RuleTitle,
		"severity_id": a.Severity, "level": a.Level, "tactics": a.Tactics, "techniques": a.Techniques,
		"host": a.Host, "user": a.User, "src_ip": a.SrcIP, "dst_ip": a.DstIP, "message": a.Message,
		"matches": firstItems(a.Matches), "entities": firstItems(a.Entities), "count": a.Count,
		"event_ids": firstItems(a.EventIDs),
	}
}

// planMessages builds the conversation of one planning step and the detector's findings.
func (p *llmPlanner) planMessages(boundary string, st *investigate.State) ([]llm.Message, []injectionFlag) {
	b, shown := evidenceBlocks(st)
	task := fmt.Sprintf("Investigate incident %s. The incident and %d of its %d alerts follow as data blocks. Call the next tool, or answer without a tool call when you are done.",
		safeID(st.Incident.ID), shown, len(st.Alerts))
	msgs := firstMessages(boundary, fmt.Sprintf(plannerSystem, p.maxSteps), task, b.list)
	flags := b.flags
	for i, r := range st.Calls {
		callID := fmt.Sprintf("call_%d", i+1)
		args, err := json.Marshal(r.Call.Input)
		if err != nil || r.Call.Input == nil {
			args = []byte("{}")
		}
		flags = append(flags, scan(fmt.Sprintf("arguments:%d:%s", i+1, r.Call.Tool), string(args)))
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: callID, Name: wireName(r.Call.Tool), Arguments: args}}})
		content := resultText(r)
		kind := "tool_result"
		if r.Err != "" {
			kind = "tool_error"
		}
		flags = append(flags, scan(fmt.Sprintf("%s:%d:%s", kind, i+1, r.Call.Tool), content))
		msgs = append(msgs, llm.Message{Role: llm.RoleTool, ToolCallID: callID,
			Content: llm.RenderBlock(boundary, llm.DataBlock{Kind: kind, Source: r.Call.Tool, Content: content})})
	}
	return msgs, flags
}

// summaryMessages builds the summary request: the evidence blocks, then the tool results'
// summaries and the findings as data blocks.
func (p *llmPlanner) summaryMessages(boundary string, st *investigate.State) ([]llm.Message, []injectionFlag) {
	b, shown := evidenceBlocks(st)
	for i, r := range st.Calls {
		text := r.Result.Summary
		if r.Err != "" {
			text += "\nerror: " + r.Err
		}
		b.add(fmt.Sprintf("tool_result:%d:%s", i+1, r.Call.Tool), llm.DataBlock{Kind: "tool_result", Source: r.Call.Tool, Content: text})
	}
	if len(st.Findings) > 0 {
		fs := make([]map[string]any, 0, len(st.Findings))
		for _, f := range st.Findings {
			fs = append(fs, map[string]any{"name": f.Name, "weight": f.Weight, "detail": f.Detail, "entity": f.Entity})
		}
		b.add("findings", llm.DataBlock{Kind: "findings", Source: "vigil", Content: capBytes(jsonText(fs), plannerMaxResultBytes)})
	}
	task := fmt.Sprintf("Summarize the investigation of incident %s. The incident, %d of its %d alerts, the %d tool results and the findings follow as data blocks.",
		safeID(st.Incident.ID), shown, len(st.Alerts), len(st.Calls))
	return firstMessages(boundary, fmt.Sprintf(summarySystem, summaryMaxChars), task, b.list), b.flags
}

// firstMessages is llm.BuildMessages with the planner's boundary: the system message (the safety
// preamble, then system) and the user message (task, then the blocks).
func firstMessages(boundary, system, task string, bs []llm.DataBlock) []llm.Message {
	var user strings.Builder
	user.WriteString(task)
	for _, b := range bs {
		user.WriteString("\n\n")
		user.WriteString(llm.RenderBlock(boundary, b))
	}
	return []llm.Message{
		{Role: llm.RoleSystem, Content: llm.SafetyPreamble(boundary) + "\n\n" + system},
		{Role: llm.RoleUser, Content: user.String()},
	}
}

// resultText renders a tool call's result for the model.
func resultText(r investigate.CallRecord) string {
	fs := make([]map[string]any, 0, len(r.Result.Findings))
	for _, f := range r.Result.Findings {
		fs = append(fs, map[string]any{"name": f.Name, "weight": f.Weight, "detail": f.Detail, "entity": f.Entity})
	}
	v := map[string]any{"summary": r.Result.Summary, "findings": fs, "data": r.Result.Data}
	if r.Err != "" {
		v["error"] = r.Err
	}
	return capBytes(jsonText(v), plannerMaxResultBytes)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(not representable: %v)", err)
	}
	return string(b)
}

func firstItems[T any](xs []T) []T {
	if len(xs) > plannerMaxFieldItems {
		return xs[:plannerMaxFieldItems]
	}
	return xs
}

// capBytes cuts s to at most n bytes on a rune boundary, marking the cut.
func capBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf(" [cut: %d more bytes]", len(s)-cut)
}

// capRunes cuts s to at most n characters, at a word boundary when one is near, ending in "…".
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := string([]rune(s)[:n-1])
	if i := strings.LastIndexByte(cut, ' '); i > len(cut)*3/4 {
		cut = strings.TrimRight(cut[:i], " ,;:")
	}
	return cut + "…"
}

// plainText keeps s's printable characters, folds white space to single spaces and trims it.
func plainText(s string) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// safeID keeps the characters of an ID that cannot carry instructions.
func safeID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() >= 80 {
			break
		}
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.:", r)) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func sameJSON(a, b map[string]any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// auditMessage is a message as the audit trail records it.
type auditMessage struct {
	Role       string          `json:"role"`
	Content    string          `json:"content,omitempty"`
	ToolCalls  []auditToolCall `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

type auditToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

func auditMessages(ms []llm.Message) []auditMessage {
	out := make([]auditMessage, len(ms))
	for i, m := range ms {
		out[i] = auditMessage{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			args := tc.Arguments
			if !json.Valid(args) {
				args = nil
			}
			out[i].ToolCalls = append(out[i].ToolCalls, auditToolCall{ID: tc.ID, Name: tc.Name, Arguments: args})
		}
	}
	return out
}
