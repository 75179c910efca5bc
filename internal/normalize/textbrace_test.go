package normalize

import (
	"errors"
	"testing"

	"github.com/vigil-soc/vigil/internal/event"
)

// A text line that starts with a brace is a text line when it came as text, and malformed
// when it came as JSON.
func TestBraceTextLine(t *testing.T) {
	line := []byte("{project}  Copyright (C) {year}  {fullname}")
	ev, err := Event(Input{Raw: line, Origin: event.Origin{Format: "syslog"}})
	if err != nil {
		t.Fatalf("text line starting with a brace: %v", err)
	}
	if ev.Message != string(line) || ev.Class != event.ClassUnknown {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := Event(Input{Raw: line, Origin: event.Origin{Format: "json"}}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("as JSON: err = %v, want ErrMalformed", err)
	}
}
