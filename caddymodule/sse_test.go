package caddymodule

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/tracebar/tracebar/toolbar"
)

// TestIsEventStreamByTheMediaTypesEssence: a 200 to a GET whose media
// type is text/event-stream, in any case, with parameters or spaces.
func TestIsEventStreamByTheMediaTypesEssence(t *testing.T) {
	tests := []struct {
		method      string
		status      int
		contentType string
		want        bool
	}{
		{"GET", 200, "text/event-stream", true},
		{"GET", 200, "Text/Event-Stream; charset=utf-8", true},
		{"POST", 200, " text/event-stream ;", true},
		{"GET", 200, "text/event-streams", false},
		{"GET", 200, "application/json", false},
		{"GET", 200, "", false},
		{"HEAD", 200, "text/event-stream", false},
		{"GET", 204, "text/event-stream", false},
	}
	for _, tt := range tests {
		h := http.Header{"Content-Type": {tt.contentType}}
		if got := isEventStream(tt.method, tt.status, h); got != tt.want {
			t.Errorf("%s %d %q: %v, want %v", tt.method, tt.status, tt.contentType, got, tt.want)
		}
	}
}

// TestSSEEvents: events are counted by the event stream's parsing rules
// whatever the line endings and wherever reads split the stream.
func TestSSEEvents(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   int64
	}{
		{"one event", "data: hello\n\n", 1},
		{"CRLF line endings", "data: a\r\n\r\ndata: b\r\n\r\n", 2},
		{"CR line endings", "data: a\r\rdata: b\r\r", 2},
		{"mixed endings", "data: a\r\n\ndata: b\r\r\ndata: c\n\r", 3},
		{"several data lines make one event", "data: a\ndata: b\ndata: c\n\n", 1},
		{"event, id and data", "event: tick\nid: 7\ndata: {}\n\n", 1},
		{"data without a colon is a data field", "data\n\n", 1},
		{"data with an empty value", "data:\n\n", 1},
		{"a comment is no event", ": keep-alive\n\n", 0},
		{"retry alone is no event", "retry: 1000\n\n", 0},
		{"event alone dispatches nothing", "event: tick\n\n", 0},
		{"a field that starts like data is not data", "datum: x\n\ndata2: y\n\ndat\n\n", 0},
		{"a leading space makes it another field", " data: x\n\n", 0},
		{"blank lines between events count once", "\n\n\ndata: a\n\n\n\ndata: b\n\n", 2},
		{"the block the stream ends in is discarded", "data: a\n\ndata: b\n", 1},
		{"a leading byte order mark is skipped", "\xEF\xBB\xBFdata: a\n\n", 1},
		{"a broken byte order mark spoils the first line", "\xEF\xBBdata: a\n\ndata: b\n\n", 1},
		{"a long line", "data: " + strings.Repeat("x", 10000) + "\n\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(how string, pieces ...string) {
				t.Helper()
				c := newSSECounter(false)
				for _, p := range pieces {
					c.observe([]byte(p))
				}
				if c.events != tt.want || c.bytes != int64(len(tt.stream)) {
					t.Fatalf("%s: %d events, %d bytes; want %d, %d", how, c.events, c.bytes, tt.want, len(tt.stream))
				}
			}
			check("one read", tt.stream)
			for i := 1; i < len(tt.stream) && i < 64; i++ {
				check(fmt.Sprintf("split at %d", i), tt.stream[:i], tt.stream[i:])
			}
			if len(tt.stream) < 200 {
				check("byte by byte", strings.Split(tt.stream, "")...)
			}
		})
	}
}

// TestEventStreamRecord: a text/event-stream response is published as an
// open session when its head is written, passes through unchanged, and
// its done record counts the events and bytes. Other responses stay plain.
func TestEventStreamRecord(t *testing.T) {
	stream := ": hello\n\nevent: tick\ndata: 1\n\ndata: 2\r\n\r\nretry: 10\n\ndata: 3\n\n"
	tests := []struct {
		name        string
		method      string
		status      int
		contentType string
		encoding    string
		wantKind    string
		wantEvents  int64
	}{
		{"event stream", http.MethodGet, 200, "text/event-stream", "", toolbar.RecordSSE, 3},
		{"with parameters", http.MethodGet, 200, "text/event-stream; charset=utf-8", "", toolbar.RecordSSE, 3},
		{"encoded: bytes only", http.MethodGet, 200, "text/event-stream", "gzip", toolbar.RecordSSE, 0},
		{"not 200: no stream for EventSource", http.MethodGet, 204, "text/event-stream", "", "", 0},
		{"HEAD has no body", http.MethodHead, 200, "text/event-stream", "", "", 0},
		{"plain text", http.MethodGet, 200, "text/plain", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := benchHandler(t)
			var openKind string
			next := caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", tt.contentType)
				if tt.encoding != "" {
					w.Header().Set("Content-Encoding", tt.encoding)
				}
				w.WriteHeader(tt.status)
				id := strings.TrimPrefix(w.Header().Get("X-Tracebar-Link"), "/__tracebar/requests/")
				if rec := h.store.Request(id); rec != nil && !rec.Done && rec.Session != nil {
					openKind = rec.Kind
				}
				if tt.status == 204 || tt.method == http.MethodHead {
					return nil
				}
				for _, part := range strings.SplitAfter(stream, "\n\n") {
					if _, err := io.WriteString(w, part); err != nil {
						return err
					}
					http.NewResponseController(w).Flush()
				}
				return nil
			})
			r := httptest.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()), tt.method, "http://127.0.0.1/events", nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Header.Set("Accept", "text/event-stream")
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			id := strings.TrimPrefix(w.Header().Get("X-Tracebar-Link"), "/__tracebar/requests/")
			rec := h.store.Request(id)
			if rec == nil || !rec.Done || rec.Kind != tt.wantKind || openKind != tt.wantKind {
				t.Fatalf("record %+v, published open as %q; want kind %q", rec, openKind, tt.wantKind)
			}
			if tt.wantKind == "" {
				if rec.Session != nil {
					t.Fatalf("a plain exchange got a session %+v", rec.Session)
				}
				return
			}
			if w.Body.String() != stream {
				t.Fatalf("body %q, want the stream unchanged", w.Body.String())
			}
			s := rec.Session
			if s == nil || s.ServerToClient.Messages != tt.wantEvents || s.ServerToClient.Bytes != int64(len(stream)) || s.ClosedAt.Before(s.OpenedAt) || s.CloseCode != 0 {
				t.Fatalf("session %+v, want %d events in %d bytes", s, tt.wantEvents, len(stream))
			}
		})
	}
}
