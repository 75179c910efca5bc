package normalize

import (
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// activityCategories are the categories of Azure Activity Log records (Azure Monitor's
// diagnostic export: storage accounts, Event Hubs).
var activityCategories = map[string]bool{
	"Administrative": true, "Security": true, "ServiceHealth": true, "ResourceHealth": true, "Alert": true,
	"Autoscale": true, "Recommendation": true, "Policy": true,
}

// detectAzureActivity recognises Azure Activity Log records: Azure Monitor's export shape
// (category, operationName, resourceId) and Log Analytics' AzureActivity table
// (OperationNameValue, CategoryValue).
func detectAzureActivity(r *record) bool {
	root := r.root
	if c := root.get("category"); c != nil && activityCategories[c.s] {
		return root.get("operationName") != nil && root.get("resourceId") != nil
	}
	return root.get("OperationNameValue") != nil && root.get("CategoryValue") != nil
}

// normalizeAzureActivity maps an Azure Activity Log record: a control-plane operation on a
// resource (MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE) by a caller, which Sigma's azure
// activitylogs rules match by their operationName.
func normalizeAzureActivity(r *record) error {
	root, ev := r.root, r.ev
	ev.Product, ev.Service = "azure", "activitylogs"
	ev.Class = event.ClassAPI
	la := root.get("OperationNameValue") != nil // Log Analytics' AzureActivity table
	pick := func(monitor, table string) string {
		if la {
			return root.str(table)
		}
		return root.str(monitor)
	}
	op := pick("operationName", "OperationNameValue")
	ev.Code = op
	ev.Activity = azureActivity(op)
	for _, k := range [...]string{"time", "TimeGenerated", "EventSubmissionTimestamp", "eventTimestamp"} {
		if t, ok := timeOf(root.get(k)); ok {
			ev.Time = t
			break
		}
	}
	c := &event.Cloud{Provider: "azure", Operation: op}
	ev.Cloud = c
	c.Resource = pick("resourceId", "ResourceId")
	if la {
		c.Service = root.str("ResourceProviderValue")
		c.Account = root.str("SubscriptionId")
	}
	if c.Service == "" {
		if provider, _, ok := strings.Cut(op, "/"); ok {
			c.Service = provider
		}
	}
	if c.Account == "" {
		// /SUBSCRIPTIONS/<id>/RESOURCEGROUPS/...
		if rest, ok := cutPrefixFold(c.Resource, "/subscriptions/"); ok {
			account, _, _ := strings.Cut(rest, "/")
			c.Account = strings.ToLower(account) // as the table shape writes it
		}
	}

	// The caller: a user principal name, or an application's object ID.
	caller := pick("caller", "Caller")
	if caller == "" {
		caller = root.strAt("identity", "claims", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
	}
	if caller != "" {
		ev.User = &event.User{Name: caller}
		if strings.Contains(caller, "@") {
			ev.User.Email = caller
		}
		if root.strAt("identity", "claims", "idtyp") == "app" {
			ev.User.Type = "service" // an application's service principal
		}
	}
	endpointIP(&ev.Src, clean(pick("callerIpAddress", "CallerIpAddress")))

	switch strings.ToLower(pick("resultType", "ActivityStatusValue")) {
	case "success", "succeeded":
		ev.Status = "success"
	case "failure", "failed":
		ev.Status = "failure"
	}
	if sig := pick("resultSignature", "ActivitySubstatusValue"); sig != "" && ev.Status == "failure" {
		ev.StatusDetail = sig
	}
	return nil
}

// azureActivity maps an operation's verb (the last part of MICROSOFT.X/TYPE/VERB) to an
// activity.
func azureActivity(op string) string {
	verb := strings.ToUpper(op[strings.LastIndexByte(op, '/')+1:])
	switch verb {
	case "":
		return ""
	case "WRITE":
		return "update"
	case "DELETE":
		return "delete"
	case "READ":
		return "read"
	}
	return "other" // ACTION, and verbs of their own
}

// cutPrefixFold is strings.CutPrefix with the prefix matched ASCII case-insensitively.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
