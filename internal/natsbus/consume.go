package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-soc/vigil/internal/pipeline"
)

// handlerGrace bounds how long an in-flight batch may take to finish after shutdown begins.
const handlerGrace = 30 * time.Second

// Consume runs a durable pull consumer until ctx is cancelled.
func (b *Bus) Consume(ctx context.Context, cfg pipeline.ConsumerConfig, h pipeline.Handler) error {
	if cfg.Name == "" || cfg.Subject == "" {
		return errors.New("consume: name and subject are required")
	}
	workers := max(cfg.Workers, 1)
	batch := max(cfg.Batch, 1)
	inflight := max(cfg.MaxInflight, batch*workers)
	// A short ack wait bounds how long messages delivered to a process that died stay invisible;
	// workers extend it with InProgress while they are busy with a batch.
	ackWait := cfg.AckWait
	if ackWait <= 0 {
		ackWait = 10 * time.Second
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, streamOf(cfg.Subject), jetstream.ConsumerConfig{
		Durable:       cfg.Name,
		FilterSubject: cfg.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: inflight,
		MaxDeliver:    -1, // dead-lettering is ours: see process
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("create consumer %s: %w", cfg.Name, err)
	}
	b.mu.Lock()
	b.consumers[cfg.Name] = cons
	b.mu.Unlock()

	log := b.log.With("consumer", cfg.Name)
	// The client prefetches up to inflight messages but never more than prefetchBytes (stage
	// messages are batches of up to MaxPayload bytes each: counting messages alone let eight
	// consumers buffer hundreds of megabytes); the hand-over channel holds two messages per
	// worker.
	ch := make(chan jetstream.Msg, 2*workers)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case ch <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessagesWithBytesLimit(inflight, b.prefetchBytes()), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if ctx.Err() == nil && !errors.Is(err, jetstream.ErrNoHeartbeat) {
			log.Warn("consume", "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Name, err)
	}
	if cfg.Started != nil {
		cfg.Started()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := worker{cfg: cfg, h: h, log: log, ackWait: ackWait}
			w.run(ctx, ch, batch)
		}()
	}
	<-ctx.Done()
	cc.Stop()
	wg.Wait()
	return nil
}

type worker struct {
	cfg     pipeline.ConsumerConfig
	h       pipeline.Handler
	log     *slog.Logger
	ackWait time.Duration
}

func (w *worker) run(ctx context.Context, ch <-chan jetstream.Msg, batch int) {
	msgs := make([]jetstream.Msg, 0, batch)
	for {
		msgs = msgs[:0]
		select {
		case <-ctx.Done():
			return
		case m := <-ch:
			msgs = append(msgs, m)
		}
		size := len(msgs[0].Data())
	fill:
		for len(msgs) < batch && (w.cfg.BatchBytes <= 0 || size < w.cfg.BatchBytes) {
			select {
			case m := <-ch:
				msgs = append(msgs, m)
				size += len(m.Data())
			default:
				break fill
			}
		}
		w.process(ctx, msgs)
	}
}

func toMsg(m jetstream.Msg) pipeline.Msg {
	pm := pipeline.Msg{Subject: m.Subject(), Data: m.Data(), ID: m.Headers().Get("Nats-Msg-Id"), Delivered: 1}
	if md, err := m.Metadata(); err == nil {
		pm.Delivered = int(md.NumDelivered)
	}
	return pm
}

// process hands a batch to the handler and acknowledges it; on failure it retries the messages
// one at a time to isolate a poison message.
func (w *worker) process(ctx context.Context, msgs []jetstream.Msg) {
	// The handler finishes its batch even when shutdown has begun, within a grace period.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerGrace)
	defer cancel()
	stop := w.keepAlive(msgs)
	defer stop()
	pms := make([]pipeline.Msg, len(msgs))
	for i, m := range msgs {
		pms[i] = toMsg(m)
	}
	err := w.h(hctx, pms)
	if err == nil {
		for _, m := range msgs {
			w.ack(m)
		}
		return
	}
	if len(msgs) == 1 {
		w.fail(hctx, msgs[0], pms[0], err)
		return
	}
	for i, m := range msgs {
		if err := w.h(hctx, pms[i:i+1]); err != nil {
			w.fail(hctx, m, pms[i], err)
			continue
		}
		w.ack(m)
	}
}

// keepAlive tells the server the batch is still being worked on, so that a slow batch is not
// redelivered to another worker meanwhile.
func (w *worker) keepAlive(msgs []jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(w.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (w *worker) ack(m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		// The message will be redelivered and handled again, idempotently.
		w.log.Warn("ack", "subject", m.Subject(), "err", err)
	}
}

func transient(err error) bool {
	return errors.Is(err, pipeline.ErrFull) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func backoff(delivered int) time.Duration {
	d := time.Duration(1<<min(delivered, 5)) * 250 * time.Millisecond // 0.5s .. 8s
	return min(d, 8*time.Second)
}

func (w *worker) fail(ctx context.Context, m jetstream.Msg, pm pipeline.Msg, err error) {
	if !transient(err) && pm.Delivered >= max(w.cfg.MaxDeliver, 1) && w.cfg.Dead != nil {
		if derr := w.cfg.Dead(ctx, pm, err); derr == nil {
			w.log.Error("message dead-lettered", "subject", pm.Subject, "id", pm.ID, "deliveries", pm.Delivered, "err", err)
			if terr := m.Term(); terr != nil {
				w.log.Warn("term", "err", terr)
			}
			return
		} else if derr != nil {
			w.log.Error("dead-letter failed; message kept", "subject", pm.Subject, "id", pm.ID, "err", derr)
		}
	} else {
		w.log.Warn("handler failed; will retry", "subject", pm.Subject, "id", pm.ID, "deliveries", pm.Delivered, "err", err)
	}
	if nerr := m.NakWithDelay(backoff(pm.Delivered)); nerr != nil {
		w.log.Warn("nak", "err", nerr)
	}
}

// prefetchBytes bounds the bytes a consumer's client buffers ahead of its workers: at least two
// of the largest messages (a smaller limit would stall on one), else 16 MiB.
func (b *Bus) prefetchBytes() int {
	return max(2*b.MaxPayload(), 16<<20)
}
