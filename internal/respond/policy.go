package respond

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Decisions a policy rule can give.
const (
	Automatic = "automatic"
	Approval  = "approval"
	Forbidden = "forbidden"
)

// Rule is one policy rule: when its condition (an expr-lang expression over the action's
// facts) holds, the decision applies. Rules are evaluated in order; the first that holds wins.
type Rule struct {
	Name     string `yaml:"name" json:"name"`
	When     string `yaml:"when" json:"when"`
	Decision string `yaml:"decision" json:"decision"`

	prog *vm.Program
}

// Facts are what a policy rule can test.
type Facts struct {
	Action      string  `expr:"action"`      // contain_host, disable_account, ...
	TargetKind  string  `expr:"target_kind"` // host, user, app, ip, ...
	Target      string  `expr:"target"`
	Verdict     string  `expr:"verdict"`     // true_positive, false_positive, benign_true_positive, needs_human
	Confidence  float64 `expr:"confidence"`  // 0..1
	Criticality string  `expr:"criticality"` // critical, high, medium, low, unknown
	Privileged  bool    `expr:"privileged"`  // the target account is privileged
	Autonomy    string  `expr:"autonomy"`    // automatic or human_review (prompt injection, weak verdict)
	RequestedBy string  `expr:"requested_by"`
	Reversible  bool    `expr:"reversible"`
}

// DefaultPolicy is vigil's built-in policy: automatic containment of confident true positives
// on ordinary assets, a human for critical assets, privileged accounts and anything uncertain,
// and never an action on a false positive.
func DefaultPolicy() []Rule {
	return []Rule{
		{Name: "no-action-on-benign", When: `verdict in ["false_positive", "benign_true_positive"]`, Decision: Forbidden},
		{Name: "human-review-requested", When: `autonomy != "automatic"`, Decision: Approval},
		{Name: "critical-assets-need-a-human", When: `criticality in ["critical", "high"]`, Decision: Approval},
		{Name: "privileged-accounts-need-a-human", When: `target_kind == "user" && privileged`, Decision: Approval},
		{Name: "confident-true-positive", When: `verdict == "true_positive" && confidence >= 0.9`, Decision: Automatic},
		{Name: "everything-else", When: `true`, Decision: Approval},
	}
}

// Policy is a compiled list of rules.
type Policy struct {
	rules []Rule
}

// CompilePolicy checks and compiles the rules; every problem is reported with the rule's name.
func CompilePolicy(rules []Rule) (*Policy, error) {
	var errs []string
	p := &Policy{}
	for i, r := range rules {
		switch r.Decision {
		case Automatic, Approval, Forbidden:
		default:
			errs = append(errs, fmt.Sprintf("rule %d (%s): decision %q must be automatic, approval or forbidden", i+1, r.Name, r.Decision))
			continue
		}
		prog, err := expr.Compile(r.When, expr.Env(Facts{}), expr.AsBool())
		if err != nil {
			errs = append(errs, fmt.Sprintf("rule %d (%s): %v", i+1, r.Name, err))
			continue
		}
		r.prog = prog
		p.rules = append(p.rules, r)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy: %s", strings.Join(errs, "; "))
	}
	if len(p.rules) == 0 {
		return nil, fmt.Errorf("policy: no rules")
	}
	return p, nil
}

// Decide returns the decision for an action and the rule that made it. When no rule holds, the
// action needs approval.
func (p *Policy) Decide(f Facts) (decision, rule string, err error) {
	for _, r := range p.rules {
		out, err := expr.Run(r.prog, f)
		if err != nil {
			return Approval, r.Name, fmt.Errorf("policy rule %s: %w", r.Name, err)
		}
		if ok, _ := out.(bool); ok {
			return r.Decision, r.Name, nil
		}
	}
	return Approval, "no rule matched", nil
}
