package sigma

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode"
)

// reduceCases are expressions with the shapes regexReduce and newLitSeq handle, and with the
// ones they must leave alone (assertions, flags, alternations, nested repetitions).
var reduceCases = []string{
	`-k\s\w{1,64}(?:\s?(?:-p|-s))?`,
	`a{2,5}b{3,}`, `(?:ab){2,4}`, `x(?:ab){2,4}`, `(?:ab){2,4}x`, `a+b+`, `(a|bc+)d?`,
	`a*b`, `^a{1,3}`, `a{1,3}$`, `\ba{2,3}`, `a{2,3}\b`, `(?:\b|x)?a{1,2}`, `a{1,2}(?:$|x)*`,
	`(?m)^ab{1,4}$`, `(?s)a.{2,5}`, `(?i)k{2,3}s?`, `(?i)x.*k{1,2}`, `(?:a{2,3}|b{1,4}c)`,
	`(?:)`, `a?`, `a*`, `(?:a?b?)`, `(?:a|)x{1,2}`, `(?:\b)?`, `(?:a{0,2}){1,3}b`,
	`\+.*\+.*\+`, `\{.*\{`, "`.*`.*`", `ab.*cd.*ab`, `(?s)a.*b.*a`, `a.*b(?s:.*)c`,
	`(?i)a.*b`, `(?i)\+.*\+`, `a.*?b`, `a.*b.*`, `.*a.*b.*`, `a.+b`, `\n.*a`, `é.*\x{FFFD}`,
	`https?://[0-9]{1,3}\.[0-9]{1,3}\.0[0-9]{3,4}`, `https?://0[0-9]{1,11}`, ` [0-7]{7,13}`,
	`[^/]{3,}$`, `(^[a-z]{2}$)|(^[a-z]{4}$)`, `\w+` + "`" + `(?:\w+|-|.)` + "`" + `[\w+|\s]`,
}

// alphabetOf returns the pieces to build test values for expr from: its words and literal
// characters, their other cases, and characters that classes and assertions tell apart.
func alphabetOf(expr string) []string {
	alpha := []string{" ", "\n", "a", "B", "0", "7", "9", "_", "-", ".", "é", "\u212a", "\xff", "ſ"}
	// The words of the expression, whole: its longer literals.
	for _, w := range strings.FieldsFunc(expr, func(c rune) bool { return strings.ContainsRune(`\()[]{}|?*+.^$`, c) }) {
		alpha = append(alpha, w, w[len(w)/2:])
	}
	seen := map[string]bool{}
	for _, c := range expr {
		for _, s := range []string{string(c), strings.ToUpper(string(c)), strings.ToLower(string(c))} {
			if !seen[s] {
				seen[s] = true
				alpha = append(alpha, s)
			}
		}
	}
	return alpha
}

// randomValue returns a value of alphabet characters, often repeating one (for repetitions).
func randomValue(rnd *rand.Rand, alpha []string) string {
	var b strings.Builder
	for n := rnd.IntN(24); n > 0; n-- {
		s := alpha[rnd.IntN(len(alpha))]
		for k := 1 + rnd.IntN(3)*rnd.IntN(3); k > 0; k-- {
			b.WriteString(s)
		}
	}
	return b.String()
}

// generate appends to b a string the expression r matches, most of the time (assertions are
// ignored), with random choices.
func generate(rnd *rand.Rand, b *strings.Builder, r *syntax.Regexp) {
	repeat := func(lo, hi int) {
		if hi < 0 {
			hi = lo + 3
		}
		for n := lo + rnd.IntN(min(hi, lo+6)-lo+1); n > 0; n-- {
			generate(rnd, b, r.Sub[0])
		}
	}
	switch r.Op {
	case syntax.OpLiteral:
		for _, c := range r.Rune {
			if r.Flags&syntax.FoldCase != 0 && rnd.IntN(2) == 0 {
				c = unicode.SimpleFold(c)
			}
			b.WriteRune(c)
		}
	case syntax.OpCharClass:
		if len(r.Rune) > 0 {
			k := rnd.IntN(len(r.Rune)/2) * 2
			lo, hi := r.Rune[k], min(r.Rune[k+1], r.Rune[k]+200)
			b.WriteRune(lo + rune(rnd.IntN(int(hi-lo)+1)))
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteString([]string{"x", " ", "é", "+"}[rnd.IntN(4)])
	case syntax.OpCapture:
		generate(rnd, b, r.Sub[0])
	case syntax.OpConcat:
		for _, sub := range r.Sub {
			generate(rnd, b, sub)
		}
	case syntax.OpAlternate:
		generate(rnd, b, r.Sub[rnd.IntN(len(r.Sub))])
	case syntax.OpStar:
		repeat(0, -1)
	case syntax.OpPlus:
		repeat(1, -1)
	case syntax.OpQuest:
		repeat(0, 1)
	case syntax.OpRepeat:
		repeat(r.Min, r.Max)
	}
}

// matchingValues returns n values that hold a string generated from expr amid noise.
func matchingValues(rnd *rand.Rand, expr string, alpha []string, n int) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	var out []string
	for ; n > 0; n-- {
		var b strings.Builder
		if rnd.IntN(2) == 0 {
			b.WriteString(randomValue(rnd, alpha))
		}
		generate(rnd, &b, re)
		if rnd.IntN(2) == 0 {
			b.WriteString(randomValue(rnd, alpha))
		}
		out = append(out, b.String())
	}
	return out
}

// checkReduced compares, for expr, the regexMatcher's answers (reduced expression, literal
// sequence) with the plain expression's on values; it returns how many matched.
func checkReduced(t *testing.T, expr string, values []string) int {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	rm := newRegexMatcher(re)
	// The matcher as it was before expressions were reduced: the same guards, the plain
	// expression after them (TestRegexMatcherAgreesWithRegexp compares the guards with the
	// expression).
	plain := rm
	plain.search, plain.seq, plain.relaxed = re, nil, regexRelaxed(expr)
	red := compileReduced(expr)
	seq := newLitSeq(rm.search.String())
	hits := 0
	for _, v := range values {
		want := re.MatchString(v)
		if red != nil && red.MatchString(v) != want {
			t.Fatalf("%q reduced to %q: value %q: %v, want %v", expr, red, v, !want, want)
		}
		if seq != nil && seq.match(v) != want {
			t.Fatalf("%q as literals %q (dotAll %v): value %q: %v, want %v", expr, seq.lits, seq.dotAll, v, !want, want)
		}
		rec := &Record{}
		rec.Add("f", v)
		if got, want := rm.match(rec, 0), plain.match(rec, 0); got != want {
			t.Fatalf("%q: matcher on %q: %v, with the plain expression %v", expr, v, got, want)
		}
		if want {
			hits++
		}
	}
	return hits
}

// TestRegexReduceAgrees checks reduced expressions and literal sequences against the plain
// expression on random values built from the expression's own characters.
func TestRegexReduceAgrees(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 2))
	reduced, seqs := 0, 0
	for _, expr := range reduceCases {
		if compileReduced(expr) != nil {
			reduced++
		}
		if newLitSeq(regexReduce(expr)) != nil || newLitSeq(expr) != nil {
			seqs++
		}
		alpha := alphabetOf(expr)
		values := []string{""}
		for k := 0; k < 3000; k++ {
			values = append(values, randomValue(rnd, alpha))
		}
		values = append(values, matchingValues(rnd, expr, alpha, 1000)...)
		if hits := checkReduced(t, expr, values); hits == 0 && expr != `(?:\b)?` {
			t.Errorf("%q matched none of the values: the test checks too little", expr)
		}
	}
	if reduced < 20 || seqs < 6 {
		t.Fatalf("%d reduced expressions, %d literal sequences: the cases miss the point", reduced, seqs)
	}
}

// TestRegexReduceRealRules checks the scan rule set's expressions on the attack samples'
// values and on random values built from each expression's characters.
func TestRegexReduceRealRules(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the rules and the attack samples")
	}
	exprs := ruleRegexes(scanRuleSet(t))
	var sample []string // a third of the distinct values
	seen := map[string]bool{}
	for _, rec := range attackSampleRecords(t) {
		for i := range rec.fields {
			v := rec.fields[i].value
			if seen[v] || len(v) <= 2 {
				continue
			}
			seen[v] = true
			if len(seen)%3 == 0 {
				sample = append(sample, v)
			}
		}
	}
	rnd := rand.New(rand.NewPCG(7, 7))
	hits, reduced := 0, 0
	for _, expr := range exprs {
		if regexReduce(expr) == "" {
			continue
		}
		reduced++
		alpha := alphabetOf(expr)
		values := sample
		for k := 0; k < 2000; k++ {
			values = append(values, randomValue(rnd, alpha))
		}
		values = append(values, matchingValues(rnd, expr, alpha, 1000)...)
		hits += checkReduced(t, expr, values)
		sample = values[:len(sample)]
	}
	if reduced < 20 || hits == 0 {
		t.Fatalf("%d reduced expressions, %d hits: the test checks too little", reduced, hits)
	}
}

// FuzzRegexReduce compares the reduced expression and literal sequence of an expression with
// the expression: the input is the expression, a NUL byte, and the value.
func FuzzRegexReduce(f *testing.F) {
	for _, expr := range reduceCases {
		f.Add(expr + "\x00" + "a+b+c kkk\n+{`x`}")
	}
	f.Fuzz(func(t *testing.T, in string) {
		expr, v, ok := strings.Cut(in, "\x00")
		// Longer expressions find nothing new, and nested repetitions of them take Go's
		// regexp long enough to compile and run that a fuzzing worker overruns its deadline.
		if !ok || len(expr) > 256 {
			return
		}
		if _, err := syntax.Parse(expr, syntax.Perl); err != nil {
			return
		}
		if _, err := regexp.Compile(expr); err != nil {
			return
		}
		checkReduced(t, expr, []string{v, v + v, strings.ToUpper(v)})
	})
}
