package inject

import (
	"bytes"
	"io"
	"sync"

	"golang.org/x/net/html"
)

// Limits bounding a Writer's memory.
const (
	// maxHold is how many bytes from a candidate insertion point on are held
	// back waiting for a later one; past it the snippet goes in at the
	// candidate and the rest streams.
	maxHold = 256 << 10
	// maxToken bounds the tokenizer's buffer (one token). A longer token
	// ends tokenizing: what is classified so far decides.
	maxToken = 1 << 20
)

// Writer streams an HTML document to an underlying writer and inserts a
// snippet once: before the last </body> end tag, else before the last
// </html> end tag, else at the end. End tags are recognised by the
// golang.org/x/net/html tokenizer, so one inside a comment, a script or
// another raw-text element does not count. All other bytes pass unchanged.
//
// Bytes are held back only while they may follow the insertion point, so
// memory stays bounded and a flushed head reaches the client at once.
// Close must be called at the end of the body.
type Writer struct {
	dst     io.Writer
	snippet []byte

	buf      []byte // received, not yet written; buf[0] is at stream offset base
	base     int64
	inserted bool
	err      error // sticky write error of dst

	// The tokenizer runs in its own goroutine and pulls bytes through feed;
	// after consuming a chunk it reports on idle what it has classified.
	feed    chan []byte
	idle    chan scan
	scanned scan
	tokDone bool
	once    sync.Once
}

// scan is the tokenizer's view: every byte before committed is classified,
// body and htmlEnd are offsets of the last </body> and </html> end tags (-1: none).
type scan struct {
	committed     int64
	body, htmlEnd int64
	done          bool // the tokenizer stopped (end of input or a token too long)
}

// NewWriter returns a Writer that writes to dst.
func NewWriter(dst io.Writer, snippet []byte) *Writer {
	w := &Writer{
		dst:     dst,
		snippet: snippet,
		feed:    make(chan []byte),
		idle:    make(chan scan),
		scanned: scan{body: -1, htmlEnd: -1},
	}
	go w.tokenize()
	return w
}

// Write takes the next bytes of the document.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.inserted {
		return w.write(p)
	}
	w.buf = append(w.buf, p...)
	if !w.tokDone {
		chunk := append([]byte(nil), p...) // the tokenizer owns its copy
		w.feed <- chunk
		w.scanned = <-w.idle
		w.tokDone = w.scanned.done
	}
	if err := w.forward(false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out every byte that cannot follow the insertion point.
// The caller flushes the underlying writer.
func (w *Writer) Flush() error { return w.forward(false) }

// Close ends the document: the snippet is inserted at the best point seen
// and everything held is written. It does not close the underlying writer.
func (w *Writer) Close() error {
	w.stop()
	if w.inserted {
		return w.err
	}
	return w.forward(true)
}

// Abort ends the document without the snippet: held bytes are written
// unchanged, so a failed body reaches the client as it was received.
func (w *Writer) Abort() error {
	w.stop()
	if w.inserted || w.err != nil {
		return w.err
	}
	w.inserted = true
	_, err := w.writeBuf(w.base + int64(len(w.buf)))
	return err
}

func (w *Writer) stop() {
	w.once.Do(func() {
		close(w.feed)
		if !w.tokDone {
			w.scanned = <-w.idle
			w.tokDone = true
		}
	})
}

// forward writes what is safe to write. At the end of input (final) it also
// inserts the snippet.
func (w *Writer) forward(final bool) error {
	if w.inserted || w.err != nil {
		return w.err
	}
	s := w.scanned
	end := w.base + int64(len(w.buf))
	hold := s.body
	if hold < 0 {
		hold = s.htmlEnd
	}
	switch {
	case final:
		at := end
		if hold >= 0 {
			at = hold
		}
		return w.insertAt(at)
	case hold >= 0 && end-hold > maxHold:
		return w.insertAt(hold)
	case s.done && hold < 0:
		// The tokenizer gave up (token too long) without a candidate:
		// insert at the end, streaming meanwhile.
		_, err := w.writeBuf(end)
		return err
	}
	// Unclassified bytes may hold the start of a tag: keep them from the
	// first '<' on.
	safe := end
	if !s.done {
		safe = max(s.committed, w.base)
		if i := bytes.IndexByte(w.buf[safe-w.base:], '<'); i >= 0 {
			safe += int64(i)
		} else {
			safe = end
		}
	}
	if hold >= 0 && hold < safe {
		safe = hold
	}
	_, err := w.writeBuf(safe)
	return err
}

func (w *Writer) insertAt(at int64) error {
	if _, err := w.writeBuf(at); err != nil {
		return err
	}
	w.inserted = true
	if _, err := w.write(w.snippet); err != nil {
		return err
	}
	_, err := w.writeBuf(w.base + int64(len(w.buf)))
	w.buf = nil
	return err
}

// writeBuf writes buffered bytes up to stream offset upto.
func (w *Writer) writeBuf(upto int64) (int, error) {
	n := int(upto - w.base)
	if n <= 0 {
		return 0, nil
	}
	_, err := w.write(w.buf[:n])
	w.base += int64(n)
	w.buf = append(w.buf[:0], w.buf[n:]...)
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

// tokenize runs the x/net/html tokenizer over the fed bytes.
func (w *Writer) tokenize() {
	st := scan{body: -1, htmlEnd: -1}
	r := &feedReader{w: w, st: &st}
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxToken)
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := z.Raw()
		if tt == html.EndTagToken {
			switch name := endTagName(raw); {
			case bytes.EqualFold(name, []byte("body")):
				st.body = st.committed
			case bytes.EqualFold(name, []byte("html")):
				st.htmlEnd = st.committed
			}
		}
		st.committed += int64(len(raw))
	}
	// The writer waits for exactly one report: at the end of input, or on
	// the chunk the tokenizer stopped in (a token too long). In the latter
	// case it sends nothing more; wait for Close.
	st.done = true
	w.idle <- st
	if !r.closed {
		for range w.feed {
		}
	}
}

// endTagName returns the name of the raw end tag "</name ...>" as the
// tokenizer delimits it (TagName would allocate a lowercased copy).
func endTagName(raw []byte) []byte {
	name := raw[min(2, len(raw)):]
	if i := bytes.IndexAny(name, " \t\n\r\f/>"); i >= 0 {
		name = name[:i]
	}
	return name
}

// feedReader hands the tokenizer fed chunks; when it has none it reports
// the scan so far and waits for the next chunk.
type feedReader struct {
	w      *Writer
	st     *scan
	cur    []byte
	fed    bool
	closed bool
}

func (r *feedReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.closed {
			return 0, io.EOF
		}
		if r.fed {
			r.w.idle <- *r.st
		}
		chunk, ok := <-r.w.feed
		if !ok {
			r.closed = true
			return 0, io.EOF
		}
		r.cur, r.fed = chunk, true
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
