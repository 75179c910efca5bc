package triage

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Class is a protected class of alerts that is never auto-closed (unless an analyst wrote an
// exception): an alert belongs to it when it carries one of the tactics or techniques (a
// technique matches its sub-techniques too) or its title matches the pattern.
type Class struct {
	Name       string   `yaml:"name" json:"name"`
	Tactics    []string `yaml:"tactics" json:"tactics,omitempty"`
	Techniques []string `yaml:"techniques" json:"techniques,omitempty"`
	// Title is a case-insensitive regular expression over the alert title.
	Title string `yaml:"title" json:"title,omitempty"`

	re *regexp.Regexp
}

// DefaultClasses are the classes vigil never auto-closes by default.
func DefaultClasses() []Class {
	return []Class{
		{Name: "privilege_escalation", Tactics: []string{"TA0004"}, Title: `privilege escalation|sudo to root|successful sudo|setuid|uac bypass`},
		{Name: "web_shell", Techniques: []string{"T1505.003"}, Title: `web ?shell`},
		{Name: "reverse_shell", Title: `reverse ?shell|bind ?shell`},
		{Name: "credential_dumping", Techniques: []string{"T1003"}, Title: `credential dump|lsass|mimikatz|password (crack|dump)|hashdump|dcsync`},
		{Name: "ransomware", Techniques: []string{"T1486", "T1490"}, Title: `ransom`},
	}
}

func (c *Class) compile() error {
	if c.Title == "" {
		return nil
	}
	re, err := regexp.Compile("(?i)" + c.Title)
	if err != nil {
		return fmt.Errorf("class %s: title pattern: %w", c.Name, err)
	}
	c.re = re
	return nil
}

func (c *Class) matches(a *event.Alert) bool {
	for _, t := range a.Tactics {
		if slices.Contains(c.Tactics, t) {
			return true
		}
	}
	for _, t := range a.Techniques {
		for _, want := range c.Techniques {
			if t == want || strings.HasPrefix(t, want+".") {
				return true
			}
		}
	}
	return c.re != nil && c.re.MatchString(a.RuleTitle)
}

// Exception lets alerts of a protected class be auto-closed for a scope, with an owner and an
// expiry.
type Exception struct {
	Class   string    `json:"class"`
	Kind    string    `json:"kind,omitempty"` // alert kind; empty means any
	Host    string    `json:"host,omitempty"`
	Owner   string    `json:"owner"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires"`
}

func (e *Exception) applies(class string, a *event.Alert, now time.Time) bool {
	return e.Class == class && now.Before(e.Expires) && (e.Kind == "" || e.Kind == a.Kind) && (e.Host == "" || strings.EqualFold(e.Host, a.Host))
}

// Suppression hides alerts an analyst judged to be expected activity. It has an owner and an
// expiry, so that nothing is hidden forever by accident.
type Suppression struct {
	ID string `json:"id"`
	// Kind is the alert kind, or the kind and title as "kind|title" for one alert type of a
	// kind.
	Kind    string    `json:"kind"`
	Host    string    `json:"host,omitempty"`
	User    string    `json:"user,omitempty"`
	SrcIP   string    `json:"src_ip,omitempty"`
	Owner   string    `json:"owner"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Proposed suppressions are not active until an analyst enables them.
	Proposed bool `json:"proposed,omitempty"`
	// Hits counts alerts suppressed so far.
	Hits int `json:"hits"`
}

// Matches reports whether the suppression hides the alert at time now.
func (s *Suppression) Matches(a *event.Alert, now time.Time) bool {
	if s.Proposed || !now.Before(s.Expires) || s.Kind != a.Kind && s.Kind != alertType(a) {
		return false
	}
	return (s.Host == "" || strings.EqualFold(s.Host, a.Host)) && (s.User == "" || strings.EqualFold(s.User, a.User)) && (s.SrcIP == "" || s.SrcIP == a.SrcIP)
}
