// Package llm is vigil's optional language-model layer. The investigator is deterministic by
// default; when a user configures an OpenAI-compatible chat-completions endpoint (OpenAI, gateways
// in front of Azure OpenAI, Ollama's /v1, vLLM, llama.cpp's server), the investigator may let the
// model choose the next read-only tool to call and write the incident summary. The deterministic
// investigator stays the fallback: every error this package returns (timeouts, ErrBudget,
// ErrRateLimited, ErrMalformedResponse, ErrInvalidToolCall, ErrMaxSteps) means "fall back".
//
// The package holds five parts:
//
//   - Client speaks POST {base}/chat/completions with tool calling, through an HTTPDoer the caller
//     passes (vigil's egress client), and validates every tool call the model makes against the
//     JSON schema of the tools it was offered (ValidateArguments).
//   - Budget bounds tokens per incident and per UTC day; calls over budget are refused with
//     ErrBudget before anything is sent.
//   - BuildMessages and Conversation put attacker-controlled text (log lines, alerts, e-mails, tool
//     output) only inside data blocks delimited by a random boundary, and tell the model in the
//     system message that data blocks are untrusted evidence, never instructions.
//   - Detect scores text for instructions aimed at an AI (prompt injection), also when obfuscated.
//   - Conversation keeps the message history of one investigation and enforces a step limit.
//
// Safety contract. The package never defines, offers or executes a tool: the caller passes the
// tools, each must be marked ReadOnly, and Complete refuses a request carrying any other. A tool
// call the model makes to a name it was not offered (an "action" it may have been talked into by
// injected text) is returned as a *ToolCallError wrapping ErrUnknownTool, never as a valid call.
// Secrets (the API key) are held in Secret, which redacts itself in fmt, slog and JSON output, and
// are never written into prompts, errors or logs. Nothing here panics on malformed server output.
package llm
