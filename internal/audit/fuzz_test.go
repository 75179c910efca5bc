package audit

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"
)

// fuzzChain is a valid chain of six entries with checkpoints at 3 and 6, as database rows.
func fuzzChain() (string, []row, []cpRow, []Entry) {
	const chainID = "fuzz"
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	head := genesisHash(chainID)
	var rows []row
	var cps []cpRow
	var entries []Entry
	for i := int64(1); i <= 6; i++ {
		e := Entry{Seq: uint64(i), Time: time.Unix(0, i*1e9).UTC(), Actor: "analyst:alice", Action: "feedback",
			Subject: "INC-1", Data: []byte(`{"i":1}`), PrevHash: head}
		e.Hash = entryHash(e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Subject, e.Data, head)
		head = e.Hash
		entries = append(entries, e)
		rows = append(rows, row{i, e.Time.UnixNano(), e.Actor, e.Action, e.Subject, []byte(e.Data), e.PrevHash[:], e.Hash[:]})
		if i%3 == 0 {
			c := checkpoint{N: uint64(i / 3), Seq: uint64(i), Hash: head, Time: time.Unix(0, 5).UTC()}
			c.sign(chainID, key)
			cps = append(cps, cpRow{int64(c.N), int64(c.Seq), c.Hash[:], int64(5), []byte(c.PublicKey), c.Signature, []byte{}, []byte{}})
		}
	}
	return chainID, rows, cps, entries
}

// sqliteCompare orders values as SQLite's ORDER BY does: NULL, numbers, text, blobs.
func sqliteCompare(a, b any) int {
	class := func(v any) int {
		switch v.(type) {
		case nil:
			return 0
		case int64, float64:
			return 1
		case string:
			return 2
		}
		return 3
	}
	num := func(v any) float64 {
		if i, ok := v.(int64); ok {
			return float64(i)
		}
		return v.(float64)
	}
	if c := cmp.Compare(class(a), class(b)); c != 0 {
		return c
	}
	switch a := a.(type) {
	case int64:
		if b, ok := b.(int64); ok {
			return cmp.Compare(a, b)
		}
		return cmp.Compare(num(a), num(b))
	case float64:
		return cmp.Compare(a, num(b))
	case string:
		return cmp.Compare(a, b.(string))
	case []byte:
		return bytes.Compare(a, b.([]byte))
	}
	return 0
}

// mutate changes a column value according to kind, using arg for new content.
func mutate(v any, kind, arg byte) any {
	switch kind % 5 {
	case 0:
		return nil
	case 1:
		return int64(arg) - 3
	case 2:
		return string(bytes.Repeat([]byte{arg}, int(arg%40)))
	case 3:
		return bytes.Repeat([]byte{arg}, int(arg%70))
	}
	switch v := v.(type) { // flip a byte
	case int64:
		return v ^ int64(arg|1)
	case string:
		if len(v) > 0 {
			b := []byte(v)
			b[int(arg)%len(b)] ^= arg | 1
			return string(b)
		}
	case []byte:
		if len(v) > 0 {
			b := bytes.Clone(v)
			b[int(arg)%len(b)] ^= arg | 1
			return b
		}
	}
	return 0.5
}

// FuzzVerifyRows damages a valid chain's rows in arbitrary ways. Verification must not panic, and
// when it reports OK, what it verified must be exactly the original entries.
func FuzzVerifyRows(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 2, 5, 4, 9})
	f.Add([]byte{1, 1, 0, 1, 0})
	f.Add([]byte{0, 5, 8, 5, 0, 1, 1, 8, 5, 0})
	f.Add([]byte{0, 3, 8, 7, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		chainID, rows, cps, want := fuzzChain()
		for len(ops) >= 5 {
			target, idx, col, kind, arg := ops[0], int(ops[1]), int(ops[2]), ops[3], ops[4]
			ops = ops[5:]
			if target%2 == 0 && len(rows) > 0 {
				i := idx % len(rows)
				switch {
				case col%9 < 8:
					d := rows[i].dest()
					p := d[col%9].(*any)
					*p = mutate(*p, kind, arg)
				case kind%3 == 0:
					rows = slices.Delete(rows, i, i+1)
				case kind%3 == 1:
					rows = append(rows, rows[i])
				default:
					j := int(arg) % len(rows)
					rows[i], rows[j] = rows[j], rows[i]
				}
			} else if len(cps) > 0 {
				i := idx % len(cps)
				switch {
				case col%9 < 8:
					d := cps[i].dest()
					p := d[col%9].(*any)
					*p = mutate(*p, kind, arg)
				case kind%2 == 0:
					cps = slices.Delete(cps, i, i+1)
				default:
					cps = append(cps, cps[i])
				}
			}
		}
		slices.SortStableFunc(rows, func(a, b row) int { return sqliteCompare(a.seq, b.seq) })
		slices.SortStableFunc(cps, func(a, b cpRow) int {
			return cmp.Or(sqliteCompare(a.seq, b.seq), sqliteCompare(a.n, b.n))
		})

		v := &verifier{chainID: chainID, genesis: genesisHash(chainID)}
		v.lastHash = v.genesis
		ok := v.checkpoints(cps) && v.matchCheckpoints()
		for i := 0; ok && i < len(rows); i++ {
			ok = v.entry(&rows[i])
		}
		if ok {
			ok = v.finish(nil)
		}
		if ok != v.rep.OK || (!ok && v.rep.Problem == "") {
			t.Fatalf("inconsistent report %+v", v.rep)
		}
		if !ok {
			return
		}
		if len(rows) != v.rep.Entries {
			t.Fatalf("OK with %d rows but %d entries verified", len(rows), v.rep.Entries)
		}
		for i := range rows {
			e, err := rows[i].decode()
			w := want[i]
			if err != nil || e.Seq != w.Seq || !e.Time.Equal(w.Time) || e.Actor != w.Actor || e.Action != w.Action ||
				e.Subject != w.Subject || !bytes.Equal(e.Data, w.Data) || e.PrevHash != w.PrevHash || e.Hash != w.Hash {
				t.Fatalf("OK, but entry %d is %+v (%v), want %+v", i+1, e, err, w)
			}
		}
	})
}
