package llm

import (
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Secret holds the API key, or a way to fetch it, and redacts itself wherever it is printed: in
// fmt verbs (%v, %+v, %#v, %s, %q, %x), in slog attributes and in JSON. The zero Secret is unset:
// the client then sends no Authorization header (local Ollama, llama.cpp).
type Secret struct {
	resolve func() (string, error)
}

// SecretValue returns a Secret holding v. An empty v gives an unset Secret.
func SecretValue(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{resolve: func() (string, error) { return v, nil }}
}

// SecretFunc returns a Secret resolved by f each time a request is sent, so that a key in a file
// can be rotated without a restart. config.Secret's Value method fits: SecretFunc(cfg.Key.Value).
func SecretFunc(f func() (string, error)) Secret { return Secret{resolve: f} }

// IsSet reports whether the secret holds or references something.
func (s Secret) IsSet() bool { return s.resolve != nil }

// reveal returns the secret's value. Only the client calls it, to build the Authorization header.
func (s Secret) reveal() (string, error) {
	if s.resolve == nil {
		return "", nil
	}
	v, err := s.resolve()
	if err != nil {
		// The resolver's error names where the secret comes from, never its value.
		return "", fmt.Errorf("resolve api key: %w", err)
	}
	return v, nil
}

// String redacts the secret.
func (s Secret) String() string { return redacted }

// GoString redacts %#v.
func (s Secret) GoString() string { return "llm.Secret(" + redacted + ")" }

// Format redacts every fmt verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(redacted))
}

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value {
	if !s.IsSet() {
		return slog.StringValue("unset")
	}
	return slog.StringValue(redacted)
}

// MarshalJSON redacts the secret in JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText redacts the secret in text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
