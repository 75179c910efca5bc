package egress

import (
	"errors"
	"fmt"
	"net/netip"
)

var (
	// ErrBlocked is returned when a destination resolves to an address the policy refuses
	// (loopback, private, link-local, CGNAT, multicast, unspecified, reserved) and neither the
	// host name nor the address is in Options.AllowPrivate.
	ErrBlocked = errors.New("egress: destination not allowed")
	// ErrResponseTooLarge is returned when a response body exceeds Options.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("egress: response too large")
	// ErrRedirect is returned when a redirect breaks the policy: too many hops, a scheme other
	// than http(s), or a downgrade from https to http.
	ErrRedirect = errors.New("egress: redirect refused")
)

// BlockedError says which host and address were refused and why. It wraps ErrBlocked.
type BlockedError struct {
	Host   string
	Addr   netip.Addr
	Reason string // e.g. "private", "loopback"
}

func (e *BlockedError) Error() string {
	if e.Host == "" || e.Host == e.Addr.String() {
		return fmt.Sprintf("egress: refusing to connect to %s (%s address not in the allow-list)", e.Addr, e.Reason)
	}
	return fmt.Sprintf("egress: refusing to connect to %s at %s (%s address not in the allow-list)", e.Host, e.Addr, e.Reason)
}

func (e *BlockedError) Unwrap() error { return ErrBlocked }
