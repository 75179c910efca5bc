package audit

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// checkpoint is a signed statement that entry Seq of the chain has hash Hash.
type checkpoint struct {
	N           uint64 // position among checkpoints, from 1
	Seq         uint64 // last entry covered; 0 with the genesis hash before the first entry
	Hash        Digest
	Time        time.Time
	PublicKey   ed25519.PublicKey
	Signature   []byte
	PrevKey     ed25519.PublicKey // set only on the first checkpoint of a rotated-in key
	Endorsement []byte            // PrevKey's signature over rotateMessage
}

// signedMessage is what the checkpoint's key signs.
func (c *checkpoint) signedMessage(chainID string) []byte {
	var e enc
	e.str(tagCheckpoint)
	e.str(chainID)
	e.u64(c.N)
	e.u64(c.Seq)
	e.raw(c.Hash[:])
	e.u64(uint64(c.Time.UnixNano()))
	e.field(c.PublicKey)
	e.field(c.PrevKey)
	e.field(c.Endorsement)
	return e.b
}

// rotateMessage is what the previous key signs to endorse c's key.
func (c *checkpoint) rotateMessage(chainID string) []byte {
	var e enc
	e.str(tagRotate)
	e.str(chainID)
	e.u64(c.N)
	e.u64(c.Seq)
	e.raw(c.Hash[:])
	e.field(c.PublicKey)
	return e.b
}

// sign fills PublicKey and Signature.
func (c *checkpoint) sign(chainID string, key ed25519.PrivateKey) {
	c.PublicKey = key.Public().(ed25519.PublicKey)
	c.Signature = ed25519.Sign(key, c.signedMessage(chainID))
}

// signatureOK reports whether the signature (and any endorsement) verifies. Key and signature
// lengths have been checked by decode, so ed25519.Verify cannot panic.
func (c *checkpoint) signatureOK(chainID string) bool {
	return ed25519.Verify(c.PublicKey, c.signedMessage(chainID), c.Signature)
}

func (c *checkpoint) endorsementOK(chainID string) bool {
	return ed25519.Verify(c.PrevKey, c.rotateMessage(chainID), c.Endorsement)
}

// cpRow is a checkpoint as read from the database, every column as whatever it holds.
type cpRow struct {
	n, seq, hash, time, publicKey, signature, prevKey, endorsement any
}

const checkpointColumns = "n, seq, hash, time, public_key, signature, prev_key, endorsement"

func (r *cpRow) dest() []any {
	return []any{&r.n, &r.seq, &r.hash, &r.time, &r.publicKey, &r.signature, &r.prevKey, &r.endorsement}
}

// seqValue is the checkpoint's seq column when it is an integer, for naming it in a report.
func (r *cpRow) seqValue() (int64, bool) {
	s, ok := r.seq.(int64)
	return s, ok
}

// decode turns r into a checkpoint, naming the first malformed column.
func (r *cpRow) decode() (checkpoint, error) {
	var c checkpoint
	n, ok := r.n.(int64)
	if !ok || n < 1 {
		return c, fmt.Errorf("malformed n column (%s)", describe(r.n))
	}
	c.N = uint64(n)
	seq, ok := r.seq.(int64)
	if !ok || seq < 0 {
		return c, fmt.Errorf("malformed seq column (%s)", describe(r.seq))
	}
	c.Seq = uint64(seq)
	var err error
	if c.Hash, err = digest("hash", r.hash); err != nil {
		return c, err
	}
	ns, ok := r.time.(int64)
	if !ok {
		return c, fmt.Errorf("malformed time column (%s)", describe(r.time))
	}
	c.Time = time.Unix(0, ns).UTC()
	if c.PublicKey, err = fixedBytes("public_key", r.publicKey, ed25519.PublicKeySize, false); err != nil {
		return c, err
	}
	if c.Signature, err = fixedBytes("signature", r.signature, ed25519.SignatureSize, false); err != nil {
		return c, err
	}
	if c.PrevKey, err = fixedBytes("prev_key", r.prevKey, ed25519.PublicKeySize, true); err != nil {
		return c, err
	}
	if c.Endorsement, err = fixedBytes("endorsement", r.endorsement, ed25519.SignatureSize, true); err != nil {
		return c, err
	}
	if (len(c.PrevKey) == 0) != (len(c.Endorsement) == 0) {
		return c, fmt.Errorf("malformed rotation columns (prev_key without endorsement or the reverse)")
	}
	return c, nil
}

// fixedBytes accepts a BLOB (or TEXT) column of exactly size bytes, or empty when optional.
func fixedBytes(col string, v any, size int, optional bool) ([]byte, error) {
	s, err := text(col, v)
	if err != nil {
		return nil, err
	}
	if len(s) == size || (optional && len(s) == 0) {
		if len(s) == 0 {
			return nil, nil
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("malformed %s column (%d bytes, want %d)", col, len(s), size)
}
