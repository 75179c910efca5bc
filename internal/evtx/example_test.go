package evtx_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/vigil-soc/vigil/internal/evtx"
)

func Example() {
	f, err := os.Open("Security.evtx")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := evtx.NewReaderWithOptions(f, evtx.Options{
		OnProblem: func(e *evtx.Error) { log.Print(e) }, // damaged chunks and records
	})
	if err != nil {
		log.Fatal(err) // not an EVTX file
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var buf []byte
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err) // I/O error
		}
		// evtx_dump JSON for the normalizer...
		buf = rec.AppendJSON(buf[:0])
		out.Write(append(buf, '\n'))
		// ...or flat fields for Sigma matching.
		rec.Fields(func(name, value string) {
			if name == "EventID" {
				fmt.Fprintln(out, "event", value)
			}
		})
	}
}
