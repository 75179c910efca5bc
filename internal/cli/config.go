package cli

import (
	"context"
	"errors"
	"fmt"
)

func runConfig(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return &exitError{code: 2, err: errors.New("usage: vigil config check --config FILE")}
	}
	fs := newFlagSet("config check", e)
	var c common
	c.register(fs, true)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	fmt.Fprintln(e.stdout, "configuration ok")
	return nil
}
