package audit

import "errors"

// ErrClosed is returned by operations on a closed Log.
var ErrClosed = errors.New("audit log closed")

// ErrInvalidEntry is returned (wrapped) by Append for an entry that cannot be recorded: no actor or
// action, text that is not UTF-8, Data that is not JSON or too large, a time outside 1678..2261.
var ErrInvalidEntry = errors.New("invalid audit entry")

// ErrKeyMismatch is returned (wrapped) by Open when the signing key in the data directory is not
// the key that signed the last checkpoint. Continuing would break the key chain; the usual cause is
// a key file restored from another installation.
var ErrKeyMismatch = errors.New("audit signing key does not match the last checkpoint")

// ErrKeyMissing is returned (wrapped) by Open when checkpoints exist but the signing key that made
// them is gone. The existing log still verifies with its public key; new entries need a new chain
// (another data directory).
var ErrKeyMissing = errors.New("audit signing key missing")

// ErrChainMismatch is returned (wrapped) by Open when Options.ChainID differs from the chain ID
// stored in the log.
var ErrChainMismatch = errors.New("audit chain ID mismatch")

// ErrNoLog is returned (wrapped) by VerifyDir when the directory holds no audit log.
var ErrNoLog = errors.New("no audit log")
