package caddymodule

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tracebar/tracebar/assets"
	"github.com/tracebar/tracebar/inject"
	"github.com/tracebar/tracebar/toolbar"
)

// maxEncoded bounds an encoded HTML body held for decoding; a larger one
// passes through untouched, without the toolbar.
const maxEncoded = 8 << 20

// maxFirst bounds the first write of an injected body (see responseWriter.first).
const maxFirst = 8 << 10

// keepLengthFrom is the upstream Content-Length from which an injected
// page keeps one. Chunked, net/http writes each chunk with two system
// calls, which cost a 700 KB page 12 % more proxy CPU. A smaller page is
// one or two chunks, and without a Content-Length, encode (outside) decides
// on the first write as it would have on the upstream's length; with the
// tags' bytes added to it, a page just under minimum_length (512 bytes by
// default) would be compressed where it was not without Tracebar.
const keepLengthFrom = 64 << 10

// nonceRoom is the room a page with a Content-Length keeps for the nonce
// of a <meta> Content-Security-Policy on the toolbar's tag (nonce="...",
// escaped): nonces are 16 to 64 characters. A longer one is left out.
const nonceRoom = 128

// responseWriter records the response head, adds the trace headers and,
// for an eligible HTML body, streams it through the injector. It does not
// implement io.ReaderFrom, so file_server's copies go through Write.
//
// An eligible body that arrives compressed (the upstream ignored the
// dropped Accept-Encoding) is held whole, decoded and injected at the end,
// or passed on untouched if it is corrupt or too large: never half-rewritten.
type responseWriter struct {
	http.ResponseWriter
	x   *exchange
	req *http.Request

	wroteHeader bool
	status      int
	inj         *inject.Writer
	encoded     *bytes.Buffer // the held encoded body, while undecided

	// Caddy's encode, outside Tracebar, decides on its first Write when
	// the response has no Content-Length: at most minimum_length (512
	// bytes by default) and it never compresses. The injector's own first
	// write is the few bytes up to <head>, so the injected body's first
	// bytes are held until there are as many as the upstream's
	// Content-Length or first write (at most maxFirst), or a flush or the
	// end of the body comes; then that many go first, alone, and encode
	// decides as it would have without Tracebar.
	first      *[]byte
	firstLen   int
	firstIsLen bool // firstLen is the upstream's Content-Length

	// stream observes a body that is a session's traffic as it passes:
	// an event stream's, or a WebSocket's over HTTP/2 or HTTP/3.
	stream interface{ observe([]byte) }

	encoding    string // Content-Encoding as Tracebar wrote the head
	sent        bool   // a body byte passed on: the client's headers are final
	bodyBytes   int64  // as the handler chain wrote them
	clientBytes int64  // as passed on, before any encoding outside Tracebar
}

// WriteHeader decides injection from the response head. 1xx responses
// pass through.
func (rw *responseWriter) WriteHeader(code int) {
	if rw.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.ResponseWriter.WriteHeader(code)
		return
	}
	rw.wroteHeader = true
	rw.status = code
	h := rw.Header()
	upstream := rw.x.h.redact.Header(h)
	rw.x.mu.Lock()
	rw.x.rec.UpstreamResponse = upstream
	rw.x.mu.Unlock()

	inj := !rw.x.inner && inject.Eligible(rw.req.Method, code, rw.req.Header, h)
	if enc, _ := inject.Encoding(h); inj && enc != "" {
		if rw.req.Method == http.MethodHead {
			// As the GET's body is decoded, whose length is unknown here.
			delete(h, "Content-Encoding")
			delete(h, "Content-Length")
		} else {
			rw.encoded = new(bytes.Buffer)
			return // decided when the whole body is in
		}
	}
	rw.commit(inj)
}

// commit writes the response head: the trace headers and, when injecting,
// without the headers that described the original body. A HEAD response
// gets the head its GET would have.
func (rw *responseWriter) commit(inj bool) {
	x := rw.x
	h := rw.Header()
	if inj {
		rw.firstLen, _ = strconv.Atoi(headerValue(h, "Content-Length"))
		rw.firstIsLen = rw.firstLen > 0
		// The body is no longer the one these describe, and a revalidated
		// cached copy would carry a stale toolbar.
		for _, k := range []string{"Content-Length", "Etag", "Last-Modified", "Accept-Ranges", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest"} {
			delete(h, k)
		}
		nonce := inject.AllowInCSP(h, inject.SourcesAt(rw.req.Host, rw.req.TLS != nil, x.h.Prefix))
		tail := func(metaNonce string) []byte {
			if nonce == "" { // the headers need none; a <meta> policy may
				return x.snippet("toolbar.js", metaNonce, true)
			}
			return x.snippet("toolbar.js", nonce, true)
		}
		hook := x.snippet("hook.js", nonce, false)
		// A large page keeps a Content-Length: the upstream's plus both
		// tags and room for a <meta> policy's nonce, which the injector
		// pads to (see keepLengthFrom). A HEAD gets the GET's (RFC 9110,
		// 8.6), which is also what encode, outside, judges a HEAD on.
		keep := rw.firstLen >= keepLengthFrom
		added := 0 // the tail is made once more only when a length needs it
		if keep || rw.req.Method == http.MethodHead && rw.firstLen > 0 {
			added = len(hook) + len(tail(""))
			if keep && nonce == "" {
				added += nonceRoom
			}
			h["Content-Length"] = []string{strconv.Itoa(rw.firstLen + added)}
		}
		if rw.req.Method == http.MethodHead {
			inj = false // the head is the GET's; there is no body
		} else {
			rw.inj = inject.NewWriter(firstWriter{rw}, tail, hook)
			if keep {
				rw.inj.Pad(added)
			}
			if t, _, _ := mime.ParseMediaType(headerValue(h, "Content-Type")); t == "application/xhtml+xml" {
				rw.inj.XML()
			}
			rw.first = getFirst()
		}
	}
	sc := x.span.SpanContext()
	tp := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
	h["Traceresponse"] = []string{tp}
	h["Server-Timing"] = append(h["Server-Timing"], `traceparent;desc="`+tp+`", tracebar;desc="proxy";dur=`+strconv.FormatFloat(toolbar.Millis(time.Since(x.start)), 'f', 3, 64))
	h["X-Tracebar-Request"] = []string{x.h.Prefix + "/api/requests/" + x.rec.ID}
	h["X-Tracebar-Link"] = []string{x.h.Prefix + "/requests/" + x.rec.ID}
	rw.encoding = headerValue(h, "Content-Encoding")

	x.mu.Lock()
	x.rec.Status = rw.status
	x.rec.ContentType = headerValue(h, "Content-Type")
	x.rec.Injected = inj
	x.timing.HeadersMs = x.since(time.Now())
	x.mu.Unlock()
	rw.ResponseWriter.WriteHeader(rw.status)
	rw.observeSession(inj)
}

// observeSession opens the record's session when the head just written
// starts one that passes through Write: an event stream, or a WebSocket
// over HTTP/2 or HTTP/3, whose extended CONNECT succeeds with any 2xx
// (RFC 8441 §5, RFC 9220 §3). An HTTP/1.1 WebSocket opens in Hijack.
func (rw *responseWriter) observeSession(inj bool) {
	x := rw.x
	switch {
	case inj:
	case x.ws != nil:
		if rw.req.Method == http.MethodConnect && rw.status >= 200 && rw.status < 300 {
			rw.stream = &x.ws.toClient
			x.openSession(toolbar.RecordWebSocket)
		}
	case isEventStream(rw.req.Method, rw.status, rw.Header()):
		enc := headerValue(rw.Header(), "Content-Encoding")
		x.sse = newSSECounter(enc != "" && enc != "identity")
		rw.stream = x.sse
		x.openSession(toolbar.RecordSSE)
	}
}

// Hijack hands the client connection to reverse_proxy's tunnel after a
// 101 to a WebSocket request, observed: both directions pass untouched
// through the tunnelConn, whose flows count them, and the record is
// published as an open session. Any other hijack is the next writer's.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.ResponseWriter).Hijack()
	if err != nil || rw.x.ws == nil || rw.status != http.StatusSwitchingProtocols {
		return conn, brw, err
	}
	// The head went out with the hijack: it is the client's now.
	rw.sent = true
	rw.recordClientHeaders()
	conn = observeTunnel(conn, brw, rw.x.ws)
	rw.x.openSession(toolbar.RecordWebSocket)
	return conn, brw, nil
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	rw.bodyBytes += int64(len(p))
	if rw.stream != nil {
		n, err := rw.send(p)
		rw.stream.observe(p[:n])
		return n, err
	}
	if rw.encoded != nil {
		rw.encoded.Write(p)
		if rw.encoded.Len() > maxEncoded {
			return len(p), rw.passEncoded()
		}
		return len(p), nil
	}
	if rw.inj != nil {
		if rw.firstLen <= 0 && len(p) > 0 {
			rw.firstLen = len(p)
		}
		return rw.inj.Write(p)
	}
	return rw.send(p)
}

// send is the one way body bytes leave Tracebar. The first non-empty one
// has passed through the writers outside (encode), so the header map now
// holds what the client got.
func (rw *responseWriter) send(p []byte) (int, error) {
	n, err := rw.ResponseWriter.Write(p)
	rw.clientBytes += int64(n)
	if n > 0 && !rw.sent {
		rw.sent = true
		rw.recordClientHeaders()
	}
	return n, err
}

// recordClientHeaders notes the response head as it went out, after the
// handlers outside Tracebar changed it: encode adds Content-Encoding and
// Vary and drops Content-Length.
func (rw *responseWriter) recordClientHeaders() {
	h := rw.Header()
	client := rw.x.h.redact.Header(h)
	encoding := ""
	if ce := headerValue(h, "Content-Encoding"); ce != rw.encoding {
		encoding = ce
	}
	rw.x.mu.Lock()
	rw.x.rec.ClientResponse = client
	rw.x.rec.ClientEncoding = encoding
	rw.x.mu.Unlock()
}

// release passes the held first bytes on, the first write exactly as long
// as the upstream's (see responseWriter.first) when there is enough. With
// nothing held yet, it keeps holding: a flush before the first byte (as
// reverse_proxy does for streamed bodies) has nothing to release.
func (rw *responseWriter) release() error {
	if rw.first == nil || len(*rw.first) == 0 {
		return nil
	}
	b := *rw.first
	defer func() { putFirst(rw.first); rw.first = nil }()
	return rw.sendFirst(b)
}

// sendFirst sends b, whose first rw.firstLen bytes (at most maxFirst) in
// a write of their own: encode decides on that length as it would have on
// the upstream's.
func (rw *responseWriter) sendFirst(b []byte) error {
	if n := min(rw.firstLen, maxFirst); n > 0 && len(b) > n {
		if _, err := rw.send(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	if len(b) == 0 {
		return nil
	}
	_, err := rw.send(b)
	return err
}

// passEncoded sends the held encoded body on as it came, without the toolbar.
func (rw *responseWriter) passEncoded() error {
	b := rw.encoded.Bytes()
	rw.encoded = nil
	rw.commit(false)
	_, err := rw.send(b)
	return err
}

// FlushError drains what the injector may release, then flushes. A held
// encoded body is not flushed: nothing of it is decided yet.
func (rw *responseWriter) FlushError() error {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.encoded != nil {
		return nil
	}
	if rw.inj != nil {
		if err := rw.inj.Flush(); err != nil {
			return err
		}
		// Without Tracebar, encode would judge such a body on its
		// Content-Length, whatever was flushed: hold until that much.
		if rw.first != nil && rw.firstIsLen && len(*rw.first) < min(rw.firstLen, maxFirst) {
			return nil
		}
		if err := rw.release(); err != nil {
			return err
		}
	}
	return http.NewResponseController(rw.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that still assert it.
func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// finish ends the body and returns the error of passing it on. When the
// handler failed (err), the body is ended as received, without the
// toolbar, as it would be without Tracebar.
func (rw *responseWriter) finish(err error) error {
	var werr error
	if rw.encoded != nil {
		enc, _ := inject.Encoding(rw.Header())
		var decoded []byte
		derr := err
		if derr == nil {
			decoded, derr = inject.Decode(enc, rw.encoded.Bytes())
		}
		if derr != nil {
			werr = rw.passEncoded()
		} else {
			rw.encoded = nil
			delete(rw.Header(), "Content-Encoding")
			rw.Header()["Content-Length"] = []string{strconv.Itoa(len(decoded))}
			rw.commit(true)
			_, werr = rw.inj.Write(decoded)
		}
	}
	if rw.inj != nil {
		var ierr error
		if err != nil {
			ierr = rw.inj.Abort()
		} else {
			ierr = rw.inj.Close()
		}
		if werr == nil { // else the injector's error is the same, sticky
			werr = ierr
		}
		if rerr := rw.release(); werr == nil {
			werr = rerr
		}
		if err != nil && rw.sent {
			// A failed body ends the response (reverse_proxy aborts the
			// connection): what was received goes out first, as it would
			// have without Tracebar, where the upstream's flushes passed.
			http.NewResponseController(rw.ResponseWriter).Flush()
		}
		if rw.first != nil { // nothing was held
			putFirst(rw.first)
			rw.first = nil
		}
		rw.x.mu.Lock()
		rw.x.rec.Injected = err == nil && werr == nil && rw.inj.Inserted()
		rw.x.mu.Unlock()
	}
	if !rw.sent && rw.wroteHeader {
		rw.recordClientHeaders() // no body: the head as it is now
	}
	return werr
}

// firstWriter is the injector's output: it holds the body's first bytes
// (see responseWriter.first), then sends.
type firstWriter struct{ rw *responseWriter }

func (f firstWriter) Write(p []byte) (int, error) {
	rw := f.rw
	if rw.first == nil {
		return rw.send(p)
	}
	enough := min(rw.firstLen, maxFirst)
	if len(*rw.first) == 0 && len(p) >= enough {
		putFirst(rw.first) // nothing held: no copy
		rw.first = nil
		if err := rw.sendFirst(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	// Hold only what the first write needs: the buffer never grows past
	// maxFirst, and the rest goes on from p without a copy.
	need := enough - len(*rw.first)
	if len(p) < need {
		*rw.first = append(*rw.first, p...)
		return len(p), nil
	}
	*rw.first = append(*rw.first, p[:need]...)
	if err := rw.release(); err != nil {
		return 0, err
	}
	if len(p) > need {
		if _, err := rw.send(p[need:]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

var _ io.Writer = firstWriter{}

// firsts recycles the buffers of held first bytes.
var firsts = sync.Pool{New: func() any { b := make([]byte, 0, maxFirst); return &b }}

func getFirst() *[]byte {
	b := firsts.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

func putFirst(b *[]byte) {
	if cap(*b) <= 4*maxFirst {
		firsts.Put(b)
	}
}

// snippet is a tag inserted into the page: an external script of the
// toolbar's, naming this request and trace. toolbar.js goes before </body>
// (async); hook.js, which must run before the page's own scripts to see
// their fetches, where the head starts.
func (x *exchange) snippet(file, nonce string, async bool) []byte {
	return inject.ScriptTag(x.h.Prefix+"/static/"+file+"?v="+assets.Version, nonce, async,
		"tracebar-request", x.rec.ID, "tracebar-trace", x.rec.TraceID.String())
}
