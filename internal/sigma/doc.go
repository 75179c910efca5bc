// Package sigma is vigil's Sigma engine: the detection stage of the pipeline and the core of
// `vigil scan`, `vigil rules check` and `vigil rules test`.
//
// It loads Sigma rules (detection rules, Sigma 2 correlation rules and meta filters) from YAML,
// validates them against the Sigma specification v2.1, compiles every detection into matcher
// structures, and matches flat event records against thousands of rules per second per core.
//
// # Loading
//
// [LoadDir], [LoadFS] and [LoadBytes] return a [RuleSet] and a list of [Refusal]s, one per rule
// document that could not be used, each naming the file and the reason. [CheckRules] wraps this
// for the `rules check` command.
//
// # Matching
//
// [NewEngine] indexes the loaded rules by log source (see [Mapping]: Windows events are routed by
// their Channel/EventID/Provider_Name fields, other events by the product/service/category hints
// a normalizer sets on the [Record]) and builds, per log source, an Aho-Corasick automaton over
// the literals each rule needs. An [Engine] is immutable and safe for concurrent use; each
// goroutine takes its own [Matcher], which owns all scratch memory, so that matching a record
// allocates nothing:
//
//	rs, refusals := sigma.LoadDir("rules", sigma.LoadOptions{})
//	eng, more := sigma.NewEngine(rs, sigma.EngineOptions{})
//	m := eng.NewMatcher()
//	var rec sigma.Record
//	_ = rec.ResetJSON(eventJSON)
//	for _, hit := range m.Match(&rec) {
//		fmt.Println(hit.Rule.Title, hit.Evidence)
//	}
//
// # Semantics worth knowing
//
//   - Values match case-insensitively unless the `cased` or `re` modifier is used.
//   - Field names are looked up case-insensitively (ASCII folding): `CommandLine` finds
//     `commandline`. SigmaHQ rules and the many JSON shapes of the same telemetry disagree on
//     case often enough that exact-case lookup loses real detections.
//   - A field may hold several values (JSON arrays, repeated EVTX Data elements); a field
//     condition holds when any value satisfies it.
//   - `expand` placeholders are resolved from [EngineOptions.Placeholders]; a rule using a
//     placeholder that is not defined there is refused, as the specification requires
//     ("If the tool isn't able to handle placeholders, it must reject the rule").
//   - A meta filter suppresses the matches of the rules it names when its condition holds
//     (rule condition AND NOT filter condition), per the filters specification's stated
//     purpose; [LoadOptions.PySigmaFilters] selects pySigma's literal "AND filter" instead.
//
// # Correlation
//
// A [Correlator] consumes detection matches in event-time order (tolerating bounded lateness)
// and emits [CorrelationAlert]s for event_count, value_count, temporal, temporal_ordered,
// value_sum, value_avg and value_percentile correlation rules, including chained correlations.
package sigma
