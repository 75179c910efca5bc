// Package ask compiles questions in plain English into vigil's hunting query language (see
// internal/query), so that a junior analyst can ask "failed logins for alice from new countries
// this week" and see the query that answers it:
//
//	class = authentication status = failure user = alice | since 7d | first_seen country by user
//
// The offline compiler (Compile) is deterministic and needs no network: it reads the question as
// a few kinds of phrases (what happened, to or by whom, where, when, what is new, how to
// summarise) and says in Notes how it read each one and which words it did not use. When an LLM
// is configured, Translator asks it first and keeps its answer only when the query parses; the
// question is the analyst's own text, and no event or log content is ever sent.
package ask

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/geoip"
	"github.com/vigil-soc/vigil/internal/query"
)

// Translation is a question compiled to a query.
type Translation struct {
	Question string `json:"question"`
	Query    string `json:"query"`
	// Notes say how the parts of the question were read ("this week" → since 7d) and which
	// words were not used.
	Notes []string `json:"notes"`
	// Source is "offline" or "llm".
	Source string `json:"source"`
}

// QuestionError is a question the compiler cannot take: empty, too long, or naming nothing to
// look for. Other errors are vigil's own.
type QuestionError struct{ msg string }

func (e *QuestionError) Error() string { return e.msg }

// ErrEmpty is returned for a question with nothing to search for.
var ErrEmpty error = &QuestionError{"ask: empty question"}

// MaxQuestion bounds the length of a question, in bytes.
const MaxQuestion = 1000

// checkLength refuses a question longer than MaxQuestion.
func checkLength(question string) error {
	if len(question) > MaxQuestion {
		return &QuestionError{fmt.Sprintf("ask: the question is %d bytes long, at most %d", len(question), MaxQuestion)}
	}
	return nil
}

// Compile translates question offline. now anchors "today", "this week" and the like (UTC).
func Compile(question string, now time.Time) (Translation, error) {
	tr := Translation{Question: question, Source: "offline"}
	if err := checkLength(question); err != nil {
		return tr, err
	}
	toks := tokenize(strings.ToValidUTF8(question, "\uFFFD"))
	if len(toks) == 0 {
		return tr, ErrEmpty
	}
	c := &compiler{toks: toks, used: make([]bool, len(toks)), now: now.UTC()}
	c.read()
	tr.Query = c.query()
	tr.Notes = c.notes
	if unused := c.unused(); len(unused) > 0 {
		tr.Notes = append(tr.Notes, fmt.Sprintf("not used: %s", strings.Join(unused, ", ")))
	}
	if tr.Query == "" {
		return tr, &QuestionError{fmt.Sprintf("ask: nothing in %q names what to look for (an activity such as logins or processes, a user, a host, an address, a domain or a time)", question)}
	}
	return tr, nil
}

// token is a word of the question: lower-cased, with its original spelling for values.
type token struct {
	low, orig string
	quoted    bool
}

var tokenRE = regexp.MustCompile(`"[^"]*"|'[^']*'|[^\s,;?!()"]+`)

// tokenize splits a question into words. Quoted phrases stay whole; trailing full stops and
// colons are cut off.
func tokenize(q string) []token {
	var out []token
	for _, w := range tokenRE.FindAllString(q, 200) {
		if len(w) >= 2 && (w[0] == '"' || w[0] == '\'') && w[len(w)-1] == w[0] {
			if v := w[1 : len(w)-1]; v != "" {
				out = append(out, token{low: strings.ToLower(v), orig: v, quoted: true})
			}
			continue
		}
		w = strings.TrimRight(w, ".:")
		if w == "" {
			continue
		}
		out = append(out, token{low: strings.ToLower(w), orig: w})
	}
	return out
}

type compiler struct {
	toks []token
	used []bool
	now  time.Time

	class, status string
	terms         []string // field comparisons, in the order found
	timeStage     string
	// newField is the field a "new ..." phrase asks first_seen about, newFrom that phrase.
	newField, newFrom string
	newStage          string
	countStage        string
	limit             int
	notes             []string
}

func (c *compiler) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

func (c *compiler) use(i, n int) {
	for j := i; j < i+n && j < len(c.used); j++ {
		c.used[j] = true
	}
}

// at returns the lower-case word at i, or "".
func (c *compiler) at(i int) string {
	if i < 0 || i >= len(c.toks) {
		return ""
	}
	return c.toks[i].low
}

// phrase reports whether the words from i spell p (space-separated, lower-case).
func (c *compiler) phrase(i int, p string) (int, bool) {
	ws := strings.Fields(p)
	for j, w := range ws {
		if c.at(i+j) != w || c.toks[i+j].quoted {
			return 0, false
		}
	}
	return len(ws), true
}

func (c *compiler) read() {
	c.readTime()
	c.readNew()
	c.readCount()
	c.readActivity()
	c.readOutcome()
	c.implyClass()
	c.readEntities()
}

// query assembles the query text: the comparisons, then the stages.
func (c *compiler) query() string {
	var parts []string
	if c.class != "" {
		parts = append(parts, "class = "+c.class)
	}
	if c.status != "" {
		parts = append(parts, "status = "+c.status)
	}
	parts = append(parts, c.terms...)
	q := strings.Join(parts, " ")
	for _, s := range []string{c.timeStage, c.newStage, c.countStage} {
		if s != "" {
			q += " | " + s
		}
	}
	if c.limit > 0 {
		q += " | limit " + strconv.Itoa(c.limit)
	}
	// A query of stages only starts with its first "|": "| since 1h" is every event of the hour.
	return strings.TrimPrefix(q, " ")
}

// unused lists the words that carried meaning but were not used (stop words aside).
func (c *compiler) unused() []string {
	var out []string
	for i, t := range c.toks {
		if !c.used[i] && !stopWords[t.low] {
			out = append(out, strconv.Quote(t.orig))
		}
	}
	return out
}

var stopWords = set("a an the all any every show me list find give get display search look for of in on at from to by with and or were was are is be been being which that who whom whose what when where there their his her its my our your please can you i we do does have has had it this these those some just only also than then into onto about as per via did not no",
	"events logs log records entries happened happen happening occurred activity activities")

func set(lists ...string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, w := range strings.Fields(l) {
			m[w] = true
		}
	}
	return m
}

// --- time -------------------------------------------------------------------------------

var unitRE = regexp.MustCompile(`^(\d{1,4})(m|min|mins|h|hr|hrs|d|w)$`)

func unitOf(w string) (time.Duration, string, bool) {
	switch strings.TrimSuffix(w, "s") {
	case "minute", "min":
		return time.Minute, "m", true
	case "hour", "hr":
		return time.Hour, "h", true
	case "day":
		return 24 * time.Hour, "d", true
	case "week", "wk":
		return 7 * 24 * time.Hour, "d", true
	case "month":
		return 30 * 24 * time.Hour, "d", true
	}
	return 0, "", false
}

// span prints n units in the unit letter given (weeks and months as days: "this week" is 7d).
func span(n int, unit time.Duration, letter string) string {
	switch letter {
	case "m":
		return strconv.Itoa(n*int(unit/time.Minute)) + "m"
	case "h":
		return strconv.Itoa(n*int(unit/time.Hour)) + "h"
	}
	return strconv.Itoa(n*int(unit/(24*time.Hour))) + "d"
}

func (c *compiler) setTime(stage, how string, i, n int) {
	c.use(i, n)
	if c.timeStage != "" {
		c.note("time: kept %q, ignored %q", c.timeStage, stage)
		return
	}
	c.timeStage = stage
	c.note("%s → %s", how, stage)
}

func (c *compiler) readTime() {
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	today := time.Date(c.now.Year(), c.now.Month(), c.now.Day(), 0, 0, 0, 0, time.UTC)
	for i := 0; i < len(c.toks); i++ {
		if c.used[i] || c.toks[i].quoted {
			continue
		}
		w := c.at(i)
		switch {
		case w == "today":
			c.setTime("between "+day(today)+" and "+day(today.AddDate(0, 0, 1)), `"today"`, i, 1)
		case w == "yesterday":
			c.setTime("between "+day(today.AddDate(0, 0, -1))+" and "+day(today), `"yesterday"`, i, 1)
		case w == "tonight" || w == "overnight":
			c.setTime("since 12h", strconv.Quote(w), i, 1)
		case w == "recently" || w == "recent" || w == "lately":
			c.setTime("since 24h", strconv.Quote(w), i, 1)
		case (w == "this" || w == "last" || w == "past" || w == "previous") && i+1 < len(c.toks):
			// "this week", "last 3 days", "past hour", "in the last 24 hours", "last month"
			n, j := 1, i+1
			if v, err := strconv.Atoi(c.at(j)); err == nil && v > 0 && v < 10000 {
				n, j = v, j+1
			}
			unit, letter, ok := unitOf(c.at(j))
			if !ok {
				continue
			}
			start := i
			if i > 0 && c.at(i-1) == "the" {
				start = i - 1
				if i > 1 && (c.at(i-2) == "in" || c.at(i-2) == "over" || c.at(i-2) == "during" || c.at(i-2) == "within") {
					start = i - 2
				}
			} else if i > 0 && (c.at(i-1) == "in" || c.at(i-1) == "over" || c.at(i-1) == "during") {
				start = i - 1
			}
			if w == "this" {
				switch c.at(j) {
				case "week", "month":
					// Read as the last 7 or 30 days: a week that began on Monday would hide
					// Sunday night's activity on a Monday morning.
				case "hour":
				default:
					continue
				}
			}
			how := strings.Join(words(c.toks[start:j+1]), " ")
			c.setTime("since "+span(n, unit, letter), strconv.Quote(how), start, j+1-start)
		case w == "since" && i+1 < len(c.toks):
			if t, ok := c.dayNamed(c.at(i+1), today); ok {
				c.setTime("between "+day(t)+" and "+day(today.AddDate(0, 0, 1)), strconv.Quote("since "+c.at(i+1)), i, 2)
			}
		case w == "on" && i+1 < len(c.toks):
			if t, ok := c.dayNamed(c.at(i+1), today); ok {
				c.setTime("between "+day(t)+" and "+day(t.AddDate(0, 0, 1)), strconv.Quote("on "+c.at(i+1)), i, 2)
			}
		default:
			// "last 24h", "past 30m"
			if m := unitRE.FindStringSubmatch(w); m != nil && i > 0 && !c.used[i-1] && (c.at(i-1) == "last" || c.at(i-1) == "past") {
				if v, _ := strconv.Atoi(m[1]); v > 0 {
					c.setTime("since "+m[1]+m[2][:1], strconv.Quote(c.at(i-1)+" "+w), i-1, 2)
				}
			}
		}
	}
}

// dayNamed reads a weekday name (the last one before today, or today) or a YYYY-MM-DD date.
func (c *compiler) dayNamed(w string, today time.Time) (time.Time, bool) {
	if t, err := time.Parse("2006-01-02", w); err == nil {
		return t, true
	}
	for d := 0; d < 7; d++ {
		t := today.AddDate(0, 0, -d)
		name := strings.ToLower(t.Weekday().String())
		if w == name || (len(w) >= 3 && strings.HasPrefix(name, w) && len(w) <= len(name)) {
			return t, true
		}
	}
	return time.Time{}, false
}

func words(ts []token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.low
	}
	return out
}

// --- what is new -------------------------------------------------------------------------

// noveltyWords are words naming a thing that is new, and the field first_seen compares.
type noveltyWords struct {
	words []string
	field string
}

// novelty lists what can be new.
var novelty = []noveltyWords{
	{[]string{"country", "countries", "location", "locations", "geography", "geo"}, "country"},
	{[]string{"ip", "ips", "address", "addresses", "source", "sources"}, "src_ip"},
	{[]string{"device", "devices", "workstation", "workstations", "machine", "machines"}, "device.hostname"},
	{[]string{"process", "processes", "program", "programs", "binary", "binaries", "executable", "executables"}, "process"},
	{[]string{"domain", "domains"}, "domain"},
	{[]string{"host", "hosts", "server", "servers"}, "host"},
	{[]string{"city", "cities"}, "src_endpoint.city"},
}

func (c *compiler) readNew() {
	for i := 0; i < len(c.toks); i++ {
		w := c.at(i)
		if c.used[i] || !(w == "new" || w == "unusual" || w == "never-seen" || w == "unseen" || w == "first-time" || w == "novel" || w == "unfamiliar") {
			continue
		}
		// "new countries", "a new ip address", "new source ips"
		for j := i + 1; j < len(c.toks) && j <= i+3; j++ {
			for _, nv := range novelty {
				if !slices.Contains(nv.words, c.at(j)) {
					continue
				}
				end := j
				for end+1 < len(c.toks) && slices.ContainsFunc(novelty, func(x noveltyWords) bool {
					return x.field == nv.field && slices.Contains(x.words, c.at(end+1))
				}) {
					end++
				}
				c.use(i, end+1-i)
				if i > 0 && (c.at(i-1) == "a" || c.at(i-1) == "an") {
					c.use(i-1, 1)
				}
				c.newField = nv.field
				c.newFrom = strings.Join(words(c.toks[i:end+1]), " ")
				return
			}
		}
	}
}

// --- summaries -----------------------------------------------------------------------------

// groupable maps a word naming what to count by to its field.
var groupable = map[string]string{
	"user": "user", "users": "user", "account": "user", "accounts": "user",
	"host": "host", "hosts": "host", "machine": "host", "machines": "host", "computer": "host", "computers": "host", "server": "host", "servers": "host",
	"ip": "src_ip", "ips": "src_ip", "address": "src_ip", "addresses": "src_ip", "source": "src_ip", "sources": "src_ip",
	"destination": "dst_ip", "destinations": "dst_ip",
	"country": "country", "countries": "country",
	"process": "process", "processes": "process", "program": "process", "programs": "process",
	"domain": "domain", "domains": "domain",
	"rule": "rule", "rules": "rule", "alert": "rule", "alerts": "rule",
	"parent": "parent", "parents": "parent",
	"command": "cmd", "commands": "cmd",
	"url": "url", "urls": "url",
}

func (c *compiler) readCount() {
	for i := 0; i < len(c.toks); i++ {
		if c.used[i] || c.toks[i].quoted {
			continue
		}
		w := c.at(i)
		switch {
		case w == "how" && c.at(i+1) == "many":
			c.use(i, 2)
			c.setCount("count", `"how many"`)
		case w == "count" || w == "number":
			c.use(i, 1)
			if c.at(i+1) == "of" {
				c.use(i+1, 1)
			}
			c.setCount("count", strconv.Quote(w))
		case w == "top" || w == "most":
			// "top 10 users", "top hosts by failed logins", "most common processes"
			j, n := i+1, 0
			if v, err := strconv.Atoi(c.at(j)); err == nil && v > 0 && v <= 10000 {
				n, j = v, j+1
			}
			if c.at(j) == "common" || c.at(j) == "frequent" || c.at(j) == "active" || c.at(j) == "noisy" {
				j++
			}
			if f := groupable[c.at(j)]; f != "" {
				c.use(i, j+1-i)
				c.setCount("count by "+f, strconv.Quote(strings.Join(words(c.toks[i:j+1]), " ")))
				if n == 0 {
					n = 10
				}
				c.limit = n
			}
		case w == "per" || w == "by" || w == "each":
			// "per host", "count by user", "for each country", "by source ip"; but "by user
			// alice" names a user, and "by alice" is read with the entities.
			f, n := c.groupField(i + 1)
			if f == "" || w == "by" && c.namesValue(i+1+n) {
				continue
			}
			c.use(i, 1+n)
			if c.at(i-1) == "grouped" || c.at(i-1) == "for" {
				c.use(i-1, 1)
			}
			c.setCount("count by "+f, strconv.Quote(strings.Join(words(c.toks[i:i+1+n]), " ")))
		case (w == "last" || w == "latest" || w == "newest") && c.countStage == "" && c.limit == 0:
			// "last login of frank": time phrases took "last 3 days" already; this is the newest.
			c.use(i, 1)
			c.limit = 1
			c.note("%q → limit 1 (events come newest first)", w)
		case w == "which" || w == "what":
			// "which hosts did bob log into": the distinct hosts, with their counts.
			if f, n := c.groupField(i + 1); f != "" {
				c.use(i, 1+n)
				c.setCount("count by "+f, strconv.Quote(strings.Join(words(c.toks[i:i+1+n]), " ")))
			}
		}
	}
}

// namesValue reports whether token i is a value (a name) rather than the end of a phrase:
// after "by user" it makes "by user alice" a user, not a grouping.
func (c *compiler) namesValue(i int) bool {
	if i >= len(c.toks) {
		return false
	}
	w := c.at(i)
	return !c.toks[i].quoted && !stopWords[w] && groupable[w] == "" && !oneOf(w, "this", "last", "today", "yesterday")
}

// oneOf reports whether w is one of the words.
func oneOf(w string, words ...string) bool { return slices.Contains(words, w) }

// groupField reads what to group by at token i: "source ip" (two words) or "host" (one).
func (c *compiler) groupField(i int) (string, int) {
	if i >= len(c.toks) || c.toks[i].quoted {
		return "", 0
	}
	switch two := c.at(i) + " " + c.at(i+1); two {
	case "source ip", "source ips", "source address", "source addresses", "src ip", "client ip":
		return "src_ip", 2
	case "destination ip", "destination ips", "destination address", "destination addresses", "dst ip", "destination port", "destination ports":
		if strings.HasPrefix(c.at(i+1), "port") {
			return "dst_endpoint.port", 2
		}
		return "dst_ip", 2
	case "parent process", "parent processes":
		return "parent", 2
	case "command line", "command lines":
		return "cmd", 2
	}
	if f := groupable[c.at(i)]; f != "" {
		return f, 1
	}
	return "", 0
}

func (c *compiler) setCount(stage, how string) {
	switch {
	case c.countStage == "" || c.countStage == "count":
		c.countStage = stage
		c.note("%s → %s", how, stage)
	case stage != "count" && stage != c.countStage:
		// "count by user and host"
		c.countStage += ", " + strings.TrimPrefix(stage, "count by ")
		c.note("%s → %s", how, c.countStage)
	}
}

// groupClass is the event class a grouping field implies.
var groupClass = map[string]string{
	"process": "process_activity", "parent": "process_activity", "cmd": "process_activity",
	"domain": "dns_activity", "url": "http_activity", "rule": "detection_finding",
}

// --- activities ------------------------------------------------------------------------------

// activities are read longest first. status is "failure", "success" or "".
var activities = []struct {
	phrases []string
	class   string
	status  string
	terms   []string
}{
	{[]string{"failed logins", "failed login", "failed logons", "failed logon", "failed sign-ins", "failed sign-in", "failed signins", "failed sign ins", "failed authentications", "failed authentication", "login failures", "logon failures", "login failure", "logon failure", "authentication failures", "authentication failure", "bad passwords", "wrong passwords", "failed log-ins", "unsuccessful logins", "unsuccessful logons", "unsuccessful sign-ins", "failed attempts to log in", "failed attempts", "brute force", "brute-force"}, "authentication", "failure", nil},
	{[]string{"successful logins", "successful login", "successful logons", "successful logon", "successful sign-ins", "successful sign-in", "successful authentications", "logged in", "logged on", "logged into", "logged onto", "signed in", "signed into", "log-ins that succeeded"}, "authentication", "success", nil},
	{[]string{"logins", "login", "logons", "logon", "sign-ins", "sign-in", "signins", "signin", "sign ins", "authentications", "authentication", "log-ins", "log-in", "log into", "log in to", "log onto", "sign into", "log in", "sign in"}, "authentication", "", nil},
	{[]string{"encoded powershell", "encoded commands", "encoded command", "base64 commands"}, "process_activity", "", []string{`process = powershell.exe`, `cmd ~ "-e(nc|ncodedcommand)?\s"`}},
	{[]string{"process launches", "process starts", "process creations", "processes started", "processes", "process", "programs", "commands", "command lines", "executions", "executed", "launched", "ran", "run"}, "process_activity", "", nil},
	{[]string{"dns queries", "dns query", "dns lookups", "dns requests", "lookups", "dns"}, "dns_activity", "", nil},
	{[]string{"network connections", "network connection", "connections", "connection", "network traffic", "traffic", "flows"}, "network_activity", "", nil},
	{[]string{"http requests", "web requests", "http", "web traffic", "requests"}, "http_activity", "", nil},
	{[]string{"file changes", "file writes", "files created", "files written", "file creations", "files", "file"}, "file_activity", "", nil},
	{[]string{"registry changes", "registry modifications", "registry keys", "registry"}, "registry_activity", "", nil},
	{[]string{"emails", "email", "mails", "messages received"}, "email_activity", "", nil},
	{[]string{"alerts", "alert", "detections", "findings"}, "detection_finding", "", nil},
	{[]string{"password resets", "password changes", "account changes", "accounts created", "users created", "account creations", "account lockouts", "lockouts"}, "account_change", "", nil},
	{[]string{"group changes", "group membership changes", "added to groups", "group additions"}, "group_management", "", nil},
	{[]string{"api calls", "cloud api calls", "cloud activity", "console actions"}, "api_activity", "", nil},
	{[]string{"service installs", "services installed", "new services", "service changes"}, "service_activity", "", nil},
	{[]string{"scheduled tasks", "scheduled task", "cron jobs"}, "scheduled_job_activity", "", nil},
}

func (c *compiler) readActivity() {
	type cand struct{ i, n, a, p int }
	var best []cand
	for i := 0; i < len(c.toks); i++ {
		for a, act := range activities {
			for p, ph := range act.phrases {
				if n, ok := c.phrase(i, ph); ok && !slices.Contains(c.used[i:i+n], true) {
					best = append(best, cand{i, n, a, p})
				}
			}
		}
	}
	// Longest phrase first, then the earliest.
	slices.SortStableFunc(best, func(x, y cand) int {
		if x.n != y.n {
			return y.n - x.n
		}
		return x.i - y.i
	})
	for _, b := range best {
		if slices.Contains(c.used[b.i:b.i+b.n], true) {
			continue
		}
		act := activities[b.a]
		how := strconv.Quote(activities[b.a].phrases[b.p])
		if c.class != "" && c.class != act.class {
			c.note("%s also names an activity; kept class = %s", how, c.class)
			continue
		}
		c.use(b.i, b.n)
		if c.class == "" {
			c.class = act.class
		}
		read := []string{"class = " + act.class}
		if act.status != "" && c.status == "" {
			c.status = act.status
			read = append(read, "status = "+act.status)
		}
		for _, t := range act.terms {
			if !slices.Contains(c.terms, t) {
				c.terms = append(c.terms, t)
				read = append(read, t)
			}
		}
		c.note("%s → %s", how, strings.Join(read, " "))
	}
}

// readOutcome reads an outcome word that stands apart from the activity: "failed rdp logons".
func (c *compiler) readOutcome() {
	for i, t := range c.toks {
		if c.used[i] || t.quoted || c.status != "" {
			continue
		}
		switch t.low {
		case "failed", "failing", "unsuccessful", "failure", "failures", "denied", "rejected":
			c.use(i, 1)
			c.status = "failure"
			c.note("%q → status = failure", t.low)
		case "successful", "succeeded", "success", "succeeding", "allowed":
			c.use(i, 1)
			c.status = "success"
			c.note("%q → status = success", t.low)
		}
	}
}

// newClass is the event class a "new ..." phrase implies when nothing else named one.
var newClass = map[string]string{"country": "authentication", "src_ip": "authentication", "src_endpoint.city": "authentication",
	"device.hostname": "authentication", "process": "process_activity", "domain": "dns_activity"}

// implyClass takes the class from what is counted or what is new when no activity named one,
// and writes the first_seen stage.
func (c *compiler) implyClass() {
	if c.class == "" {
		// "top processes on ws-05": what is counted says what happened.
		for _, f := range strings.Split(strings.TrimPrefix(c.countStage, "count by "), ", ") {
			if cl := groupClass[f]; cl != "" {
				c.class = cl
				c.note("counting by %s → class = %s", f, cl)
				break
			}
		}
	}
	if c.newField != "" {
		by := "user" // what is new for whom: a user's countries, addresses, devices
		if c.newField == "process" || c.newField == "domain" {
			by = "host" // a host's programs and lookups
		}
		if cl := newClass[c.newField]; c.class == "" && cl != "" {
			c.class = cl
			c.note("%q → class = %s", c.newFrom, cl)
		}
		c.newStage = "first_seen " + c.newField + " by " + by
		c.note("%q → %s (no earlier event of the same %s had it, in the 30 days before)", c.newFrom, c.newStage, by)
	}
}

// --- entities --------------------------------------------------------------------------------

// processNames maps bare program words to their image names.
var processNames = map[string]string{
	"powershell": "powershell.exe", "pwsh": "pwsh.exe", "cmd": "cmd.exe", "rundll32": "rundll32.exe",
	"regsvr32": "regsvr32.exe", "mshta": "mshta.exe", "certutil": "certutil.exe", "wmic": "wmic.exe",
	"psexec": "psexec.exe", "bitsadmin": "bitsadmin.exe", "schtasks": "schtasks.exe", "whoami": "whoami.exe",
	"net": "net.exe", "net1": "net1.exe", "nltest": "nltest.exe", "vssadmin": "vssadmin.exe", "mimikatz": "mimikatz.exe",
	"procdump": "procdump.exe", "wscript": "wscript.exe", "cscript": "cscript.exe", "msiexec": "msiexec.exe",
	"bash": "bash", "sh": "sh", "curl": "curl", "wget": "wget", "python": "python*", "ssh": "ssh", "sudo": "sudo",
}

// imageName is a program word as an image name: "powershell" is powershell.exe.
func imageName(w string) string {
	if n := processNames[w]; n != "" {
		return n
	}
	return w
}

// setClass sets the class when nothing named one yet.
func (c *compiler) setClass(class string) {
	if c.class == "" {
		c.class = class
	}
}

var hostRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*[0-9-][a-z0-9_.-]*$|^[a-z0-9-]+(\.[a-z0-9-]+)+$`)

func (c *compiler) term(field, value, how string) {
	t := field + " = " + query.Quote(value)
	if slices.Contains(c.terms, t) {
		return
	}
	c.terms = append(c.terms, t)
	c.note("%s → %s", how, t)
}

func (c *compiler) readEntities() {
	for i := 0; i < len(c.toks); i++ {
		if c.used[i] {
			continue
		}
		t := c.toks[i]
		w, prev := t.low, c.at(i-1)
		next := func() (token, bool) {
			if i+1 < len(c.toks) && !c.used[i+1] {
				return c.toks[i+1], true
			}
			return token{}, false
		}
		switch {
		case isIPOrPrefix(w):
			field := "ip"
			switch prev {
			case "from", "source", "src":
				field = "src_ip"
			case "to", "destination", "dst", "towards":
				field = "dst_ip"
			}
			if prev == "from" || prev == "to" || prev == "source" || prev == "destination" {
				c.use(i-1, 1)
			}
			c.use(i, 1)
			c.term(field, w, strconv.Quote(strings.TrimSpace(prev+" "+w)))
		case c.isParent(i) && !stopWords[w]:
			// "with parent winword.exe", "spawned by winword.exe", "children of winword.exe"
			c.use(i-1, 2)
			c.setClass("process_activity")
			c.term("parent", imageName(w), strconv.Quote(prev+" "+t.orig))
		case (w == "user" || w == "account" || w == "username") && !t.quoted:
			if n, ok := next(); ok && !stopWords[n.low] {
				c.use(i, 2)
				c.term("user", n.orig, strconv.Quote(w+" "+n.orig))
			}
		case (w == "host" || w == "hostname" || w == "computer" || w == "machine" || w == "server" || w == "workstation") && !t.quoted:
			if n, ok := next(); ok && !stopWords[n.low] {
				c.use(i, 2)
				c.term("host", n.orig, strconv.Quote(w+" "+n.orig))
			}
		case (w == "domain" || w == "domains") && !t.quoted:
			if n, ok := next(); ok && (strings.Contains(n.low, ".") || n.quoted) {
				c.use(i, 2)
				c.term("domain", domainPattern(n.low), strconv.Quote(w+" "+n.orig))
				c.setClass("dns_activity")
			}
		case strings.HasSuffix(w, "'s") && len(w) > 2 && !t.quoted:
			// "alice's logins"
			c.use(i, 1)
			c.term("user", strings.TrimSuffix(t.orig, "'s"), strconv.Quote(t.orig))
		case strings.HasSuffix(w, ".exe") || processNames[w] != "" && (oneOf(prev, "ran", "run", "by", "of", "launched") || c.class == "process_activity" || c.class == ""):
			c.use(i, 1)
			if oneOf(prev, "by", "of", "using", "with", "via") {
				c.use(i-1, 1)
			}
			c.setClass("process_activity")
			if !slices.ContainsFunc(c.terms, func(s string) bool { return strings.HasPrefix(s, "process = ") }) {
				c.term("process", imageName(w), strconv.Quote(t.orig))
			}
		case strings.HasPrefix(w, "*.") || oneOf(prev, "to", "for", "of") && looksLikeDomain(w) && oneOf(c.class, "dns_activity", "http_activity", "network_activity"):
			c.use(i, 1)
			if oneOf(prev, "to", "for", "of") {
				c.use(i-1, 1)
			}
			if c.class == "http_activity" {
				c.term("url", "*"+strings.TrimPrefix(w, "*")+"*", strconv.Quote(t.orig))
				continue
			}
			c.setClass("dns_activity")
			c.term("domain", domainPattern(w), strconv.Quote(t.orig))
		case oneOf(prev, "to", "into", "onto") && c.class == "authentication" && !stopWords[w] && (t.quoted || hostRE.MatchString(w)):
			// "logins to dc01", "which users logged into dc01"
			c.use(i-1, 2)
			c.term("host", t.orig, strconv.Quote(prev+" "+t.orig))
		case (w == "port" || w == "ports") && i+1 < len(c.toks) && isPort(c.at(i+1)):
			c.use(i, 2)
			if oneOf(prev, "to", "on", "destination") {
				c.use(i-1, 1)
			}
			c.setClass("network_activity")
			c.term("dst_endpoint.port", c.at(i+1), strconv.Quote(w+" "+c.at(i+1)))
		case (w == "rdp" || w == "remote-desktop") && !t.quoted:
			// RemoteInteractive, Windows logon type 10
			c.use(i, 1)
			c.setClass("authentication")
			c.term("auth.logon_type", "10", strconv.Quote(w)+" (RemoteInteractive)")
		case (prev == "on" || prev == "at") && !stopWords[w] && (t.quoted || hostRE.MatchString(w)):
			c.use(i-1, 2)
			c.term("host", t.orig, strconv.Quote(prev+" "+t.orig))
		case prev == "did" && oneOf(c.at(i+1), "do", "run", "log", "sign", "touch", "access") && !stopWords[w] && (t.quoted || userLike(w)):
			// "what did admin do", "which hosts did bob log into"
			c.use(i-1, 2)
			if c.at(i+1) == "do" {
				c.use(i+1, 1)
			}
			c.term("user", t.orig, strconv.Quote("did "+t.orig))
		case oneOf(prev, "for", "by", "of", "as") && !stopWords[w] && (t.quoted || userLike(w)):
			c.use(i-1, 2)
			c.term("user", t.orig, strconv.Quote(prev+" "+t.orig))
		case prev == "from" && !stopWords[w]:
			if code, ok := countryCode(c.toks, i); ok {
				n := strings.Count(code.name, " ") + 1
				c.use(i-1, n+1)
				c.term("country", code.code, strconv.Quote("from "+code.name))
				c.setClass("authentication")
			} else if hostRE.MatchString(w) || t.quoted {
				// A sign-in comes from a client machine; other events come from the host
				// that logged them.
				c.use(i-1, 2)
				field := "host"
				if c.class == "authentication" {
					field = "src_endpoint.hostname"
				}
				c.term(field, t.orig, strconv.Quote("from "+t.orig))
			}
		case (w == "mfa" || w == "2fa") && !t.quoted:
			c.use(i, 1)
			if prev == "without" || prev == "no" {
				c.use(i-1, 1)
				c.term("auth.is_mfa", "false", strconv.Quote(prev+" "+w))
			} else {
				c.term("auth.is_mfa", "true", strconv.Quote(w))
			}
		case t.quoted:
			// A quoted phrase that is nothing else is free text.
			c.use(i, 1)
			q := query.QuoteString(t.orig)
			c.terms = append(c.terms, q)
			c.note("%s → free text %s", strconv.Quote(t.orig), q)
		}
	}
}

// isParent reports whether token i names a parent process: "parent X", "with parent X",
// "spawned by X", "started by X", "children of X", "child processes of X".
func (c *compiler) isParent(i int) bool {
	w, prev, before := c.at(i), c.at(i-1), c.at(i-2)
	if !strings.HasSuffix(w, ".exe") && processNames[w] == "" {
		return false
	}
	switch {
	case prev == "parent":
		return true
	case prev == "by":
		return oneOf(before, "spawned", "started", "launched", "created", "forked")
	case prev == "of":
		return oneOf(before, "children", "child", "descendants") || before == "processes" && c.at(i-3) == "child"
	}
	return false
}

func isPort(w string) bool {
	n, err := strconv.Atoi(w)
	return err == nil && n > 0 && n < 65536
}

func userLike(w string) bool {
	if strings.ContainsAny(w, `\@`) {
		return true
	}
	if len(w) < 2 || len(w) > 64 {
		return false
	}
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == '$') {
			return false
		}
	}
	_, isUnit, _ := unitOf(w)
	return isUnit == "" && groupable[w] == ""
}

func looksLikeDomain(w string) bool {
	if !strings.Contains(w, ".") || isIPOrPrefix(w) || strings.HasSuffix(w, ".exe") {
		return false
	}
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '*' || r == '_') {
			return false
		}
	}
	return true
}

// domainPattern matches a domain and its subdomains: "evil.biz" → "*evil.biz"; a TLD
// (".biz", "*.biz") → "*.biz".
func domainPattern(w string) string { return "*" + strings.TrimPrefix(w, "*") }

// isIPOrPrefix reports whether w is an IP address or a CIDR prefix. An IPv6 address with a
// zone ("fe80::1%eth0") is neither: events do not carry zones, and a zone is free text
// ("::%/" parses as :: in zone "/", which the query language would read as a bad prefix).
func isIPOrPrefix(w string) bool {
	if a, err := netip.ParseAddr(w); err == nil {
		return a.Zone() == ""
	}
	_, err := netip.ParsePrefix(w)
	return err == nil
}

// --- countries -------------------------------------------------------------------------------

type country struct{ name, code string }

// countryCode reads a country named at token i: an English name or alias of up to four words
// ("russia", "united kingdom", "uk"), longest first, or an ISO code written in capitals ("RU").
func countryCode(toks []token, i int) (country, bool) {
	for n := min(4, len(toks)-i); n >= 1; n-- {
		name := strings.Join(words(toks[i:i+n]), " ")
		if code, ok := geoip.CountryByName(name); ok {
			return country{name, code}, true
		}
	}
	if o := toks[i].orig; len(o) == 2 && o == strings.ToUpper(o) && o[0] >= 'A' && o[0] <= 'Z' && o[1] >= 'A' && o[1] <= 'Z' {
		return country{o, o}, true
	}
	return country{}, false
}
