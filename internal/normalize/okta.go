package normalize

import (
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// Okta System Log LogEvent (https://developer.okta.com/docs/reference/api/system-log/):
// uuid, published, eventType, displayMessage, severity, actor, client{ipAddress, userAgent,
// geographicalContext, device, zone}, outcome{result, reason}, target[], transaction,
// debugContext.debugData, authenticationContext, securityContext, request.ipChain.

func detectOkta(r *record) bool {
	root := r.root
	a := root.get("actor")
	return root.get("eventType") != nil && a != nil && a.kind == jObject &&
		(root.get("published") != nil || root.get("uuid") != nil || root.get("legacyEventType") != nil)
}

func normalizeOkta(r *record) error {
	root, ev := r.root, r.ev
	ev.Product, ev.Service = "okta", "okta"
	typ := root.str("eventType")
	ev.Code = typ
	if t, ok := timeOf(root.get("published")); ok {
		ev.Time = t
	}
	ev.Message = root.str("displayMessage")
	if s := root.get("severity"); s.scalar() {
		ev.Severity = severityWord(s.text())
	}
	ev.Class, ev.Activity = oktaClass(typ)

	if a := root.get("actor"); a.kind == jObject {
		ev.User = oktaUser(a)
	}
	c := &event.Cloud{Provider: "okta", Operation: typ}
	ev.Cloud = c

	// Client.
	if cl := root.get("client"); cl != nil && cl.kind == jObject {
		endpointIP(&ev.Src, cl.str("ipAddress"))
		if ua := cl.strAt("userAgent", "rawUserAgent"); ua != "" {
			ensure(&ev.Src).Agent = ua
		}
		if g := cl.get("geographicalContext"); g != nil && g.kind == jObject {
			s := ensure(&ev.Src)
			s.City = g.str("city")
			s.Country = g.str("country")
			geo := g.get("geolocation")
			s.Lat = floatOf(geo.get("lat"))
			s.Lon = floatOf(geo.get("lon"))
		}
		if id := cl.str("id"); id != "" {
			c.AppID = id // the OAuth client
		}
	}
	if ev.Src == nil || ev.Src.IP == "" {
		if chain := root.at("request", "ipChain").get0(); chain != nil {
			endpointIP(&ev.Src, chain.str("ip"))
		}
	}

	// Outcome.
	switch strings.ToUpper(root.strAt("outcome", "result")) {
	case "SUCCESS", "ALLOW":
		ev.Status = "success"
	case "FAILURE", "DENY":
		ev.Status = "failure"
	case "CHALLENGE", "SKIPPED", "UNKNOWN", "":
	}
	ev.StatusDetail = root.strAt("outcome", "reason")

	// Authentication context.
	if ac := root.get("authenticationContext"); ac != nil && ac.kind == jObject {
		a := &event.Auth{Method: ac.str("credentialType"), Protocol: ac.str("authenticationProvider")}
		if sid := ac.str("externalSessionId"); sid != "" && ev.User != nil {
			ev.User.Session = sid
		}
		if *a != (event.Auth{}) {
			ev.Auth = a
		}
	}
	if strings.HasPrefix(typ, "user.authentication.auth_via_mfa") || strings.HasPrefix(typ, "user.mfa.") {
		if ev.Status == "success" {
			mfa := true
			ensure(&ev.Auth).MFA = &mfa
		}
	}

	// Targets: the first user is TargetUser, the first app is Cloud.App, the first other
	// target is Cloud.Resource.
	if ts := root.get("target"); ts != nil && ts.kind == jArray {
		for i := range ts.kids {
			t := &ts.kids[i].node
			if t.kind != jObject {
				continue
			}
			switch typ := t.peek("type"); {
			case typ == "User" && ev.TargetUser == nil:
				ev.TargetUser = oktaUser(t)
			case (typ == "AppInstance" || typ == "PublicClientApp" || typ == "AppUser") && c.App == "":
				c.App = t.str("displayName")
				if id := t.str("id"); id != "" {
					c.AppID = id
				}
			case c.Resource == "" && typ != "User":
				c.Resource = t.str("displayName")
				if c.Resource == "" {
					c.Resource = t.str("alternateId")
				}
			}
		}
	}
	if uri := root.strAt("debugContext", "debugData", "requestUri"); uri != "" {
		ensure(&ev.HTTP).URL = uri
	}
	return nil
}

func oktaUser(n *node) *event.User {
	u := &event.User{UID: n.str("id"), Type: n.str("type")}
	alt := n.str("alternateId")
	if alt == "unknown" {
		alt = ""
	}
	u.Name = alt
	if strings.Contains(alt, "@") {
		u.Email = alt
	}
	if u.Name == "" {
		u.Name = n.str("displayName")
	}
	return u
}

// oktaClass maps an Okta eventType to an event class and activity.
func oktaClass(t string) (event.Class, string) {
	switch {
	case t == "user.session.start", strings.HasPrefix(t, "user.authentication."), t == "policy.evaluate_sign_on":
		return event.ClassAuthentication, "logon"
	case t == "user.session.end":
		return event.ClassAuthentication, "logoff"
	case strings.HasPrefix(t, "user.mfa."):
		return event.ClassAuthentication, "mfa"
	case strings.HasPrefix(t, "user.session.impersonation."):
		return event.ClassAuthorize, "impersonate"
	case strings.HasPrefix(t, "user.lifecycle."):
		act := strings.TrimPrefix(t, "user.lifecycle.")
		if i := strings.IndexByte(act, '.'); i >= 0 {
			act = act[:i]
		}
		return event.ClassAccountChange, act
	case strings.HasPrefix(t, "user.account."):
		switch {
		case strings.Contains(t, "reset_password"):
			return event.ClassAccountChange, "password_reset"
		case strings.Contains(t, "update_password"):
			return event.ClassAccountChange, "password_change"
		case strings.Contains(t, "lock"):
			return event.ClassAccountChange, pick(strings.Contains(t, "unlock"), "unlock", "lock")
		case strings.Contains(t, "privilege.grant"):
			return event.ClassUserAccess, "assign_privileges"
		case strings.Contains(t, "privilege.revoke"):
			return event.ClassUserAccess, "revoke_privileges"
		}
		return event.ClassAccountChange, "update"
	case strings.HasPrefix(t, "group.user_membership."):
		return event.ClassGroup, pick(strings.HasSuffix(t, ".add"), "add_user", "remove_user")
	case strings.HasPrefix(t, "application.user_membership."), strings.HasPrefix(t, "iam.resourceset.bindings."), strings.HasPrefix(t, "app.oauth2.as.consent."):
		return event.ClassUserAccess, pick(strings.HasSuffix(t, ".remove") || strings.HasSuffix(t, ".revoke") || strings.HasSuffix(t, ".delete"), "revoke_privileges", "assign_privileges")
	case strings.HasPrefix(t, "app.oauth2."):
		return event.ClassAuthorize, "issue_token"
	}
	verb := t
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		verb = t[i+1:]
	}
	switch verb {
	case "create", "add":
		return event.ClassAPI, "create"
	case "update", "activate", "deactivate", "suspend", "unsuspend":
		return event.ClassAPI, "update"
	case "delete", "remove":
		return event.ClassAPI, "delete"
	case "read", "list", "get":
		return event.ClassAPI, "read"
	}
	return event.ClassAPI, "other"
}

// floatOf returns a number (or numeric string) as a float and marks it used; 0 otherwise.
func floatOf(n *node) float64 {
	if n == nil || (n.kind != jNumber && n.kind != jString) {
		return 0
	}
	f, err := strconv.ParseFloat(n.s, 64)
	if err != nil {
		return 0
	}
	n.used = true
	return f
}
