// Command vigil is an AI-driven security operations platform in one binary: it ingests telemetry
// and alerts, detects with Sigma and behavioural baselines, triages, correlates alerts into
// incidents, investigates them and responds under policy. See README.md.
package main

import (
	"os"

	"github.com/vigil-soc/vigil/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
