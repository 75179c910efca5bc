package normalize

import (
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// Microsoft 365 unified audit log records as the Office 365 Management Activity API returns
// them (https://learn.microsoft.com/office/office-365-management-api/office-365-management-activity-api-schema):
// the common schema (CreationTime, Id, Operation, OrganizationId, RecordType, ResultStatus,
// UserKey, UserType, Workload, ClientIP, ObjectId, UserId) and the Exchange admin
// (Parameters[{Name, Value}]), Exchange mailbox (MailItemsAccessed: Folders, OperationProperties,
// ClientAppId), SharePoint/OneDrive file (SourceFileName, SiteUrl, UserAgent) and Azure AD
// (Actor, Target, ModifiedProperties, ExtendedProperties, ApplicationId) extensions.

func detectM365(r *record) bool {
	root := r.root
	return root.get("Workload") != nil && root.get("Operation") != nil &&
		(root.get("RecordType") != nil || root.get("CreationTime") != nil || root.get("OrganizationId") != nil)
}

var m365UserTypes = map[string]string{
	"0": "user", "1": "user", "2": "admin", "3": "admin", "4": "system", "5": "application",
	"6": "service", "7": "user", "8": "admin", "Regular": "user", "Admin": "admin",
	"DcAdmin": "admin", "System": "system", "Application": "application",
	"ServicePrincipal": "service", "CustomPolicy": "system", "SystemPolicy": "system",
}

func normalizeM365(r *record) error {
	root, ev := r.root, r.ev
	ev.Product, ev.Service = "m365", "audit"
	op := root.str("Operation")
	workload := root.str("Workload")
	ev.Code = op
	if t, ok := timeOf(root.get("CreationTime")); ok {
		ev.Time = t
	}
	c := &event.Cloud{Provider: "m365", Service: workload, Operation: op, Account: root.str("OrganizationId")}
	ev.Cloud = c
	c.Resource = root.str("ObjectId")

	// The actor.
	if uid := root.str("UserId"); uid != "" {
		u := &event.User{Name: uid, UID: root.str("UserKey")}
		if strings.Contains(uid, "@") {
			u.Email = uid
		}
		if t := root.get("UserType"); t.scalar() {
			if u.Type = m365UserTypes[t.s]; u.Type != "" {
				t.used = true
			}
		}
		ev.User = u
	}

	// The client.
	for _, k := range [...]string{"ClientIP", "ClientIPAddress", "ActorIpAddress"} {
		n := root.get(k)
		if !n.scalar() {
			continue
		}
		if ip, p := splitHostPort(n.s); ip != "" {
			s := ensure(&ev.Src)
			s.IP, s.Port = ip, p
			n.used = true
			break
		}
	}
	for _, k := range [...]string{"UserAgent", "ClientInfoString"} {
		if ua := root.str(k); ua != "" {
			ensure(&ev.Src).Agent = ua
			break
		}
	}
	for _, k := range [...]string{"AppId", "ClientAppId", "ApplicationId"} {
		if id := root.str(k); id != "" {
			c.AppID = id
			break
		}
	}
	if name := root.str("ApplicationDisplayName"); name != "" {
		c.App = name
	}

	switch strings.ToLower(root.str("ResultStatus")) {
	case "success", "succeeded", "true":
		ev.Status = "success"
	case "failed", "failure", "false":
		ev.Status = "failure"
	case "":
		// Exchange admin cmdlets carry ResultStatus only on failure; the rest is absent.
	default:
		r.setUnmapped("ResultStatus", root.peek("ResultStatus"))
	}

	// Name/Value arrays become "<Array>.<Name>" in Unmapped, which is how detection rules and
	// analysts address them (Parameters.ForwardTo, ExtendedProperties.RequestType).
	params := nameValues(r, root, "Parameters")
	ext := nameValues(r, root, "ExtendedProperties")
	nameValues(r, root, "OperationProperties")
	if ua := ext["UserAgent"]; ua != "" && (ev.Src == nil || ev.Src.Agent == "") {
		ensure(&ev.Src).Agent = ua
	}

	lop := strings.ToLower(strings.TrimSuffix(op, "."))
	switch {
	case lop == "userloggedin" || lop == "userloginfailed":
		ev.Class, ev.Activity = event.ClassAuthentication, "logon"
		if lop == "userloginfailed" {
			ev.Status = "failure"
		}
		if e := root.str("LogonError"); e != "" {
			ev.StatusDetail = e
		} else if n := root.str("ErrorNumber"); n != "" && n != "0" {
			ev.StatusDetail = n
		}
	case strings.HasSuffix(lop, "-inboxrule") || lop == "updateinboxrules" || strings.HasSuffix(lop, "-mailbox") && params["ForwardingSmtpAddress"] != "":
		ev.Class, ev.Activity = event.ClassAPI, apiActivity(op)
		if name := params["Name"]; name != "" {
			c.Resource = name
		}
		if id := params["Identity"]; id != "" && c.Resource == "" {
			c.Resource = id
		}
		for _, k := range [...]string{"ForwardTo", "RedirectTo", "ForwardAsAttachmentTo", "ForwardingSmtpAddress", "ForwardingAddress"} {
			for addr := range strings.SplitSeq(params[k], ";") {
				addr = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(addr), "smtp:"))
				if addr != "" {
					addObservable(ev, "email", addr)
				}
			}
		}
	case lop == "mailitemsaccessed":
		ev.Class, ev.Activity = event.ClassEmail, "read"
		if owner := root.str("MailboxOwnerUPN"); owner != "" && (ev.User == nil || !strings.EqualFold(owner, ev.User.Name)) {
			ev.TargetUser = &event.User{Name: owner, Email: owner}
		} else if owner != "" {
			root.mark("MailboxOwnerUPN")
		}
		if f := root.get("Folders").get0(); f != nil {
			if item := f.get("FolderItems").get0(); item != nil {
				if id := item.str("InternetMessageId"); id != "" {
					ensure(&ev.Email).MsgID = id
				}
			}
		}
	case lop == "send" || lop == "sendas" || lop == "sendonbehalf":
		ev.Class, ev.Activity = event.ClassEmail, "send"
		if it := root.get("Item"); it != nil && it.kind == jObject {
			e := ensure(&ev.Email)
			e.Subject = it.str("Subject")
			e.MsgID = it.str("InternetMessageId")
		}
	case strings.HasPrefix(lop, "file") || strings.HasPrefix(lop, "folder"):
		ev.Class = event.ClassFile
		ev.Activity = m365FileActivity(lop)
		f := &event.File{Name: root.str("SourceFileName"), Path: c.Resource}
		if f.Path == "" {
			f.Path = strings.TrimSuffix(root.str("SiteUrl"), "/") + "/" + root.str("SourceRelativeUrl") + "/" + f.Name
		}
		if f.Name == "" {
			f.Name = baseName(f.Path)
		}
		ev.File = f
		if u := c.Resource; strings.HasPrefix(u, "http") {
			addObservable(ev, "url", u)
		}
	default:
		if workload == "AzureActiveDirectory" {
			ev.Class, ev.Activity = entraAuditClass("", op)
			m365Target(r, root)
		} else {
			ev.Class, ev.Activity = event.ClassAPI, apiActivity(op)
		}
	}
	if workload == "AzureActiveDirectory" {
		oauthApp(ev, op, root.get("ModifiedProperties"), "ual")
		if ev.Cloud.App == "" && strings.Contains(lop, "application") {
			ev.Cloud.App = m365AppName(root)
		}
	}
	return nil
}

// nameValues maps a [{Name, Value}] array member to "<key>.<Name>" Unmapped entries and
// returns the pairs; the array is marked used.
func nameValues(r *record, root *node, key string) map[string]string {
	arr := root.get(key)
	if arr == nil || arr.kind != jArray {
		return nil
	}
	m := make(map[string]string, len(arr.kids))
	for i := range arr.kids {
		e := &arr.kids[i].node
		name, v := e.get("Name"), e.get("Value")
		if !name.scalar() || name.s == "" {
			return m // not a Name/Value array; leave it to flatten
		}
		val := ""
		if v.scalar() {
			val = v.s
		}
		m[name.s] = val
	}
	arr.used = true
	for k, v := range m {
		r.setUnmapped(key+"."+k, v)
	}
	return m
}

func m365FileActivity(op string) string {
	switch {
	case strings.Contains(op, "download"), strings.Contains(op, "accessed"), strings.Contains(op, "previewed"), strings.Contains(op, "viewed"):
		return "read"
	case strings.Contains(op, "upload"), strings.Contains(op, "created"), strings.Contains(op, "copied"):
		return "create"
	case strings.Contains(op, "deleted"), strings.Contains(op, "recycled"):
		return "delete"
	case strings.Contains(op, "renamed"), strings.Contains(op, "moved"):
		return "rename"
	case strings.Contains(op, "modified"), strings.Contains(op, "checkedin"):
		return "update"
	}
	return "other"
}

// m365Target sets TargetUser from an Azure AD record's Target[] when it names a user.
func m365Target(r *record, root *node) {
	ts := root.get("Target")
	if ts == nil || ts.kind != jArray {
		return
	}
	for i := range ts.kids {
		id := ts.kids[i].node.peek("ID")
		if strings.Contains(id, "@") && !strings.HasPrefix(id, "User_") {
			r.ev.TargetUser = &event.User{Name: id, Email: id}
			return
		}
	}
}

// m365AppName picks the application's display name from an Azure AD record's Target[]: the
// element that is neither an object ID, a GUID, nor a type name.
func m365AppName(root *node) string {
	ts := root.get("Target")
	if ts == nil || ts.kind != jArray {
		return ""
	}
	for i := range ts.kids {
		id := ts.kids[i].node.peek("ID")
		switch {
		case id == "", isGUID(id), strings.Contains(id, "_"), id == "ServicePrincipal", id == "Application", id == "User":
			continue
		}
		return id
	}
	return ""
}
