package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tracebar/tracebar/toolbar"
)

// TestCaptureBody: a form or JSON body is captured as the upstream reads
// it, which is never changed; only a body read to the end, up to
// MaxCapturedBody bytes, gets into the record.
func TestCaptureBody(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	big := func(n int) string { // a JSON string document of n bytes
		return `"` + strings.Repeat("x", n-2) + `"`
	}
	all := io.ReadAll
	half := func(r io.Reader) ([]byte, error) {
		b := make([]byte, 8)
		n, err := io.ReadFull(r, b)
		return b[:n], err
	}
	tests := []struct {
		name, method, contentType, body string
		read                            func(io.Reader) ([]byte, error)
		want                            *toolbar.Body // nil: not captured
	}{
		{"form", "POST", form, "user=ann&password=hunter2", all, &toolbar.Body{ContentType: form, Text: "user=ann&password=%5Bredacted%5D", Redacted: true}},
		{"form read a byte at a time", "POST", form + "; charset=UTF-8", "a=1&b=2", func(r io.Reader) ([]byte, error) { return io.ReadAll(iotest.OneByteReader(r)) },
			&toolbar.Body{ContentType: form + "; charset=UTF-8", Text: "a=1&b=2"}},
		{"JSON", "PUT", "application/json", `{"id":1,"token":"t"}`, all, &toolbar.Body{ContentType: "application/json", Text: `{"id":1,"token":"[redacted]"}`, Redacted: true}},
		{"structured +json", "PATCH", "Application/Merge-Patch+JSON", `{"name":"x"}`, all, &toolbar.Body{ContentType: "Application/Merge-Patch+JSON", Text: `{"name":"x"}`}},
		{"exactly MaxCapturedBody", "POST", "application/json", big(toolbar.MaxCapturedBody), all, &toolbar.Body{ContentType: "application/json", Text: big(toolbar.MaxCapturedBody)}},
		{"one byte over MaxCapturedBody", "POST", "application/json", big(toolbar.MaxCapturedBody + 1), all, nil},
		{"read only half", "POST", form, "user=ann&password=hunter2", half, nil},
		{"invalid JSON", "POST", "application/json", `{"a":`, all, nil},
		{"form that is not UTF-8", "POST", form, "name=\xff\xfe", all, nil},
		{"multipart", "POST", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n", all, nil},
		{"text", "POST", "text/plain", "hello", all, nil},
		{"GET with a form body", "GET", form, "a=1", all, nil},
		{"DELETE with JSON", "DELETE", "application/json", `[1,2]`, all, &toolbar.Body{ContentType: "application/json", Text: `[1,2]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://127.0.0.1/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			x := &exchange{}
			x.watchBody(r)
			if _, captures := r.Body.(*captureBody); captures != (x.body != nil) || (x.body == nil && tt.want != nil) {
				t.Fatalf("body wrapped as %T, capture %v", r.Body, x.body)
			}
			got, err := tt.read(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tt.body, string(got)) || (tt.want != nil && string(got) != tt.body) {
				t.Fatalf("the upstream read %q of %q", got, tt.body)
			}
			if n := x.reqBytes.Load(); n != int64(len(got)) {
				t.Errorf("counted %d bytes, the upstream read %d", n, len(got))
			}
			var body *toolbar.Body
			if x.body != nil {
				body = x.body.finish(toolbar.NewRedactor())
			}
			switch {
			case tt.want == nil && body != nil:
				t.Fatalf("captured %+v, want nothing", body)
			case tt.want != nil && (body == nil || *body != *tt.want):
				t.Fatalf("captured %+v, want %+v", body, tt.want)
			}
		})
	}
}

// TestCaptureEmptyBody: a form POST without a body is captured as empty;
// one that was never read is not known, so not captured.
func TestCaptureEmptyBody(t *testing.T) {
	r := httptest.NewRequest("POST", "http://127.0.0.1/", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	x := &exchange{}
	x.watchBody(r)
	if r.Body != http.NoBody {
		t.Fatalf("an absent body became %T", r.Body)
	}
	if b := x.body.finish(nil); b == nil || b.Text != "" {
		t.Fatalf("captured %+v, want an empty form", b)
	}

	r = httptest.NewRequest("POST", "http://127.0.0.1/", strings.NewReader("a=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	x = &exchange{}
	x.watchBody(r)
	r.Body.Close()
	if b := x.body.finish(nil); b != nil {
		t.Fatalf("an unread body was captured: %+v", b)
	}
}

// TestCaptureStopsAtFinish: reads after the exchange ended (a transport
// still writing) change neither the captured body nor what is read.
func TestCaptureStopsAtFinish(t *testing.T) {
	r := httptest.NewRequest("POST", "http://127.0.0.1/", strings.NewReader(`{"a":1}`))
	r.Header.Set("Content-Type", "application/json")
	x := &exchange{}
	x.watchBody(r)
	if b := x.body.finish(nil); b != nil {
		t.Fatalf("captured %+v before any read", b)
	}
	got, _ := io.ReadAll(r.Body)
	if !bytes.Equal(got, []byte(`{"a":1}`)) || x.body.buf != nil {
		t.Fatalf("read %q after finish; buffer %q", got, x.body.buf)
	}
}

func TestReplayID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"00f067aa0ba902b7", "00f067aa0ba902b7"},
		{"00F067AA0BA902B7", "00f067aa0ba902b7"},
		{"00f067aa0ba902b", ""},
		{"00f067aa0ba902b7a", ""},
		{"00f067aa0ba902bz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := replayID(tt.in); got != tt.want {
			t.Errorf("replayID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
