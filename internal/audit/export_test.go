package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/audit"
)

// The functions below re-implement the package documentation's encoding without using the
// package, so that the documentation, not the code, is what the export is checked against.

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

type encoder struct{ b []byte }

func (e *encoder) u64(x uint64)   { e.b = binary.BigEndian.AppendUint64(e.b, x) }
func (e *encoder) field(b []byte) { e.u64(uint64(len(b))); e.b = append(e.b, b...) }

func genesis(chainID string) []byte {
	var e encoder
	e.field([]byte("vigil.audit.genesis.v1"))
	e.field([]byte(chainID))
	return sha256Sum(e.b)
}

func checkpointMessage(chainID string, n, seq uint64, hash []byte, ns int64, pub, prevKey, endorsement []byte) []byte {
	var e encoder
	e.field([]byte("vigil.audit.checkpoint.v1"))
	e.field([]byte(chainID))
	e.u64(n)
	e.u64(seq)
	e.b = append(e.b, hash...)
	e.u64(uint64(ns))
	e.field(pub)
	e.field(prevKey)
	e.field(endorsement)
	return e.b
}

func rotateMessage(chainID string, n, seq uint64, hash, pub []byte) []byte {
	var e encoder
	e.field([]byte("vigil.audit.rotate.v1"))
	e.field([]byte(chainID))
	e.u64(n)
	e.u64(seq)
	e.b = append(e.b, hash...)
	e.field(pub)
	return e.b
}

func pemPublicKey(t testing.TB, pub ed25519.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// exportLine is any line of an export.
type exportLine struct {
	Type string `json:"type"`
	// header
	Format   string `json:"format"`
	From     string `json:"from"`
	To       string `json:"to"`
	ChainID  string `json:"chain_id"`
	Genesis  string `json:"genesis"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// entry and checkpoint
	Seq      uint64 `json:"seq"`
	Time     string `json:"time"`
	TimeNS   int64  `json:"time_ns"`
	Actor    string `json:"actor"`
	Action   string `json:"action"`
	Subject  string `json:"subject"`
	Data     string `json:"data"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	// checkpoint
	N           uint64 `json:"n"`
	PublicKey   string `json:"public_key"`
	Signature   string `json:"signature"`
	PrevKey     string `json:"prev_key"`
	Endorsement string `json:"endorsement"`
}

func unhex(t testing.TB, s string, size int) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || (size >= 0 && len(b) != size) {
		t.Fatalf("hex %q: %d bytes, %v", s, len(b), err)
	}
	return b
}

// checkExport verifies an export on its own: every entry's hash, the links between entries and
// every checkpoint's signature against the entry it follows. It returns the entry and checkpoint
// lines.
func checkExport(t testing.TB, export []byte, trusted ed25519.PublicKey) (entries, checkpoints []exportLine) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(export))
	sc.Buffer(nil, 1<<24)
	var hdr exportLine
	var prev []byte
	for i := 0; sc.Scan(); i++ {
		var l exportLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Bytes())
		}
		switch {
		case i == 0:
			if l.Type != "header" || l.Format != "vigil.audit.export.v1" || hex.EncodeToString(genesis(l.ChainID)) != l.Genesis {
				t.Fatalf("header %+v: genesis is not SHA-256 of the documented encoding", l)
			}
			hdr = l
		case l.Type == "entry":
			if len(entries) == 0 {
				if l.Seq != hdr.FirstSeq {
					t.Fatalf("first entry %d, header says %d", l.Seq, hdr.FirstSeq)
				}
				prev = unhex(t, l.PrevHash, 32)
				if l.Seq == 1 && !bytes.Equal(prev, genesis(hdr.ChainID)) {
					t.Fatalf("entry 1 does not start from the genesis hash")
				}
			} else if l.Seq != entries[len(entries)-1].Seq+1 || l.PrevHash != hex.EncodeToString(prev) {
				t.Fatalf("entry %d does not follow entry %d", l.Seq, entries[len(entries)-1].Seq)
			}
			tm, err := time.Parse(time.RFC3339Nano, l.Time)
			if err != nil || tm.UnixNano() != l.TimeNS {
				t.Fatalf("entry %d: time %q and time_ns %d disagree (%v)", l.Seq, l.Time, l.TimeNS, err)
			}
			h := hashEntry(int64(l.Seq), l.TimeNS, l.Actor, l.Action, l.Subject, []byte(l.Data), prev)
			if hex.EncodeToString(h) != l.Hash {
				t.Fatalf("entry %d: hash does not re-verify", l.Seq)
			}
			if !json.Valid([]byte(l.Data)) {
				t.Fatalf("entry %d: data is not JSON", l.Seq)
			}
			prev = h
			entries = append(entries, l)
		case l.Type == "checkpoint":
			if len(entries) == 0 || l.Seq != entries[len(entries)-1].Seq || l.Hash != entries[len(entries)-1].Hash {
				t.Fatalf("checkpoint at %d does not cover the entry before it", l.Seq)
			}
			pub := unhex(t, l.PublicKey, ed25519.PublicKeySize)
			prevKey, endorsement := unhex(t, l.PrevKey, -1), unhex(t, l.Endorsement, -1)
			msg := checkpointMessage(hdr.ChainID, l.N, l.Seq, unhex(t, l.Hash, 32), l.TimeNS, pub, prevKey, endorsement)
			if !ed25519.Verify(pub, msg, unhex(t, l.Signature, ed25519.SignatureSize)) {
				t.Fatalf("checkpoint at %d: signature does not verify", l.Seq)
			}
			if len(prevKey) > 0 && !ed25519.Verify(prevKey, rotateMessage(hdr.ChainID, l.N, l.Seq, unhex(t, l.Hash, 32), pub), endorsement) {
				t.Fatalf("checkpoint at %d: endorsement does not verify", l.Seq)
			}
			if trusted != nil && !trusted.Equal(ed25519.PublicKey(pub)) && len(prevKey) == 0 {
				t.Fatalf("checkpoint at %d: signed by an unexpected key", l.Seq)
			}
			checkpoints = append(checkpoints, l)
		default:
			t.Fatalf("line %d: unknown type %q", i+1, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 && entries[len(entries)-1].Seq != hdr.LastSeq {
		t.Fatalf("last entry %d, header says %d", entries[len(entries)-1].Seq, hdr.LastSeq)
	}
	return entries, checkpoints
}

func TestExportReverifiesIndependently(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := open(t, dir, 100)
	for i := range 250 {
		if _, err := l.Append(ctx, entryFor(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Odd text survives the export byte for byte.
	odd := audit.Entry{Actor: "llm:gpt-x", Action: "llm.reply", Subject: "INC-\u2028 \"q\" <&>",
		Data: json.RawMessage(`{"reply":"line1\nline2 \u0000 \ud83d\ude00 </script>","n":1e400}`)}
	if _, err := l.Append(ctx, odd); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	pub, err := audit.ReadPublicKey(dir + "/audit.pub")
	if err != nil {
		t.Fatal(err)
	}
	entries, cps := checkExport(t, buf.Bytes(), pub)
	if len(entries) != 251 || len(cps) != 2 {
		t.Fatalf("export has %d entries and %d checkpoints, want 251 and 2", len(entries), len(cps))
	}
	if got := strings.Count(buf.String(), "\n"); got != 1+251+2 {
		t.Fatalf("%d lines, want one per entry and checkpoint plus a header", got)
	}
	if e := entries[250]; e.Subject != odd.Subject || !strings.Contains(e.Data, `</script>`) {
		t.Fatalf("odd entry exported as %+v", e)
	}

	// A time range exports the unbroken run of entries in it, checkpoints included.
	buf.Reset()
	if err := l.Export(ctx, &buf, base.Add(90*time.Second), base.Add(110*time.Second)); err != nil {
		t.Fatal(err)
	}
	entries, cps = checkExport(t, buf.Bytes(), pub)
	if len(entries) != 20 || entries[0].Seq != 91 || len(cps) != 1 || cps[0].Seq != 100 {
		t.Fatalf("range export: %d entries from %d, checkpoints %+v", len(entries), entries[0].Seq, cps)
	}

	// After Close's checkpoint, the whole export is anchored to the end.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, dir, 100)
	defer l.Close()
	buf.Reset()
	if err := l.Export(ctx, &buf, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if entries, cps := checkExport(t, buf.Bytes(), pub); len(entries) != 251 || len(cps) != 3 || cps[2].Seq != 251 {
		t.Fatalf("after close: %d entries, %d checkpoints", len(entries), len(cps))
	}

	// An empty range is a header alone.
	buf.Reset()
	if err := l.Export(ctx, &buf, base.Add(-time.Hour), base.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 1 {
		t.Fatalf("empty range: %d lines: %s", lines, buf.String())
	}
}

func TestExportOfEmptyLog(t *testing.T) {
	l := open(t, t.TempDir(), 0)
	defer l.Close()
	var buf bytes.Buffer
	if err := l.Export(context.Background(), &buf, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	entries, cps := checkExport(t, buf.Bytes(), nil)
	if len(entries)+len(cps) != 0 {
		t.Fatal("entries in an empty export")
	}
}
