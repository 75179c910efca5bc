// Package audit is vigil's tamper-evident audit trail. Every machine and human action lands here:
// configuration, rule and ingest changes, tool calls with their inputs, LLM prompts and replies,
// verdicts, approvals, response actions and their results, analyst feedback, incident merges and
// splits. Every pipeline stage and the API append to one [Log]; `vigil audit verify` reads it back
// with [VerifyDir] without opening it for writing.
//
// # Storage
//
// The log lives in its own SQLite database, DIR/audit.db (WAL, synchronous=FULL), beside the signing
// key DIR/audit.key (Ed25519, PKCS#8 PEM, mode 0600) and its public half DIR/audit.pub (PKIX PEM).
// One connection writes; [Log.Append] returns only once its entry is committed. Concurrent appends
// are group-committed: whoever holds the writer commits everything queued so far in one transaction,
// so many callers share one fsync. [Log.AppendBatch] commits many entries at once.
//
// Triggers make UPDATE and DELETE on the tables fail and refuse an insert that is not the next
// sequence number. They are defence in depth only: anyone who can write the file can drop them, so
// verification never relies on them.
//
// # Hash chain
//
// Entries are numbered from 1. Each entry's Hash covers its content and the previous entry's Hash,
// so changing, removing, inserting or reordering entries breaks the chain at the first entry
// affected. The encoding below is the whole contract: an independent verifier needs only it, the
// exported JSON lines ([Log.Export]) and the public key.
//
// Notation: u64(x) is x as 8 bytes, big-endian; field(b) is u64(len(b)) followed by the bytes of b;
// strings are their UTF-8 bytes. Time is the signed number of nanoseconds since
// 1970-01-01T00:00:00Z (Go's Time.UnixNano), written as u64 of its two's complement.
//
//	genesis         = SHA-256( field("vigil.audit.genesis.v1") field(chainID) )
//	entry.PrevHash  = genesis for entry 1, else the Hash of entry Seq-1
//	entry.Hash      = SHA-256( field("vigil.audit.entry.v1") u64(Seq) u64(Time)
//	                           field(Actor) field(Action) field(Subject) field(Data) PrevHash )
//
// PrevHash is the raw 32 bytes, not length-prefixed. Data is the entry's details as canonical JSON:
// the caller's JSON decoded and re-encoded by encoding/json without HTML escaping, so object keys are
// sorted, insignificant whitespace is gone and numbers keep the digits they were written with; an
// empty Data is stored as null. The hash covers the stored bytes, so a verifier never
// re-canonicalises.
//
// # Checkpoints
//
// Every Options.CheckpointEvery entries (default 100), on [Log.Close] and on [Log.RotateKey], the
// log signs a checkpoint: its number N (from 1, without gaps), the Seq and Hash of the last entry it
// covers (Seq 0 and the genesis hash before the first entry), the time it was made, and the public
// key that signed it. The signature is Ed25519 over
//
//	field("vigil.audit.checkpoint.v1") field(chainID) u64(N) u64(Seq) Hash u64(Time)
//	field(PublicKey) field(PrevKey) field(Endorsement)
//
// PrevKey and Endorsement are empty except on the first checkpoint signed by a new key after
// [Log.RotateKey]. That checkpoint covers the same Seq and Hash as the old key's last checkpoint,
// names the old key in PrevKey, and carries the old key's Endorsement of the new key: Ed25519 by
// PrevKey over
//
//	field("vigil.audit.rotate.v1") field(chainID) u64(N) u64(Seq) Hash field(PublicKey)
//
// so the keys form a chain in which each vouches for the next and is named by it. Every checkpoint
// is also logged (seq, hash, key) at info level: shipped off the machine, those lines are the
// external anchor that catches what a local attacker holding the key could otherwise rewrite.
//
// # What verification detects, and what it cannot
//
// [Log.Verify] and [VerifyDir] check every checkpoint on its own (columns, signature, rotation
// endorsement) and together (numbered without gaps, one chain of keys, a trusted key among them),
// then walk every entry in Seq order. They report the first problem, naming the entry by Seq or the
// checkpoint by the Seq it covers: a changed byte in any column of an entry ("entry 42: hash
// mismatch (content changed)"), a missing entry ("entry 17 missing (sequence jumps from 16 to
// 18)"), entries reordered or inserted (the first entry whose prev_hash no longer links), a log that
// ends before its last checkpoint, a run of entries changed and re-hashed under a checkpoint, a
// checkpoint altered, forged or removed ("checkpoint at 300: bad signature").
//
// From the file alone they cannot detect: entries removed or rewritten after the last checkpoint
// (an open [Log] does catch this, against the head it committed); the last checkpoints removed
// together with the entries they cover; a wholesale rewrite by someone holding the private key.
// The checkpoint log lines, exports ([Log.Export]) kept elsewhere, and a public key passed to
// [VerifyDir] are the external anchors that close those gaps.
//
// One process should write a log. A second writer cannot fork the chain (an insert that is not the
// next Seq fails, and the writer re-reads the head), but its appends fail now and then and an open
// Log's Verify reports the other's entries as not written by this process.
//
// # Performance
//
// Measured with BenchmarkAppend* on a 2-vCPU VM with a virtio disk, synchronous=FULL: one caller
// appending one entry at a time, about 1,400 appends/s (one fsync each); 16 concurrent callers,
// about 10,000/s (group commit); AppendBatch of 100, about 15,000/s. BenchmarkVerify checks about
// 200,000 entries/s.
package audit
