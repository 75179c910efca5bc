package event

import (
	"strings"
	"testing"
)

func TestDeriveIDStableAndSeparated(t *testing.T) {
	a := DeriveID(PrefixEvent, "http", "ab", "c")
	if a != DeriveID(PrefixEvent, "http", "ab", "c") {
		t.Fatal("DeriveID is not stable")
	}
	if a == DeriveID(PrefixEvent, "http", "a", "bc") {
		t.Fatal("DeriveID does not separate parts")
	}
	if !strings.HasPrefix(a, PrefixEvent) || len(a) != len(PrefixEvent)+26 {
		t.Fatalf("DeriveID = %q, want prefix %q and 26 characters", a, PrefixEvent)
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID(PrefixAlert)
		if seen[id] {
			t.Fatalf("duplicate random ID %q", id)
		}
		seen[id] = true
	}
}
