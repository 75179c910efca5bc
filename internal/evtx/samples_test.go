package evtx

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// attackSampleDamage lists the evtx-attack-samples files that are genuinely damaged, with the
// problems the Reader reports for them (the records it still reads are counted as usual).
var attackSampleDamage = map[string]string{}

func TestAttackSamples(t *testing.T) {
	dir := filepath.Join(dataDir, "evtx-attack-samples")
	f, err := os.Open(filepath.Join(dir, "index.csv"))
	if err != nil {
		t.Skipf("attack samples not available: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	var files, total, totalWant int
	for _, row := range rows[1:] {
		path := row[col["path"]]
		want, err := strconv.Atoi(row[col["records"]])
		if err != nil {
			t.Fatalf("%s: records %q", path, row[col["records"]])
		}
		files++
		totalWant += want
		jsons, fields, problems := readAll(t, filepath.Join(dir, path))
		total += len(jsons)
		if len(jsons) != want {
			t.Errorf("%s: %d records, index.csv says %d", path, len(jsons), want)
		}
		for i, j := range jsons {
			if !json.Valid(j) {
				t.Errorf("%s record %d: invalid JSON %s", path, i, j)
			}
			if len(fields[i]) == 0 {
				t.Errorf("%s record %d: no fields", path, i)
			}
		}
		if why, ok := attackSampleDamage[path]; ok {
			if len(problems) == 0 {
				t.Errorf("%s: documented as damaged (%s) but no problem reported", path, why)
			}
			for _, p := range problems {
				t.Logf("%s: %v", path, p)
			}
			continue
		}
		for _, p := range problems {
			t.Errorf("%s: %v", path, p)
		}
	}
	t.Logf("attack samples: %d files, %d records (index.csv: %d)", files, total, totalWant)
}
