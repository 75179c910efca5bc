package sigma

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite generated files and golden files")

const thorPath = "../../../shared/data/sigma/tests/thor.yml"

// thorLogsource is one entry of SigmaHQ's tests/thor.yml.
type thorLogsource struct {
	Category      string            `yaml:"category"`
	Product       string            `yaml:"product"`
	Service       string            `yaml:"service"`
	Conditions    map[string]any    `yaml:"conditions"`
	Rewrite       map[string]string `yaml:"rewrite"`
	Sources       []string          `yaml:"sources"`
	Fieldmappings map[string]string `yaml:"fieldmappings"`
}

func yq(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// generateThorMapping converts tests/thor.yml into the mapping format: service entries match
// the event Channel, category entries add THOR's EventID conditions to the Channel of the
// service THOR rewrites them to, and file sources become hint entries.
func generateThorMapping(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var top struct {
		Logsources yaml.Node `yaml:"logsources"`
	}
	if err := doc.Decode(&top); err != nil {
		return nil, err
	}
	type named struct {
		name string
		ls   thorLogsource
	}
	var all []named
	for i := 0; i+1 < len(top.Logsources.Content); i += 2 {
		var ls thorLogsource
		if err := top.Logsources.Content[i+1].Decode(&ls); err != nil {
			return nil, err
		}
		all = append(all, named{top.Logsources.Content[i].Value, ls})
	}
	channels := map[string][]string{} // "product/service" -> channels
	for _, n := range all {
		for _, s := range n.ls.Sources {
			if ch, ok := strings.CutPrefix(s, "WinEventLog:"); ok {
				k := n.ls.Product + "/" + n.ls.Service
				channels[k] = append(channels[k], ch)
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("# Generated from SigmaHQ tests/thor.yml by TestGenerateThorMapping (go test -run TestGenerateThorMapping -update).\n")
	b.WriteString("# Do not edit: add or override entries in extra.yml or in a user mapping file.\n")
	b.WriteString("logsources:\n")
	for _, n := range all {
		ls := n.ls
		product, service := ls.Product, ls.Service
		var conds [][2]string
		var hints [][2]string
		switch {
		case len(ls.Sources) > 0 && strings.HasPrefix(ls.Sources[0], "WinEventLog:"):
			for _, ch := range channels[product+"/"+service] {
				conds = append(conds, [2]string{"Channel", ch})
			}
		case len(ls.Sources) > 0: // File: sources are text logs: recognise them by hints.
			if ls.Product != "" {
				hints = append(hints, [2]string{"product", ls.Product})
			}
			if ls.Service != "" {
				hints = append(hints, [2]string{"service", ls.Service})
			}
			if ls.Category != "" {
				hints = append(hints, [2]string{"category", ls.Category})
			}
		case len(ls.Conditions) > 0:
			rp, rs := ls.Rewrite["product"], ls.Rewrite["service"]
			if product == "" {
				product = rp
			}
			chs := channels[rp+"/"+rs]
			if len(chs) == 0 {
				return nil, fmt.Errorf("%s: rewrite to %s/%s has no channel", n.name, rp, rs)
			}
			for _, ch := range chs {
				conds = append(conds, [2]string{"Channel", ch})
			}
			for _, k := range []string{"EventID", "EventType"} {
				v, ok := ls.Conditions[k]
				if !ok {
					continue
				}
				switch x := v.(type) {
				case []any:
					for _, e := range x {
						conds = append(conds, [2]string{k, fmt.Sprint(e)})
					}
				default:
					conds = append(conds, [2]string{k, fmt.Sprint(x)})
				}
			}
			if len(ls.Conditions) > 2 {
				return nil, fmt.Errorf("%s: unexpected conditions %v", n.name, ls.Conditions)
			}
		default:
			return nil, fmt.Errorf("%s: neither sources nor conditions", n.name)
		}
		fmt.Fprintf(&b, "  %s:\n", n.name)
		if ls.Category != "" {
			fmt.Fprintf(&b, "    category: %s\n", ls.Category)
		}
		if product != "" {
			fmt.Fprintf(&b, "    product: %s\n", product)
		}
		if service != "" {
			fmt.Fprintf(&b, "    service: %s\n", service)
		}
		if len(conds) > 0 {
			b.WriteString("    conditions:\n")
			last := ""
			for _, c := range conds {
				if c[0] != last {
					fmt.Fprintf(&b, "      %s:\n", c[0])
					last = c[0]
				}
				fmt.Fprintf(&b, "        - %s\n", yq(c[1]))
			}
		}
		if len(hints) > 0 {
			b.WriteString("    hints:\n")
			for _, h := range hints {
				fmt.Fprintf(&b, "      %s: %s\n", h[0], yq(h[1]))
			}
		}
		if len(ls.Fieldmappings) > 0 {
			b.WriteString("    fieldmappings:\n")
			for _, k := range sortedStringKeys(ls.Fieldmappings) {
				fmt.Fprintf(&b, "      %s: %s\n", k, ls.Fieldmappings[k])
			}
		}
	}
	return b.Bytes(), nil
}

func sortedStringKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestGenerateThorMapping(t *testing.T) {
	data, err := os.ReadFile(thorPath)
	if err != nil {
		t.Skipf("thor.yml not available: %v", err)
	}
	got, err := generateThorMapping(data)
	if err != nil {
		t.Fatal(err)
	}
	const out = "logsources/thor_windows.yml"
	if *update {
		if err := os.WriteFile(out, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test -run TestGenerateThorMapping -update", out)
	}
	if _, err := ParseMapping(out, got); err != nil {
		t.Fatal(err)
	}
}
