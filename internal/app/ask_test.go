package app

import (
	"context"
	"testing"

	"github.com/vigil-soc/vigil/internal/audit"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/llm/llmtest"
)

// With an LLM configured, the server's question compiler asks it (through the egress client),
// keeps its query when it parses, and records the exchange in the audit trail.
func TestAskUsesConfiguredLLMAndAudits(t *testing.T) {
	srv := llmtest.New(llmtest.FinalJSON(map[string]string{"query": "class = authentication user = alice | since 7d", "notes": "alice's sign-ins"}))
	defer srv.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.LLM.BaseURL, cfg.LLM.Model = srv.URL, "test-model"
	a := openTestApp(t, cfg)
	if a.ask == nil || a.ask.LLM == nil {
		t.Fatal("the question compiler does not use the configured model")
	}
	tr, err := a.ask.Translate(context.Background(), "what did alice sign in to this week")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Source != "llm" || tr.Query == "" {
		t.Fatalf("translation %+v", tr)
	}
	es, err := a.auditLog.Entries(context.Background(), audit.Query{Action: "ask.llm"})
	if err != nil || len(es) != 1 || es[0].Actor != "ask" {
		t.Fatalf("audit entries %+v, %v", es, err)
	}
	// Without a model, questions compile offline.
	cfg2 := config.Default()
	cfg2.DataDir = t.TempDir()
	b := openTestApp(t, cfg2)
	if b.ask == nil || b.ask.LLM != nil {
		t.Fatalf("no model configured, yet the compiler has one: %+v", b.ask)
	}
}
