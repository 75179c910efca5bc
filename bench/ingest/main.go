// Command ingest measures vigil's ingest path: HTTP NDJSON ingest into durable storage with
// acknowledgement latency, the cost of durability (the same run with fsync relaxed), and
// `vigil import` of a large NDJSON file with its peak memory. It starts real `vigil serve` and
// `vigil import` processes built from this checkout and prints the figures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"syscall"
	"time"
)

var (
	bin      = flag.String("vigil", "", "vigil binary (default: build one)")
	events   = flag.Int("events", 1_000_000, "events to send in the HTTP run")
	batch    = flag.Int("batch", 1000, "events per HTTP request")
	clients  = flag.Int("clients", 8, "concurrent HTTP clients")
	importMB = flag.Int("import-mb", 1024, "size of the NDJSON file for the import run (0 skips it)")
	relaxed  = flag.Bool("relaxed", true, "also run with fsync relaxed and report the ratio")
	workDir  = flag.String("dir", "", "work directory (default: a temporary one)")
)

func main() {
	flag.Parse()
	dir := *workDir
	if dir == "" {
		var err error
		dir, err = os.MkdirTemp("", "vigil-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	if *bin == "" {
		*bin = filepath.Join(dir, "vigil")
		cmd := exec.Command("go", "build", "-o", *bin, "./cmd/vigil")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("build: %v", err)
		}
	}
	fmt.Printf("machine: %d CPUs; %d events in requests of %d, %d clients\n", numCPU(), *events, *batch, *clients)
	durable := httpRun(filepath.Join(dir, "durable"), "")
	durable.print("durable (nats sync=always, sqlite synchronous=full)")
	if *relaxed {
		cfg := filepath.Join(dir, "relaxed.yaml")
		os.WriteFile(cfg, []byte("nats:\n  sync: 2m\nstore:\n  synchronous: normal\n"), 0o600)
		r := httpRun(filepath.Join(dir, "relaxed"), cfg)
		r.print("relaxed (nats sync=2m, sqlite synchronous=normal)")
		fmt.Printf("cost of durability: relaxed/durable acknowledged throughput = %.2fx, stored throughput = %.2fx\n",
			r.ackRate/durable.ackRate, r.storeRate/durable.storeRate)
	}
	if *importMB > 0 {
		importRun(dir, *importMB)
	}
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return bytes.Count(b, []byte("processor\t:"))
}

type result struct {
	events    int
	ackRate   float64 // events/s acknowledged
	storeRate float64 // events/s until all stored
	p50, p99  time.Duration
}

func (r result) print(label string) {
	fmt.Printf("%s:\n  acknowledged %d events at %.0f events/s; request ack latency p50 %v p99 %v\n  all stored (normalized, indexed, in SQLite) at %.0f events/s\n",
		label, r.events, r.ackRate, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.storeRate)
}

var listenRE = regexp.MustCompile(`vigil: listening on http://(\S+)`)

func startServe(dir, cfg string) (*exec.Cmd, string) {
	args := []string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "warn"}
	if cfg != "" {
		args = append(args, "--config", cfg)
	}
	cmd := exec.Command(*bin, args...)
	cmd.Env = append(os.Environ(), "VIGIL_API_TOKEN=bench")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			} else {
				fmt.Fprintln(os.Stderr, "  serve:", sc.Text())
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		log.Fatal("vigil serve did not start")
	}
	return nil, ""
}

func httpRun(dir, cfg string) result {
	cmd, addr := startServe(dir, cfg)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	bodies := make(chan []byte, *clients*2)
	go func() {
		rng := rand.New(rand.NewPCG(7, 7))
		seq := 0
		for seq < *events {
			var buf bytes.Buffer
			for i := 0; i < *batch && seq < *events; i++ {
				seq++
				writeEvent(&buf, rng, seq)
			}
			bodies <- buf.Bytes()
		}
		close(bodies)
	}()
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range bodies {
				for {
					t0 := time.Now()
					req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/events", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer bench")
					resp, err := client.Do(req)
					if err != nil {
						log.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable {
						time.Sleep(50 * time.Millisecond) // back-pressure: retry
						continue
					}
					if resp.StatusCode != http.StatusAccepted {
						log.Fatalf("status %d", resp.StatusCode)
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	acked := time.Since(start)
	for stored(addr) < int64(*events) {
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{events: *events, ackRate: float64(*events) / acked.Seconds(), storeRate: float64(*events) / all.Seconds(),
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}
}

func stored(addr string) int64 {
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+addr+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer bench")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Events int64 }
	json.NewDecoder(resp.Body).Decode(&st)
	return st.Events
}

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
var hosts = []string{"ws01", "ws02", "ws03", "srv-db01", "srv-web01", "dc01"}

// writeEvent writes one realistic event line: Windows Security and Sysmon events in the flat
// shape Windows forwarders produce, Linux auth lines and CloudTrail records.
func writeEvent(w *bytes.Buffer, rng *rand.Rand, seq int) {
	u, h := users[rng.IntN(len(users))], hosts[rng.IntN(len(hosts))]
	ts := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(seq) * 10 * time.Millisecond).Format(time.RFC3339Nano)
	switch seq % 4 {
	case 0:
		fmt.Fprintf(w, `{"@timestamp":%q,"Channel":"Security","EventID":4624,"Hostname":"%s.corp.example","SubjectUserSid":"S-1-5-18","SubjectUserName":"%s$","SubjectDomainName":"CORP","TargetUserSid":"S-1-5-21-1004336348-1177238915-682003330-%d","TargetUserName":%q,"TargetDomainName":"CORP","TargetLogonId":"0x%x","LogonType":%d,"LogonProcessName":"User32","AuthenticationPackageName":"Negotiate","WorkstationName":"%s","IpAddress":"10.1.%d.%d","IpPort":"%d","seq":%d}`+"\n",
			ts, h, h, 1000+rng.IntN(50), u, rng.Uint32(), []int{2, 3, 10}[rng.IntN(3)], h, rng.IntN(255), rng.IntN(255), 40000+rng.IntN(20000), seq)
	case 1:
		fmt.Fprintf(w, `{"@timestamp":%q,"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"%s.corp.example","UtcTime":%q,"ProcessGuid":"{%08x-6a3b-6403-0f00-000000001f00}","ProcessId":%d,"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami /all","CurrentDirectory":"C:\\Users\\%s\\","User":"CORP\\%s","LogonId":"0x%x","IntegrityLevel":"Medium","Hashes":"SHA256=%064x","ParentProcessGuid":"{%08x-6a3b-6403-0e00-000000001f00}","ParentProcessId":%d,"ParentImage":"C:\\Windows\\explorer.exe","ParentCommandLine":"C:\\Windows\\Explorer.EXE","seq":%d}`+"\n",
			ts, h, ts, rng.Uint32(), rng.IntN(60000), u, u, rng.Uint32(), rng.Uint64(), rng.Uint32(), rng.IntN(60000), seq)
	case 2:
		fmt.Fprintf(w, `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA%016X","arn":"arn:aws:iam::123456789012:user/%s","accountId":"123456789012","userName":%q},"eventTime":%q,"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.%d","userAgent":"aws-cli/2.15.0","requestParameters":{"bucketName":"reports","key":"q%d.csv"},"eventID":"%016x","eventType":"AwsApiCall","recipientAccountId":"123456789012","seq":%d}`+"\n",
			rng.Uint64(), u, u, ts, rng.IntN(255), rng.IntN(100), rng.Uint64(), seq)
	default:
		fmt.Fprintf(w, "%q\n", fmt.Sprintf("<86>%s %s sshd[%d]: Accepted publickey for %s from 10.2.%d.%d port %d ssh2: ED25519 SHA256:%x seq=%d",
			time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(seq)*10*time.Millisecond).Format("Jan _2 15:04:05"), h, 1000+rng.IntN(9000), u, rng.IntN(255), rng.IntN(255), 40000+rng.IntN(20000), rng.Uint64(), seq))
	}
}

func importRun(dir string, mb int) {
	path := filepath.Join(dir, "big.ndjson")
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(9, 9))
	var buf bytes.Buffer
	seq, lines, size := 0, 0, int64(0)
	for size < int64(mb)<<20 {
		buf.Reset()
		seq++
		writeEvent(&buf, rng, seq)
		if buf.Bytes()[0] == '"' {
			continue // keep the file NDJSON objects only
		}
		lines++
		size += int64(buf.Len())
		bw.Write(buf.Bytes())
	}
	bw.Flush()
	f.Close()
	fmt.Printf("import: %d MiB NDJSON, %d events\n", mb, lines)
	cmd := exec.Command(*bin, "import", "--data", filepath.Join(dir, "import"), "--log-level", "warn", path)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("import: %v", err)
	}
	el := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Printf("import: %.1f s, %.1f MiB/s, %.0f events/s, peak RSS %d MiB\n", el.Seconds(), float64(mb)/el.Seconds(), float64(lines)/el.Seconds(), ru.Maxrss/1024)
}
