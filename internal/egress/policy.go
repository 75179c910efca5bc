package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// blockedRanges are the address ranges no outbound call may reach unless allowed explicitly.
var blockedRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "CGNAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// normalize drops an IPv6 zone (netip.Prefix never contains a zoned address), unmaps
// IPv4-mapped addresses and unwraps the IPv4 address embedded in a NAT64 address, so each
// is judged by where it really leads.
func normalize(addr netip.Addr) netip.Addr {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return addr
}

// classify returns why addr is refused by default, or "" when it is a public address.
func classify(addr netip.Addr) string {
	addr = normalize(addr)
	if !addr.IsValid() {
		return "invalid"
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(addr) {
			return r.reason
		}
	}
	return ""
}

// policy decides which destinations may be dialled. It is immutable after construction.
type policy struct {
	hosts    map[string]bool // lower-case host names allowed whatever they resolve to
	prefixes []netip.Prefix  // addresses allowed even if private
}

func newPolicy(allow []string) (*policy, error) {
	p := &policy{hosts: map[string]bool{}}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			continue
		case strings.Contains(a, "/"):
			pfx, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q: %w", a, err)
			}
			p.prefixes = append(p.prefixes, pfx.Masked())
		default:
			if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
				ip = ip.Unmap()
				p.prefixes = append(p.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
				continue
			}
			p.hosts[strings.ToLower(strings.TrimSuffix(a, "."))] = true
		}
	}
	return p, nil
}

func (p *policy) hostAllowed(host string) bool {
	return p.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// check returns nil if addr may be dialled for host.
func (p *policy) check(host string, addr netip.Addr, hostAllowed bool) error {
	addr = normalize(addr)
	reason := classify(addr)
	if reason == "" || hostAllowed {
		return nil
	}
	for _, pfx := range p.prefixes {
		if pfx.Contains(addr) {
			return nil
		}
	}
	return &BlockedError{Host: host, Addr: addr, Reason: reason}
}

// Resolver looks up the addresses of a host. *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

type hostAllowedKey struct{}

// dialer resolves host names itself, checks every address against the policy, and dials the
// checked address, so a name cannot resolve to one address for the check and another for the
// connection (DNS rebinding). The socket's Control hook checks the address once more.
type dialer struct {
	policy   *policy
	resolver Resolver
	net      net.Dialer
}

func newDialer(p *policy, r Resolver) *dialer {
	d := &dialer{policy: p, resolver: r}
	d.net.Timeout = 10e9 // 10s connect timeout; the per-attempt context bounds it further
	d.net.KeepAlive = 30e9
	d.net.ControlContext = func(ctx context.Context, network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("egress: unexpected dial address %q", address)
		}
		allowed, _ := ctx.Value(hostAllowedKey{}).(bool)
		return p.check("", ap.Addr(), allowed)
	}
	return d
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.LookupPort(network, portStr)
	if err != nil {
		return nil, err
	}
	allowed := d.policy.hostAllowed(host)
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = d.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("egress: no address for %s", host)
		}
	}
	ctx = context.WithValue(ctx, hostAllowedKey{}, allowed)
	// Report a connection failure in preference to a refusal: when some addresses were
	// allowed, the failure to reach them is what the caller can retry.
	var blocked, dialErr error
	for _, a := range addrs {
		if err := d.policy.check(host, a, allowed); err != nil {
			if blocked == nil {
				blocked = err
			}
			continue
		}
		conn, err := d.net.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if dialErr == nil {
			dialErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if dialErr != nil {
		return nil, dialErr
	}
	return nil, blocked
}
