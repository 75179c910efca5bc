package sigma

import (
	"embed"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
)

// The default mapping is two files: thor_windows.yml is generated from SigmaHQ's
// tests/thor.yml (see TestGenerateThorMapping, run with -update), extra.yml is written by hand
// (Windows sources THOR lacks, and every non-Windows source, keyed on record hints).
//
//go:embed logsources/*.yml
var defaultMappingFS embed.FS

var defaultMappingFiles = []string{"logsources/thor_windows.yml", "logsources/extra.yml"}

// Mapping tells the engine which events belong to which Sigma log source, and how Sigma field
// names translate to event field names for that source. It is data: users extend it with
// their own YAML files (same format as the embedded default) without code.
//
// The format:
//
//	logsources:
//	  process_creation_security:        # entry name; a later file replaces an entry of the same name
//	    category: process_creation      # the Sigma log source this entry provides
//	    product: windows
//	    conditions:                     # event fields; each must equal one of the values
//	      Channel: Security             # (case-insensitive; "*" means: the field exists)
//	      EventID: 4688
//	    hints:                          # record hints (Record.SetLogSource); each must equal
//	      product: windows
//	    fieldmappings:                  # Sigma field name -> event field name
//	      Image: NewProcessName
//
// A rule's logsource selects every entry that has the same value for each of the rule's
// category/product/service attributes (the entry may be more specific). An entry matches an
// event when all its conditions and hints hold. A rule logsource that selects no entry at all
// falls back to the record hints: the event matches when its hints equal each attribute the
// rule sets. A Mapping is immutable once built.
type Mapping struct {
	entries []MappingEntry
}

// MappingEntry is one log source definition of a Mapping.
type MappingEntry struct {
	Name          string
	Category      string
	Product       string
	Service       string
	Conditions    map[string][]string
	Hints         map[string]string
	FieldMappings map[string]string
}

// DefaultMapping returns the embedded mapping (parsed once; Mappings are immutable).
func DefaultMapping() *Mapping {
	defaultMappingOnce.Do(func() { defaultMapping = parseDefaultMapping() })
	return defaultMapping
}

var (
	defaultMappingOnce sync.Once
	defaultMapping     *Mapping
)

func parseDefaultMapping() *Mapping {
	m := &Mapping{}
	for _, f := range defaultMappingFiles {
		data, err := defaultMappingFS.ReadFile(f)
		if err != nil {
			panic(fmt.Sprintf("sigma: embedded mapping %s: %v", f, err)) // programmer error
		}
		part, err := ParseMapping(f, data)
		if err != nil {
			panic(fmt.Sprintf("sigma: embedded mapping: %v", err)) // programmer error
		}
		m = m.Merge(part)
	}
	return m
}

// LoadMappingFile reads a mapping file.
func LoadMappingFile(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load log source mapping %q: %w", path, err)
	}
	return ParseMapping(path, data)
}

// ParseMapping parses mapping YAML; name is used in error messages.
func ParseMapping(name string, data []byte) (*Mapping, error) {
	docs, err := decodeDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidMapping, name, err)
	}
	m := &Mapping{}
	for _, doc := range docs {
		top, err := mappingEntries(doc, "mapping file")
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidMapping, name, err)
		}
		for _, t := range top {
			if t.key != "logsources" {
				continue // allow title, description, ...
			}
			ents, err := mappingEntries(t.val, "logsources")
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidMapping, name, err)
			}
			for _, e := range ents {
				me, err := parseMappingEntry(e.key, e.val)
				if err != nil {
					return nil, fmt.Errorf("%w: %s: logsource %q: %v", ErrInvalidMapping, name, e.key, err)
				}
				m.entries = append(m.entries, me)
			}
		}
	}
	return m, nil
}

func parseMappingEntry(name string, n *yaml.Node) (MappingEntry, error) {
	me := MappingEntry{Name: name}
	attrs, err := mappingEntries(n, "entry")
	if err != nil {
		return me, err
	}
	for _, a := range attrs {
		switch a.key {
		case "category", "product", "service":
			s, err := stringField(a.val, a.key)
			if err != nil {
				return me, err
			}
			s = strings.ToLower(s)
			switch a.key {
			case "category":
				me.Category = s
			case "product":
				me.Product = s
			case "service":
				me.Service = s
			}
		case "conditions":
			conds, err := mappingEntries(a.val, "conditions")
			if err != nil {
				return me, err
			}
			me.Conditions = map[string][]string{}
			for _, c := range conds {
				vals, err := stringList(c.val, "condition "+c.key)
				if err != nil {
					return me, err
				}
				if len(vals) == 0 {
					return me, fmt.Errorf("condition %s has no values", c.key)
				}
				me.Conditions[c.key] = vals
			}
		case "hints":
			hs, err := mappingEntries(a.val, "hints")
			if err != nil {
				return me, err
			}
			me.Hints = map[string]string{}
			for _, h := range hs {
				if h.key != "product" && h.key != "service" && h.key != "category" {
					return me, fmt.Errorf("unknown hint %q (product, service or category)", h.key)
				}
				s, err := stringField(h.val, "hint "+h.key)
				if err != nil {
					return me, err
				}
				me.Hints[h.key] = strings.ToLower(s)
			}
		case "fieldmappings":
			fms, err := mappingEntries(a.val, "fieldmappings")
			if err != nil {
				return me, err
			}
			me.FieldMappings = map[string]string{}
			for _, f := range fms {
				s, err := stringField(f.val, "fieldmapping "+f.key)
				if err != nil || s == "" {
					return me, fmt.Errorf("fieldmapping %s must name one event field", f.key)
				}
				me.FieldMappings[f.key] = s
			}
		case "description", "rewrite":
		default:
			return me, fmt.Errorf("unknown attribute %q", a.key)
		}
	}
	if me.Category == "" && me.Product == "" && me.Service == "" {
		return me, fmt.Errorf("an entry needs at least one of category, product, service")
	}
	if len(me.Conditions) == 0 && len(me.Hints) == 0 {
		return me, fmt.Errorf("an entry needs conditions or hints (otherwise it would match every event)")
	}
	return me, nil
}

// Merge returns a mapping with the entries of m followed by those of other; an entry of other
// replaces the entry of m with the same name.
func (m *Mapping) Merge(other *Mapping) *Mapping {
	out := &Mapping{entries: slices.Clone(m.entries)}
	for _, e := range other.entries {
		if i := slices.IndexFunc(out.entries, func(x MappingEntry) bool { return x.Name == e.Name }); i >= 0 {
			out.entries[i] = e
		} else {
			out.entries = append(out.entries, e)
		}
	}
	return out
}

// Entries returns a copy of the entries.
func (m *Mapping) Entries() []MappingEntry { return slices.Clone(m.entries) }

// selects reports whether a rule with log source ls selects entry e.
func (e *MappingEntry) selects(ls LogSource) bool {
	return (ls.Category == "" || strings.EqualFold(ls.Category, e.Category)) &&
		(ls.Product == "" || strings.EqualFold(ls.Product, e.Product)) &&
		(ls.Service == "" || strings.EqualFold(ls.Service, e.Service))
}
