package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "10m", "24h" or "7d" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a duration string; a "d" suffix means days.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a Go duration, also accepting whole days as "7d".
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 90s, 10m, 24h or 7d", s)
	}
	return v, nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Secret is a reference to a secret value: `{env: NAME}` or `{file: PATH}`. A plain string in
// the file is refused, so that secrets do not end up in configuration files by accident.
type Secret struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// ErrSecretUnset is returned by Secret.Value when the reference names nothing.
var ErrSecretUnset = errors.New("secret not set")

// IsSet reports whether the secret references something.
func (s Secret) IsSet() bool { return s.Env != "" || s.File != "" }

func (s Secret) check() error {
	if s.Env != "" && s.File != "" {
		return errors.New("set env or file, not both")
	}
	return nil
}

// UnmarshalYAML accepts only the mapping form.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return fmt.Errorf("line %d: a secret must be a reference {env: NAME} or {file: PATH}, not a literal", n.Line)
	}
	type plain Secret
	var p plain
	dec := n.Decode
	if err := dec(&p); err != nil {
		return err
	}
	*s = Secret(p)
	return nil
}

// Value resolves the secret. File contents are trimmed of surrounding white space.
func (s Secret) Value() (string, error) {
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s: %w", s.Env, ErrSecretUnset)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", ErrSecretUnset
}

// LogValue redacts the secret: only where it comes from is logged.
func (s Secret) LogValue() slog.Value {
	switch {
	case s.Env != "":
		return slog.StringValue("env:" + s.Env)
	case s.File != "":
		return slog.StringValue("file:" + s.File)
	}
	return slog.StringValue("unset")
}

// String redacts the secret in fmt output too.
func (s Secret) String() string { return s.LogValue().String() }
