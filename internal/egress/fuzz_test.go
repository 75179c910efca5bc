package egress

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// Retry-After and rate-limit headers come from remote servers.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-5", "1740830405", "99999999999999999999", ""} {
		f.Add(s, s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, retryAfter, reset string) {
		h := http.Header{"Retry-After": {retryAfter}, "X-Rate-Limit-Reset": {reset}}
		if d, ok := RetryAfter(h, now); ok && d < 0 {
			t.Fatalf("negative wait %v for %q/%q", d, retryAfter, reset)
		}
	})
}

// The address policy must never call a blocked address public, however it is written.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:10.0.0.1", "fe80::1%eth0", "64:ff9b::a9fe:a9fe", "8.8.8.8", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		n := normalize(a)
		if (n.IsLoopback() || n.IsPrivate() || n.IsLinkLocalUnicast() || n.IsMulticast() || n.IsUnspecified()) && classify(a) == "" {
			t.Fatalf("%s classified public", s)
		}
	})
}
