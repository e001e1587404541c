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

func TestRedactForm(t *testing.T) {
	const r = "%5Bredacted%5D" // toolbar.Redacted, form-escaped
	tests := []struct {
		name, form, want string
		redacted         bool
	}{
		{"no secret", "q=shoes&page=2", "q=shoes&page=2", false},
		{"password and csrf token", "user=ann&password=hunter2&csrfmiddlewaretoken=abc123&next=%2Fcart",
			"user=ann&password=" + r + "&csrfmiddlewaretoken=" + r + "&next=%2Fcart", true},
		{"escaped name, kept as written", "pass%77ord=x&a+b=c+d", "pass%77ord=" + r + "&a+b=c+d", true},
		{"empty value holds no secret", "password=&a=1", "password=&a=1", false},
		{"name without a value", "token&a=1", "token&a=1", false},
		{"empty fields and a trailing separator", "a=1&&session_id=s&", "a=1&&session_id=" + r + "&", true},
		{"unicode values", "name=%C3%A9t%C3%A9&api_key=%E2%9C%93", "name=%C3%A9t%C3%A9&api_key=" + r, true},
		{"a bad escape in a name", "%zz=1&secret=2", "%zz=1&secret=" + r, true},
		{"order of repeated fields", "token=a&x=1&token=b", "token=" + r + "&x=1&token=" + r, true},
		{"empty body", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, redacted := redactForm(tt.form, toolbar.NewRedactor())
			if got != tt.want || redacted != tt.redacted {
				t.Fatalf("redactForm(%q) = %q, %v; want %q, %v", tt.form, got, redacted, tt.want, tt.redacted)
			}
		})
	}
}

func TestRedactJSON(t *testing.T) {
	const r = `"[redacted]"`
	tests := []struct {
		name, doc, want string
		redacted, ok    bool
	}{
		{"flat object", `{"user":"ann","password":"hunter2"}`, `{"user":"ann","password":` + r + `}`, true, true},
		{"spacing and key order kept", "{ \"password\" : \"x\" ,\n\t\"b\" : 1, \"a\": 2 }", "{ \"password\" : " + r + " ,\n\t\"b\" : 1, \"a\": 2 }", true, true},
		{"nested: a secret's whole value goes", `{"user":{"name":"ann","credentials":{"user":"u","pin":1}},"n":3}`,
			`{"user":{"name":"ann","credentials":` + r + `},"n":3}`, true, true},
		{"objects in arrays, at any depth", `{"items":[{"token":"t1","id":1},[{"secret":true}],{"id":2}],"total":2}`,
			`{"items":[{"token":` + r + `,"id":1},[{"secret":` + r + `}],{"id":2}],"total":2}`, true, true},
		{"top-level array", `[{"apiKey":"k"},{"name":"x"}]`, `[{"apiKey":` + r + `},{"name":"x"}]`, true, true},
		{"array value of a secret", `{"tokens":["a","b"],"x":[]}`, `{"tokens":` + r + `,"x":[]}`, true, true},
		{"numbers as written", `{"n":1e999,"big":12345678901234567890123,"password":-0.5e-3}`, `{"n":1e999,"big":12345678901234567890123,"password":` + r + `}`, true, true},
		{"null and empty hold no secret", `{"password":null,"token":""}`, `{"password":null,"token":""}`, false, true},
		{"unicode", `{"名前":"日本","password":"ünïcödé \u2713","note":"✓"}`, `{"名前":"日本","password":` + r + `,"note":"✓"}`, true, true},
		{"escaped key", `{"pass\u0077ord":"x"}`, `{"pass\u0077ord":` + r + `}`, true, true},
		{"secrets in values are not keys", `{"note":"\"password\":\"x\"","a":[1,{"b":"password"}]}`, `{"note":"\"password\":\"x\"","a":[1,{"b":"password"}]}`, false, true},
		{"empty containers", `{"a":{},"b":[],"session":{}}`, `{"a":{},"b":[],"session":` + r + `}`, true, true},
		{"repeated key", `{"token":"a","token":"b"}`, `{"token":` + r + `,"token":` + r + `}`, true, true},
		{"a scalar document", ` "password" `, ` "password" `, false, true},
		{"no secret", `{"operationName":"GetCart","variables":{"id":7}}`, `{"operationName":"GetCart","variables":{"id":7}}`, false, true},
		{"truncated", `{"password":"x"`, "", false, false},
		{"two documents", `{"a":1}{"b":2}`, "", false, false},
		{"single quotes", `{'a':1}`, "", false, false},
		{"trailing comma", `{"a":1,}`, "", false, false},
		{"empty", ``, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, redacted, ok := redactJSON([]byte(tt.doc), toolbar.NewRedactor())
			if got != tt.want || redacted != tt.redacted || ok != tt.ok {
				t.Fatalf("redactJSON(%s) = %s, %v, %v; want %s, %v, %v", tt.doc, got, redacted, ok, tt.want, tt.redacted, tt.ok)
			}
		})
	}
}

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
