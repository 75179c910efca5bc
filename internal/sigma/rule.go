package sigma

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// LogSource is a rule's logsource section.
type LogSource struct {
	Category   string `json:"category,omitempty"`
	Product    string `json:"product,omitempty"`
	Service    string `json:"service,omitempty"`
	Definition string `json:"definition,omitempty"`
}

func (ls LogSource) String() string {
	var parts []string
	if ls.Product != "" {
		parts = append(parts, "product:"+ls.Product)
	}
	if ls.Service != "" {
		parts = append(parts, "service:"+ls.Service)
	}
	if ls.Category != "" {
		parts = append(parts, "category:"+ls.Category)
	}
	if len(parts) == 0 {
		return "(any)"
	}
	return strings.Join(parts, " ")
}

// key is the normalized selector used for indexing.
func (ls LogSource) key() LogSource {
	return LogSource{Category: strings.ToLower(ls.Category), Product: strings.ToLower(ls.Product), Service: strings.ToLower(ls.Service)}
}

// Related is an entry of a rule's related section.
type Related struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Meta is the metadata common to detection rules, correlation rules and filters.
type Meta struct {
	ID             string    `json:"id,omitempty"`
	Name           string    `json:"name,omitempty"`
	Title          string    `json:"title"`
	Status         string    `json:"status,omitempty"`
	Level          string    `json:"level,omitempty"`
	Description    string    `json:"description,omitempty"`
	Author         string    `json:"author,omitempty"`
	License        string    `json:"license,omitempty"`
	Taxonomy       string    `json:"taxonomy,omitempty"`
	Date           string    `json:"date,omitempty"`
	Modified       string    `json:"modified,omitempty"`
	References     []string  `json:"references,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
	FalsePositives []string  `json:"falsepositives,omitempty"`
	Fields         []string  `json:"fields,omitempty"`
	Scope          []string  `json:"scope,omitempty"`
	Related        []Related `json:"related,omitempty"`
	// Attack is derived from Tags.
	Attack Attack `json:"attack"`
	// File is the path of the rule file; Document the 0-based YAML document index in it.
	File     string `json:"file"`
	Document int    `json:"document"`
	// Warnings lists deviations from the specification that did not prevent loading.
	Warnings []string `json:"warnings,omitempty"`
}

// Rule is a loaded Sigma detection rule.
type Rule struct {
	Meta
	LogSource LogSource `json:"logsource"`
	// CorrelationOnly is set when the rule is referenced by a correlation rule whose generate
	// attribute is false and by none whose generate is true: its matches feed the correlation
	// but are not meant to be alerts on their own.
	CorrelationOnly bool `json:"correlation_only,omitempty"`

	det       *detection
	detNode   *yaml.Node // kept when the detection uses placeholders, for recompiling
	loadIndex int
	filters   []*Filter
	corrUsers []*Correlation
}

// CorrelationUsers returns the correlation rules that consume this rule's matches.
func (r *Rule) CorrelationUsers() []*Correlation { return r.corrUsers }

// Filters returns the meta filters applied to the rule.
func (r *Rule) Filters() []*Filter { return r.filters }

// Filter is a loaded Sigma meta filter.
type Filter struct {
	Meta
	LogSource LogSource `json:"logsource"`
	// Rules are the rule references as written (ids or names); "any"/"all" (pySigma extension)
	// apply the filter to every rule whose log source it matches.
	Rules []string `json:"rules"`

	det     *detection
	detNode *yaml.Node
}

// Correlation is a loaded Sigma correlation rule.
type Correlation struct {
	Meta
	Type      string                       `json:"type"`
	Rules     []string                     `json:"rules"` // references as written
	GroupBy   []string                     `json:"group_by,omitempty"`
	Timespan  time.Duration                `json:"timespan"`
	Aliases   map[string]map[string]string `json:"aliases,omitempty"` // alias -> rule reference -> field
	Condition CorrelationCondition         `json:"condition"`
	Generate  bool                         `json:"generate"`

	refs []ruleRef // resolved Rules
	// users are the correlations that reference this one.
	users []*Correlation
}

// CorrelationCondition is the condition of a correlation rule.
type CorrelationCondition struct {
	// Ops holds one or two comparisons (a range such as gt 100 and lte 200).
	Ops []CondOp `json:"ops"`
	// Field is the field (or fields, combined) that value_* types aggregate.
	Field []string `json:"field,omitempty"`
	// Percentile is the optional percentile (pySigma extension) for value_percentile.
	Percentile float64 `json:"percentile,omitempty"`
	// HasPercentile reports whether Percentile was given.
	HasPercentile bool `json:"has_percentile,omitempty"`
}

// CondOp is one comparison of a correlation condition.
type CondOp struct {
	Op    string  `json:"op"` // gt, gte, lt, lte, eq, neq
	Value float64 `json:"value"`
}

// Holds reports whether v satisfies every comparison.
func (c CorrelationCondition) Holds(v float64) bool {
	for _, o := range c.Ops {
		var ok bool
		switch o.Op {
		case "gt":
			ok = v > o.Value
		case "gte":
			ok = v >= o.Value
		case "lt":
			ok = v < o.Value
		case "lte":
			ok = v <= o.Value
		case "eq":
			ok = v == o.Value
		case "neq":
			ok = v != o.Value
		}
		if !ok {
			return false
		}
	}
	return true
}

// monotone reports whether the condition only sets lower bounds (gt/gte): once it holds for a
// set of events it holds for every superset.
func (c CorrelationCondition) monotone() bool {
	for _, o := range c.Ops {
		if o.Op != "gt" && o.Op != "gte" {
			return false
		}
	}
	return true
}

// ruleRef is a resolved reference from a correlation to a rule or another correlation.
type ruleRef struct {
	ref  string
	rule *Rule
	corr *Correlation
}

// Correlation types defined by the specification.
const (
	CorrEventCount      = "event_count"
	CorrValueCount      = "value_count"
	CorrTemporal        = "temporal"
	CorrTemporalOrdered = "temporal_ordered"
	CorrValueSum        = "value_sum"
	CorrValueAvg        = "value_avg"
	CorrValuePercentile = "value_percentile"
)

var validStatus = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}
var validLevel = map[string]bool{"informational": true, "low": true, "medium": true, "high": true, "critical": true}
var validRelated = map[string]bool{"derived": true, "obsolete": true, "merged": true, "renamed": true, "similar": true}

var (
	datePattern = regexp.MustCompile(`^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])$`)
	tagPattern  = regexp.MustCompile(`^[a-z0-9_-]+\.[a-z0-9._-]+$`)
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// parseMeta reads the common metadata. Violations of a hard requirement (title, types,
// status/level values) are errors; cosmetic deviations (date, tag and id formats) are warnings.
func parseMeta(entries []mapEntry, m *Meta, kind string) error {
	var titleSeen bool
	for _, e := range entries {
		var err error
		switch e.key {
		case "title":
			m.Title, err = stringField(e.val, "title")
			titleSeen = true
		case "id":
			m.ID, err = stringField(e.val, "id")
			if err == nil && m.ID != "" && !uuidPattern.MatchString(m.ID) {
				m.Warnings = append(m.Warnings, fmt.Sprintf("id %q is not a UUID", m.ID))
			}
		case "name":
			m.Name, err = stringField(e.val, "name")
		case "status":
			m.Status, err = stringField(e.val, "status")
			if err == nil && m.Status != "" && !validStatus[m.Status] {
				err = fmt.Errorf("status %q is not one of stable, test, experimental, deprecated, unsupported", m.Status)
			}
		case "level":
			m.Level, err = stringField(e.val, "level")
			if err == nil && m.Level != "" && !validLevel[m.Level] {
				err = fmt.Errorf("level %q is not one of informational, low, medium, high, critical", m.Level)
			}
		case "description":
			m.Description, err = stringField(e.val, "description")
		case "author":
			m.Author, err = stringField(e.val, "author")
		case "license":
			m.License, err = stringField(e.val, "license")
		case "taxonomy":
			m.Taxonomy, err = stringField(e.val, "taxonomy")
		case "date", "modified":
			var s string
			s, err = stringField(e.val, e.key)
			if err == nil && s != "" && !datePattern.MatchString(s) {
				m.Warnings = append(m.Warnings, fmt.Sprintf("%s %q is not in YYYY-MM-DD form", e.key, s))
			}
			if e.key == "date" {
				m.Date = s
			} else {
				m.Modified = s
			}
		case "references":
			m.References, err = stringList(e.val, "references")
		case "tags":
			m.Tags, err = stringList(e.val, "tags")
			for _, t := range m.Tags {
				if !tagPattern.MatchString(t) {
					m.Warnings = append(m.Warnings, fmt.Sprintf("tag %q does not follow the namespace.value form", t))
				}
			}
		case "falsepositives":
			m.FalsePositives, err = stringList(e.val, "falsepositives")
		case "fields":
			m.Fields, err = stringList(e.val, "fields")
		case "scope":
			m.Scope, err = stringList(e.val, "scope")
		case "related":
			m.Related, err = parseRelated(e.val)
		}
		if err != nil {
			return err
		}
	}
	if !titleSeen || strings.TrimSpace(m.Title) == "" {
		return fmt.Errorf("title is missing (mandatory for %s)", kind)
	}
	if len(m.Title) > 256 {
		return fmt.Errorf("title is longer than 256 characters")
	}
	if len(m.Description) > 65535 {
		return fmt.Errorf("description is longer than 65,535 characters")
	}
	m.Attack = parseAttack(m.Tags)
	return nil
}

func parseRelated(n *yaml.Node) ([]Related, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("related must be a list")
	}
	var out []Related
	for _, item := range n.Content {
		ents, err := mappingEntries(item, "related entry")
		if err != nil {
			return nil, err
		}
		var r Related
		for _, e := range ents {
			switch e.key {
			case "id":
				r.ID, err = stringField(e.val, "related id")
			case "type":
				r.Type, err = stringField(e.val, "related type")
			}
			if err != nil {
				return nil, err
			}
		}
		if r.ID == "" || r.Type == "" {
			return nil, fmt.Errorf("related entries need an id and a type")
		}
		if !validRelated[r.Type] {
			return nil, fmt.Errorf("related type %q is not one of derived, obsolete, merged, renamed, similar", r.Type)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseLogSource(n *yaml.Node) (LogSource, error) {
	var ls LogSource
	if isNull(n) {
		return ls, fmt.Errorf("logsource is missing")
	}
	ents, err := mappingEntries(n, "logsource")
	if err != nil {
		return ls, err
	}
	for _, e := range ents {
		switch e.key {
		case "category":
			ls.Category, err = stringField(e.val, "logsource category")
		case "product":
			ls.Product, err = stringField(e.val, "logsource product")
		case "service":
			ls.Service, err = stringField(e.val, "logsource service")
		case "definition":
			ls.Definition, err = stringField(e.val, "logsource definition")
		}
		if err != nil {
			return ls, err
		}
	}
	return ls, nil
}

func findEntry(entries []mapEntry, key string) *yaml.Node {
	for _, e := range entries {
		if e.key == key {
			return e.val
		}
	}
	return nil
}

// parseDetectionRule parses a detection rule document.
func parseDetectionRule(entries []mapEntry, opts LoadOptions) (*Rule, error) {
	r := &Rule{}
	if err := parseMeta(entries, &r.Meta, "a rule"); err != nil {
		return nil, err
	}
	ls, err := parseLogSource(findEntry(entries, "logsource"))
	if err != nil {
		return nil, err
	}
	r.LogSource = ls
	detNode := findEntry(entries, "detection")
	if isNull(detNode) {
		return nil, fmt.Errorf("detection is missing")
	}
	detEntries, err := mappingEntries(detNode, "detection")
	if err != nil {
		return nil, err
	}
	c := newCompiler(nil, true)
	det, err := c.compileDetection(detEntries, "detection")
	if err != nil {
		return nil, err
	}
	r.det = det
	if det.placeholders {
		r.detNode = detNode
	}
	return r, nil
}

// parseFilter parses a meta filter document.
func parseFilter(entries []mapEntry, opts LoadOptions) (*Filter, error) {
	f := &Filter{}
	if err := parseMeta(entries, &f.Meta, "a filter"); err != nil {
		return nil, err
	}
	ls, err := parseLogSource(findEntry(entries, "logsource"))
	if err != nil {
		return nil, err
	}
	f.LogSource = ls
	fn := findEntry(entries, "filter")
	fents, err := mappingEntries(fn, "filter")
	if err != nil {
		return nil, err
	}
	var detEntries []mapEntry
	rulesSeen := false
	for _, e := range fents {
		if e.key == "rules" {
			rulesSeen = true
			f.Rules, err = stringList(e.val, "filter rules")
			if err != nil {
				return nil, err
			}
			continue
		}
		detEntries = append(detEntries, e)
	}
	if !rulesSeen || len(f.Rules) == 0 {
		return nil, fmt.Errorf("filter rules is missing or empty (it names the rules the filter applies to)")
	}
	if findEntry(fents, "condition") == nil {
		return nil, fmt.Errorf("filter condition is missing")
	}
	if cn := deref(findEntry(fents, "condition")); cn != nil && cn.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("filter condition must be a string")
	}
	c := newCompiler(nil, true)
	det, err := c.compileDetection(detEntries, "filter")
	if err != nil {
		return nil, err
	}
	f.det = det
	if det.placeholders {
		f.detNode = fn
	}
	return f, nil
}

var timespanPattern = regexp.MustCompile(`^([0-9]+)([smhdw])$`)

// ParseTimespan parses a correlation timespan: a positive number followed by s, m, h or d
// (w for weeks is accepted as well).
func ParseTimespan(s string) (time.Duration, error) {
	m := timespanPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("timespan %q is not a number followed by s, m, h or d", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 || n > 1<<31 {
		return 0, fmt.Errorf("timespan %q must be a positive number of units", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// parseCorrelation parses a correlation rule document.
func parseCorrelation(entries []mapEntry) (*Correlation, error) {
	cr := &Correlation{}
	if err := parseMeta(entries, &cr.Meta, "a correlation rule"); err != nil {
		return nil, err
	}
	cents, err := mappingEntries(findEntry(entries, "correlation"), "correlation")
	if err != nil {
		return nil, err
	}
	var typeSeen, timespanSeen, groupBySeen bool
	var condNode *yaml.Node
	for _, e := range cents {
		switch e.key {
		case "type":
			cr.Type, err = stringField(e.val, "correlation type")
			typeSeen = true
		case "rules":
			cr.Rules, err = stringList(e.val, "correlation rules")
		case "group-by":
			cr.GroupBy, err = stringList(e.val, "correlation group-by")
			groupBySeen = true
		case "timespan":
			var s string
			if s, err = stringField(e.val, "correlation timespan"); err == nil {
				cr.Timespan, err = ParseTimespan(s)
			}
			timespanSeen = true
		case "aliases":
			cr.Aliases, err = parseAliases(e.val)
		case "condition":
			condNode = e.val
		case "generate":
			err = fmt.Errorf("generate belongs at the top level of a correlation rule, not inside correlation")
		default:
			err = fmt.Errorf("unknown correlation attribute %q", e.key)
		}
		if err != nil {
			return nil, err
		}
	}
	if g := findEntry(entries, "generate"); g != nil {
		gn := deref(g)
		if gn == nil || gn.Kind != yaml.ScalarNode || gn.ShortTag() != "!!bool" {
			return nil, fmt.Errorf("generate must be a boolean")
		}
		cr.Generate = gn.Value == "true" || gn.Value == "True" || gn.Value == "TRUE"
	}
	if !typeSeen || cr.Type == "" {
		return nil, fmt.Errorf("correlation type is missing")
	}
	switch cr.Type {
	case CorrEventCount, CorrValueCount, CorrTemporal, CorrTemporalOrdered, CorrValueSum, CorrValueAvg, CorrValuePercentile:
	default:
		return nil, fmt.Errorf("correlation type %q is not one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile", cr.Type)
	}
	if len(cr.Rules) == 0 {
		return nil, fmt.Errorf("correlation rules is missing or empty")
	}
	seen := map[string]bool{}
	for _, r := range cr.Rules {
		if seen[r] {
			return nil, fmt.Errorf("correlation rules lists %q twice", r)
		}
		seen[r] = true
	}
	if !timespanSeen {
		return nil, fmt.Errorf("correlation timespan is missing")
	}
	if !groupBySeen {
		return nil, fmt.Errorf("correlation group-by is missing (mandatory for every correlation type)")
	}
	temporal := cr.Type == CorrTemporal || cr.Type == CorrTemporalOrdered
	if condNode == nil || isNull(condNode) {
		if !temporal {
			return nil, fmt.Errorf("correlation condition is missing (mandatory for %s)", cr.Type)
		}
		// Default: all referenced rules must match.
		cr.Condition.Ops = []CondOp{{Op: "gte", Value: float64(len(cr.Rules))}}
	} else {
		if err := parseCorrCondition(condNode, &cr.Condition); err != nil {
			return nil, err
		}
	}
	needsField := cr.Type == CorrValueCount || cr.Type == CorrValueSum || cr.Type == CorrValueAvg || cr.Type == CorrValuePercentile
	if needsField && len(cr.Condition.Field) == 0 {
		return nil, fmt.Errorf("correlation condition needs field for %s", cr.Type)
	}
	if !needsField && len(cr.Condition.Field) > 0 {
		return nil, fmt.Errorf("correlation condition field is only meaningful for value_* types, not %s", cr.Type)
	}
	if cr.Condition.HasPercentile && cr.Type != CorrValuePercentile {
		return nil, fmt.Errorf("correlation condition percentile only applies to value_percentile")
	}
	for alias, m := range cr.Aliases {
		for ref := range m {
			if !seen[ref] {
				return nil, fmt.Errorf("alias %q maps rule %q, which is not in the correlation's rules", alias, ref)
			}
		}
	}
	return cr, nil
}

func parseAliases(n *yaml.Node) (map[string]map[string]string, error) {
	ents, err := mappingEntries(n, "correlation aliases")
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, e := range ents {
		rs, err := mappingEntries(e.val, "alias "+e.key)
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, r := range rs {
			f, err := stringField(r.val, "alias field")
			if err != nil || f == "" {
				return nil, fmt.Errorf("alias %q: rule %q must map to a field name", e.key, r.key)
			}
			m[r.key] = f
		}
		out[e.key] = m
	}
	return out, nil
}

func parseCorrCondition(n *yaml.Node, cc *CorrelationCondition) error {
	ents, err := mappingEntries(n, "correlation condition")
	if err != nil {
		return err
	}
	for _, e := range ents {
		switch e.key {
		case "gt", "gte", "lt", "lte", "eq", "neq":
			s, ok := scalarText(e.val)
			if !ok {
				return fmt.Errorf("correlation condition %s needs a number", e.key)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return fmt.Errorf("correlation condition %s: %q is not a number", e.key, s)
			}
			cc.Ops = append(cc.Ops, CondOp{Op: e.key, Value: v})
		case "field":
			cc.Field, err = stringList(e.val, "correlation condition field")
			if err != nil {
				return err
			}
		case "percentile":
			s, ok := scalarText(e.val)
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if !ok || err != nil || v < 0 || v > 100 {
				return fmt.Errorf("correlation condition percentile must be a number from 0 to 100")
			}
			cc.Percentile, cc.HasPercentile = v, true
		default:
			return fmt.Errorf("unknown correlation condition item %q", e.key)
		}
	}
	if len(cc.Ops) == 0 {
		return fmt.Errorf("correlation condition needs a comparison (gt, gte, lt, lte, eq or neq)")
	}
	if len(cc.Ops) > 2 {
		return fmt.Errorf("correlation condition allows at most two comparisons (a range)")
	}
	return nil
}
