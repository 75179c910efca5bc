package sigma_test

import (
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/sigma"
)

func Example() {
	rules := []byte(`
title: Whoami Execution
id: 2e2e5d8b-8d1a-4a69-9f1e-2c0a7f6d4c11
level: medium
tags: [attack.discovery, attack.t1033]
logsource: {category: process_creation, product: windows}
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
`)
	rs, refusals := sigma.LoadBytes("whoami.yml", rules, sigma.LoadOptions{})
	fmt.Println("refused:", len(refusals))
	eng, _ := sigma.NewEngine(rs, sigma.EngineOptions{})
	m := eng.NewMatcher() // one per goroutine

	var rec sigma.Record
	_ = rec.ResetJSON([]byte(`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational",
		"TimeCreated":{"#attributes":{"SystemTime":"2026-01-05T10:00:00Z"}}},
		"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","User":"CORP\\bob"}}}`))
	for _, hit := range m.Match(&rec) {
		fmt.Println(hit.Rule.Title, hit.Rule.Level, hit.Rule.Attack.Techniques, hit.Rule.Attack.Tactics[0].ID)
		for _, ev := range hit.Evidence {
			fmt.Printf("  %s: %s = %s\n", ev.Selection, ev.Field, ev.Value)
		}
	}

	// Correlation: feed every match with its event time.
	cr := sigma.NewCorrelator(rs, sigma.CorrelatorOptions{AllowedLateness: 2 * time.Minute})
	at, _ := rec.Time()
	for _, hit := range m.Match(&rec) {
		for _, alert := range cr.Observe(sigma.Detection{Rule: hit.Rule, Time: at, Record: &rec}) {
			fmt.Println("correlation:", alert.Title)
		}
	}
	// Output:
	// refused: 0
	// Whoami Execution medium [T1033] TA0007
	//   selection: Image = C:\Windows\System32\whoami.exe
}
