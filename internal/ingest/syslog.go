package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/syslog"
)

// SyslogOptions configure the syslog listeners.
type SyslogOptions struct {
	Bus       pipeline.Publisher
	BatchSize int
	// BatchWait is how long a partly filled batch waits before it is published.
	BatchWait time.Duration
	// MaxFrame bounds one TCP frame.
	MaxFrame int
	Log      *slog.Logger
	// Dropped counts UDP datagrams dropped because the bus was full (optional).
	Dropped func(n int)
	// Accepted counts records published (optional).
	Accepted func(source string, n int)
}

func (o *SyslogOptions) wait() time.Duration {
	if o.BatchWait > 0 {
		return o.BatchWait
	}
	return 200 * time.Millisecond
}

// ServeSyslogTCP accepts syslog over TCP (RFC 6587: octet-counted or newline-delimited frames)
// until ctx ends. A connection's frames are read only as fast as they can be stored: a batch is
// published (durably) before more is read, so a slow pipeline slows the sender instead of losing
// data.
func ServeSyslogTCP(ctx context.Context, ln net.Listener, opt SyslogOptions) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("syslog tcp accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveTCPConn(ctx, conn, opt)
		}()
	}
}

type frame struct {
	data   []byte
	offset int64
}

func serveTCPConn(ctx context.Context, conn net.Conn, opt SyslogOptions) {
	defer conn.Close()
	peer := conn.RemoteAddr().String()
	log := opt.Log.With("peer", peer)
	connID := strconv.FormatInt(time.Now().UnixNano(), 36)
	frames := make(chan frame, max(opt.BatchSize, 1))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-cctx.Done()
		conn.Close()
	}()
	go func() {
		defer close(frames)
		r := syslog.NewReader(conn, opt.MaxFrame)
		for {
			f, err := r.Next()
			if err != nil {
				var fe *syslog.FrameError
				if errors.As(err, &fe) {
					log.Warn("syslog frame refused", "offset", fe.Offset, "err", err)
					continue
				}
				return // EOF or connection closed
			}
			if len(bytes.TrimSpace(f.Data)) == 0 {
				continue
			}
			select {
			case frames <- frame{bytes.Clone(f.Data), f.Offset}:
			case <-cctx.Done():
				return
			}
		}
	}()
	b := &Batcher{
		Template: pipeline.RawBatch{Source: "syslog-tcp", Format: FormatSyslog, Peer: peer},
		N:        max(opt.BatchSize, 1),
		MaxBytes: BatchBytes(opt.Bus.MaxPayload()),
		Flush: func(ctx context.Context, rb *pipeline.RawBatch) error {
			return publishRetry(ctx, opt, "syslog-tcp", rb)
		},
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	n := int64(0)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				if err := b.Close(ctx); err != nil {
					log.Error("syslog batch lost at connection close", "err", err)
				}
				return
			}
			n++
			if b.Len() == 0 {
				timer.Reset(opt.wait())
			}
			id := event.DeriveID(event.PrefixEvent, "syslog-tcp", peer, connID, strconv.FormatInt(f.offset, 10))
			if err := b.Add(ctx, pipeline.RawRecord{ID: id, Record: n, Offset: f.offset, Data: f.data}); err != nil {
				log.Error("syslog publish failed; closing connection", "err", err)
				return
			}
		case <-timer.C:
			if err := b.Close(ctx); err != nil {
				log.Error("syslog publish failed; closing connection", "err", err)
				return
			}
		case <-ctx.Done():
			// Shutdown: store what was read, then go.
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = b.Close(sctx)
			scancel()
			return
		}
	}
}

// publishRetry publishes a batch, waiting while the bus is full (back-pressure).
func publishRetry(ctx context.Context, opt SyslogOptions, source string, b *pipeline.RawBatch) error {
	for {
		err := Publish(ctx, opt.Bus, pipeline.SubjectRawEvents, b)
		if err == nil {
			if opt.Accepted != nil {
				opt.Accepted(source, len(b.Records))
			}
			return nil
		}
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

// ServeSyslogUDP receives syslog datagrams (RFC 5426: one message per datagram) until ctx
// ends. UDP senders cannot be slowed down, so when the bus is full the batch is dropped on
// purpose: counted, and logged at most once a second.
func ServeSyslogUDP(ctx context.Context, pc net.PacketConn, opt SyslogOptions) error {
	queue := pipeline.NewQueue[pipeline.RawRecord](max(opt.BatchSize, 1)*8, pipeline.DropNewest)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		udpPublisher(ctx, queue, opt)
	}()
	go func() {
		<-ctx.Done()
		pc.Close()
	}()
	buf := make([]byte, 65536)
	var seq int64
	var lastWarn time.Time
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			queue.Close()
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("syslog udp read: %w", err)
		}
		data := bytes.TrimRight(buf[:n], "\r\n\x00")
		if len(data) == 0 {
			continue
		}
		seq++
		now := time.Now().UnixNano()
		rec := pipeline.RawRecord{
			ID:     event.DeriveID(event.PrefixEvent, "syslog-udp", addr.String(), strconv.FormatInt(now, 36), strconv.FormatInt(seq, 36)),
			Record: seq, Data: bytes.Clone(data),
		}
		if err := queue.Put(ctx, rec); err != nil {
			if opt.Dropped != nil {
				opt.Dropped(1)
			}
			if time.Since(lastWarn) > time.Second {
				lastWarn = time.Now()
				opt.Log.Warn("syslog udp datagrams dropped: the pipeline is not keeping up", "dropped_total", queue.Dropped())
			}
		}
	}
}

func udpPublisher(ctx context.Context, q *pipeline.Queue[pipeline.RawRecord], opt SyslogOptions) {
	b := &Batcher{
		Template: pipeline.RawBatch{Source: "syslog-udp", Format: FormatSyslog},
		N:        max(opt.BatchSize, 1),
		MaxBytes: BatchBytes(opt.Bus.MaxPayload()),
		Flush: func(ctx context.Context, rb *pipeline.RawBatch) error {
			err := Publish(ctx, opt.Bus, pipeline.SubjectRawEvents, rb)
			if errors.Is(err, pipeline.ErrFull) {
				if opt.Dropped != nil {
					opt.Dropped(len(rb.Records))
				}
				opt.Log.Warn("syslog udp batch dropped: the bus is full", "records", len(rb.Records))
				return nil
			}
			if err == nil && opt.Accepted != nil {
				opt.Accepted("syslog-udp", len(rb.Records))
			}
			return err
		},
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func(ctx context.Context) {
		if err := b.Close(ctx); err != nil {
			opt.Log.Error("syslog udp publish failed", "err", err)
		}
	}
	for {
		select {
		case rec, ok := <-q.C():
			if !ok {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				flush(sctx)
				cancel()
				return
			}
			if b.Len() == 0 {
				timer.Reset(opt.wait())
			}
			if err := b.Add(ctx, rec); err != nil {
				opt.Log.Error("syslog udp publish failed", "err", err)
			}
		case <-timer.C:
			flush(ctx)
		}
	}
}
