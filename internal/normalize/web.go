package normalize

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Web server access logs in the NCSA common and combined formats that Apache and Nginx write by
// default, optionally led by the virtual host ("%v:%p", Apache's vhost_combined) and followed by
// extra fields (X-Forwarded-For, request time):
//
//	[vhost[:port] ]client ident user [02/Jan/2006:15:04:05 -0700] "METHOD URL PROTO" status bytes ["referer" "user agent"] ...

type accessLine struct {
	vhost    string
	vport    int
	client   string
	ident    string
	user     string
	time     time.Time
	request  string
	status   int
	bytes    int64
	referrer string
	agent    string
	combined bool
	extra    []string
}

// accessTokens splits a line into words, [bracketed] and "quoted" tokens (quotes and brackets
// removed, \" unescaped). kinds[i] is ' ', '[' or '"'.
func accessTokens(s string, max int) (toks []string, kinds []byte) {
	for len(s) > 0 && len(toks) < max {
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		if s == "" {
			break
		}
		switch s[0] {
		case '[':
			j := strings.IndexByte(s, ']')
			if j < 0 {
				return nil, nil
			}
			toks, kinds = append(toks, s[1:j]), append(kinds, '[')
			s = s[j+1:]
		case '"':
			j := 1
			esc := false
			for ; j < len(s); j++ {
				if s[j] == '\\' && !esc {
					esc = true
					continue
				}
				if s[j] == '"' && !esc {
					break
				}
				esc = false
			}
			if j >= len(s) {
				return nil, nil
			}
			v := s[1:j]
			if strings.Contains(v, `\"`) {
				v = strings.ReplaceAll(v, `\"`, `"`)
			}
			toks, kinds = append(toks, v), append(kinds, '"')
			s = s[j+1:]
		default:
			j := strings.IndexByte(s, ' ')
			if j < 0 {
				j = len(s)
			}
			toks, kinds = append(toks, s[:j]), append(kinds, ' ')
			s = s[j:]
		}
	}
	return toks, kinds
}

// parseAccess reads one access log line.
func parseAccess(s string) (*accessLine, bool) {
	if !strings.Contains(s, " [") || !strings.Contains(s, `"`) {
		return nil, false
	}
	toks, kinds := accessTokens(s, 32)
	start := 0
	switch {
	case len(toks) >= 7 && kinds[3] == '[':
	case len(toks) >= 8 && kinds[4] == '[':
		start = 1
	default:
		return nil, false
	}
	t := toks[start:]
	k := kinds[start:]
	if k[0] != ' ' || k[1] != ' ' || k[2] != ' ' || k[4] != '"' || k[5] != ' ' || k[6] != ' ' {
		return nil, false
	}
	a := &accessLine{client: t[0], ident: t[1], user: t[2], request: t[4]}
	ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", t[3])
	if err != nil {
		return nil, false
	}
	a.time = ts
	if t[5] != "-" {
		st, err := strconv.Atoi(t[5])
		if err != nil || st < 100 || st > 999 {
			return nil, false
		}
		a.status = st
	}
	if t[6] != "-" {
		b, err := strconv.ParseInt(t[6], 10, 64)
		if err != nil || b < 0 {
			return nil, false
		}
		a.bytes = b
	}
	if start == 1 {
		host, p, found := strings.Cut(toks[0], ":")
		a.vhost = host
		if found {
			if a.vport = port(p); a.vport == 0 {
				return nil, false
			}
		}
	}
	rest := t[7:]
	rk := k[7:]
	if len(rest) >= 2 && rk[0] == '"' && rk[1] == '"' {
		a.referrer, a.agent, a.combined = rest[0], rest[1], true
		rest = rest[2:]
	}
	a.extra = rest
	return a, true
}

func (r *record) accessLine() *accessLine {
	if !r.webDone {
		r.webDone = true
		if r.line != "" {
			r.web, _ = parseAccess(r.line)
		}
	}
	return r.web
}

func detectWebAccess(r *record) bool { return r.accessLine() != nil }

func normalizeWebAccess(r *record) error {
	a := r.accessLine()
	ev := r.ev
	ev.Class, ev.Category = event.ClassHTTP, "webserver"
	ev.Time = a.time
	switch h := strings.ToLower(r.in.Hint); {
	case strings.Contains(h, "nginx"):
		ev.Service = "nginx"
	case strings.Contains(h, "apache"), strings.Contains(h, "httpd"):
		ev.Service = "apache"
	}
	if ip := ipOf(a.client); ip != "" {
		ev.Src = &event.Endpoint{IP: ip}
	} else if c := clean(a.client); c != "" {
		ev.Src = &event.Endpoint{Hostname: c}
	}
	if u := clean(a.user); u != "" {
		ev.User = &event.User{Name: u}
	}
	r.setUnmapped("ident", clean(a.ident))
	h := &event.HTTP{Status: a.status, Bytes: a.bytes, Referrer: clean(a.referrer), UserAgent: clean(a.agent)}
	if ev.Src != nil && h.UserAgent != "" {
		ev.Src.Agent = h.UserAgent
	}
	parts := strings.Fields(a.request)
	if len(parts) >= 2 && len(parts) <= 3 && isMethod(parts[0]) {
		h.Method, h.URL = parts[0], parts[1]
		if len(parts) == 3 {
			r.setUnmapped("cs-version", parts[2])
		}
		ev.Activity = strings.ToLower(h.Method)
	} else if a.request != "-" {
		r.setUnmapped("request", a.request) // a malformed or binary request line
	}
	if a.vhost != "" {
		ev.Dst = &event.Endpoint{Hostname: a.vhost, Port: a.vport}
		if ip := ipOf(a.vhost); ip != "" {
			ev.Dst = &event.Endpoint{IP: ip, Port: a.vport}
		}
		if strings.HasPrefix(h.URL, "/") {
			scheme := pick(a.vport == 443, "https://", "http://")
			host := a.vhost
			if a.vport != 0 && a.vport != 80 && a.vport != 443 {
				host += ":" + strconv.Itoa(a.vport)
			}
			r.setUnmapped("url_full", scheme+host+h.URL)
		}
	}
	ev.HTTP = h
	switch {
	case a.status >= 100 && a.status < 400:
		ev.Status = "success"
	case a.status >= 400:
		ev.Status = "failure"
		ev.StatusDetail = strconv.Itoa(a.status)
	}
	for i, x := range a.extra {
		r.setUnmapped("extra."+strconv.Itoa(i), x)
	}
	ev.Message = r.line
	return nil
}

func isMethod(s string) bool {
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'A' || s[i] > 'Z') && s[i] != '-' && s[i] != '_' {
			return false
		}
	}
	return true
}
