//go:build tools

package tools

import (
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "go.yaml.in/yaml/v3"
	_ "modernc.org/sqlite"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "github.com/expr-lang/expr"
)
