package ask

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/llm"
	"github.com/vigil-soc/vigil/internal/query"
)

// Translator compiles questions to queries: with the LLM when one is configured and its answer
// parses, offline otherwise. The query it returns always parses: the offline compiler's as
// written (short field aliases, which analysts type), the model's in canonical form.
type Translator struct {
	// LLM, when set, is asked first. Nil: offline only.
	LLM llm.Completer
	// Now is the clock ("today", "this week"). Default time.Now.
	Now func() time.Time
	// Audit, when set, records every exchange with the LLM: the question and the model's
	// answer (action "ask.llm"), or why it was not used.
	Audit func(ctx context.Context, action string, data any)
}

// llmAnswer is the JSON object the model must answer with.
type llmAnswer struct {
	Query string `json:"query"`
	Notes string `json:"notes"`
}

// Translate compiles question. An LLM failure or an answer that does not parse is not an error:
// the offline compiler answers instead, and a note says why.
func (t *Translator) Translate(ctx context.Context, question string) (Translation, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	at := now().UTC()
	if err := checkLength(question); err != nil {
		return Translation{Question: question}, err // before anything reaches the model
	}
	var fallback string
	if t.LLM != nil && strings.TrimSpace(question) != "" {
		tr, raw, err := t.viaLLM(ctx, question, at)
		if t.Audit != nil {
			rec := map[string]any{"question": question, "answer": raw}
			if err != nil {
				rec["error"] = err.Error()
			} else {
				rec["query"] = tr.Query
			}
			t.Audit(ctx, "ask.llm", rec)
		}
		if err == nil {
			return tr, nil
		}
		fallback = fmt.Sprintf("the LLM's answer was not used (%v); compiled offline", err)
	}
	tr, err := Compile(question, at)
	if err != nil {
		return tr, err
	}
	if _, err := query.Parse(tr.Query); err != nil {
		// The offline compiler writes only what the language takes; this is a bug.
		return tr, fmt.Errorf("ask: compiled %q, which does not parse: %w", tr.Query, err)
	}
	if fallback != "" {
		tr.Notes = append([]string{fallback}, tr.Notes...)
	}
	return tr, nil
}

// viaLLM asks the model; raw is its answer as received (for the audit trail).
func (t *Translator) viaLLM(ctx context.Context, question string, now time.Time) (tr Translation, raw string, err error) {
	// The question is the analyst's own text, but it is passed as a data block all the same:
	// it is a request to translate, never instructions to follow.
	msgs := llm.BuildMessages(systemPrompt(now), "Translate the analyst's question in the data block into one query. Answer with one JSON object: {\"query\": \"...\", \"notes\": \"how you read the question, in one sentence\"}.",
		[]llm.DataBlock{{Kind: "question", Source: "analyst", Content: question}})
	resp, err := t.LLM.Complete(ctx, &llm.Request{Messages: msgs, ResponseFormat: &llm.ResponseFormat{Type: "json_object"}, MaxTokens: 400})
	if err != nil {
		return Translation{}, "", err
	}
	raw = resp.Message.Content
	var ans llmAnswer
	if err := llm.DecodeFinal(raw, &ans); err != nil {
		return Translation{}, raw, err
	}
	q, err := query.Parse(ans.Query)
	if err != nil {
		return Translation{}, raw, fmt.Errorf("its query does not parse: %w", err)
	}
	tr = Translation{Question: question, Query: q.String(), Source: "llm"}
	if n := strings.TrimSpace(ans.Notes); n != "" {
		tr.Notes = []string{n}
	}
	return tr, raw, nil
}

// systemPrompt describes the query language to the model.
func systemPrompt(now time.Time) string {
	var b strings.Builder
	b.WriteString(`You translate a security analyst's question into vigil's hunting query language. The query only reads stored events; nothing you write changes anything.

Grammar:
  query := [expr] { "|" stage }
  expr: comparisons FIELD op VALUE joined by and (or adjacency), or, not, parentheses; op is = != > >= < <= ~ (regex); FIELD in (V1, V2); a bare or quoted word alone is free text.
  Values: bare words, or "quoted" with \" and \\ escapes. * is a wildcard in = and !=. IP fields take CIDR. Comparisons are case-insensitive.
  stages: since DURATION (30m, 24h, 7d, 2w) | between DATE and DATE (YYYY-MM-DD or RFC 3339) | where expr | first_seen FIELD by FIELD [within DURATION] (keeps events whose FIELD value was never seen before for the same by-FIELD value) | count [by F1, F2] | sort FIELD [asc|desc] | limit N | fields F1, F2
  class values: authentication, process_activity, network_activity, dns_activity, http_activity, file_activity, registry_activity, email_activity, detection_finding, account_change, group_management, api_activity, service_activity, scheduled_job_activity. status values: success, failure.

Examples:
  failed logins for alice from new countries this week -> class = authentication status = failure user = alice | since 7d | first_seen country by user
  top 5 hosts by failed logins today -> class = authentication status = failure | since 24h | count by host | limit 5
  encoded powershell on ws01 -> class = process_activity process = powershell.exe cmd ~ "-e(nc|ncodedcommand)?\s" host = ws01

Fields (name, alias, meaning):
`)
	for _, f := range query.Fields() {
		fmt.Fprintf(&b, "  %s", f.Name)
		if f.Alias != "" {
			fmt.Fprintf(&b, " (%s)", f.Alias)
		}
		fmt.Fprintf(&b, ": %s\n", f.Doc)
	}
	fmt.Fprintf(&b, "\nThe time now is %s (UTC).", now.Format(time.RFC3339))
	return b.String()
}
