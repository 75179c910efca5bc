// Package archtest keeps the architecture's import rules true: stages never import each other,
// the event vocabulary depends on the standard library only, and only the composition root
// knows the concrete store and bus implementations; and every Go file gofmt-formatted.
package archtest

import (
	"bytes"
	"encoding/json"
	"go/format"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/vigil-soc/vigil"

// stages are the pipeline's rooms. None may import another.
var stages = []string{"ingest", "normalize", "detect", "triage", "correlate", "investigate", "respond"}

// concrete implementations only the composition root (and tests) may import.
var concrete = []string{"internal/store/sqlite", "internal/natsbus"}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func stageOf(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/internal/")
	if !ok {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	for _, s := range stages {
		if top == s {
			return s
		}
	}
	return ""
}

func TestStagesDoNotImportEachOther(t *testing.T) {
	pkgs := listPackages(t)
	found := 0
	for path, p := range pkgs {
		from := stageOf(path)
		if from == "" {
			continue
		}
		found++
		for _, imp := range p.Imports {
			if to := stageOf(imp); to != "" && to != from {
				t.Errorf("stage %s (%s) imports stage %s (%s): stages meet only through internal/event over internal/pipeline", from, path, to, imp)
			}
		}
	}
	if found == 0 {
		t.Fatal("no stage packages found: the test is not looking at the right module")
	}
}

func TestEventIsStdlibOnly(t *testing.T) {
	pkgs := listPackages(t)
	p, ok := pkgs[module+"/internal/event"]
	if !ok {
		t.Fatal("internal/event not found")
	}
	for _, imp := range p.Imports {
		if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			t.Errorf("internal/event imports %s; it must depend on the standard library only", imp)
		}
	}
}

func TestOnlyAppKnowsConcreteImplementations(t *testing.T) {
	pkgs := listPackages(t)
	for path, p := range pkgs {
		if path == module+"/internal/app" || strings.HasPrefix(path, module+"/internal/store/") || path == module+"/internal/natsbus" {
			continue
		}
		for _, imp := range p.Imports {
			for _, c := range concrete {
				if imp == module+"/"+c {
					t.Errorf("%s imports %s; only internal/app may build concrete implementations", path, imp)
				}
			}
		}
	}
}

// TestGofmt checks that every Go file of the module is formatted as gofmt formats it: CI runs
// the tests, so an unformatted file fails it rather than the next person's editor.
func TestGofmt(t *testing.T) {
	var files []string
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("%d Go files found: the test is not looking at the module", len(files))
	}
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := format.Source(src); err != nil || !bytes.Equal(out, src) {
			t.Errorf("%s is not gofmt-formatted (gofmt -w %s): %v", p, strings.TrimPrefix(p, "../../"), err)
		}
	}
}
