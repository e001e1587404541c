// Package toolbar is Tracebar's domain, with no Caddy or OpenTelemetry SDK
// in it: the record of each proxied exchange (Record, Headers), the spans
// and log records of a trace (Span, LogRecord), the bounded Store that
// indexes them by trace id and tells subscribers what is new, the
// redaction every header, URL and attribute goes through before it is
// stored (Redactor), and the toolbar's JSON and Server-Sent Events API
// (API), whose trace JSON is OTLP/JSON.
package toolbar

import "time"

// Record is one HTTP exchange seen by the proxy. A Record handed to the
// Store is never modified again: the handler publishes a new one instead.
type Record struct {
	ID         string    `json:"id"`      // the proxy's SERVER span id, hex
	TraceID    TraceID   `json:"traceId"` // parsed once; hex in JSON
	Method     string    `json:"method"`
	URL        string    `json:"url"`
	Host       string    `json:"host"`
	Proto      string    `json:"proto"`
	RemoteAddr string    `json:"remoteAddr"`
	Status     int       `json:"status"` // 0 while the exchange is in flight
	Done       bool      `json:"done"`
	StartTime  time.Time `json:"startTime"`
	DurationMs float64   `json:"durationMs"`
	Error      string    `json:"error,omitempty"`

	TraceLink   string `json:"traceLink,omitempty"` // the trace in the team's backend
	ContentType string `json:"contentType,omitempty"`
	Injected    bool   `json:"injected"` // the toolbar was inserted into the body

	// RequestBytes counts the request body read by the handler chain;
	// ResponseBytes the body as the upstream produced it; ClientBytes the
	// body as sent on (ResponseBytes plus the toolbar's tags, if injected),
	// before the compression named by ClientEncoding, if any.
	RequestBytes  int64 `json:"requestBytes"`
	ResponseBytes int64 `json:"responseBytes"`
	ClientBytes   int64 `json:"clientBytes"`
	// ClientEncoding is the Content-Encoding that handlers outside
	// Tracebar (Caddy's encode) applied to the body after it.
	ClientEncoding string `json:"clientEncoding,omitempty"`

	Timing Timing `json:"timing"`

	// Headers at the four crossings of the proxy. UpstreamRequest is empty
	// when the handler chain called no upstream (file_server, respond);
	// UpstreamResponse is the head the handler chain wrote, whether from an
	// upstream or not; ClientResponse the head as it left Caddy, after the
	// handlers outside Tracebar (encode) changed it.
	ClientRequest    Headers `json:"clientRequestHeaders"`
	UpstreamRequest  Headers `json:"upstreamRequestHeaders"`
	UpstreamResponse Headers `json:"upstreamResponseHeaders"`
	ClientResponse   Headers `json:"clientResponseHeaders"`
	// UpstreamParams are the CGI parameters a FastCGI upstream
	// (php_fastcgi) was sent, redacted like headers; empty otherwise.
	UpstreamParams Headers `json:"upstreamParams"`

	// RequestBody is the request's body as captured for replay: form and
	// JSON bodies of an allowed client's non-GET/HEAD request, up to
	// MaxCapturedBody bytes, secret fields redacted; nil otherwise.
	RequestBody *Body `json:"requestBody,omitempty"`
	// ReplayOf is the ID of the record this request replayed (the
	// toolbar's replay button sends ReplayHeader with it).
	ReplayOf string `json:"replayOf,omitempty"`
	// Imported marks a record that came in through POST /api/import (a
	// colleague's HAR or trace), not through this proxy: the toolbar
	// offers no replay of it, which would send it with this browser's
	// cookies.
	Imported bool `json:"imported,omitempty"`
	// AcceptEncodingDropped tells that the proxy removed the client's
	// Accept-Encoding before the handler chain, as it does for a page that
	// may get the toolbar (its body must reach the proxy uncompressed):
	// the upstream could not compress the response for the client.
	AcceptEncodingDropped bool `json:"acceptEncodingDropped,omitempty"`

	// Kind is "" for a plain exchange, or one of the kinds below.
	// Session holds what a WebSocket or event stream carried (nil
	// otherwise).
	Kind    string   `json:"kind,omitempty"`
	Session *Session `json:"session,omitempty"`
}

// Kinds of record (Record.Kind) besides a plain exchange. A WebSocket or
// event stream record is published when the session opens (the 101, or
// the stream's head) and again, Done, when it ends. A background record
// stands for a trace that no proxied request started (a cron job, a
// worker's job, a CLI command that exported to the sink): it is the
// trace's root span, Done (AddSpansWithRoots, BackgroundRoots).
const (
	RecordWebSocket  = "websocket"  // an upgrade to a WebSocket, through the proxy's tunnel
	RecordSSE        = "sse"        // a text/event-stream response
	RecordBackground = "background" // a root span of a trace no proxied request started
)

// Session is what a WebSocket or an event stream carried, as the proxy
// counted it on the way through, without holding or changing a byte.
type Session struct {
	OpenedAt   time.Time `json:"openedAt"`          // the upgrade, or the stream's head
	ClosedAt   time.Time `json:"closedAt,omitzero"` // zero while open
	DurationMs float64   `json:"durationMs"`        // from open to close; 0 while open
	// ClientToServer and ServerToClient count each direction. An event
	// stream's events are ServerToClient.Messages; its ClientToServer
	// bytes are the request body's.
	ClientToServer Flow `json:"clientToServer"`
	ServerToClient Flow `json:"serverToClient"`
	// CloseCode and CloseReason are a WebSocket's, from the first Close
	// frame that passed, sent by ClosedBy ("client" or "server"). 1005:
	// that frame had no code; 1006: the connection ended without a Close
	// frame, ClosedBy "" (RFC 6455 §7.1.5). Zero for an event stream.
	CloseCode   int    `json:"closeCode,omitempty"`
	CloseReason string `json:"closeReason,omitempty"`
	ClosedBy    string `json:"closedBy,omitempty"`
}

// Flow counts one direction of a session. Frames, message kinds and
// control frames are a WebSocket's (RFC 6455 §5), omitted when zero.
type Flow struct {
	Bytes    int64 `json:"bytes"`    // as they passed, WebSocket frame headers included
	Messages int64 `json:"messages"` // complete messages: WebSocket text and binary, or events
	Text     int64 `json:"text,omitempty"`
	Binary   int64 `json:"binary,omitempty"`
	Frames   int64 `json:"frames,omitempty"` // every whole frame: data, continuation, control
	Pings    int64 `json:"pings,omitempty"`
	Pongs    int64 `json:"pongs,omitempty"`
	Closes   int64 `json:"closes,omitempty"`
}

// ReplayHeader names the record a request replays; the proxy strips it
// before the upstream sees the request.
const ReplayHeader = "X-Tracebar-Replay"

// MaxCapturedBody bounds a captured request body (Record.RequestBody).
const MaxCapturedBody = 64 << 10

// Body is a captured request body.
type Body struct {
	ContentType string `json:"contentType"`
	Text        string `json:"text"`               // secret fields' values replaced by Redacted
	Redacted    bool   `json:"redacted,omitempty"` // some field was redacted: a replay sends Redacted in its place
}

// Timing holds what the proxy measured, in milliseconds from the start of
// the exchange (offsets) or as lengths (durations); zero when not observed.
type Timing struct {
	HeadersMs       float64 `json:"headersMs"`                 // until the response head was written
	UpstreamLatency float64 `json:"upstreamLatencyMs"`         // reverse_proxy: until upstream headers
	UpstreamTotal   float64 `json:"upstreamDurationMs"`        // reverse_proxy: until upstream body ended
	DNSMs           float64 `json:"dnsMs,omitempty"`           // name lookup length
	ConnectMs       float64 `json:"connectMs,omitempty"`       // TCP connect length
	TLSMs           float64 `json:"tlsMs,omitempty"`           // TLS handshake length
	ConnReused      bool    `json:"connReused"`                // upstream connection came from the pool
	WroteRequestMs  float64 `json:"wroteRequestMs,omitempty"`  // offset: request fully sent upstream
	FirstByteMs     float64 `json:"firstByteMs,omitempty"`     // offset: first upstream response byte
	UpstreamStartMs float64 `json:"upstreamStartMs,omitempty"` // offset: upstream round trip began
}

// Millis converts d to fractional milliseconds, the unit of the API.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
