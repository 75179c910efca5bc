package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/sqlite"
)

// buildVigil builds the vigil binary once per test binary.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "vigil-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "vigil")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/vigil")
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
})

func vigilBin(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("build vigil: %v", err)
	}
	return bin
}

// server is a child `vigil serve` process.
type server struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
}

var listenRE = regexp.MustCompile(`vigil: listening on http://(\S+)`)

func startServer(t *testing.T, bin, dir, token string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "VIGIL_API_TOKEN="+token)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: &bytes.Buffer{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.WriteString(line + "\n")
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case s.addr = <-addr:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not start:\n%s", s.logs)
	}
	return s
}

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("vigil serve did not stop cleanly on SIGTERM: %v\n%s", err, s.logs)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("vigil serve did not stop within 30s of SIGTERM")
	}
}

func post(ctx context.Context, addr, token string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/api/v1/events", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestCrashLosesNothingAcknowledged kills `vigil serve` with SIGKILL at random moments while
// clients keep sending, restarts it, and checks that every acknowledged event is stored exactly
// once.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	bin := vigilBin(t)
	dir := t.TempDir()
	const token = "crash-test-token"
	const clients, batches, perBatch = 3, 30, 25
	type batch struct {
		body  []byte
		seqs  []int
		acked bool
	}
	var all [][]*batch
	seq := 0
	for c := range clients {
		var bs []*batch
		for range batches {
			b := &batch{}
			var buf bytes.Buffer
			for range perBatch {
				seq++
				fmt.Fprintf(&buf, `{"seq":%d,"client":%d,"EventID":4624,"Computer":"ws%d","TargetUserName":"user%d"}`+"\n", seq, c, c, seq%7)
				b.seqs = append(b.seqs, seq)
			}
			b.body = buf.Bytes()
			bs = append(bs, b)
		}
		all = append(all, bs)
	}
	total := seq
	acked := map[int]bool{}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for round := 0; ; round++ {
		if round > 40 {
			t.Fatal("clients could not deliver everything in 40 rounds")
		}
		began := time.Now()
		srv := startServer(t, bin, dir, token)
		t.Logf("round %d: server up in %v", round, time.Since(began).Round(time.Millisecond))
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, b := range all[c] {
					mu.Lock()
					done := b.acked
					mu.Unlock()
					if done {
						continue
					}
					code, err := post(ctx, srv.addr, token, b.body)
					if err != nil || code != http.StatusAccepted {
						return // server gone: retry next round
					}
					mu.Lock()
					b.acked = true
					for _, s := range b.seqs {
						acked[s] = true
					}
					mu.Unlock()
				}
			}()
		}
		remaining := func() int {
			mu.Lock()
			defer mu.Unlock()
			return total - len(acked)
		}
		if kills < 3 || remaining() > 0 {
			// Kill at a random moment while clients are sending.
			time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
			if remaining() > 0 || kills < 3 {
				srv.kill()
				kills++
				cancel()
				wg.Wait()
				continue
			}
		}
		wg.Wait()
		cancel()
		// Everything is acknowledged: wait for the pipeline to store it all.
		deadline := time.Now().Add(60 * time.Second)
		for {
			n := statsEvents(t, srv.addr, token)
			if n >= int64(total) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d acknowledged events stored after restart\n%s", n, total, srv.logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		srv.stop(t)
		break
	}
	if kills < 3 {
		t.Fatalf("only %d kills", kills)
	}
	// Every acknowledged event is stored exactly once.
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.SearchEvents(context.Background(), store.EventQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for _, ev := range evs {
		var raw struct{ Seq int }
		if err := json.Unmarshal(ev.Raw, &raw); err != nil {
			t.Fatalf("stored raw %s: %v", ev.Raw, err)
		}
		count[raw.Seq]++
	}
	for s := 1; s <= total; s++ {
		if !acked[s] {
			t.Fatalf("event %d never acknowledged", s)
		}
		if count[s] != 1 {
			t.Errorf("acknowledged event %d stored %d times", s, count[s])
		}
	}
	if len(evs) != total {
		t.Errorf("%d events stored, want %d", len(evs), total)
	}
	t.Logf("%d events, %d kills with SIGKILL, all stored exactly once", total, kills)
}

func statsEvents(t *testing.T, addr, token string) int64 {
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Events int64 }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Events
}
