package sigma

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// regressionEvents returns every event of the regression .json samples, as raw JSON.
func regressionEvents(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	err := filepath.WalkDir(sigmaData+"/regression_data", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			out = append(out, raw)
		}
	})
	if err != nil {
		t.Skipf("regression data not available: %v", err)
	}
	return out
}

// otrfEvents returns the events of the OTRF Windows atomic datasets (flat JSON lines).
func otrfEvents(t testing.TB) [][]byte {
	t.Helper()
	zips, _ := filepath.Glob("../../../shared/data/otrf/atomic/windows/*/host/*.zip")
	if len(zips) == 0 {
		t.Skip("OTRF data not available")
	}
	var out [][]byte
	for _, z := range zips {
		zr, err := zip.OpenReader(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() {
				if len(bytes.TrimSpace(sc.Bytes())) > 0 {
					out = append(out, bytes.Clone(sc.Bytes()))
				}
			}
			rc.Close()
		}
		zr.Close()
	}
	return out
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
