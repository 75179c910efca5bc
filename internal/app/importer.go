package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/pipeline"
)

// ImportOptions tune Import.
type ImportOptions struct {
	Format string
	// Progress is called with bytes read so far in the current file, its size, and the records
	// read in all files so far.
	Progress func(file string, done, total int64, records int64)
}

// FileReport is the outcome of importing one file.
type FileReport struct {
	File      string   `json:"file"`
	Formats   []string `json:"formats,omitempty"`
	Records   int64    `json:"records"`
	Malformed int64    `json:"malformed"`
	Err       string   `json:"error,omitempty"`
}

// ImportReport is the outcome of Import.
type ImportReport struct {
	Files       []FileReport  `json:"files"`
	Records     int64         `json:"records"`
	Malformed   int64         `json:"malformed"`
	Events      int64         `json:"events"`       // events stored by this import (new ones)
	Alerts      int64         `json:"alerts"`       // alerts stored by this import
	Incidents   int64         `json:"incidents"`    // incidents opened by this import
	DeadLetters int64         `json:"dead_letters"` // dead letters stored by this import
	Elapsed     time.Duration `json:"elapsed"`
	FailedFiles int           `json:"failed_files"`
}

// Import feeds files through the same pipeline as serve and waits until every stage has
// processed them. A file that cannot be read at all is reported and the others go on.
func (a *App) Import(ctx context.Context, files []string, opt ImportOptions) (ImportReport, error) {
	start := time.Now()
	var rep ImportReport
	before, err := a.counts(ctx)
	if err != nil {
		return rep, err
	}
	pctx, stop := context.WithCancel(ctx)
	perr := make(chan error, 1)
	go func() { perr <- a.RunPipeline(pctx, nil) }()
	defer func() {
		stop()
		<-perr
	}()

	var records int64
	for _, f := range files {
		fr := FileReport{File: f}
		res, err := ingest.ReadFile(ctx, f, ingest.FileOptions{
			Format:    opt.Format,
			BatchSize: a.Cfg.Ingest.BatchSize,
			MaxBytes:  ingest.BatchBytes(a.Bus.MaxPayload()),
			EVTX:      decodeEVTX,
			Progress: func(done, total int64) {
				if opt.Progress != nil {
					opt.Progress(f, done, total, records)
				}
			},
		}, func(ctx context.Context, subject string, b *pipeline.RawBatch) error {
			records += int64(len(b.Records))
			if err := a.pace(ctx); err != nil {
				return err
			}
			return a.publishWait(ctx, subject, b)
		})
		fr.Formats, fr.Records, fr.Malformed = res.Formats, res.Records, res.Malformed
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			fr.Err = err.Error()
			// An archive with damaged members, whose others were read, is reported but is not a
			// file that could not be read.
			if !errors.As(err, new(*ingest.PartialError)) {
				rep.FailedFiles++
			}
		}
		rep.Records += fr.Records
		rep.Malformed += fr.Malformed
		rep.Files = append(rep.Files, fr)
		if opt.Progress != nil {
			opt.Progress(f, 1, 1, records)
		}
	}
	if err := a.Drain(ctx); err != nil {
		return rep, fmt.Errorf("wait for the pipeline: %w", err)
	}
	// The files are done: close open correlation windows and let their alerts through.
	if err := a.flushDetect(ctx); err != nil {
		return rep, err
	}
	if err := a.Drain(ctx); err != nil {
		return rep, fmt.Errorf("wait for the pipeline: %w", err)
	}
	if err := a.rebuildChains(ctx); err != nil {
		return rep, err
	}
	select {
	case err := <-perr:
		if err != nil {
			return rep, err
		}
		perr <- nil
	default:
	}
	after, err := a.counts(ctx)
	if err != nil {
		return rep, err
	}
	rep.Events = after[0] - before[0]
	rep.Alerts = after[1] - before[1]
	rep.Incidents = after[2] - before[2]
	rep.DeadLetters = after[3] - before[3]
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// importBacklog bounds the messages an import lets wait in the pipeline (summed over every
// consumer, delivered or not). A file is read far faster than the stages process it; without a
// bound the whole file would queue on the bus, and the bus's block caches and the consumers'
// buffers would grow with it. The stages still always have work queued.
const importBacklog = 48

// pace waits while the pipeline's backlog is above importBacklog.
func (a *App) pace(ctx context.Context) error {
	for {
		lag, err := a.Bus.Lag(ctx)
		if err != nil {
			return nil // pacing is an optimisation: the bus's own limits still apply
		}
		var n uint64
		for _, l := range lag {
			n += l.Pending + l.AckPending
		}
		if n <= importBacklog {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// publishWait publishes a raw batch, waiting while the bus is full (back-pressure from the
// stages) instead of dropping anything.
func (a *App) publishWait(ctx context.Context, subject string, b *pipeline.RawBatch) error {
	for {
		err := ingest.Publish(ctx, a.Bus, subject, b)
		if !errors.Is(err, pipeline.ErrFull) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (a *App) counts(ctx context.Context) ([4]int64, error) {
	var c [4]int64
	var err error
	if c[0], err = a.Store.CountEvents(ctx); err != nil {
		return c, err
	}
	if c[1], err = a.Store.CountAlerts(ctx); err != nil {
		return c, err
	}
	if c[2], err = a.Store.CountIncidents(ctx); err != nil {
		return c, err
	}
	c[3], err = a.Store.CountDeadLetters(ctx)
	return c, err
}
