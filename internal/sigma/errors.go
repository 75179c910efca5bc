package sigma

import "errors"

// Sentinel errors callers may branch on with errors.Is.
var (
	// ErrInvalidRule marks a rule document that violates the Sigma specification.
	ErrInvalidRule = errors.New("invalid sigma rule")
	// ErrUnsupported marks a valid rule that this engine cannot run (for example a regular
	// expression Go's RE2 cannot compile, or an undefined placeholder).
	ErrUnsupported = errors.New("unsupported sigma rule")
	// ErrInvalidJSON marks an event that is not valid JSON.
	ErrInvalidJSON = errors.New("invalid json event")
	// ErrInvalidMapping marks a log source mapping file that cannot be used.
	ErrInvalidMapping = errors.New("invalid log source mapping")
	// ErrUnreadableSource marks a rule source (a folder or file) that cannot be read at all:
	// missing or not readable. Its refusal names the source.
	ErrUnreadableSource = errors.New("cannot read rules")
)
