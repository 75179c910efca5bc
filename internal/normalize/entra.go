package normalize

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// Microsoft Entra ID (Azure AD) sign-in and audit logs, in both shapes they are exported in:
//
//   - the Microsoft Graph resources signIn
//     (https://learn.microsoft.com/graph/api/resources/signin) and directoryAudit
//     (https://learn.microsoft.com/graph/api/resources/directoryaudit), as the Graph API
//     returns them;
//   - the Azure Monitor diagnostic-settings records (Event Hub, storage account) that wrap the
//     same properties in {"time", "category": "SignInLogs" | "AuditLogs" | ..., "operationName",
//     "resultType", "callerIpAddress", "tenantId", "properties": {...}}.

var signInCategories = map[string]bool{
	"SignInLogs": true, "NonInteractiveUserSignInLogs": true, "ServicePrincipalSignInLogs": true,
	"ManagedIdentitySignInLogs": true, "ADFSSignInLogs": true,
}

func detectEntraSignIn(r *record) bool {
	root := r.root
	if c := root.get("category"); c != nil && signInCategories[c.s] {
		p := root.get("properties")
		return p != nil && p.kind == jObject
	}
	st := root.get("status")
	return root.get("createdDateTime") != nil && st != nil && st.kind == jObject &&
		(root.get("appDisplayName") != nil || root.get("appId") != nil) &&
		(root.get("userPrincipalName") != nil || root.get("ipAddress") != nil)
}

func detectEntraAudit(r *record) bool {
	root := r.root
	if c := root.get("category"); c != nil && c.s == "AuditLogs" {
		p := root.get("properties")
		return p != nil && p.kind == jObject
	}
	return root.get("activityDisplayName") != nil && root.get("activityDateTime") != nil &&
		(root.get("initiatedBy") != nil || root.get("targetResources") != nil)
}

// entraProps returns the object holding the resource properties: "properties" in the Azure
// Monitor shape, the record itself in the Graph shape.
func entraProps(root *node) *node {
	if p := root.get("properties"); p != nil && p.kind == jObject && root.get("category") != nil {
		return p
	}
	return root
}

func normalizeEntraSignIn(r *record) error {
	root, ev := r.root, r.ev
	p := entraProps(root)
	ev.Product, ev.Service = "azure", "signinlogs"
	ev.Class, ev.Activity = event.ClassAuthentication, "logon"
	ev.Code = root.str("operationName")
	if ev.Code == "" {
		ev.Code = "Sign-in activity"
	}
	for _, n := range [...]*node{p.get("createdDateTime"), root.get("time")} {
		if t, ok := timeOf(n); ok {
			ev.Time = t
			break
		}
	}
	if p != root {
		if c := root.get("category"); c != nil {
			c.used = true
			if c.s != "SignInLogs" {
				r.setUnmapped("category", c.s)
			}
		}
	}

	// The user or service principal signing in.
	u := &event.User{Name: p.str("userPrincipalName"), UID: p.str("userId"), Type: p.str("userType")}
	if u.Name == "" {
		if u.Name = p.str("servicePrincipalName"); u.Name != "" {
			u.UID, u.Type = p.str("servicePrincipalId"), "service"
		}
	}
	if strings.Contains(u.Name, "@") {
		u.Email = u.Name
	}
	if *u != (event.User{}) {
		ev.User = u
	}

	// The client.
	ip := p.get("ipAddress")
	if ip == nil {
		ip = root.get("callerIpAddress")
	}
	if ip.scalar() && endpointIP(&ev.Src, ip.s) {
		ip.used = true
	}
	if ua := p.str("userAgent"); ua != "" {
		ensure(&ev.Src).Agent = ua
	}
	if loc := p.get("location"); loc != nil && loc.kind == jObject {
		s := ensure(&ev.Src)
		s.City = loc.str("city")
		s.Country = loc.str("countryOrRegion")
		geo := loc.get("geoCoordinates")
		s.Lat, s.Lon = floatOf(geo.get("latitude")), floatOf(geo.get("longitude"))
	}
	if dn := p.strAt("deviceDetail", "displayName"); dn != "" {
		ensure(&ev.Src).Hostname = dn
	}

	// The outcome: status.errorCode 0 is success.
	code, ok := p.get("status").int("errorCode")
	if !ok {
		code, ok = parseInt(root.str("resultType"))
	}
	if ok {
		if code == 0 {
			ev.Status = "success"
		} else {
			ev.Status, ev.StatusDetail = "failure", strconv.FormatInt(code, 10)
			ev.Message = p.strAt("status", "failureReason")
		}
	}

	c := &event.Cloud{Provider: "azure", Service: "Azure AD", Operation: ev.Code}
	c.App, c.AppID = p.str("appDisplayName"), p.str("appId")
	c.Resource = p.str("resourceDisplayName")
	c.Account = root.str("tenantId")
	if c.Account == "" {
		c.Account = p.str("homeTenantId")
	}
	ev.Cloud = c

	// Authentication: MFA from mfaDetail or the authentication requirement.
	a := &event.Auth{Protocol: p.str("authenticationProtocol")}
	if m := p.get("mfaDetail"); m != nil && m.kind == jObject {
		if a.Method = m.str("authMethod"); a.Method != "" {
			t := true
			a.MFA = &t
		}
	}
	switch p.get("authenticationRequirement").text() {
	case "multiFactorAuthentication":
		if a.MFA == nil && ev.Status == "success" {
			t := true
			a.MFA = &t
		}
	case "singleFactorAuthentication":
		if a.MFA == nil {
			f := false
			a.MFA = &f
		}
	}
	if a.Method == "" {
		if d := p.get("authenticationDetails").get0(); d != nil {
			a.Method = d.peek("authenticationMethod")
		}
	}
	if *a != (event.Auth{}) {
		ev.Auth = a
	}

	// Risk.
	for _, k := range [...]string{"riskLevelDuringSignIn", "riskLevelAggregated"} {
		if s := riskSeverity(p.peek(k)); s > ev.Severity {
			ev.Severity = s
		}
	}
	return nil
}

func riskSeverity(level string) event.Severity {
	switch level {
	case "high":
		return event.SeverityHigh
	case "medium":
		return event.SeverityMedium
	case "low":
		return event.SeverityLow
	case "none":
		return event.SeverityInfo
	}
	return event.SeverityUnknown
}

func normalizeEntraAudit(r *record) error {
	root, ev := r.root, r.ev
	p := entraProps(root)
	ev.Product, ev.Service = "azure", "auditlogs"
	name := p.str("activityDisplayName")
	if name == "" {
		name = root.str("operationName")
	} else if op := root.get("operationName"); op != nil && op.s == name {
		op.used = true
	}
	ev.Code = name
	for _, n := range [...]*node{p.get("activityDateTime"), root.get("time")} {
		if t, ok := timeOf(n); ok {
			ev.Time = t
			break
		}
	}
	if p != root {
		if c := root.get("category"); c != nil {
			c.used = true
		}
	}
	ev.Class, ev.Activity = entraAuditClass(p.str("category"), name)

	switch strings.ToLower(p.str("result")) {
	case "success":
		ev.Status = "success"
	case "failure", "timeout":
		ev.Status = "failure"
	}
	if reason := p.str("resultReason"); reason != "" {
		ev.StatusDetail = reason
	}

	// The initiator: a user or an app.
	if ib := p.get("initiatedBy"); ib != nil && ib.kind == jObject {
		if u := ib.get("user"); u != nil && u.kind == jObject {
			ev.User = &event.User{Name: u.str("userPrincipalName"), UID: u.str("id")}
			if ev.User.Name == "" {
				ev.User.Name = u.str("displayName")
			}
			if strings.Contains(ev.User.Name, "@") {
				ev.User.Email = ev.User.Name
			}
			endpointIP(&ev.Src, clean(u.peek("ipAddress")))
			if ev.Src != nil {
				u.mark("ipAddress")
			}
		} else if a := ib.get("app"); a != nil && a.kind == jObject {
			ev.User = &event.User{Name: a.str("displayName"), UID: a.str("servicePrincipalId"), Type: "service"}
			if ev.User.Name == "" {
				ev.User.Name = a.str("servicePrincipalName")
			}
			if ev.User.UID == "" {
				ev.User.UID = a.str("appId")
			}
		}
	}
	if ua := p.str("userAgent"); ua != "" {
		ensure(&ev.Src).Agent = ua
	}

	c := &event.Cloud{Provider: "azure", Service: p.str("loggedByService"), Operation: name}
	c.Account = root.str("tenantId")
	ev.Cloud = c
	targets := p.get("targetResources")
	if targets != nil && targets.kind == jArray {
		for i := range targets.kids {
			t := &targets.kids[i].node
			if t.kind != jObject {
				continue
			}
			typ := t.peek("type")
			switch {
			case typ == "User" && ev.TargetUser == nil:
				t.mark("type")
				ev.TargetUser = &event.User{Name: t.str("userPrincipalName"), UID: t.str("id")}
				if ev.TargetUser.Name == "" {
					ev.TargetUser.Name = t.str("displayName")
				}
			case c.Resource == "":
				c.Resource = t.str("displayName")
				if c.Resource == "" {
					c.Resource = t.str("id")
				}
			}
		}
	}
	oauthApp(ev, name, targets, "targetResources")
	return nil
}

// entraAuditClass maps a directory audit category and activity to an event class and activity.
func entraAuditClass(category, activity string) (event.Class, string) {
	a := strings.ToLower(strings.TrimSuffix(activity, "."))
	switch {
	case strings.HasPrefix(a, "consent to application"), strings.HasPrefix(a, "add app role assignment"),
		strings.HasPrefix(a, "add delegated permission grant"), strings.HasPrefix(a, "add member to role"),
		strings.HasPrefix(a, "add eligible member to role"), strings.HasPrefix(a, "add oauth2permissiongrant"):
		return event.ClassUserAccess, "assign_privileges"
	case strings.HasPrefix(a, "remove app role assignment"), strings.HasPrefix(a, "remove delegated permission grant"),
		strings.HasPrefix(a, "remove member from role"), strings.HasPrefix(a, "revoke consent"):
		return event.ClassUserAccess, "revoke_privileges"
	case strings.HasPrefix(a, "add member to group"), strings.HasPrefix(a, "add owner to group"):
		return event.ClassGroup, "add_user"
	case strings.HasPrefix(a, "remove member from group"), strings.HasPrefix(a, "remove owner from group"):
		return event.ClassGroup, "remove_user"
	case strings.HasPrefix(a, "reset password"), strings.HasPrefix(a, "reset user password"):
		return event.ClassAccountChange, "password_reset"
	case strings.HasPrefix(a, "change password"), strings.HasPrefix(a, "change user password"):
		return event.ClassAccountChange, "password_change"
	case strings.HasPrefix(a, "disable account"):
		return event.ClassAccountChange, "disable"
	case strings.HasPrefix(a, "enable account"):
		return event.ClassAccountChange, "enable"
	case strings.Contains(a, "service principal credentials"), strings.Contains(a, "certificates and secrets"):
		return event.ClassAccountChange, pick(strings.HasPrefix(a, "remove"), "delete_credentials", "add_credentials")
	case strings.HasPrefix(a, "user registered security info"), strings.HasPrefix(a, "user registered all required security info"):
		return event.ClassAccountChange, "mfa_factor_enable"
	case strings.HasPrefix(a, "user deleted security info"):
		return event.ClassAccountChange, "mfa_factor_disable"
	}
	if category == "UserManagement" {
		switch {
		case strings.HasPrefix(a, "add user"), strings.HasPrefix(a, "invite external user"):
			return event.ClassAccountChange, "create"
		case strings.HasPrefix(a, "delete user"), strings.HasPrefix(a, "hard delete user"):
			return event.ClassAccountChange, "delete"
		case strings.HasPrefix(a, "update user"):
			return event.ClassAccountChange, "update"
		}
	}
	if category == "GroupManagement" {
		switch {
		case strings.HasPrefix(a, "add group"):
			return event.ClassGroup, "create"
		case strings.HasPrefix(a, "delete group"):
			return event.ClassGroup, "delete"
		case strings.HasPrefix(a, "update group"):
			return event.ClassGroup, "update"
		}
	}
	switch {
	case strings.HasPrefix(a, "add "), strings.HasPrefix(a, "create "), strings.HasPrefix(a, "invite "), strings.HasPrefix(a, "register "):
		return event.ClassAPI, "create"
	case strings.HasPrefix(a, "delete "), strings.HasPrefix(a, "remove "), strings.HasPrefix(a, "hard delete "):
		return event.ClassAPI, "delete"
	case strings.HasPrefix(a, "update "), strings.HasPrefix(a, "set "), strings.HasPrefix(a, "change "), strings.HasPrefix(a, "enable "), strings.HasPrefix(a, "disable "), strings.HasPrefix(a, "restore "):
		return event.ClassAPI, "update"
	}
	return event.ClassAPI, "other"
}

// oauthApp fills Cloud.App, Cloud.AppID and Cloud.Permissions for OAuth consent, app role
// assignment, delegated permission grant and service principal credential activities, from
// the modified properties of the targets. targets is the Graph/Azure Monitor
// targetResources[] (displayName, id, type, modifiedProperties[{displayName, newValue}]) or
// the unified audit log's ModifiedProperties[{Name, NewValue}] (as a one-element wrapper
// built by the caller).
func oauthApp(ev *event.Event, activity string, targets *node, shape string) {
	a := strings.ToLower(activity)
	if !strings.Contains(a, "consent to application") && !strings.Contains(a, "app role assignment") &&
		!strings.Contains(a, "permission grant") && !strings.Contains(a, "service principal") &&
		!strings.Contains(a, "oauth2permissiongrant") && !strings.Contains(a, "application") {
		return
	}
	props := modifiedProps(targets, shape)
	c := ensure(&ev.Cloud)
	var app, appID, resource string
	var perms []string
	if shape == "targetResources" && targets != nil && targets.kind == jArray {
		for i := range targets.kids {
			t := &targets.kids[i].node
			if typ := t.peek("type"); typ == "ServicePrincipal" || typ == "Application" {
				if app == "" {
					app = t.peek("displayName")
				}
			}
		}
	}
	switch {
	case strings.Contains(a, "app role assignment"):
		// The target is the resource (e.g. Microsoft Graph); the app granted the role is
		// ServicePrincipal.*.
		resource = app
		app = first(props["ServicePrincipal.DisplayName"])
		appID = first(props["ServicePrincipal.AppId"])
		perms = appendUnique(perms, props["AppRole.Value"]...)
	case strings.Contains(a, "consent to application"):
		for _, v := range props["ConsentAction.Permissions"] {
			perms = appendUnique(perms, scopes(v)...)
		}
		appID = firstSPN(props["TargetId.ServicePrincipalNames"])
	case strings.Contains(a, "permission grant"):
		for _, v := range props["DelegatedPermissionGrant.Scope"] {
			perms = appendUnique(perms, strings.Fields(v)...)
		}
		appID = firstSPN(props["TargetId.ServicePrincipalNames"])
	default:
		appID = firstSPN(props["TargetId.ServicePrincipalNames"])
		if appID == "" {
			appID = first(props["AppId"])
		}
	}
	if app != "" {
		c.App = app
	}
	if appID != "" {
		c.AppID = appID
	}
	if resource != "" {
		c.Resource = resource
	}
	if len(perms) > 0 {
		c.Permissions = perms
	}
}

// modifiedProps collects modified properties' new values by name, unwrapping the JSON
// encoding Entra gives them ("[\"Mail.Read\"]", "\"x\"").
func modifiedProps(targets *node, shape string) map[string][]string {
	m := map[string][]string{}
	addProp := func(name, value string) {
		if name == "" {
			return
		}
		m[name] = append(m[name], aadValues(value)...)
	}
	if targets == nil || targets.kind != jArray {
		return m
	}
	if shape == "targetResources" {
		for i := range targets.kids {
			mp := targets.kids[i].node.get("modifiedProperties")
			if mp == nil || mp.kind != jArray {
				continue
			}
			for j := range mp.kids {
				p := &mp.kids[j].node
				addProp(p.peek("displayName"), p.peek("newValue"))
			}
		}
		return m
	}
	for i := range targets.kids {
		p := &targets.kids[i].node
		addProp(p.peek("Name"), p.peek("NewValue"))
	}
	return m
}

// aadValues unwraps a modified-property value: a JSON array of scalars, a JSON string, or
// plain text.
func aadValues(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == "[]" {
		return nil
	}
	switch s[0] {
	case '[':
		var vs []any
		if json.Unmarshal([]byte(s), &vs) == nil {
			out := make([]string, 0, len(vs))
			for _, v := range vs {
				switch v := v.(type) {
				case string:
					out = append(out, v)
				case nil:
				default:
					b, _ := json.Marshal(v)
					out = append(out, string(b))
				}
			}
			return out
		}
	case '"':
		var v string
		if json.Unmarshal([]byte(s), &v) == nil {
			return []string{v}
		}
	}
	return []string{s}
}

// scopes extracts the "Scope: a b c" lists of a ConsentAction.Permissions value.
func scopes(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "Scope:")
		if i < 0 {
			return out
		}
		s = s[i+len("Scope:"):]
		end := strings.IndexAny(s, ",]")
		if end < 0 {
			end = len(s)
		}
		out = appendUnique(out, strings.Fields(s[:end])...)
		s = s[end:]
	}
}

// firstSPN returns the app ID in a ServicePrincipalNames list ("<appId>;https://app").
func firstSPN(vs []string) string {
	for _, v := range vs {
		for part := range strings.SplitSeq(v, ";") {
			if isGUID(strings.TrimSpace(part)) {
				return strings.TrimSpace(part)
			}
		}
	}
	return ""
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// maxList bounds the lists built from record values (permissions, tags, techniques) so that
// hostile input cannot make them, or the duplicate checks, grow without limit.
const maxList = 256

// appendUnique appends the non-empty values of vs not yet in dst, keeping their order, up to
// maxList values.
func appendUnique(dst []string, vs ...string) []string {
next:
	for _, v := range vs {
		if v == "" {
			continue
		}
		if len(dst) >= maxList {
			return dst
		}
		for _, d := range dst {
			if d == v {
				continue next
			}
		}
		dst = append(dst, v)
	}
	return dst
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f') {
				return false
			}
		}
	}
	return true
}
