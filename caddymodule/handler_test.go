package caddymodule

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tracebar/tracebar/toolbar"
)

// TestUpstreamPhases: a real transport's round trip through the handler
// gives the record the headers as sent and the phase timings, and the
// CLIENT span one event per phase that happened: connect on a new
// connection, none on a reused one.
func TestUpstreamPhases(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	}))
	defer up.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // its port now refuses connections
	proxy := caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Has("retry") { // as reverse_proxy retries a refused dial
			out, _ := http.NewRequestWithContext(r.Context(), r.Method, refused.URL, nil)
			if _, err := transport.RoundTrip(out); err == nil {
				return errors.New("the closed port answered")
			}
		}
		out, err := http.NewRequestWithContext(r.Context(), r.Method, up.URL+r.URL.RequestURI(), nil)
		if err != nil {
			return err
		}
		out.Header = r.Header.Clone()
		res, err := transport.RoundTrip(out)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
		w.WriteHeader(res.StatusCode)
		_, err = io.Copy(w, res.Body)
		return err
	})
	h := benchHandler(t)
	for _, tt := range []struct {
		name   string
		query  string
		reused bool
		events []string
	}{
		{"new connection", "", false, []string{"connect.start", "connect.done", "response.first_byte"}},
		{"reused connection", "", true, []string{"response.first_byte"}},
		{"retry after a refused dial", "&retry", true, []string{"connect.start", "connect.done", "next_round_trip", "response.first_byte"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()), "GET", "http://127.0.0.1/x?token=T"+tt.query, nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Header.Set("Authorization", "Bearer secret")
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, proxy); err != nil {
				t.Fatal(err)
			}
			id := w.Header().Get("X-Tracebar-Link")[len("/__tracebar/requests/"):]
			rec := h.store.Request(id)
			if rec == nil || !rec.Done || rec.Status != 200 {
				t.Fatalf("record %+v", rec)
			}
			tm := rec.Timing
			if tm.ConnReused != tt.reused || (tm.ConnectMs > 0) == tt.reused || tm.FirstByteMs < tm.WroteRequestMs || tm.WroteRequestMs < tm.UpstreamStartMs {
				t.Errorf("timing %+v", tm)
			}
			if got := rec.UpstreamRequest.Get("Authorization"); got != toolbar.Redacted {
				t.Errorf("upstream Authorization %q", got)
			}
			spans, _ := h.store.Spans(rec.TraceID, 0)
			var client *toolbar.Span
			for i := range spans {
				if spans[i].Kind == toolbar.KindClient {
					client = &spans[i]
				}
			}
			if client == nil {
				t.Fatalf("no CLIENT span in %d spans", len(spans))
			}
			if got := rec.UpstreamRequest.Get("Traceparent"); got != "00-"+rec.TraceID.String()+"-"+client.SpanID.String()+"-01" {
				t.Errorf("upstream traceparent %q does not name the CLIENT span %s", got, client.SpanID)
			}
			var names []string
			last := client.Start
			for _, e := range client.Events {
				names = append(names, e.Name)
				if e.Time.Before(last) || e.Time.After(client.End) {
					t.Errorf("event %s at %v, outside or out of order (span %v–%v)", e.Name, e.Time, client.Start, client.End)
				}
				last = e.Time
			}
			if len(names) != len(tt.events) {
				t.Fatalf("events %v, want %v", names, tt.events)
			}
			for i := range names {
				if names[i] != tt.events[i] {
					t.Fatalf("events %v, want %v", names, tt.events)
				}
			}
			if tt.query != "" {
				if a := client.Events[1].Attributes; len(a) != 1 || a[0].Key != "error.message" {
					t.Errorf("the refused connect.done has attributes %v, want its error", a)
				}
			}
		})
	}
}

// TestConnectPhasesOfRacingDials: with several dials at once (happy
// eyeballs), connect ends with the one that worked, whatever the order the
// others report in, and a dial of an earlier round trip reporting late is
// not this one's.
func TestConnectPhasesOfRacingDials(t *testing.T) {
	refused := errors.New("connection refused")
	tests := []struct {
		name    string
		run     func(ct *httptrace.ClientTrace)
		wantErr bool
		wantOK  bool // connect.done recorded
	}{
		{"loser reports last", func(ct *httptrace.ClientTrace) {
			ct.ConnectStart("tcp", "[::1]:1")
			ct.ConnectStart("tcp", "127.0.0.1:1")
			ct.ConnectDone("tcp", "127.0.0.1:1", nil)
			ct.ConnectDone("tcp", "[::1]:1", refused)
		}, false, true},
		{"loser reports first", func(ct *httptrace.ClientTrace) {
			ct.ConnectStart("tcp", "[::1]:1")
			ct.ConnectStart("tcp", "127.0.0.1:1")
			ct.ConnectDone("tcp", "[::1]:1", refused)
			ct.ConnectDone("tcp", "127.0.0.1:1", nil)
		}, false, true},
		{"all fail", func(ct *httptrace.ClientTrace) {
			ct.ConnectStart("tcp", "127.0.0.1:1")
			ct.ConnectDone("tcp", "127.0.0.1:1", refused)
		}, true, true},
		{"late dial of an earlier round trip", func(ct *httptrace.ClientTrace) {
			ct.ConnectDone("tcp", "127.0.0.1:1", refused)
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &exchange{start: time.Now()}
			ct := x.clientTrace()
			ct.GetConn("127.0.0.1:1")
			tt.run(ct)
			if got := x.connectErr != nil; got != tt.wantErr {
				t.Errorf("connect error %v, want an error: %v", x.connectErr, tt.wantErr)
			}
			if got := !x.phases[connectDone].IsZero(); got != tt.wantOK {
				t.Errorf("connect.done recorded: %v, want %v", got, tt.wantOK)
			}
			if tt.wantOK && x.phases[connectDone].Before(x.phases[connectStart]) {
				t.Error("connect ends before it starts")
			}
		})
	}
}

// TestHandlerCapturesBodyAndReplay: through the handler, the upstream gets
// the client's body byte for byte and never the replay header; the record
// gets the redacted body and the replayed record's id. A client outside
// allow leaves no record at all.
func TestHandlerCapturesBodyAndReplay(t *testing.T) {
	var gotBody []byte
	var gotHeader http.Header
	upstream := caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
		if t := httptrace.ContextClientTrace(r.Context()); t != nil {
			t.GetConn("127.0.0.1:9")
			for k, v := range r.Header {
				t.WroteHeaderField(k, v)
			}
		}
		gotHeader = r.Header.Clone()
		var err error
		gotBody, err = io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/plain")
		_, err = w.Write(gotBody)
		return err
	})
	const form = "user=ann&password=hunter2&csrfmiddlewaretoken=abc123"
	h := benchHandler(t)
	tests := []struct {
		name, remote, replay string
		recorded             bool
		replayOf             string
	}{
		{"allowed, no replay", "127.0.0.1:1", "", true, ""},
		{"a replay", "127.0.0.1:1", "00f067aa0ba902b7", true, "00f067aa0ba902b7"},
		{"a replay header that names no record", "127.0.0.1:1", "../../etc", true, ""},
		{"outside allow", "10.1.2.3:1", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotBody, gotHeader = nil, nil
			before := len(h.store.Requests(0))
			r := httptest.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()), "POST", "http://127.0.0.1/login", strings.NewReader(form))
			r.RemoteAddr = tt.remote
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.replay != "" {
				r.Header.Set(toolbar.ReplayHeader, tt.replay)
			}
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, upstream); err != nil {
				t.Fatal(err)
			}
			if string(gotBody) != form || w.Body.String() != form {
				t.Fatalf("upstream got %q and answered %q, want %q", gotBody, w.Body, form)
			}
			link := w.Header().Get("X-Tracebar-Link")
			if !tt.recorded {
				if link != "" || len(h.store.Requests(0)) != before {
					t.Fatalf("a client outside allow was recorded (link %q)", link)
				}
				return
			}
			if gotHeader.Get(toolbar.ReplayHeader) != "" {
				t.Fatalf("the upstream saw %s", toolbar.ReplayHeader)
			}
			rec := h.store.Request(strings.TrimPrefix(link, "/__tracebar/requests/"))
			if rec == nil || !rec.Done {
				t.Fatalf("record %+v", rec)
			}
			want := toolbar.Body{ContentType: "application/x-www-form-urlencoded", Text: "user=ann&password=%5Bredacted%5D&csrfmiddlewaretoken=%5Bredacted%5D", Redacted: true}
			if rec.RequestBody == nil || *rec.RequestBody != want {
				t.Errorf("captured %+v, want %+v", rec.RequestBody, want)
			}
			if rec.ReplayOf != tt.replayOf {
				t.Errorf("replayOf %q, want %q", rec.ReplayOf, tt.replayOf)
			}
			if v := rec.UpstreamRequest.Get(toolbar.ReplayHeader); v != "" || len(rec.UpstreamRequest) == 0 {
				t.Errorf("upstream request headers %v: want them, without %s", rec.UpstreamRequest, toolbar.ReplayHeader)
			}
			if v := rec.ClientRequest.Get(toolbar.ReplayHeader); v != tt.replay {
				t.Errorf("client request %s %q, want %q as sent", toolbar.ReplayHeader, v, tt.replay)
			}
		})
	}
}

// TestFixedHeaderKeysAreCanonical: the keys Tracebar indexes header maps
// with directly (headerValue, delete) match only in canonical form.
func TestFixedHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range append([]string{outerHeader, toolbar.ReplayHeader}, staleHeaders...) {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is %q in canonical form", k, c)
		}
	}
}
