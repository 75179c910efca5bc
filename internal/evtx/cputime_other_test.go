//go:build !unix

package evtx

import "time"

// processCPUTime is not available here; benchmarks then skip the records/cpu-s metric.
func processCPUTime() time.Duration { return 0 }
