package cli

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/triage"
)

func runFeedback(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("feedback", e)
	var c common
	c.register(fs, false)
	alert := fs.String("alert", "", "alert ID")
	incident := fs.String("incident", "", "incident ID")
	label := fs.String("label", "", "true_positive, false_positive or benign")
	reason := fs.String("reason", "", "reason code (confirmed_malicious, expected_activity, known_benign_tool, test_or_exercise, detection_logic, duplicate, insufficient_context)")
	note := fs.String("note", "", "free text")
	analyst := fs.String("analyst", "", "your name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*alert == "") == (*incident == "") {
		return &exitError{code: 2, err: errors.New("usage: vigil feedback (--alert ID | --incident ID) --label L --reason R --analyst NAME [--note TEXT] [--data DIR]")}
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, newLogger(e.stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer a.Close()
	fb := triage.Feedback{Label: *label, Reason: *reason, Note: *note, Analyst: *analyst}
	var res app.FeedbackResult
	if *alert != "" {
		res, err = a.AlertFeedback(ctx, *alert, fb)
	} else {
		res, err = a.IncidentFeedback(ctx, *incident, fb)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
