package sigma

import "strings"

// Attack is the MITRE ATT&CK mapping derived from a rule's `attack.*` tags.
type Attack struct {
	Tactics    []Tactic `json:"tactics,omitempty"`
	Techniques []string `json:"techniques,omitempty"` // "T1059.001"
	Groups     []string `json:"groups,omitempty"`     // "G0016"
	Software   []string `json:"software,omitempty"`   // "S0002"
}

// Tactic is an ATT&CK tactic.
type Tactic struct {
	ID   string `json:"id"`   // "TA0002"
	Name string `json:"name"` // "Execution"
	Tag  string `json:"tag"`  // "execution"
}

// tactics maps the Sigma tag form of every enterprise tactic to its ID and name. Both the
// pre-v18 "defense-evasion" and its successors "stealth" and "defense-impairment" are known.
var tactics = map[string]Tactic{
	"reconnaissance":       {ID: "TA0043", Name: "Reconnaissance"},
	"resource-development": {ID: "TA0042", Name: "Resource Development"},
	"initial-access":       {ID: "TA0001", Name: "Initial Access"},
	"execution":            {ID: "TA0002", Name: "Execution"},
	"persistence":          {ID: "TA0003", Name: "Persistence"},
	"privilege-escalation": {ID: "TA0004", Name: "Privilege Escalation"},
	"defense-evasion":      {ID: "TA0005", Name: "Defense Evasion"},
	"stealth":              {ID: "TA0005", Name: "Stealth"},
	"defense-impairment":   {ID: "TA0112", Name: "Defense Impairment"},
	"credential-access":    {ID: "TA0006", Name: "Credential Access"},
	"discovery":            {ID: "TA0007", Name: "Discovery"},
	"lateral-movement":     {ID: "TA0008", Name: "Lateral Movement"},
	"collection":           {ID: "TA0009", Name: "Collection"},
	"exfiltration":         {ID: "TA0010", Name: "Exfiltration"},
	"command-and-control":  {ID: "TA0011", Name: "Command and Control"},
	"impact":               {ID: "TA0040", Name: "Impact"},
}

// TacticByTag returns the tactic for a Sigma tactic tag such as "execution" or
// "attack.execution" (underscores are accepted for hyphens).
func TacticByTag(tag string) (Tactic, bool) {
	tag = strings.TrimPrefix(strings.ToLower(tag), "attack.")
	tag = strings.ReplaceAll(tag, "_", "-")
	t, ok := tactics[tag]
	if ok {
		t.Tag = tag
	}
	return t, ok
}

// parseAttack derives the ATT&CK mapping from tags.
func parseAttack(tags []string) Attack {
	var a Attack
	seen := map[string]bool{}
	for _, raw := range tags {
		tag := strings.ToLower(strings.TrimSpace(raw))
		rest, ok := strings.CutPrefix(tag, "attack.")
		if !ok || rest == "" {
			continue
		}
		if t, ok := TacticByTag(rest); ok {
			if !seen["tactic:"+t.Tag] {
				seen["tactic:"+t.Tag] = true
				a.Tactics = append(a.Tactics, t)
			}
			continue
		}
		id := strings.ToUpper(rest)
		switch {
		case isAttackID(rest, 't', true):
			if !seen[id] {
				seen[id] = true
				a.Techniques = append(a.Techniques, id)
			}
		case isAttackID(rest, 'g', false):
			if !seen[id] {
				seen[id] = true
				a.Groups = append(a.Groups, id)
			}
		case isAttackID(rest, 's', false):
			if !seen[id] {
				seen[id] = true
				a.Software = append(a.Software, id)
			}
		}
	}
	return a
}

// isAttackID reports whether s is <prefix><4 digits>, optionally followed by .<3 digits> when
// sub is allowed.
func isAttackID(s string, prefix byte, sub bool) bool {
	if len(s) < 5 || s[0] != prefix {
		return false
	}
	digits := func(x string) bool {
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return false
			}
		}
		return len(x) > 0
	}
	main, subPart, hasSub := strings.Cut(s[1:], ".")
	if len(main) != 4 || !digits(main) {
		return false
	}
	if hasSub {
		return sub && len(subPart) == 3 && digits(subPart)
	}
	return true
}
