package connectortest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// odataList answers an OData collection request: $filter, $select, $top (capped at the page
// size) and paging with @odata.nextLink carrying an opaque $skiptoken (Graph) or $skip
// (Defender, skipParam "$skip").
func odataList(w http.ResponseWriter, r *http.Request, items []map[string]any, pageSize int, context string, skipParam string) {
	q := r.URL.Query()
	filter, err := parseFilter(q.Get("$filter"))
	if err != nil {
		odataError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+err.Error())
		return
	}
	var matched []map[string]any
	for _, it := range items {
		if matches(filter, it) {
			matched = append(matched, it)
		}
	}
	top := pageSize
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			odataError(w, http.StatusBadRequest, "BadRequest", "Invalid $top value.")
			return
		}
		top = min(n, pageSize)
	}
	offset := 0
	if v := q.Get(skipParam); v != "" {
		if skipParam == "$skiptoken" {
			b, err := base64.RawURLEncoding.DecodeString(v)
			if err != nil {
				odataError(w, http.StatusBadRequest, "BadRequest", "Invalid skip token.")
				return
			}
			v = string(b)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			odataError(w, http.StatusBadRequest, "BadRequest", "Invalid paging value.")
			return
		}
		offset = n
	}
	end := min(offset+top, len(matched))
	page := []map[string]any{}
	if offset < len(matched) {
		for _, it := range matched[offset:end] {
			page = append(page, selectFields(clone(it), q.Get("$select")))
		}
	}
	resp := map[string]any{"@odata.context": context, "value": page}
	if end < len(matched) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		if skipParam == "$skiptoken" {
			next.Set(skipParam, base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		} else {
			next.Set(skipParam, strconv.Itoa(end))
		}
		if next.Get("$top") == "" {
			next.Set("$top", strconv.Itoa(top))
		}
		resp["@odata.nextLink"] = "http://" + r.Host + r.URL.Path + "?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, resp)
}

// selectFields keeps the $select fields (plus id and @odata.type) of m.
func selectFields(m map[string]any, sel string) map[string]any {
	if strings.TrimSpace(sel) == "" {
		return m
	}
	out := map[string]any{}
	for _, f := range strings.Split(sel, ",") {
		f = strings.TrimSpace(f)
		for k, v := range m {
			if strings.EqualFold(k, f) {
				out[k] = v
			}
		}
	}
	for _, k := range []string{"id", "@odata.type"} {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}
