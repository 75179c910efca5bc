package normalize

import (
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// AWS CloudTrail records (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html):
// eventTime, eventSource, eventName, awsRegion, sourceIPAddress, userAgent, userIdentity,
// requestParameters, responseElements, errorCode/errorMessage, additionalEventData, resources.

func detectCloudTrail(r *record) bool {
	root := r.root
	return root.get("eventSource") != nil && root.get("eventName") != nil &&
		(root.get("awsRegion") != nil || root.get("userIdentity") != nil || root.get("eventVersion") != nil)
}

func normalizeCloudTrail(r *record) error {
	root, ev := r.root, r.ev
	ev.Product, ev.Service = "aws", "cloudtrail"
	ev.Class = event.ClassAPI
	name := root.str("eventName")
	ev.Code = name
	ev.Activity = apiActivity(name)
	for _, k := range [...]string{"eventTime", "@timestamp"} {
		if t, ok := timeOf(root.get(k)); ok {
			ev.Time = t
			break
		}
	}

	c := &event.Cloud{Provider: "aws", Region: root.str("awsRegion"), Service: root.str("eventSource"), Operation: name}
	ev.Cloud = c
	c.Account = root.str("recipientAccountId")

	// The principal.
	if id := root.get("userIdentity"); id != nil && id.kind == jObject {
		u := &event.User{Type: id.str("type"), UID: id.str("arn"), Session: id.str("accessKeyId")}
		if c.Account == "" {
			c.Account = id.str("accountId")
		} else if a := id.get("accountId"); a != nil && a.s == c.Account {
			a.used = true
		}
		u.Name = id.str("userName")
		switch {
		case u.Name != "":
		case u.Type == "Root":
			u.Name = "root"
		case u.Type == "AssumedRole" || u.Type == "FederatedUser":
			// arn:aws:sts::123:assumed-role/Role/session → "Role/session".
			if _, after, ok := strings.Cut(u.UID, ":assumed-role/"); ok {
				u.Name = after
			} else if _, after, ok := strings.Cut(u.UID, ":federated-user/"); ok {
				u.Name = after
			}
		case u.Type == "AWSService":
			u.Name = id.str("invokedBy")
		}
		if u.Name == "" {
			u.Name = id.str("principalId")
		}
		if mfa, ok := id.at("sessionContext", "attributes").boolean("mfaAuthenticated"); ok {
			ensure(&ev.Auth).MFA = &mfa
		}
		ev.User = u
	}

	// The client.
	src := root.get("sourceIPAddress")
	if src.scalar() {
		if !endpointIP(&ev.Src, src.s) && src.s != "" {
			ensure(&ev.Src).Hostname = src.s // an AWS service ("ec2.amazonaws.com")
		}
		src.used = true
	}
	if ua := root.str("userAgent"); ua != "" {
		ensure(&ev.Src).Agent = ua
	}

	// The outcome.
	if code := root.str("errorCode"); code != "" {
		ev.Status, ev.StatusDetail = "failure", code
		ev.Message = root.str("errorMessage")
	} else {
		ev.Status = "success"
	}

	// The object operated on.
	req := root.get("requestParameters")
	if req != nil && req.kind == jObject {
		for _, k := range [...]string{"bucketName", "roleName", "policyArn", "groupName", "functionName", "keyId", "trailName", "name", "instanceId", "secretId", "roleArn"} {
			if v := req.str(k); v != "" {
				c.Resource = v
				break
			}
		}
		if c.Resource == "" {
			if v := req.at("instancesSet", "items").get0().str("instanceId"); v != "" {
				c.Resource = v
			}
		}
		if un := req.str("userName"); un != "" {
			ev.TargetUser = &event.User{Name: un}
			if c.Resource == "" {
				c.Resource = un
			}
		}
		if pol := req.str("policyName"); pol != "" && c.Resource == "" {
			c.Resource = pol
		}
	}
	if c.Resource == "" {
		if res := root.get("resources"); res != nil && res.kind == jArray && len(res.kids) > 0 {
			c.Resource = res.kids[0].node.str("ARN")
		}
	}

	switch root.str("eventType") {
	case "AwsConsoleSignIn":
		ev.Class = event.ClassAuthentication
		ev.Activity = "logon"
		if name == "ConsoleLogin" {
			switch root.strAt("responseElements", "ConsoleLogin") {
			case "Success":
				ev.Status = "success"
			case "Failure":
				ev.Status = "failure"
				if ev.StatusDetail == "" {
					ev.StatusDetail = ev.Message
				}
			}
			add := root.get("additionalEventData")
			if v, ok := add.boolean("MFAUsed"); ok {
				ensure(&ev.Auth).MFA = &v
			}
			if m := add.str("MFAIdentifier"); m != "" {
				ensure(&ev.Auth).Method = "mfa"
			}
		}
		if ev.Auth == nil {
			ev.Auth = &event.Auth{}
		}
		ev.Auth.Protocol = "console"
	}
	if name == "AssumeRoleWithSAML" || name == "AssumeRoleWithWebIdentity" || name == "GetFederationToken" {
		ev.Class, ev.Activity = event.ClassAuthentication, "logon"
	}
	if ev.Status == "failure" && ev.Severity == event.SeverityUnknown {
		ev.Severity = event.SeverityLow
	}
	return nil
}

// get0 returns the first element of array n.
func (n *node) get0() *node {
	if n == nil || n.kind != jArray || len(n.kids) == 0 {
		return nil
	}
	return &n.kids[0].node
}

// apiActivity maps an API operation name to an OCSF API activity by its verb.
func apiActivity(op string) string {
	switch {
	case op == "":
		return ""
	case hasAnyPrefix(op, "Create", "Put", "Add", "Run", "Register", "Import", "Upload", "Copy", "Allocate", "Issue", "Generate", "Invite", "New-", "Add-"):
		return "create"
	case hasAnyPrefix(op, "Get", "List", "Describe", "Head", "Search", "Lookup", "Select", "Scan", "Query", "Download", "Get-", "Search-"):
		return "read"
	case hasAnyPrefix(op, "Delete", "Remove", "Terminate", "Deregister", "Revoke", "Detach", "Remove-"):
		return "delete"
	case hasAnyPrefix(op, "Update", "Modify", "Set", "Attach", "Enable", "Change", "Reset", "Replace", "Associate", "Start", "Stop", "Disable", "Set-", "Enable-", "Disable-", "Update-"):
		return "update"
	}
	return "other"
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
