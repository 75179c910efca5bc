package cli

import (
	"context"
	"fmt"

	"github.com/vigil-soc/vigil/internal/app"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("serve", e)
	var c common
	c.register(fs, true)
	listen := fs.String("listen", "", "HTTP API address (default 127.0.0.1:8750)")
	natsURL := fs.String("nats", "", "URL of an existing NATS cluster (default: embedded)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *natsURL != "" {
		cfg.NATS.URL = *natsURL
	}
	log := newLogger(e.stderr, cfg.Log)
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	_, created, err := a.APIToken()
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(e.stderr, "vigil: created an API token in %s (mode 0600); send it as 'Authorization: Bearer TOKEN'\n", a.Cfg.Path("api-token"))
	}
	return a.Serve(ctx, app.ServeOptions{Ready: func(addr string) {
		fmt.Fprintf(e.stderr, "vigil: listening on http://%s\n", addr)
	}})
}
