package event

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
)

// ID prefixes name the kind of object an ID refers to.
const (
	PrefixEvent    = "ev_"
	PrefixAlert    = "al_"
	PrefixIncident = "in_"
	PrefixEvidence = "ed_"
	PrefixAction   = "ac_"
	PrefixDead     = "dl_"
	PrefixFeedback = "fb_"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// DeriveID returns a stable ID: prefix followed by 26 base32 characters of the SHA-256 of the
// parts (each part is length-separated, so ("ab","c") and ("a","bc") differ). The same parts always
// give the same ID, which is what makes replays after a crash idempotent.
func DeriveID(prefix string, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		l := len(p)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var sum [32]byte
	return prefix + idEncoding.EncodeToString(h.Sum(sum[:0])[:16])
}

// NewID returns a random ID with the given prefix.
func NewID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return prefix + idEncoding.EncodeToString(b[:])
}
