package caddymodule

import (
	"bytes"
	"net/http"
	"strings"
)

// isEventStream tells whether a response head starts an event stream the
// way a browser's EventSource accepts one: 200 and text/event-stream
// (WHATWG HTML §9.2.3, "announce the connection").
func isEventStream(method string, status int, h http.Header) bool {
	if method == http.MethodHead || status != http.StatusOK {
		return false
	}
	// Told without mime.ParseMediaType, which allocates, on every
	// response: a media type's essence is its part before ";", trimmed,
	// case-insensitive (WHATWG MIME Sniffing §4.4).
	t, _, _ := strings.Cut(headerValue(h, "Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(t), "text/event-stream")
}

// sseCounter counts the events of an event stream as its body passes,
// by the parsing rules of WHATWG HTML §9.2.6 ("Interpreting an event
// stream"): lines end in CRLF, LF or CR; a blank line dispatches an event
// when a "data" field came since the last one (a block of comments, "id",
// "retry" or "event" alone dispatches nothing); a block the stream ends
// in is discarded. It keeps no line, only where it is in one.
type sseCounter struct {
	bytes  int64
	events int64
	opaque bool // the body is encoded (Content-Encoding): bytes only

	started   bool // past a leading byte order mark, if any: UTF-8 decode drops one (§9.2.6)
	bom       int  // bytes of a leading BOM seen
	afterCR   bool // the last byte ended a line with CR: an LF next is part of it
	lineEmpty bool // nothing on the line yet
	field     int  // how much of "data" the line starts with: 0-4, or sseData, sseOther
	hasData   bool // a data field since the last dispatch
}

const (
	sseData  = 5 // the line is a data field: "data" then ":" or the line's end
	sseOther = 6 // the line is anything else
)

var bom = [3]byte{0xEF, 0xBB, 0xBF}

func newSSECounter(opaque bool) *sseCounter {
	return &sseCounter{opaque: opaque, lineEmpty: true}
}

// observe counts p, body bytes that passed.
func (c *sseCounter) observe(p []byte) {
	c.bytes += int64(len(p))
	if c.opaque {
		return
	}
	for len(p) > 0 {
		if !c.started {
			if p[0] == bom[c.bom] {
				p = p[1:]
				if c.bom++; c.bom == len(bom) {
					c.started = true
				}
				continue
			}
			c.started = true
			if c.bom > 0 { // a broken BOM: text that names no field
				c.lineEmpty, c.field = false, sseOther
			}
		}
		b := p[0]
		if c.afterCR {
			c.afterCR = false
			if b == '\n' {
				p = p[1:]
				continue
			}
		}
		switch {
		case b == '\r' || b == '\n':
			c.endLine()
			c.afterCR = b == '\r'
			p = p[1:]
		case c.field >= sseData:
			// The rest of the line does not matter: skip to its end.
			i := bytes.IndexAny(p, "\r\n")
			if i < 0 {
				return
			}
			p = p[i:]
		default:
			c.lineEmpty = false
			switch {
			case c.field < 4 && b == "data"[c.field]:
				c.field++
			case c.field == 4 && b == ':':
				c.field = sseData
			default:
				c.field = sseOther
			}
			p = p[1:]
		}
	}
}

func (c *sseCounter) endLine() {
	switch {
	case c.lineEmpty:
		if c.hasData {
			c.events++
			c.hasData = false
		}
	case c.field == 4 || c.field == sseData: // "data" alone is a data field with an empty value
		c.hasData = true
	}
	c.lineEmpty, c.field = true, 0
}
