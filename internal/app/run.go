package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigil-soc/vigil/internal/api"
	"github.com/vigil-soc/vigil/internal/ingest"
)

// RunPipeline runs every stage's consumer until ctx ends or one fails. started, when not nil,
// is called once every stage's consumer exists.
func (a *App) RunPipeline(ctx context.Context, started func()) error {
	g, ctx := errgroup.WithContext(ctx)
	sts := a.stages()
	var wg sync.WaitGroup
	wg.Add(len(sts))
	for _, st := range sts {
		g.Go(func() error {
			if err := a.consume(ctx, st, wg.Done); err != nil {
				return fmt.Errorf("stage %s: %w", st.name, err)
			}
			return nil
		})
	}
	if started != nil {
		g.Go(func() error {
			ok := make(chan struct{})
			go func() { wg.Wait(); close(ok) }()
			select {
			case <-ok:
				started()
			case <-ctx.Done():
			}
			return nil
		})
	}
	return g.Wait()
}

// ServeOptions tune Serve.
type ServeOptions struct {
	// Ready is called once the API listens, with its address.
	Ready func(addr string)
}

// Serve runs the pipeline, the HTTP API and the listeners until ctx ends; then it stops taking
// input first and lets the stages finish their current batches.
func (a *App) Serve(ctx context.Context, opt ServeOptions) error {
	token, _, err := a.APIToken()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.Cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Cfg.Listen, err)
	}
	// The API serves only once every stage's consumer exists, so /healthz answering 200 means
	// the whole pipeline is up.
	srv := &api.Server{
		Store: a.Store, Bus: a.Bus, Token: token, Metrics: a.Metrics, Log: a.Log.With("component", "api"),
		MaxBodyBytes: a.Cfg.API.MaxBodyBytes, BatchSize: a.Cfg.Ingest.BatchSize,
		Triage: triageService{a}, Response: responseService{a}, Audit: auditService{a}, SOC: a.SOCMetrics, Incidents: incidentService{a},
		Ask: a.ask,
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	g, gctx := errgroup.WithContext(ctx)
	pipelineUp := make(chan struct{})
	g.Go(func() error { return a.RunPipeline(gctx, func() { close(pipelineUp) }) })
	select {
	case <-pipelineUp:
	case <-gctx.Done():
		ln.Close()
		return g.Wait()
	}
	g.Go(func() error { return a.runRetention(gctx) })
	g.Go(func() error { return a.watchRules(gctx, 10*time.Second) })
	g.Go(func() error { return a.runResponder(gctx, time.Second) })
	g.Go(func() error { return a.runIntelReload(gctx) })
	g.Go(func() error { return a.refreshChains(gctx, 500*time.Millisecond) })
	if err := a.startSyslog(gctx, g); err != nil {
		ln.Close()
		return errors.Join(err, g.Wait())
	}
	g.Go(func() error {
		err := hs.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	})
	if opt.Ready != nil {
		opt.Ready(ln.Addr().String())
	}
	return g.Wait()
}

// runRetention removes events past their age or size limits now and then.
func (a *App) runRetention(ctx context.Context) error {
	every := a.Cfg.Retention.Interval.Std()
	if every <= 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		log := a.Log.With("component", "retention")
		if age := a.Cfg.Retention.EventsMaxAge.Std(); age > 0 {
			if n, err := a.Store.DeleteEventsBefore(ctx, time.Now().Add(-age)); err != nil {
				log.Warn("delete old events", "err", err)
			} else if n > 0 {
				log.Info("deleted old events", "count", n)
			}
		}
		if max := a.Cfg.Retention.EventsMaxBytes; max > 0 {
			if n, err := a.Store.TrimEvents(ctx, max); err != nil {
				log.Warn("trim events", "err", err)
			} else if n > 0 {
				log.Info("trimmed events over the size limit", "count", n)
			}
		}
	}
}

// startSyslog starts the configured syslog listeners in g.
func (a *App) startSyslog(ctx context.Context, g *errgroup.Group) error {
	opt := ingest.SyslogOptions{
		Bus: a.Bus, BatchSize: a.Cfg.Ingest.BatchSize, BatchWait: a.Cfg.Ingest.BatchWait.Std(), MaxFrame: a.Cfg.Syslog.MaxFrame,
		Log:      a.Log.With("component", "syslog"),
		Dropped:  func(n int) { a.Metrics.Drop("syslog-udp", "bus_full", n) },
		Accepted: a.Metrics.Ingested,
	}
	if addr := a.Cfg.Syslog.TCP; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("syslog tcp listen on %s: %w", addr, err)
		}
		a.Log.Info("syslog over TCP", "addr", ln.Addr().String())
		g.Go(func() error { return ingest.ServeSyslogTCP(ctx, ln, opt) })
	}
	if addr := a.Cfg.Syslog.UDP; addr != "" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("syslog udp listen on %s: %w", addr, err)
		}
		a.Log.Info("syslog over UDP", "addr", pc.LocalAddr().String())
		g.Go(func() error { return ingest.ServeSyslogUDP(ctx, pc, opt) })
	}
	return nil
}
