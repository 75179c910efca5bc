package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressBar draws a one-line progress bar with rate and ETA on a terminal. It draws nothing
// when w is not a terminal.
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time
	// mu guards last.
	mu   sync.Mutex
	last time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	on := false
	if f, ok := w.(*os.File); ok {
		on = term.IsTerminal(int(f.Fd()))
	}
	return &progressBar{w: w, on: on, start: time.Now()}
}

// update redraws at most ten times a second.
func (p *progressBar) update(label string, done, total, records int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = now
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	const width = 28
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	el := now.Sub(p.start).Seconds()
	rate := float64(records) / max(el, 0.001)
	eta := "--:--"
	if frac > 0.01 && frac < 1 {
		left := time.Duration(el / frac * (1 - frac) * float64(time.Second))
		eta = fmt.Sprintf("%02d:%02d", int(left.Minutes()), int(left.Seconds())%60)
	}
	fmt.Fprintf(p.w, "\r[%s] %3.0f%% %-24.24s %9d rec %8.0f rec/s ETA %s", bar, frac*100, filepath.Base(label), records, rate, eta)
}

// finish clears the bar line.
func (p *progressBar) finish() {
	if p.on {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 100))
	}
}
