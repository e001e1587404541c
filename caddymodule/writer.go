package caddymodule

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tracebar/tracebar/assets"
	"github.com/tracebar/tracebar/inject"
	"github.com/tracebar/tracebar/toolbar"
)

// maxEncoded bounds an encoded HTML body held for decoding; a larger one
// passes through untouched, without the toolbar.
const maxEncoded = 8 << 20

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
	bodyBytes   int64         // as the handler chain wrote them
	clientBytes int64         // as passed on
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

	inj := inject.Eligible(rw.req.Method, code, rw.req.Header, h)
	if enc, _ := inject.Encoding(h); inj && enc != "" {
		rw.encoded = new(bytes.Buffer)
		return // decided when the whole body is in
	}
	rw.commit(inj)
}

// commit writes the response head: the trace headers and, when injecting,
// without the headers that described the original body.
func (rw *responseWriter) commit(inj bool) {
	x := rw.x
	h := rw.Header()
	if inj {
		// The body is no longer the one these describe, and a revalidated
		// cached copy would carry a stale toolbar.
		for _, k := range []string{"Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest"} {
			h.Del(k)
		}
		nonce := inject.AllowInCSP(h, x.h.sources(rw.req))
		tail := func(metaNonce string) []byte {
			if nonce == "" { // the headers need none; a <meta> policy may
				return x.snippet("toolbar.js", metaNonce, ` async="async"`)
			}
			return x.snippet("toolbar.js", nonce, ` async="async"`)
		}
		rw.inj = inject.NewWriter(countingWriter{rw}, tail, x.snippet("hook.js", nonce, ""))
	}
	sc := x.span.SpanContext()
	tp := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
	h.Set("Traceresponse", tp)
	h.Add("Server-Timing", `traceparent;desc="`+tp+`", tracebar;desc="proxy";dur=`+strconv.FormatFloat(toolbar.Millis(time.Since(x.start)), 'f', 3, 64))
	h.Set("X-Tracebar-Request", x.h.Prefix+"/api/requests/"+x.rec.ID)
	h.Set("X-Tracebar-Link", x.h.Prefix+"/requests/"+x.rec.ID)

	client := x.h.redact.Header(h)
	x.mu.Lock()
	x.rec.Status = rw.status
	x.rec.ContentType = h.Get("Content-Type")
	x.rec.Injected = inj
	x.rec.ClientResponse = client
	x.rec.Timing.HeadersMs = x.since(time.Now())
	x.mu.Unlock()
	rw.ResponseWriter.WriteHeader(rw.status)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	rw.bodyBytes += int64(len(p))
	if rw.encoded != nil {
		rw.encoded.Write(p)
		if rw.encoded.Len() > maxEncoded {
			return len(p), rw.passEncoded()
		}
		return len(p), nil
	}
	if rw.inj != nil {
		return rw.inj.Write(p)
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.clientBytes += int64(n)
	return n, err
}

// passEncoded sends the held encoded body on as it came, without the toolbar.
func (rw *responseWriter) passEncoded() error {
	b := rw.encoded.Bytes()
	rw.encoded = nil
	rw.commit(false)
	n, err := rw.ResponseWriter.Write(b)
	rw.clientBytes += int64(n)
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
	}
	return http.NewResponseController(rw.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that still assert it.
func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// finish ends the injected body. When the handler failed, the body is
// ended as received, without the toolbar, as it would be without Tracebar.
func (rw *responseWriter) finish(err error) {
	if rw.encoded != nil {
		if err != nil {
			rw.passEncoded()
			return
		}
		enc, _ := inject.Encoding(rw.Header())
		decoded, derr := inject.Decode(enc, rw.encoded.Bytes())
		if derr != nil {
			rw.passEncoded()
			return
		}
		rw.encoded = nil
		rw.Header().Del("Content-Encoding")
		rw.commit(true)
		rw.inj.Write(decoded)
	}
	if rw.inj == nil {
		return
	}
	if err != nil {
		rw.inj.Abort()
	} else {
		rw.inj.Close()
	}
	rw.x.mu.Lock()
	rw.x.rec.Injected = err == nil
	rw.x.mu.Unlock()
}

type countingWriter struct{ rw *responseWriter }

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.rw.ResponseWriter.Write(p)
	c.rw.clientBytes += int64(n)
	return n, err
}

var _ io.Writer = countingWriter{}

// snippet is a tag inserted into the page: an external script of the
// toolbar's, with the nonce the page's Content-Security-Policy needs, if any.
// toolbar.js goes before </body>; hook.js, which must run before the page's
// own scripts to see their fetches, right after <head>.
func (x *exchange) snippet(file, nonce, attrs string) []byte {
	if nonce != "" {
		attrs += ` nonce="` + html.EscapeString(nonce) + `"`
	}
	return []byte(`<script src="` + html.EscapeString(x.h.Prefix) + `/static/` + file + `?v=` + assets.Version + `" data-tracebar-request="` + x.rec.ID +
		`" data-tracebar-trace="` + x.rec.TraceID + `"` + attrs + `></script>`)
}

// sources are the URLs the toolbar loads from the page's origin, for CSP.
// A Host that is not a plain host[:port] yields none (no CSP rewrite).
func (h *Handler) sources(r *http.Request) inject.Sources {
	if strings.Trim(r.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != "" {
		return inject.Sources{}
	}
	origin := "http://" + r.Host
	if r.TLS != nil {
		origin = "https://" + r.Host
	}
	base := origin + h.Prefix
	return inject.Sources{Script: base + "/static/", Style: base + "/static/toolbar.css", API: base + "/"}
}
