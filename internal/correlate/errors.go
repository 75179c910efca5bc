package correlate

import "errors"

// Errors of the analyst's merge and split, for callers to map (unknown → not found, invalid →
// bad request, state → conflict).
var (
	// ErrUnknownIncident: the correlator does not know the incident.
	ErrUnknownIncident = errors.New("unknown incident")
	// ErrInvalid: the request itself is wrong (merging an incident into itself, splitting no
	// alerts).
	ErrInvalid = errors.New("invalid request")
	// ErrState: the incidents' state does not allow it (already merged, closed, splitting every
	// alert away).
	ErrState = errors.New("not possible in the incident's state")
)
