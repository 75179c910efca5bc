package sigma

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// LoadOptions tunes rule loading.
type LoadOptions struct {
	// Strict refuses rules that load with warnings (id, date or tag formats that deviate from
	// the specification's recommendations).
	Strict bool
}

// Refusal is a rule document that could not be used, with the reason.
type Refusal struct {
	File     string `json:"file"`
	Document int    `json:"document,omitempty"` // 0-based YAML document index in File
	ID       string `json:"rule_id,omitempty"`
	Title    string `json:"title,omitempty"`
	Error    string `json:"error"`
	// Err is the underlying error; errors.Is(Err, ErrUnsupported) distinguishes rules that are
	// valid Sigma but cannot run here from invalid ones (ErrInvalidRule).
	Err error `json:"-"`
}

func (r Refusal) String() string {
	if r.Document > 0 {
		return fmt.Sprintf("%s (document %d): %s", r.File, r.Document+1, r.Error)
	}
	return fmt.Sprintf("%s: %s", r.File, r.Error)
}

// RuleSet is a collection of loaded rules, correlations and filters whose references have
// been resolved. It is immutable once returned by a Load function.
type RuleSet struct {
	Rules        []*Rule
	Correlations []*Correlation
	Filters      []*Filter
	// Warnings are non-fatal notes: deviations from the specification's recommendations,
	// filters naming rules that are not loaded, and the like.
	Warnings []string

	byRef map[string]any // id or name -> *Rule / *Correlation
	files int
}

// Lookup returns the detection rule or correlation referenced by id or name (the way
// correlation and filter rules reference rules): a *Rule, a *Correlation, or nil.
func (rs *RuleSet) Lookup(ref string) any {
	return rs.byRef[ref]
}

// Empty reports whether the set holds neither a detection rule nor a correlation.
func (rs *RuleSet) Empty() bool { return len(rs.Rules)+len(rs.Correlations) == 0 }

// RuleByID returns the detection rule with the given id or name.
func (rs *RuleSet) RuleByID(ref string) *Rule {
	r, _ := rs.byRef[ref].(*Rule)
	return r
}

// LoadDir loads every .yml/.yaml file under dir (recursively; hidden directories skipped).
// File names in the result are joined with dir.
func LoadDir(dir string, opts LoadOptions) (*RuleSet, []Refusal) {
	if _, err := os.Stat(dir); err != nil {
		return newLinkedSet(nil, nil), []Refusal{{File: dir, Error: err.Error(), Err: err}}
	}
	return LoadSources([]Source{DirSource(dir)}, opts)
}

// LoadFS loads every .yml/.yaml file under root in fsys.
func LoadFS(fsys fs.FS, root string, opts LoadOptions) (*RuleSet, []Refusal) {
	docs, refusals := collectFS(fsys, root, opts, "")
	rs, more := link(docs)
	return rs, append(refusals, more...)
}

// Source is one place rules load from: a folder of fsys. Prefix, when set, is joined in front
// of the file names in results (LoadDir uses the folder's path).
type Source struct {
	FS     fs.FS
	Root   string
	Prefix string
}

// DirSource is the Source of a folder on disk, or of one rule file when path names a file.
func DirSource(path string) Source {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return Source{FS: os.DirFS(filepath.Dir(path)), Root: filepath.Base(path), Prefix: filepath.Dir(path)}
	}
	return Source{FS: os.DirFS(path), Root: ".", Prefix: path}
}

// LoadSources loads every source into one RuleSet, so that correlation rules and filters in
// one source can refer to rules in another. A source that cannot be read is a refusal naming
// it, whose error is ErrUnreadableSource; the others load.
func LoadSources(sources []Source, opts LoadOptions) (*RuleSet, []Refusal) {
	var docs []loadedDoc
	var refusals []Refusal
	for _, src := range sources {
		if src.Prefix != "" && src.FS != nil {
			if _, err := fs.Stat(src.FS, src.Root); err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err // its path is the root inside the source; the refusal names the source
				}
				err = fmt.Errorf("%w: %w", ErrUnreadableSource, err)
				refusals = append(refusals, Refusal{File: filepath.Join(src.Prefix, src.Root), Error: err.Error(), Err: err})
				continue
			}
		}
		d, r := collectFS(src.FS, src.Root, opts, src.Prefix)
		docs = append(docs, d...)
		refusals = append(refusals, r...)
	}
	rs, more := link(docs)
	return rs, append(refusals, more...)
}

// collectFS parses the rule files under root; file names get prefix joined in front.
func collectFS(fsys fs.FS, root string, opts LoadOptions, prefix string) ([]loadedDoc, []Refusal) {
	fix := func(p string) string {
		if prefix == "" {
			return p
		}
		return filepath.Join(prefix, filepath.FromSlash(p))
	}
	// The walk lists the rule files (and what it could not read, in place); the files are
	// read and parsed on every CPU (parsing is most of a load), and their documents and
	// refusals put together in walk order.
	type entry struct {
		path     string // "" for a refusal of the walk's
		docs     []loadedDoc
		refusals []Refusal
	}
	var entries []entry
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			entries = append(entries, entry{refusals: []Refusal{{File: fix(p), Error: err.Error(), Err: err}}})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && strings.HasPrefix(name, ".") {
				return fs.SkipDir
			}
			return nil
		}
		ext := strings.ToLower(path.Ext(name))
		if ext != ".yml" && ext != ".yaml" {
			return nil
		}
		entries = append(entries, entry{path: p})
		return nil
	})
	if err != nil {
		entries = append(entries, entry{refusals: []Refusal{{File: fix(root), Error: err.Error(), Err: err}}})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(entries)/16, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(entries); i = int(next.Add(1) - 1) {
				e := &entries[i]
				if e.path == "" {
					continue
				}
				data, err := fs.ReadFile(fsys, e.path)
				if err != nil {
					e.refusals = []Refusal{{File: fix(e.path), Error: err.Error(), Err: err}}
					continue
				}
				e.docs, e.refusals = parseFile(fix(e.path), data, opts)
			}
		}()
	}
	wg.Wait()
	var docs []loadedDoc
	var refusals []Refusal
	for _, e := range entries {
		docs = append(docs, e.docs...)
		refusals = append(refusals, e.refusals...)
	}
	return docs, refusals
}

// LoadBytes loads the rule documents of one file's content; name is used in messages.
func LoadBytes(name string, data []byte, opts LoadOptions) (*RuleSet, []Refusal) {
	docs, refusals := parseFile(name, data, opts)
	rs, more := link(docs)
	return rs, append(refusals, more...)
}

// loadedDoc is one parsed document before linking.
type loadedDoc struct {
	rule   *Rule
	corr   *Correlation
	filter *Filter
}

func (d loadedDoc) meta() *Meta {
	switch {
	case d.rule != nil:
		return &d.rule.Meta
	case d.corr != nil:
		return &d.corr.Meta
	}
	return &d.filter.Meta
}

func refusal(file string, doc int, id, title string, err error) Refusal {
	if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrInvalidRule) {
		err = fmt.Errorf("%w: %w", ErrInvalidRule, err)
	}
	msg := err.Error()
	msg = strings.ReplaceAll(msg, ErrInvalidRule.Error()+": ", "")
	msg = strings.ReplaceAll(msg, ErrUnsupported.Error()+": ", "")
	return Refusal{File: file, Document: doc, ID: id, Title: title, Error: msg, Err: err}
}

// parseFile parses every document of a rule file.
func parseFile(name string, data []byte, opts LoadOptions) (docs []loadedDoc, refusals []Refusal) {
	nodes, err := decodeDocuments(data)
	if err != nil {
		refusals = append(refusals, refusal(name, len(nodes), "", "", err))
	}
	for i, n := range nodes {
		if isNull(n) {
			continue // an empty document, e.g. a trailing "---"
		}
		d, err := parseDocument(n, opts)
		if err != nil {
			id, title := peekIdentity(n)
			refusals = append(refusals, refusal(name, i, id, title, err))
			continue
		}
		m := d.meta()
		m.File, m.Document = name, i
		if opts.Strict && len(m.Warnings) > 0 {
			refusals = append(refusals, refusal(name, i, m.ID, m.Title, errors.New(strings.Join(m.Warnings, "; "))))
			continue
		}
		docs = append(docs, d)
	}
	return docs, refusals
}

func peekIdentity(n *parsedNode) (id, title string) {
	ents, err := mappingEntries(n, "document")
	if err != nil {
		return "", ""
	}
	if v := findEntry(ents, "id"); v != nil {
		id, _ = scalarText(v)
	}
	if v := findEntry(ents, "title"); v != nil {
		title, _ = scalarText(v)
	}
	return id, title
}

// recoverPanics turns a panic while compiling one rule into a refusal of that rule (defense in
// depth: a bug must not take a whole rule load down). Fuzz tests switch it off to see bugs.
var recoverPanics = true

func parseDocument(n *parsedNode, opts LoadOptions) (d loadedDoc, err error) {
	defer func() {
		if !recoverPanics {
			return
		}
		if p := recover(); p != nil {
			// A bug of ours must not take the whole load down; report it on the rule.
			d, err = loadedDoc{}, fmt.Errorf("internal error while compiling the rule: %v", p)
		}
	}()
	ents, err := mappingEntries(n, "a rule document")
	if err != nil {
		return d, err
	}
	if a := findEntry(ents, "action"); a != nil {
		return d, fmt.Errorf("rule collections with \"action\" (Sigma 1 global/reset/repeat documents) are not part of Sigma 2")
	}
	hasDet := findEntry(ents, "detection") != nil
	hasCorr := findEntry(ents, "correlation") != nil
	hasFilter := findEntry(ents, "filter") != nil
	switch {
	case hasCorr && (hasDet || hasFilter), hasDet && hasFilter:
		return d, fmt.Errorf("a document holds exactly one of detection, correlation or filter")
	case hasCorr:
		d.corr, err = parseCorrelation(ents)
	case hasFilter:
		d.filter, err = parseFilter(ents, opts)
	case hasDet:
		d.rule, err = parseDetectionRule(ents, opts)
	default:
		if findEntry(ents, "logsource") == nil {
			return d, fmt.Errorf("not a Sigma rule: no detection, correlation or filter section (and no logsource)")
		}
		return d, fmt.Errorf("detection is missing")
	}
	return d, err
}

func newLinkedSet(rules []*Rule, corrs []*Correlation) *RuleSet {
	return &RuleSet{Rules: rules, Correlations: corrs, byRef: map[string]any{}}
}

// link resolves references between documents: correlation rules to their rules (by id or
// name, including other correlations), filters to the rules they apply to.
func link(docs []loadedDoc) (*RuleSet, []Refusal) {
	rs := newLinkedSet(nil, nil)
	var refusals []Refusal
	owner := map[string]string{} // id/name -> file, for duplicate messages
	claim := func(m *Meta) error {
		keys := []string{m.ID}
		if m.Name != "" && m.Name != m.ID {
			keys = append(keys, m.Name)
		}
		for _, key := range keys {
			if f, dup := owner[key]; dup && key != "" {
				return fmt.Errorf("%q is already used by a rule in %s (ids and names must be unique)", key, f)
			}
		}
		for _, key := range keys {
			if key != "" {
				owner[key] = m.File
			}
		}
		return nil
	}
	var corrs []*Correlation
	for _, d := range docs {
		m := d.meta()
		if d.filter == nil {
			if err := claim(m); err != nil {
				refusals = append(refusals, refusal(m.File, m.Document, m.ID, m.Title, err))
				continue
			}
		}
		switch {
		case d.rule != nil:
			rs.Rules = append(rs.Rules, d.rule)
			if m.ID != "" {
				rs.byRef[m.ID] = d.rule
			}
			if m.Name != "" {
				rs.byRef[m.Name] = d.rule
			}
		case d.corr != nil:
			corrs = append(corrs, d.corr)
			if m.ID != "" {
				rs.byRef[m.ID] = d.corr
			}
			if m.Name != "" {
				rs.byRef[m.Name] = d.corr
			}
		case d.filter != nil:
			rs.Filters = append(rs.Filters, d.filter)
		}
	}
	// Resolve correlation references; refuse correlations with unknown references or cycles,
	// and then those that reference refused correlations, until nothing changes.
	bad := map[*Correlation]error{}
	for _, c := range corrs {
		c.refs = c.refs[:0]
		for _, ref := range c.Rules {
			switch x := rs.byRef[ref].(type) {
			case *Rule:
				c.refs = append(c.refs, ruleRef{ref: ref, rule: x})
			case *Correlation:
				if x == c {
					bad[c] = fmt.Errorf("correlation references itself")
				}
				c.refs = append(c.refs, ruleRef{ref: ref, corr: x})
			default:
				if bad[c] == nil {
					bad[c] = fmt.Errorf("correlation references %q, which is no loaded rule (by id or name)", ref)
				}
			}
		}
	}
	for _, c := range corrs {
		if bad[c] == nil && hasCycle(c, map[*Correlation]int{}) {
			bad[c] = fmt.Errorf("correlation chain forms a cycle")
		}
	}
	for changed := true; changed; {
		changed = false
		for _, c := range corrs {
			if bad[c] != nil {
				continue
			}
			for _, r := range c.refs {
				if r.corr != nil && bad[r.corr] != nil {
					bad[c] = fmt.Errorf("correlation references %q, which was refused", r.ref)
					changed = true
					break
				}
			}
		}
	}
	for _, c := range corrs {
		if err := bad[c]; err != nil {
			refusals = append(refusals, refusal(c.File, c.Document, c.ID, c.Title, err))
			if c.ID != "" && rs.byRef[c.ID] == c {
				delete(rs.byRef, c.ID)
			}
			if c.Name != "" && rs.byRef[c.Name] == c {
				delete(rs.byRef, c.Name)
			}
			continue
		}
		rs.Correlations = append(rs.Correlations, c)
	}
	for _, c := range rs.Correlations {
		for _, r := range c.refs {
			if r.rule != nil {
				r.rule.corrUsers = append(r.rule.corrUsers, c)
			} else {
				r.corr.users = append(r.corr.users, c)
			}
		}
	}
	for _, r := range rs.Rules {
		if len(r.corrUsers) == 0 {
			continue
		}
		r.CorrelationOnly = true
		for _, c := range r.corrUsers {
			if c.Generate {
				r.CorrelationOnly = false
			}
		}
	}
	for i, r := range rs.Rules {
		r.loadIndex = i
	}
	// Filters.
	for _, f := range rs.Filters {
		var targets []*Rule
		for _, ref := range f.Rules {
			if strings.EqualFold(ref, "any") || strings.EqualFold(ref, "all") {
				targets = append(targets, rs.Rules...)
				continue
			}
			switch x := rs.byRef[ref].(type) {
			case *Rule:
				targets = append(targets, x)
			case *Correlation:
				rs.Warnings = append(rs.Warnings, fmt.Sprintf("%s: filter %q names correlation %q; filters apply to detection rules only", f.File, f.Title, ref))
			default:
				rs.Warnings = append(rs.Warnings, fmt.Sprintf("%s: filter %q names rule %q, which is not loaded", f.File, f.Title, ref))
			}
		}
		for _, r := range targets {
			if !filterApplies(f.LogSource, r.LogSource) {
				if len(f.Rules) == 1 && (strings.EqualFold(f.Rules[0], "any") || strings.EqualFold(f.Rules[0], "all")) {
					continue
				}
				rs.Warnings = append(rs.Warnings, fmt.Sprintf("%s: filter %q not applied to rule %q: log sources differ (%s vs %s)", f.File, f.Title, r.Title, f.LogSource, r.LogSource))
				continue
			}
			r.filters = append(r.filters, f)
		}
	}
	for _, d := range docs {
		m := d.meta()
		for _, w := range m.Warnings {
			rs.Warnings = append(rs.Warnings, fmt.Sprintf("%s: %s", m.File, w))
		}
	}
	sort.SliceStable(refusals, func(i, j int) bool { return refusals[i].File < refusals[j].File })
	return rs, refusals
}

func hasCycle(c *Correlation, state map[*Correlation]int) bool {
	switch state[c] {
	case 1:
		return true
	case 2:
		return false
	}
	state[c] = 1
	for _, r := range c.refs {
		if r.corr != nil && hasCycle(r.corr, state) {
			return true
		}
	}
	state[c] = 2
	return false
}

// filterApplies reports whether a filter with log source f may be applied to a rule with log
// source r: every attribute the filter sets must be equal in the rule.
func filterApplies(f, r LogSource) bool {
	return (f.Category == "" || strings.EqualFold(f.Category, r.Category)) &&
		(f.Product == "" || strings.EqualFold(f.Product, r.Product)) &&
		(f.Service == "" || strings.EqualFold(f.Service, r.Service))
}
