package llm

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora from the test tables")

// decodeSeeds are response bodies for FuzzDecodeResponse: valid, lenient and broken.
var decodeSeeds = []string{
	`{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
	`{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"get_host","arguments":"{\"host\":\"x\"}"}}]},"finish_reason":"tool_calls"}]}`,
	`{"choices":[{"message":{"role":"assistant","tool_calls":[{"function":{"name":"get_host","arguments":{"host":"x"}}},{"function":{"name":"get_host","arguments":{"host":"y"}}}]}}]}`,
	`{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"image_url"}]}}]}`,
	`{"choices":[{"message":{"role":"assistant","function_call":{"name":"f","arguments":"not json"}}}]}`,
	`{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"a","type":"custom","function":{"name":"f","arguments":""}},{"id":"a","function":{"name":"g"}}]}}]}`,
	`{"choices":[{"message":{"role":"assistant","content":"","refusal":"no"}}]}`,
	`{"choices":[],"error":{"message":"overloaded","type":"server_error","code":503}}`,
	`{"error":"model not found"}`,
	`{"choices":[{"message":null}]}`,
	`{"choices":[{"message":{"content":1}}],"usage":{"prompt_tokens":1e300,"total_tokens":-5}}`,
	`{"choices":[{"message":{"role":"assistant","content":"`,
	`[]`,
	`null`,
	``,
}

// validateSeeds are schema and argument pairs for FuzzValidateArguments.
var validateSeeds = [][2]string{
	{`{"type":"object","properties":{"q":{"type":"string","maxLength":3}},"required":["q"]}`, `{"q":"ab"}`},
	{`{"type":"object","properties":{"n":{"type":["integer","null"],"minimum":1}},"additionalProperties":false}`, `{"n":1.0,"x":2}`},
	{`{"type":"object","properties":{"a":{"type":"array","items":{"enum":[1,"a",null,[1],{"k":1}]}}}}`, `{"a":[1.0,{"k":1},[1]]}`},
	{`{"type":"object","properties":{"a":{"pattern":"x"}}}`, `{}`},
	{`{}`, `{"a":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`},
}

// TestFuzzCorpus keeps testdata/fuzz in step with the test tables: every table line is a committed
// seed. Run with -update after changing a table.
func TestFuzzCorpus(t *testing.T) {
	var detect, decode, validate []string
	for _, tt := range detectTests {
		detect = append(detect, corpusFile(tt.text))
	}
	for _, s := range decodeSeeds {
		decode = append(decode, corpusFile(s))
	}
	for _, p := range validateSeeds {
		validate = append(validate, corpusFile(p[0], p[1]))
	}
	checkCorpus(t, "FuzzDetect", detect)
	checkCorpus(t, "FuzzDecodeResponse", decode)
	checkCorpus(t, "FuzzValidateArguments", validate)
}

// corpusFile renders string arguments in the "go test fuzz v1" format.
func corpusFile(args ...string) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(a))
	}
	return b.String()
}

func checkCorpus(t *testing.T, target string, files []string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	for _, content := range files {
		path := filepath.Join(dir, fmt.Sprintf("seed-%x", sha256.Sum256([]byte(content)))[:5+16])
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("seed corpus out of date: %s missing or different (run go test -run TestFuzzCorpus -update)", path)
		}
	}
}

// FuzzDetect checks that Detect never panics, stays within its limits and is deterministic, and
// that any text rendered as a data block stays inside it.
func FuzzDetect(f *testing.F) {
	boundary := NewBoundary()
	f.Fuzz(func(t *testing.T, text string) {
		got := Detect(text)
		if got.Score < 0 || got.Score > 1 || got.Suspicious != (got.Score >= SuspiciousScore) {
			t.Fatalf("finding %+v out of range", got)
		}
		if (len(got.Matches) == 0) != (got.Score == 0) {
			t.Fatalf("matches %v with score %v", got.Matches, got.Score)
		}
		if got.Truncated != (len(text) > MaxDetectBytes) {
			t.Fatalf("Truncated = %v for %d bytes", got.Truncated, len(text))
		}
		if again := Detect(text); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("not deterministic: %+v then %+v", got, again)
		}

		out := RenderBlock(boundary, DataBlock{Kind: "k", Source: "s", Content: text + boundary})
		if strings.Count(out, boundary) != 2 || !utf8.ValidString(out) {
			t.Fatalf("block not sealed: %q", out)
		}
		_, body, _ := strings.Cut(out, ">\n")
		body = strings.TrimSuffix(body, "\n</data id=\""+boundary+"\">")
		if strings.ContainsAny(body, "<>") {
			t.Fatalf("angle bracket in body: %q", body)
		}
	})
}

// FuzzDecodeResponse checks that no server answer panics the decoder and that what it accepts
// keeps the promises Complete makes.
func FuzzDecodeResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		resp, err := decodeResponse(200, []byte(body), "sk-fuzz")
		if err != nil {
			if resp != nil {
				t.Fatal("response with error")
			}
			if strings.Contains(err.Error(), "sk-fuzz") {
				t.Fatalf("key in error %q", err)
			}
			return
		}
		if resp.Message.Content == "" && len(resp.Message.ToolCalls) == 0 {
			t.Fatal("empty message accepted")
		}
		ids := map[string]bool{}
		for _, tc := range resp.Message.ToolCalls {
			if tc.ID == "" || ids[tc.ID] {
				t.Fatalf("tool call id %q empty or repeated", tc.ID)
			}
			ids[tc.ID] = true
			if !json.Valid(tc.Arguments) {
				t.Fatalf("arguments %q are not valid JSON", tc.Arguments)
			}
			_ = checkCall(tc, map[string]*schema{"get_host": {types: []string{"object"}}})
		}
		if resp.Usage.PromptTokens < 0 || resp.Usage.CompletionTokens < 0 || resp.Usage.TotalTokens < 0 {
			t.Fatalf("negative usage %+v", resp.Usage)
		}
	})
}

// FuzzValidateArguments checks that no schema or arguments panic the validator.
func FuzzValidateArguments(f *testing.F) {
	f.Fuzz(func(t *testing.T, schemaJSON, args string) {
		err := ValidateArguments(json.RawMessage(schemaJSON), json.RawMessage(args))
		if err == nil && !json.Valid([]byte(args)) {
			t.Fatalf("invalid JSON %q accepted", args)
		}
	})
}
