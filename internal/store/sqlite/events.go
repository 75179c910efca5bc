package sqlite

import (
	"bytes"
	"container/list"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/store"
)

// Events are stored in compressed blocks: one row per PutEvents call holds the batch's new
// events as zstd-compressed JSON lines, with its time range. Two small tables make blocks
// findable: event_ids maps each event ID to its block (and makes writes idempotent), and
// event_keys lists, per block, the distinct hosts, users, IPs, classes, codes and processes it
// holds. A write therefore costs one index insert per event instead of one per indexed column,
// the database stays several times smaller than row-per-event JSON, and retention drops whole
// blocks. Searches pick candidate blocks by key and time, then filter the decoded events exactly.

var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<20))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
)

// key kinds in event_keys.
const (
	keyHost    = "h:"
	keyUser    = "u:"
	keyIP      = "i:"
	keyClass   = "c:"
	keyCode    = "e:"
	keyProcess = "p:"
)

// PutEvents stores events in one new block, skipping IDs already stored.
func (s *Store) PutEvents(ctx context.Context, evs []event.Event, encoded [][]byte) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	if encoded != nil && len(encoded) != len(evs) {
		return 0, fmt.Errorf("put events: %d events but %d encodings", len(evs), len(encoded))
	}
	if encoded == nil {
		encoded = make([][]byte, len(evs))
		for i := range evs {
			js, err := json.Marshal(&evs[i])
			if err != nil {
				return 0, fmt.Errorf("encode event %s: %w", evs[i].ID, err)
			}
			encoded[i] = js
		}
	}
	inserted := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Reserve the block ID first so that event_ids can point at it.
		res, err := tx.ExecContext(ctx, `INSERT INTO event_blocks(tmin,tmax,count,bytes,data) VALUES (0,0,0,0,x'')`)
		if err != nil {
			return fmt.Errorf("create event block: %w", err)
		}
		block, _ := res.LastInsertId()
		isNew, err := claimIDs(ctx, tx, evs, block)
		if err != nil {
			return err
		}
		var raw bytes.Buffer
		keys := map[string]struct{}{}
		var tmin, tmax int64
		pos := 0
		for i := range evs {
			if !isNew[i] {
				continue
			}
			ev := &evs[i]
			t := ev.Time.UnixNano()
			if pos == 0 || t < tmin {
				tmin = t
			}
			if pos == 0 || t > tmax {
				tmax = t
			}
			raw.Write(encoded[i])
			raw.WriteByte('\n')
			for _, k := range eventKeys(ev) {
				keys[k] = struct{}{}
			}
			pos++
		}
		inserted = pos
		if pos == 0 {
			_, err := tx.ExecContext(ctx, `DELETE FROM event_blocks WHERE id=?`, block)
			return err
		}
		data := zenc.EncodeAll(raw.Bytes(), make([]byte, 0, raw.Len()/4))
		if _, err := tx.ExecContext(ctx, `UPDATE event_blocks SET tmin=?, tmax=?, count=?, bytes=?, data=? WHERE id=?`,
			tmin, tmax, pos, len(data), data, block); err != nil {
			return fmt.Errorf("write event block: %w", err)
		}
		return insertKeys(ctx, tx, keys, block)
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

const idsPerInsert = 400

// claimIDs inserts the IDs into event_ids and reports which were new.
func claimIDs(ctx context.Context, tx *sql.Tx, evs []event.Event, block int64) ([]bool, error) {
	isNew := make([]bool, len(evs))
	index := make(map[string]int, len(evs))
	args := make([]any, 0, min(len(evs), idsPerInsert)*3)
	for start := 0; start < len(evs); start += idsPerInsert {
		chunk := evs[start:min(start+idsPerInsert, len(evs))]
		args = args[:0]
		var b strings.Builder
		b.WriteString("INSERT INTO event_ids(id,block,pos) VALUES ")
		n := 0
		for i := range chunk {
			id := chunk[i].ID
			if _, dup := index[id]; dup {
				continue // the same ID twice in one batch is stored once
			}
			index[id] = start + i
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?)")
			args = append(args, id, block, start+i)
			n++
		}
		if n == 0 {
			continue
		}
		b.WriteString(" ON CONFLICT(id) DO NOTHING RETURNING id")
		rows, err := tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("claim event IDs: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("claim event IDs: %w", err)
			}
			isNew[index[id]] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("claim event IDs: %w", err)
		}
	}
	return isNew, nil
}

func insertKeys(ctx context.Context, tx *sql.Tx, keys map[string]struct{}, block int64) error {
	if len(keys) == 0 {
		return nil
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for start := 0; start < len(sorted); start += idsPerInsert {
		chunk := sorted[start:min(start+idsPerInsert, len(sorted))]
		args := make([]any, 0, len(chunk)*2)
		var b strings.Builder
		b.WriteString("INSERT OR IGNORE INTO event_keys(key,block) VALUES ")
		for i, k := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?)")
			args = append(args, k, block)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("index event block: %w", err)
		}
	}
	return nil
}

// eventKeys returns the search keys of an event.
func eventKeys(ev *event.Event) []string {
	keys := make([]string, 0, 8)
	add := func(prefix, v string) {
		if v != "" {
			keys = append(keys, prefix+v)
		}
	}
	add(keyHost, store.HostOf(ev))
	add(keyUser, store.UserOf(ev))
	if u := store.UserOf(ev); u != "" {
		if b := store.BareUser(u); b != u {
			add(keyUser, b) // found by a bare name (store.UserMatches)
		}
	}
	add(keyIP, store.IPOf(ev.Src))
	add(keyIP, store.IPOf(ev.Dst))
	add(keyClass, string(ev.Class))
	add(keyCode, ev.Code)
	add(keyProcess, store.ProcessOf(ev))
	return keys
}

// likeEscaper escapes the LIKE wildcards (and the escape character '!') of a literal.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// blockCache keeps recently decoded blocks for reads by ID.
type blockCache struct {
	// mu guards lru and items.
	mu    sync.Mutex
	lru   *list.List // of int64 block IDs, most recent first
	items map[int64]*list.Element
	max   int
}

type cachedBlock struct {
	id    int64
	lines [][]byte
}

func newBlockCache(n int) *blockCache {
	return &blockCache{lru: list.New(), items: map[int64]*list.Element{}, max: n}
}

func (c *blockCache) get(id int64) ([][]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cachedBlock).lines, true
	}
	return nil, false
}

func (c *blockCache) put(id int64, lines [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[id]; ok {
		return
	}
	c.items[id] = c.lru.PushFront(&cachedBlock{id, lines})
	for c.lru.Len() > c.max {
		e := c.lru.Back()
		c.lru.Remove(e)
		delete(c.items, e.Value.(*cachedBlock).id)
	}
}

func (c *blockCache) drop(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.lru.Remove(e)
		delete(c.items, id)
	}
}

// loadBlock returns a block's event lines, decoding it once.
func (s *Store) loadBlock(ctx context.Context, id int64) ([][]byte, error) {
	if lines, ok := s.blocks.get(id); ok {
		return lines, nil
	}
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM event_blocks WHERE id=?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("event block %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read event block %d: %w", id, err)
	}
	raw, err := zdec.DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress event block %d: %w", id, err)
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	s.blocks.put(id, lines)
	return lines, nil
}

// GetEvent returns one event.
func (s *Store) GetEvent(ctx context.Context, id string) (event.Event, error) {
	var block int64
	err := s.r.QueryRowContext(ctx, `SELECT block FROM event_ids WHERE id=?`, id).Scan(&block)
	if errors.Is(err, sql.ErrNoRows) {
		return event.Event{}, fmt.Errorf("event %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return event.Event{}, fmt.Errorf("get event %s: %w", id, err)
	}
	lines, err := s.loadBlock(ctx, block)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return event.Event{}, fmt.Errorf("event %s: %w", id, store.ErrNotFound)
		}
		return event.Event{}, err
	}
	// Blocks hold few thousand events; look for the ID without decoding every line.
	needle := []byte(`{"id":"` + id + `"`)
	for _, l := range lines {
		if bytes.HasPrefix(l, needle) {
			var ev event.Event
			if err := json.Unmarshal(l, &ev); err != nil {
				return event.Event{}, fmt.Errorf("decode event %s: %w", id, err)
			}
			return ev, nil
		}
	}
	return event.Event{}, fmt.Errorf("event %s: %w", id, store.ErrNotFound)
}

// SearchEvents returns events matching q, newest first.
func (s *Store) SearchEvents(ctx context.Context, q store.EventQuery) ([]event.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	blocks, err := s.candidateBlocks(ctx, q)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, id := range q.IDs {
		ids[id] = true
	}
	needles := lineNeedles(&q)
	var out []event.Event
	for _, b := range blocks {
		if len(out) >= limit && b.tmax < out[limit-1].Time.UnixNano() {
			break // every later block is older than the limit-th event found
		}
		if err := ctx.Err(); err != nil {
			return out, err // what was found so far, as the contract says
		}
		lines, err := s.loadBlock(ctx, b.id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // removed by retention meanwhile
			}
			return nil, err
		}
		for _, l := range lines {
			if len(ids) > 0 && !ids[lineID(l)] {
				continue
			}
			if !mayMatch(l, needles) {
				continue // the line cannot hold the host, user, address or process asked for
			}
			var ev event.Event
			if err := json.Unmarshal(l, &ev); err != nil {
				return nil, fmt.Errorf("decode event in block %d: %w", b.id, err)
			}
			if !q.Holds(&ev) {
				continue
			}
			if q.Match != nil && !q.Match(&ev) {
				continue
			}
			out = append(out, ev)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
		if len(out) > limit {
			out = out[:limit]
		}
	}
	return out, nil
}

// lineNeedles returns lower-case byte strings any event matching q must contain in its JSON
// line, so that most lines are skipped before decoding. They are the plain names (no
// backslash or quote, which JSON would escape).
func lineNeedles(q *store.EventQuery) [][]byte {
	var out [][]byte
	for _, v := range []string{q.Host, q.User, q.IP, q.Process, q.Contains} {
		v = strings.ToLower(v)
		if i := strings.LastIndexAny(v, `\/`); i >= 0 {
			v = v[i+1:]
		}
		if v != "" && !strings.ContainsAny(v, "\"<>&") {
			out = append(out, []byte(v))
		}
	}
	return out
}

func mayMatch(l []byte, needles [][]byte) bool {
	if len(needles) == 0 {
		return true
	}
	for _, n := range needles {
		if !bytes.Contains(l, n) && !containsFold(l, n) {
			return false
		}
	}
	return true
}

// containsFold reports whether l holds n ignoring case; n is lower-case. ASCII letters fold
// here; a needle with other letters falls back to lower-casing the line.
func containsFold(l, n []byte) bool {
	if len(n) == 0 {
		return true
	}
	for _, c := range n {
		if c >= 0x80 {
			return bytes.Contains(bytes.ToLower(l), n)
		}
	}
	first := n[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper = first - 32
	}
	for i := 0; i+len(n) <= len(l); i++ {
		c := l[i]
		if c != first && c != upper {
			continue
		}
		j := 1
		for ; j < len(n); j++ {
			x := l[i+j]
			if 'A' <= x && x <= 'Z' {
				x += 32
			}
			if x != n[j] {
				break
			}
		}
		if j == len(n) {
			return true
		}
	}
	// Some non-ASCII letters lower-case to ASCII ones (the Kelvin sign to k): only a line
	// without them is surely without the needle.
	for _, c := range l {
		if c >= 0x80 {
			return bytes.Contains(bytes.ToLower(l), n)
		}
	}
	return false
}

// lineID reads the ID from an encoded event line, which always starts with it.
func lineID(l []byte) string {
	const p = `{"id":"`
	if !bytes.HasPrefix(l, []byte(p)) {
		return ""
	}
	rest := l[len(p):]
	if i := bytes.IndexByte(rest, '"'); i >= 0 {
		return string(rest[:i])
	}
	return ""
}

type blockRef struct {
	id   int64
	tmax int64
}

// candidateBlocks returns the blocks that may hold matching events, newest first.
func (s *Store) candidateBlocks(ctx context.Context, q store.EventQuery) ([]blockRef, error) {
	var where []string
	var args []any
	if !q.From.IsZero() {
		where = append(where, "b.tmax >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		where = append(where, "b.tmin < ?")
		args = append(args, q.To.UnixNano())
	}
	key := func(k string) {
		where = append(where, "b.id IN (SELECT block FROM event_keys WHERE key = ?)")
		args = append(args, k)
	}
	if q.Host != "" {
		key(keyHost + strings.ToLower(q.Host))
	}
	if u := strings.ToLower(q.User); u != "" {
		if strings.ContainsAny(u, `\@`) {
			key(keyUser + u)
		} else {
			// A bare name is also the account under any domain (store.UserMatches). Blocks
			// written since carry the bare name as a key too; older ones only the full name.
			esc := likeEscaper.Replace(u)
			where = append(where, `b.id IN (SELECT block FROM event_keys WHERE key = ? OR key LIKE ? ESCAPE '!' OR key LIKE ? ESCAPE '!')`)
			args = append(args, keyUser+u, likeEscaper.Replace(keyUser)+esc+"@%", likeEscaper.Replace(keyUser)+`%\`+esc)
		}
	}
	if q.IP != "" {
		key(keyIP + q.IP)
	}
	if q.Class != "" {
		key(keyClass + string(q.Class))
	}
	if q.Code != "" {
		key(keyCode + q.Code)
	}
	if q.Process != "" {
		key(keyProcess + strings.ToLower(q.Process))
	}
	if len(q.IDs) > 0 {
		where = append(where, "b.id IN (SELECT block FROM event_ids WHERE id IN ("+placeholders(len(q.IDs))+"))")
		for _, id := range q.IDs {
			args = append(args, id)
		}
	}
	text := "SELECT b.id, b.tmax FROM event_blocks b"
	if len(where) > 0 {
		text += " WHERE " + strings.Join(where, " AND ")
	}
	text += " ORDER BY b.tmax DESC, b.id DESC"
	rows, err := s.r.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("search event blocks: %w", err)
	}
	defer rows.Close()
	var out []blockRef
	for rows.Next() {
		var b blockRef
		if err := rows.Scan(&b.id, &b.tmax); err != nil {
			return nil, fmt.Errorf("search event blocks: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// CountEvents returns the number of stored events.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	return count(ctx, s.r, `SELECT coalesce(sum(count),0) FROM event_blocks`)
}

// DeleteEventsBefore removes events older than t: whole blocks when all their events are older,
// and the old events of blocks that straddle t (those blocks are rewritten).
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	cut := t.UnixNano()
	total, err := s.deleteBlocks(ctx, `SELECT id FROM event_blocks WHERE tmax < ? ORDER BY tmax LIMIT 50`, cut)
	if err != nil {
		return total, err
	}
	rows, err := s.w.QueryContext(ctx, `SELECT id FROM event_blocks WHERE tmin < ? AND tmax >= ?`, cut, cut)
	if err != nil {
		return total, fmt.Errorf("select straddling event blocks: %w", err)
	}
	var straddling []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return total, err
		}
		straddling = append(straddling, id)
	}
	rows.Close()
	for _, id := range straddling {
		n, err := s.rewriteBlock(ctx, id, cut)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// rewriteBlock drops the events older than cut from a block and returns how many went.
func (s *Store) rewriteBlock(ctx context.Context, id int64, cut int64) (int64, error) {
	lines, err := s.loadBlock(ctx, id)
	if err != nil {
		return 0, err
	}
	var keep bytes.Buffer
	var gone []string
	var tmin, tmax int64
	kept := 0
	for _, l := range lines {
		var ev struct {
			ID   string    `json:"id"`
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal(l, &ev); err != nil {
			return 0, fmt.Errorf("decode event in block %d: %w", id, err)
		}
		t := ev.Time.UnixNano()
		if t < cut {
			gone = append(gone, ev.ID)
			continue
		}
		if kept == 0 || t < tmin {
			tmin = t
		}
		if kept == 0 || t > tmax {
			tmax = t
		}
		kept++
		keep.Write(l)
		keep.WriteByte('\n')
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		for _, eid := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM event_ids WHERE id=? AND block=?`, eid, id); err != nil {
				return fmt.Errorf("delete event IDs: %w", err)
			}
		}
		data := zenc.EncodeAll(keep.Bytes(), nil)
		_, err := tx.ExecContext(ctx, `UPDATE event_blocks SET tmin=?, tmax=?, count=?, bytes=?, data=? WHERE id=?`, tmin, tmax, kept, len(data), data, id)
		if err != nil {
			return fmt.Errorf("rewrite event block %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.blocks.drop(id)
	return int64(len(gone)), nil
}

// TrimEvents removes the oldest blocks while the stored event data exceeds maxBytes.
func (s *Store) TrimEvents(ctx context.Context, maxBytes int64) (int64, error) {
	var total int64
	for {
		var used int64
		if err := s.w.QueryRowContext(ctx, `SELECT coalesce(sum(bytes),0) FROM event_blocks`).Scan(&used); err != nil {
			return total, fmt.Errorf("measure events: %w", err)
		}
		if used <= maxBytes {
			return total, nil
		}
		n, err := s.deleteBlocks(ctx, `SELECT id FROM event_blocks ORDER BY tmax LIMIT 1`)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// deleteBlocks deletes the blocks the query selects (in rounds until it selects none) with their
// IDs and keys, and returns how many events went.
func (s *Store) deleteBlocks(ctx context.Context, query string, args ...any) (int64, error) {
	var total int64
	for {
		var ids []int64
		rows, err := s.w.QueryContext(ctx, query, args...)
		if err != nil {
			return total, fmt.Errorf("select event blocks: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) == 0 {
			return total, nil
		}
		for _, id := range ids {
			lines, err := s.loadBlock(ctx, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return total, err
			}
			err = s.tx(ctx, func(tx *sql.Tx) error {
				for _, l := range lines {
					if _, err := tx.ExecContext(ctx, `DELETE FROM event_ids WHERE id=? AND block=?`, lineID(l), id); err != nil {
						return fmt.Errorf("delete event IDs: %w", err)
					}
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM event_keys WHERE block=?`, id); err != nil {
					return fmt.Errorf("delete event keys: %w", err)
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM event_blocks WHERE id=?`, id); err != nil {
					return fmt.Errorf("delete event block: %w", err)
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			s.blocks.drop(id)
			total += int64(len(lines))
		}
		if len(ids) < 50 {
			return total, nil
		}
	}
}
