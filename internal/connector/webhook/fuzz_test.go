package webhook

import (
	"net/http"
	"testing"
	"time"
)

// Receivers run Verify on whatever arrives.
func FuzzVerify(f *testing.F) {
	f.Add("1750000000", "sha256=00", []byte(`{}`))
	f.Add("", "", []byte(nil))
	f.Add("-1", "sha256=", []byte("x"))
	now := time.Unix(1_750_000_000, 0)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{HeaderTimestamp: {ts}, HeaderSignature: {sig}}
		if Verify("k", h, body, now, 0) == nil && sig != Sign("k", ts, body) {
			t.Fatalf("accepted a signature that is not ours: %q", sig)
		}
	})
}
