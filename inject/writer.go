package inject

import (
	"bytes"
	"io"
	"sync"
)

// Limits bounding a Writer's memory.
const (
	// maxHold is how many bytes from a candidate insertion point on are held
	// back waiting for a later one; past it the snippet goes in at the
	// candidate and the rest streams.
	maxHold = 256 << 10
	// maxToken bounds one unfinished tag. Past it, scanning stops and what
	// is classified so far decides.
	maxToken = 1 << 20
)

// Writer streams an HTML document to an underlying writer and inserts a
// snippet once: before the last </body> end tag, else before the last
// </html> end tag, else at the end. An optional head snippet goes where
// the head starts, if that is not past the other point, so a script there
// runs before the page's own: right after a <head> start tag, or where the
// parser implies the head (<head> is optional in HTML): before the first
// token that is not a doctype, comment, whitespace or <html>. Tags are recognised
// as the golang.org/x/net/html tokenizer recognises them, so one inside a
// comment, a script or another raw-text element does not count. All other
// bytes pass unchanged.
//
// Bytes are held back only while they may follow the insertion point, so
// memory stays bounded and a flushed head reaches the client at once.
// Close must be called at the end of the body.
type Writer struct {
	dst     io.Writer
	snippet func(metaNonce string) []byte
	head    []byte // head snippet not yet inserted

	buf       []byte  // received, not yet written; buf[0] is at stream offset base
	own       *[]byte // storage for buf between writes, from bufs
	base      int64
	sc        scanner
	gaveUp    bool // a tag longer than maxToken: no more scanning
	inserted  bool // the snippet went in, or Abort passed the rest on
	snippetIn bool
	err       error // sticky write error of dst

	pad   int // bytes the output has beyond the input, or -1 (see Pad)
	added int // bytes of snippets written so far
}

// NewWriter returns a Writer that writes to dst, inserting the snippet and,
// when not nil, head. The snippet is made when it is inserted, given the
// script nonce of a <meta http-equiv="Content-Security-Policy"> seen
// before that point (or ""), so the toolbar can carry it.
func NewWriter(dst io.Writer, snippet func(metaNonce string) []byte, head []byte) *Writer {
	return &Writer{dst: dst, snippet: snippet, head: head, sc: newScanner(), pad: -1}
}

// Pad makes a complete document's output exactly n bytes longer than its
// input, so that a response keeps its Content-Length: under chunked
// encoding, net/http writes each chunk with two system calls, which made
// the proxy's CPU per page about 12 % higher. n must be at least the head
// snippet's length plus the snippet's with no nonce; spaces make up the
// rest, inside the snippet's start tag (before its first '>', which a
// tag whose attribute values are escaped has only there), or at the end
// of an XML document that gets none. A <meta> nonce that does not fit
// leaves the snippet without it. Call Pad before the first Write; Abort
// pads nothing, as the document is cut short anyway.
func (w *Writer) Pad(n int) { w.pad = n }

// XML reads the document as XML (application/xhtml+xml): the head snippet
// goes only after a literal <head> start tag, as nothing may stand before
// the root element; a self-closing tag is empty; and without </body> or
// </html> no snippet goes in, as nothing may follow the root element.
// Call it before the first Write.
func (w *Writer) XML() { w.sc.xml = true }

// Write takes the next bytes of the document. Bytes that can go on at
// once are written straight from p; only a held tail is copied.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.inserted {
		return w.write(p)
	}
	aliased := len(w.buf) == 0
	if aliased {
		w.buf = p // scanned in place; never modified
	} else {
		w.keep(p)
	}
	if !w.gaveUp {
		w.sc.scan(w.buf, w.base, false)
		w.gaveUp = w.base+int64(len(w.buf))-w.sc.pos > maxToken
	}
	err := w.forward(false)
	if aliased && !w.inserted && len(w.buf) > 0 {
		w.keep(nil) // the held tail must not point into the caller's p
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Inserted reports whether the snippet went in (after Close): not after
// Abort, nor for an XML document without </body> or </html>.
func (w *Writer) Inserted() bool { return w.snippetIn }

// Flush writes out every byte that cannot follow the insertion point.
// The caller flushes the underlying writer.
func (w *Writer) Flush() error { return w.forward(false) }

// Close ends the document: the snippet is inserted at the best point seen
// and everything held is written. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.inserted || w.err != nil {
		return w.err
	}
	if !w.gaveUp {
		w.sc.scan(w.buf, w.base, true)
	}
	return w.forward(true)
}

// Abort ends the document without the snippet: held bytes are written
// unchanged, so a failed body reaches the client as it was received.
func (w *Writer) Abort() error {
	if w.inserted || w.err != nil {
		return w.err
	}
	w.inserted = true
	_, err := w.writeBuf(w.base + int64(len(w.buf)))
	w.release()
	return err
}

// forward writes what is safe to write. At the end of input (final) it also
// inserts the snippet.
func (w *Writer) forward(final bool) error {
	if w.inserted || w.err != nil {
		return w.err
	}
	end := w.base + int64(len(w.buf))
	hold := w.sc.body
	if hold < 0 {
		hold = w.sc.htmlEnd
	}
	if w.head != nil && w.sc.head >= 0 && (hold < 0 || w.sc.head <= hold) {
		if err := w.insertHead(); err != nil {
			return err
		}
	}
	switch {
	case final && hold < 0 && w.sc.xml:
		if err := w.Abort(); err != nil || w.pad < 0 {
			return err
		}
		_, err := w.write(spaces(w.pad - w.added))
		return err
	case final:
		if hold < 0 {
			hold = end
		}
		return w.insertAt(hold)
	case hold >= 0 && end-hold > maxHold:
		return w.insertAt(hold)
	}
	safe := w.sc.pos
	if w.gaveUp {
		safe = end
	}
	if hold >= 0 && hold < safe {
		safe = hold
	}
	_, err := w.writeBuf(safe)
	return err
}

// insertHead writes up to the end of the <head> start tag, then the head
// snippet. Nothing past that point was written before the scanner saw it.
func (w *Writer) insertHead() error {
	if _, err := w.writeBuf(w.sc.head); err != nil {
		return err
	}
	_, err := w.write(w.head)
	w.added += len(w.head)
	w.head = nil
	return err
}

func (w *Writer) insertAt(at int64) error {
	if w.head != nil && w.sc.head >= 0 && w.sc.head <= at {
		if err := w.insertHead(); err != nil {
			return err
		}
	}
	w.head = nil // a <head> after the insertion point gets nothing
	if _, err := w.writeBuf(at); err != nil {
		return err
	}
	w.inserted, w.snippetIn = true, true
	nonce := w.sc.metaNonce
	if w.sc.metaAt > at { // a policy after the snippet does not govern it
		nonce = ""
	}
	snippet := w.snippet(nonce)
	if w.pad >= 0 {
		room := w.pad - w.added
		if len(snippet) > room {
			snippet = w.snippet("")
		}
		snippet = padTag(snippet, room-len(snippet))
	}
	if _, err := w.write(snippet); err != nil {
		return err
	}
	_, err := w.writeBuf(w.base + int64(len(w.buf)))
	w.release()
	return err
}

// padTag returns tag with n spaces before its first '>', or after it
// when it has none.
func padTag(tag []byte, n int) []byte {
	if n <= 0 {
		return tag
	}
	at := bytes.IndexByte(tag, '>')
	if at < 0 {
		at = len(tag)
	}
	out := make([]byte, 0, len(tag)+n)
	out = append(out, tag[:at]...)
	out = append(out, spaces(n)...)
	return append(out, tag[at:]...)
}

// spaces returns n spaces.
func spaces(n int) []byte { return bytes.Repeat([]byte{' '}, max(n, 0)) }

// keep moves the held bytes, then more, into the Writer's own buffer.
// buf lies in own or in the caller's memory: either way the copy moves it
// to the front of own.
func (w *Writer) keep(more []byte) {
	if w.own == nil {
		w.own = getBuf()
	}
	*w.own = append(append((*w.own)[:0], w.buf...), more...)
	w.buf = *w.own
}

// release returns the buffer once nothing more is held.
func (w *Writer) release() {
	w.buf = nil
	if w.own != nil {
		putBuf(w.own)
		w.own = nil
	}
}

// bufs recycles held-byte buffers between responses. It holds pointers,
// so a Put allocates nothing (staticcheck SA6002).
var bufs sync.Pool

func getBuf() *[]byte {
	if b, ok := bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func putBuf(b *[]byte) {
	if cap(*b) <= maxHold+64<<10 {
		bufs.Put(b)
	}
}

// writeBuf writes buffered bytes up to stream offset upto.
func (w *Writer) writeBuf(upto int64) (int, error) {
	n := int(upto - w.base)
	if n <= 0 {
		return 0, nil
	}
	_, err := w.write(w.buf[:n])
	w.base += int64(n)
	w.buf = w.buf[n:]
	return n, err
}

func (w *Writer) write(p []byte) (int, error) {
	n, err := w.dst.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
	}
	return n, err
}
