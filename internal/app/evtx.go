package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vigil-soc/vigil/internal/evtx"
)

// decodeEVTX streams an EVTX file's records as their JSON rendering (the shape the Windows
// normalizer and the Sigma engine read). Damaged chunks and records the parser had to skip are
// reported through bad; the other records go on.
func decodeEVTX(ctx context.Context, r io.Reader, emit func(rec, offset int64, json []byte) error, bad func(rec int64, err error) error) error {
	var reported int
	rd, err := evtx.NewReaderWithOptions(r, evtx.Options{})
	if err != nil {
		return err // the reader's error says what is wrong with the header
	}
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read EVTX: %w", err)
		}
		for _, p := range rd.Problems()[reported:] {
			reported++
			if p.Skipped {
				if err := bad(rec.Number-1, p); err != nil {
					return err
				}
			}
		}
		buf = rec.AppendJSON(buf[:0])
		if err := emit(rec.Number, rec.Offset, buf); err != nil {
			return err
		}
	}
	for _, p := range rd.Problems()[min(reported, len(rd.Problems())):] {
		if p.Skipped {
			if err := bad(0, p); err != nil {
				return err
			}
		}
	}
	return nil
}
