package triage

import (
	"math"
)

// Feature names, as they appear in explanations.
const (
	FBias        = "base_rate"
	FSeverity    = "severity"
	FNovelPair   = "first_on_host"
	FNovelKind   = "first_ever"
	FDormant     = "dormant_returns"
	FRarity      = "rarity"
	FBurst       = "burst"
	FSpread      = "multi_signal_host"
	FRuleHistory = "rule_history"
	FAsset       = "asset_criticality"
	FPrivileged  = "privileged_user"
	FIntel       = "threat_intel"
	FTactic      = "attack_stage"
	FFamiliar    = "analyst_marked_benign"
	FPeerBenign  = "benign_on_peers"
	FRoutine     = "routine_on_host"
)

// Model is the additive triage model: a logistic regression whose logit is the sum of
// coefficient × feature value, so that every score decomposes exactly into its contributions.
// The coefficients start from priors chosen so that the model works unsupervised, and move with
// analyst feedback (online gradient steps on the logistic loss).
type Model struct {
	Coef map[string]float64 `json:"coef"`
	// Updates counts feedback steps taken.
	Updates int `json:"updates"`
}

// DefaultModel returns the prior coefficients.
func DefaultModel() *Model {
	return &Model{Coef: map[string]float64{
		FBias:        -3.0,
		FSeverity:    3.0,
		FNovelPair:   2.0,
		FNovelKind:   1.5,
		FDormant:     1.0,
		FRarity:      0.6,
		FBurst:       0.5,
		FSpread:      0.7,
		FRuleHistory: 1.0,
		FAsset:       0.8,
		FPrivileged:  0.8,
		FIntel:       2.5,
		FTactic:      1.0,
		FFamiliar:    -2.0,
		FPeerBenign:  -1.0,
		FRoutine:     -1.0,
	}}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 {
	p = math.Min(math.Max(p, 1e-9), 1-1e-9)
	return math.Log(p / (1 - p))
}

// learn takes one gradient step towards label y (1 true positive, 0 false positive or benign)
// for the feature values x, and returns the new probability.
func (m *Model) learn(x map[string]float64, y float64, rate float64) float64 {
	var z float64
	for f, v := range x {
		z += m.Coef[f] * v
	}
	p := sigmoid(z)
	g := y - p
	for f, v := range x {
		if v == 0 {
			continue
		}
		c := m.Coef[f] + rate*g*v
		// Keep coefficients in a sane range so that one noisy label cannot flip the model.
		m.Coef[f] = math.Max(-6, math.Min(6, c))
	}
	m.Updates++
	return p
}
