// Package sigma is vigil's Sigma engine: the rule side of the detect stage of the pipeline
// (normalize -> detect -> triage), and the core of `vigil scan`, `vigil rules check` and
// `vigil rules test`. It depends on the standard library, go.yaml.in/yaml/v3 and
// internal/winfield (which Windows fields are hexadecimal) only.
//
// It loads Sigma rules (detection rules, Sigma 2 correlation rules and meta filters) from YAML,
// validates them against the Sigma specification v2.1, compiles every detection into matcher
// structures, matches flat event records against thousands of rules, and correlates the
// matches over event time.
//
// # Loading
//
// [LoadDir], [LoadFS] and [LoadBytes] return a [RuleSet] and a list of [Refusal]s, one per rule
// document that cannot be used, each naming the file and the reason; errors.Is(r.Err,
// [ErrUnsupported]) tells valid Sigma this engine cannot run (a regular expression RE2 cannot
// compile) from invalid Sigma ([ErrInvalidRule]). [CheckRules] wraps loading and engine
// building for `rules check`; [RunRegression] runs SigmaHQ regression tests for `rules test`.
//
// # Matching
//
// [NewEngine] compiles a RuleSet. Events are routed to log sources by a [Mapping] (data,
// embedded, extensible with YAML files): Windows events by their Channel, EventID and
// Provider_Name fields, other events by the product/service/category hints a normalizer sets
// with [Record.SetLogSource]. A literal prefilter selects the few rules worth evaluating:
// Aho-Corasick automata, one per log source and field, over the literals each rule needs in
// that field (keyword searches: in any field), scan only the fields the event's log sources
// look at, and remember what the values that come back record after record contain. An
// [Engine] is safe for concurrent use; each goroutine matches through its own [Matcher],
// which owns all scratch memory, so that matching allocates nothing once warmed up:
//
//	rs, refusals := sigma.LoadDir("rules", sigma.LoadOptions{})
//	eng, more := sigma.NewEngine(rs, sigma.EngineOptions{})
//	m := eng.NewMatcher()
//	var rec sigma.Record
//	for _, ev := range events {
//		if err := rec.ResetJSON(ev); err != nil { ... }
//		for _, hit := range m.Match(&rec) {
//			report(hit.Rule, hit.Evidence) // valid until the next Match
//		}
//	}
//
// # Correlation
//
// A [Correlator] consumes detections ([Detection]: rule, event time, record) and emits
// [CorrelationAlert]s for event_count, value_count, temporal, temporal_ordered, value_sum,
// value_avg and value_percentile correlation rules, chained correlations included, with
// windows on event time and a bounded tolerance for late events.
//
// # Semantics worth knowing
//
//   - Values match case-insensitively unless `cased` or `re` is used. Lower-casing is Unicode
//     lower-casing, with the long s lowered to s.
//   - Field names match ASCII case-insensitively and ignoring spaces: the specification
//     derives Sigma field names from log field names by removing spaces ("Threat Name" is
//     ThreatName), and SigmaHQ rules and the JSON shapes of the same telemetry disagree on
//     case often enough that exact lookup loses detections.
//   - A field may hold several values (JSON arrays, repeated EVTX Data elements); a field
//     condition holds when any value satisfies it. `null` matches an absent or empty field.
//   - Keywords (plain value lists) match when any field value contains them.
//   - `re` searches (unanchored) with Go's RE2 syntax.
//   - `expand` placeholders take their values from [EngineOptions.Placeholders]; a rule using
//     an undefined placeholder is refused, as the specification requires ("If the tool isn't
//     able to handle placeholders, it must reject the rule").
//   - `neq` negates the field condition it is on (pySigma's reading): an absent field is
//     "different". `windash` expands every -, /, en dash, em dash and horizontal bar.
//   - A meta filter suppresses the matches of the rules it names when its condition holds
//     (rule condition AND NOT filter condition), the filters specification's stated purpose;
//     [EngineOptions.PySigmaFilters] selects pySigma's literal "AND filter condition".
package sigma
