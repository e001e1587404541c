package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// sessionCaddyfile serves one upstream on two ports: {site} through
// Tracebar, {plain} without it.
const sessionCaddyfile = globalOptions + `http://{site} {
	tracebar
	reverse_proxy {upstream}
}
http://{plain} {
	reverse_proxy {upstream}
}
`

// startSessionEnv runs Caddy with sessionCaddyfile and returns the plain
// site's base URL.
func startSessionEnv(t *testing.T, e *env, upstream string) (plain string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.startCaddy(t, strings.ReplaceAll(sessionCaddyfile, "{plain}", addr), upstream)
	waitListening(t, addr, nil)
	return "http://" + addr
}

// rawConn records every byte a connection read and wrote.
type rawConn struct {
	net.Conn
	mu      sync.Mutex
	in, out bytes.Buffer
	closed  chan struct{}
	once    sync.Once
}

func newRawConn(c net.Conn) *rawConn { return &rawConn{Conn: c, closed: make(chan struct{})} }

func (c *rawConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.in.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *rawConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.out.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *rawConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// tunnel returns the bytes read and written after the HTTP heads: the
// WebSocket's frames each way.
func (c *rawConn) tunnel(t testing.TB) (in, out []byte) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	after := func(b []byte) []byte {
		_, rest, ok := bytes.Cut(b, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("no HTTP head in %.100q", b)
		}
		return bytes.Clone(rest)
	}
	return after(c.in.Bytes()), after(c.out.Bytes())
}

// rawListener hands every accepted connection, recording, to conns.
type rawListener struct {
	net.Listener
	conns chan *rawConn
}

func (l *rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := newRawConn(c)
	l.conns <- rc
	return rc, nil
}

// wsMessage is one WebSocket message as an endpoint read it.
type wsMessage struct {
	Type websocket.MessageType
	Data []byte
}

// echoUpstream is a WebSocket echo server instrumented with the OTel Go
// SDK, exporting to Tracebar's sink: a SERVER span per connection,
// continuing the upgrade request's trace, and a span per echoed message.
type echoUpstream struct {
	hostport string
	conns    chan *rawConn    // the upstream's end of each connection
	received chan []wsMessage // what each connection read, when it ended
	closed   chan websocket.StatusCode
}

func startEchoWebSocket(t *testing.T, otlp string) *echoUpstream {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(otlp), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("ws-echo"))))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tracer := tp.Tracer("ws-echo")
	u := &echoUpstream{conns: make(chan *rawConn, 8), received: make(chan []wsMessage, 8), closed: make(chan websocket.StatusCode, 8)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/chat" { // the browser's /favicon.ico
			http.NotFound(w, r)
			return
		}
		ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, "websocket echo", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		c.SetReadLimit(1 << 20)
		var got []wsMessage
		defer func() { u.received <- got }()
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				u.closed <- websocket.CloseStatus(err)
				return
			}
			got = append(got, wsMessage{typ, data})
			_, s := tracer.Start(ctx, "echo message", trace.WithAttributes(attribute.Int("message.size", len(data))))
			err = c.Write(ctx, typ, data)
			s.End()
			if err != nil {
				t.Errorf("echo: %v", err)
				return
			}
		}
	}))
	srv.Listener = &rawListener{Listener: srv.Listener, conns: u.conns}
	srv.Start()
	t.Cleanup(srv.Close)
	u.hostport = strings.TrimPrefix(srv.URL, "http://")
	return u
}

// chatResult is what one WebSocket session through a proxy showed.
type chatResult struct {
	resp                      *http.Response // the 101
	echoed                    []wsMessage    // what the client read
	received                  []wsMessage    // what the upstream read
	clientSent, clientGot     []byte         // the client's frames each way
	upstreamGot, upstreamSent []byte         // the upstream's
	closeSeenByUpstream       websocket.StatusCode
}

// chatMessages are sent one by one: 7-, 16- and 64-bit payload lengths.
var chatMessages = []wsMessage{
	{websocket.MessageText, []byte("hello")},
	{websocket.MessageBinary, bytes.Repeat([]byte{0xA5, 0x00, 0xFF}, 100)},
	{websocket.MessageText, bytes.Repeat([]byte("seventy kilobytes "), 70*1024/18)},
}

// The fragmented message, sent in two Writes and a Close: three frames,
// with a ping between the first two.
var fragments = []string{"part one, ", "part two"}

// chat opens a WebSocket at base+"/chat", sends chatMessages and the
// fragmented message, reads the echoes and closes with 1000 "bye";
// inFlight runs while the session is open.
func chat(t *testing.T, base string, up *echoUpstream, inFlight func(resp *http.Response)) chatResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var client *rawConn
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		client = newRawConn(c)
		return client, nil
	}}
	defer transport.CloseIdleConnections()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/chat", &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatalf("dial %s: %v", base, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	var upstream *rawConn
	select {
	case upstream = <-up.conns:
	case <-ctx.Done():
		t.Fatal("the upstream got no connection")
	}
	var res chatResult
	res.resp = resp
	want := len(chatMessages) + 1
	read := make(chan error, 1)
	go func() { // reads the echoes; a ping needs a reader to see its pong
		for len(res.echoed) < want {
			typ, data, err := c.Read(ctx)
			if err != nil {
				read <- err
				return
			}
			res.echoed = append(res.echoed, wsMessage{typ, data})
		}
		read <- nil
	}()
	for _, m := range chatMessages {
		if err := c.Write(ctx, m.Type, m.Data); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, fragments[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil { // a control frame between fragments
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, fragments[1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // the last, empty, continuation frame
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("reading the echoes: %v", err)
	}
	if inFlight != nil {
		inFlight(resp)
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case res.received = <-up.received:
	case <-ctx.Done():
		t.Fatal("the upstream's handler did not end")
	}
	res.closeSeenByUpstream = <-up.closed
	select { // the upstream closed its end: its recording is complete
	case <-upstream.closed:
	case <-ctx.Done():
		t.Fatal("the upstream did not close its connection")
	}
	res.clientGot, res.clientSent = client.tunnel(t)
	res.upstreamGot, res.upstreamSent = upstream.tunnel(t)
	return res
}

// sessionRecord is the part of a record the session tests read.
type sessionRecord struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Done    bool   `json:"done"`
	Status  int    `json:"status"`
	Session *struct {
		OpenedAt       time.Time `json:"openedAt"`
		ClosedAt       time.Time `json:"closedAt"`
		DurationMs     float64   `json:"durationMs"`
		ClientToServer flow      `json:"clientToServer"`
		ServerToClient flow      `json:"serverToClient"`
		CloseCode      int       `json:"closeCode"`
		CloseReason    string    `json:"closeReason"`
		ClosedBy       string    `json:"closedBy"`
	} `json:"session"`
}

type flow struct {
	Bytes    int64 `json:"bytes"`
	Messages int64 `json:"messages"`
	Text     int64 `json:"text"`
	Binary   int64 `json:"binary"`
	Frames   int64 `json:"frames"`
	Pings    int64 `json:"pings"`
	Pongs    int64 `json:"pongs"`
	Closes   int64 `json:"closes"`
}

// TestWebSocketThroughTracebar: a WebSocket echo through the proxy carries
// the same messages, and byte for byte the same frames each way, as
// without Tracebar; the record is an open websocket session while it
// lasts, then counts what passed each way and the client's close; the
// upstream's spans of the connection join its trace.
func TestWebSocketThroughTracebar(t *testing.T) {
	e := newEnv(t)
	up := startEchoWebSocket(t, e.otlpHTTP)
	plain := startSessionEnv(t, e, up.hostport)

	without := chat(t, plain, up, nil)
	var open sessionRecord
	with := chat(t, e.base, up, func(resp *http.Response) {
		_, id := traceOf(t, resp)
		readAPI(t, e, "/requests/"+id, 200, &open)
	})

	wantMessages := append(append([]wsMessage{}, chatMessages...), wsMessage{websocket.MessageText, []byte(strings.Join(fragments, ""))})
	for _, run := range []struct {
		name string
		res  chatResult
	}{{"without Tracebar", without}, {"through Tracebar", with}} {
		t.Run(run.name, func(t *testing.T) {
			res := run.res
			if !sameMessages(res.received, wantMessages) || !sameMessages(res.echoed, wantMessages) {
				t.Fatalf("the upstream read %s, the client %s; want %s", describeMessages(res.received), describeMessages(res.echoed), describeMessages(wantMessages))
			}
			if !bytes.Equal(res.clientSent, res.upstreamGot) {
				t.Errorf("client to server: the client sent %d bytes, the upstream got %d, not the same", len(res.clientSent), len(res.upstreamGot))
			}
			if !bytes.Equal(res.upstreamSent, res.clientGot) {
				t.Errorf("server to client: the upstream sent %d bytes, the client got %d, not the same", len(res.upstreamSent), len(res.clientGot))
			}
			if res.closeSeenByUpstream != websocket.StatusNormalClosure {
				t.Errorf("the upstream saw close %d", res.closeSeenByUpstream)
			}
		})
	}
	// Masking keys are random, so the frames differ in content between
	// runs, never in length.
	if len(with.clientSent) != len(without.clientSent) || len(with.clientGot) != len(without.clientGot) {
		t.Fatalf("frame bytes client to server %d, server to client %d through Tracebar; %d, %d without",
			len(with.clientSent), len(with.clientGot), len(without.clientSent), len(without.clientGot))
	}
	if v := without.resp.Header.Get("Traceresponse"); v != "" {
		t.Fatalf("the plain site answered with traceresponse %q", v)
	}

	traceID, id := traceOf(t, with.resp)
	if open.ID != id || open.Kind != "websocket" || open.Done || open.Status != 101 || open.Session == nil || open.Session.OpenedAt.IsZero() {
		t.Fatalf("while open, the record is %+v, want an open websocket session", open)
	}
	rec := doneRecord[sessionRecord](t, e, traceID, id)
	if rec.Kind != "websocket" || rec.Status != 101 || rec.Session == nil {
		t.Fatalf("done record %+v", rec)
	}
	s := rec.Session
	// Client to server: three single-frame messages, the fragmented one
	// in three frames, the ping, the close.
	wantUp := flow{Bytes: int64(len(with.clientSent)), Messages: 4, Text: 3, Binary: 1, Frames: 8, Pings: 1, Closes: 1}
	// Server to client: four echoes of one frame each, the pong, the close.
	wantDown := flow{Bytes: int64(len(with.clientGot)), Messages: 4, Text: 3, Binary: 1, Frames: 6, Pongs: 1, Closes: 1}
	if s.ClientToServer != wantUp || s.ServerToClient != wantDown {
		t.Errorf("client to server %+v, want %+v; server to client %+v, want %+v", s.ClientToServer, wantUp, s.ServerToClient, wantDown)
	}
	if s.CloseCode != 1000 || s.CloseReason != "bye" || s.ClosedBy != "client" {
		t.Errorf("close %d %q by %q, want 1000 \"bye\" by the client", s.CloseCode, s.CloseReason, s.ClosedBy)
	}
	if !s.OpenedAt.Equal(open.Session.OpenedAt) || s.ClosedAt.Before(s.OpenedAt) || s.DurationMs <= 0 {
		t.Errorf("opened %v (open record: %v), closed %v, %v ms", s.OpenedAt, open.Session.OpenedAt, s.ClosedAt, s.DurationMs)
	}

	// The upstream's spans continue the trace under the proxy's CLIENT
	// span; the proxy's SERVER span lasts the session and ends with it.
	spans := waitSpans(t, e.base, traceID, func(spans []span) bool {
		n := 0
		for _, s := range spans {
			if s.Name == "echo message" {
				n++
			}
		}
		return n == len(wantMessages) && has("ws-echo", "websocket echo")(spans) && has("caddy", "GET /chat")(spans)
	})
	byID := spanIDs(spans)
	echo, _ := find(spans, "ws-echo", "websocket echo")
	if parent, ok := byID[echo.ParentSpanID]; !ok || parent.Service != "caddy" || parent.Kind != 3 || byID[parent.ParentSpanID].SpanID != id {
		t.Errorf("the upstream's span hangs under %q, not the proxy's CLIENT span under record %s", echo.ParentSpanID, id)
	}
	if d := spanDuration(t, e, traceID, id); d.Milliseconds() < int64(s.DurationMs) {
		t.Errorf("the proxy's span lasted %v, shorter than the %v ms session", d, s.DurationMs)
	}

	// The toolbar's page of the session shows what it carried, each way.
	b := browserTab{t, newBrowser(t)}
	b.navigate(e.base + "/__tracebar/requests/" + id)
	b.wait("the toolbar", `host.dataset.state === 'ready'`)
	b.tab("timing")
	b.wait("the session's facts", `[...root.querySelectorAll('.tb-body tr')].some(row => row.textContent.startsWith('Client \u2192 server4 messages (3 text, 1 binary)')) &&
		[...root.querySelectorAll('.tb-body tr')].some(row => row.textContent === 'Close1000 \u201cbye\u201d by the client') &&
		root.querySelector('.tb-body').textContent.includes('WebSocket session')`)
}

func sameMessages(a, b []wsMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func describeMessages(list []wsMessage) string {
	var parts []string
	for _, m := range list {
		parts = append(parts, fmt.Sprintf("%v:%d", m.Type, len(m.Data)))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// eventStream is what the SSE upstream sends: five events, a comment and
// a retry that are none, LF and CRLF line endings. It pauses after
// eventsBeforePause until told to go on.
var eventStream = []string{
	": stream opened\n\n",
	"event: tick\nid: 1\ndata: one\n\n",
	"data: two\r\n\r\n",
	// pause
	"retry: 500\n\n",
	"data: three\ndata: three, line two\n\n",
	"event: tick\ndata: {\"n\":4}\n\n",
	"data\n\n",
}

const partsBeforePause = 3

// TestSSEThroughTracebar: an event stream passes unchanged; its record is
// an open sse session while it streams, then counts five events and the
// bytes; the upstream's spans join its trace.
func TestSSEThroughTracebar(t *testing.T) {
	e := newEnv(t)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(e.otlpHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("sse-app"))))
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("sse-app")
	goOn := make(chan struct{}, 2)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, "GET /events", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		for i, part := range eventStream {
			if i == partsBeforePause {
				select {
				case <-goOn:
				case <-ctx.Done():
					return
				}
			}
			_, s := tracer.Start(ctx, "send event")
			io.WriteString(w, part)
			http.NewResponseController(w).Flush()
			s.End()
		}
	}))
	defer up.Close()
	plain := startSessionEnv(t, e, strings.TrimPrefix(up.URL, "http://"))
	whole := strings.Join(eventStream, "")

	stream := func(base string, inFlight func(*http.Response)) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		first := strings.Join(eventStream[:partsBeforePause], "")
		got := make([]byte, len(first))
		if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != first {
			t.Fatalf("%s: the stream began %q (%v), want %q", base, got, err, first)
		}
		if inFlight != nil {
			inFlight(resp)
		}
		goOn <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(got) + string(rest)
	}
	_, wantBody := stream(plain, nil)
	var open sessionRecord
	resp, body := stream(e.base, func(resp *http.Response) {
		_, id := traceOf(t, resp)
		readAPI(t, e, "/requests/"+id, 200, &open)
	})
	if wantBody != whole || body != wantBody {
		t.Fatalf("through Tracebar %q, without %q, want %q", body, wantBody, whole)
	}
	traceID, id := traceOf(t, resp)
	if open.Kind != "sse" || open.Done || open.Session == nil || open.Session.OpenedAt.IsZero() {
		t.Fatalf("while streaming, the record is %+v, want an open sse session", open)
	}
	rec := doneRecord[sessionRecord](t, e, traceID, id)
	if rec.Kind != "sse" || rec.Status != 200 || rec.Session == nil {
		t.Fatalf("done record %+v", rec)
	}
	if got := rec.Session.ServerToClient; got.Messages != 5 || got.Bytes != int64(len(whole)) {
		t.Errorf("server to client %+v, want 5 events in %d bytes", got, len(whole))
	}
	if rec.Session.ClosedAt.Before(rec.Session.OpenedAt) || rec.Session.CloseCode != 0 {
		t.Errorf("session %+v", rec.Session)
	}
	spans := waitSpans(t, e.base, traceID, func(spans []span) bool {
		n := 0
		for _, s := range spans {
			if s.Service == "sse-app" && s.Name == "send event" {
				n++
			}
		}
		return n == len(eventStream) && has("sse-app", "GET /events")(spans)
	})
	app, _ := find(spans, "sse-app", "GET /events")
	if parent, ok := spanIDs(spans)[app.ParentSpanID]; !ok || parent.Service != "caddy" || parent.Kind != 3 {
		t.Errorf("the app's span hangs under %q, not the proxy's CLIENT span", app.ParentSpanID)
	}
}
