package sqlite

import (
	"bytes"
	"testing"
)

func TestContainsFoldAgreesWithToLower(t *testing.T) {
	lines := []string{`{"host":"WS01.corp"}`, `{"user":"Example\\Bob"}`, `ws0`, ``, `xWs01y`, `{"u":"ÄBC"}`, `Ws01Ws01`, "\u212Aiosk"}
	needles := []string{"ws01", "bob", "example", "x", "äbc", "ws01ws01", "zz", "kiosk"}
	for _, l := range lines {
		for _, n := range needles {
			want := bytes.Contains(bytes.ToLower([]byte(l)), []byte(n))
			if got := containsFold([]byte(l), []byte(n)); got != want {
				t.Errorf("containsFold(%q, %q) = %v, want %v", l, n, got, want)
			}
		}
	}
}

func FuzzContainsFold(f *testing.F) {
	f.Add([]byte(`{"host":"WS01"}`), []byte("ws01"))
	f.Fuzz(func(t *testing.T, l, n []byte) {
		n = bytes.ToLower(n)
		if want := bytes.Contains(bytes.ToLower(l), n); containsFold(l, n) != want {
			t.Fatalf("containsFold(%q, %q) != %v", l, n, want)
		}
	})
}
