package ueba

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/vigil-soc/vigil/internal/baseline"
	"github.com/vigil-soc/vigil/internal/event"
)

// vouchedShare is the share of a user's recent sign-ins a network an analyst vouched for
// counts as: well above the 2% under which a known network is rare.
const vouchedShare = 0.05

// Verdict applies an analyst's judgement of a behavioural finding, given by its kind and its
// evidence as the alert carries them, to the profiles at time at, and returns what it changed
// (for the audit trail).
//
// A malicious finding is unlearned where the intrusion alone taught it: the source address,
// and its network and country when at most one other sign-in of the user (and none of its
// peers) explains them, the last
// sign-in place it left behind (so later travel is judged from a real place), the privileged
// action, the process lineage and a program new to the host. Otherwise the attacker's
// source, the first time it returns, is already "known", and an intrusion becomes the
// entity's normal.
//
// A benign sign-in finding vouches for its source: the network counts for at least 5% of the
// user's recent sign-ins and the country as known, so the same source is neither new nor rare
// next time. Other benign findings change nothing here: what they saw is already learned.
func (d *Detector) Verdict(kind string, evidence []event.FieldMatch, malicious bool, at time.Time) []string {
	get := func(names ...string) string {
		for _, n := range names {
			for _, e := range evidence {
				if e.Field == n && e.Value != "" {
					return e.Value
				}
			}
		}
		return ""
	}
	now := at.Unix()
	d.mu.Lock()
	defer d.mu.Unlock()
	var changed []string
	note := func(format string, args ...any) { changed = append(changed, fmt.Sprintf(format, args...)) }
	val := func(t *baseline.Table, key string) float64 {
		if t == nil {
			return 0
		}
		if c := t.Get(key); c != nil {
			return c.Value(now, d.lam)
		}
		return 0
	}
	// forget removes key from t when no more than others observations besides the
	// intrusion's own weight (own) explain it.
	forget := func(t *baseline.Table, key string, own, others float64, what string) {
		if t == nil || key == "" || t.Get(key) == nil {
			return
		}
		if val(t, key) <= own+others+1e-9 {
			t.Remove(key)
			note("unlearned %s", what)
		}
	}

	switch kind {
	case KindLogin, KindTravel, KindSpray, KindBrute:
		key := get("user", "succeeded_as")
		u := d.st.Users[key]
		src := get("src_ip", "success_src_ip")
		addr, err := netip.ParseAddr(src)
		if u == nil || err != nil {
			return nil
		}
		net := network(addr.Unmap())
		country := get("country")
		peer := d.st.Peers[d.userPeer(key)]
		if malicious {
			own := val(u.IPs, src)
			if u.IPs.Get(src) != nil {
				u.IPs.Remove(src)
				note("unlearned address %s for %s", src, key)
			}
			forget(u.Nets, net, own, 1, fmt.Sprintf("network %s for %s", net, key))
			forget(u.Countries, country, own, 1, fmt.Sprintf("country %s for %s", country, key))
			if peer != nil {
				forget(peer.Nets, net, own, 0, fmt.Sprintf("network %s for peer group %s", net, d.userPeer(key)))
				forget(peer.Countries, country, own, 0, fmt.Sprintf("country %s for peer group %s", country, d.userPeer(key)))
			}
			if u.LastPlace != nil && u.LastPlace.IP == src {
				u.LastPlace = nil
				note("dropped %s's last sign-in place %s", key, src)
			}
			return changed
		}
		if kind != KindLogin && kind != KindTravel {
			return nil
		}
		// (c+k)/(T+k) ≥ share  ⇔  k ≥ (share·T − c)/(1 − share)
		c, total := val(u.Nets, net), tableTotal(u.Nets, now, d.lam)
		k := int(math.Ceil((vouchedShare*total - c) / (1 - vouchedShare)))
		for i := 0; i < min(k, 1000); i++ {
			u.Nets.Add(net, now, d.lam)
		}
		if u.IPs.Get(src) == nil {
			u.IPs.Add(src, now, d.lam)
		}
		if country != "" && u.Countries.Get(country) == nil {
			u.Countries.Add(country, now, d.lam)
		}
		note("vouched for network %s (and %s) as usual for %s", net, src, key)
		return changed

	case KindPrivileged:
		key, action := get("user"), get("action")
		u := d.st.Users[key]
		if !malicious || u == nil || action == "" {
			return nil
		}
		own := val(u.Actions, action)
		if u.Actions.Get(action) != nil {
			u.Actions.Remove(action)
			note("unlearned privileged action %q for %s", action, key)
		}
		if peer := d.st.Peers[d.userPeer(key)]; peer != nil {
			// The peer group counts members who did it: this user was one.
			forget(peer.Actions, action, min(own, 1), 0, fmt.Sprintf("privileged action %q for peer group %s", action, d.userPeer(key)))
		}
		return changed

	case KindRareLineage:
		hk, parent, child := get("host"), get("parent"), get("child")
		h := d.st.Hosts[hk]
		if !malicious || h == nil || parent == "" || child == "" {
			return nil
		}
		pair := parent + " > " + child
		own := val(h.Lineage, pair)
		if h.Lineage.Get(pair) != nil {
			h.Lineage.Remove(pair)
			note("unlearned lineage %s on %s", pair, hk)
		}
		forget(h.Images, child, own, 1, fmt.Sprintf("program %s on %s", child, hk))
		if peer := d.st.Peers[d.hostPeer(hk)]; peer != nil {
			forget(peer.Lineage, pair, min(own, 1), 0, fmt.Sprintf("lineage %s for peer group %s", pair, d.hostPeer(hk)))
		}
		return changed
	}
	return nil
}
