package app

import (
	"context"
	"io"
)

// decodeEVTX is the EVTX decoder file import uses; nil until the EVTX parser is wired in.
var decodeEVTX func(ctx context.Context, r io.Reader, emit func(rec, offset int64, json []byte) error, bad func(rec int64, err error) error) error
