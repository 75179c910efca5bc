package intel_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
)

func Example() {
	store := intel.New(intel.Options{})
	ctx := context.Background()

	// Feeds are files the user configures; here, two feeds read from strings.
	bundle := `{"type": "bundle", "id": "bundle--1", "objects": [
	  {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "name": "Poison Ivy C2",
	   "pattern": "[ipv4-addr:value = '198.51.100.3' OR domain-name:value = 'c2.example']",
	   "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z", "confidence": 85},
	  {"type": "malware", "spec_version": "2.1", "id": "malware--1", "name": "Poison Ivy", "is_family": true},
	  {"type": "relationship", "spec_version": "2.1", "id": "relationship--1", "relationship_type": "indicates",
	   "source_ref": "indicator--1", "target_ref": "malware--1"}]}`
	if _, errs := store.LoadReader(ctx, intel.Source{Name: "acme", Format: intel.FormatSTIX}, strings.NewReader(bundle)); errs != nil {
		fmt.Println(errs)
	}
	list := "# hijacked ranges\n198.51.100.0/24 ; SBL000002\n"
	if _, errs := store.LoadReader(ctx, intel.Source{Name: "drop", Format: intel.FormatList, TTL: 24 * time.Hour}, strings.NewReader(list)); errs != nil {
		fmt.Println(errs)
	}

	at := time.Now()
	for _, m := range store.Lookup("198.51.100.3", at) {
		fmt.Println(m.How, m.Value, m.Sources(), m.Confidence, m.Name, m.Malware)
	}
	hit, detail := store.Hit("c2.example", at)
	fmt.Println(hit, detail)
	// Output:
	// exact 198.51.100.3 [acme] 85 Poison Ivy C2 [Poison Ivy]
	// range 198.51.100.0/24 [drop] 0  []
	// true listed by acme (confidence 85): Poison Ivy C2; malware Poison Ivy
}
