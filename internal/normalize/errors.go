package normalize

import "errors"

// Sentinel errors. Errors returned by Event, Alert and AITRow wrap one of them, so callers
// (the ingest dead-letter path, the API) can branch with errors.Is.
var (
	// ErrEmpty means the record holds nothing but white space.
	ErrEmpty = errors.New("normalize: empty record")
	// ErrMalformed means the record cannot be read in its format: JSON that does not parse
	// (the message names the byte offset), a text line or CSV row that does not fit the format
	// it was given as (the message names the field or column).
	ErrMalformed = errors.New("normalize: malformed record")
	// ErrNotAlert means Alert was given a record that is not an alert: a Suricata flow or DNS
	// record, a CEF line without a signature, a JSON object without a title.
	ErrNotAlert = errors.New("normalize: record is not an alert")
)
