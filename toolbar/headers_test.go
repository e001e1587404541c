package toolbar

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestHeadersMarshalAsHTTPHeader: stored headers reach the API in the
// shape http.Header has (an object of value lists), and Get finds a name
// in any case.
func TestHeadersMarshalAsHTTPHeader(t *testing.T) {
	fields := (*Redactor)(nil).Header(http.Header{"Accept": {"text/html"}, "X-Empty": {""}, "Vary": {"Origin", "Accept"}})
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil is null", Headers(nil), `null`},
		{"empty", Headers{}, `{}`},
		{"values of a name keep their order", Headers{{"Set-Cookie", "b=2"}, {"Accept", "*/*"}, {"Set-Cookie", "a=1"}}, `{"Accept":["*/*"],"Set-Cookie":["b=2","a=1"]}`},
		{"from http.Header", fields, `{"Accept":["text/html"],"Vary":["Origin","Accept"],"X-Empty":[""]}`},
		{"inside a record", struct {
			H Headers `json:"h"`
		}{Headers{{"A", "<b>"}}}, `{"h":{"A":["\u003cb\u003e"]}}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
	if got := (Headers{{"Location", "/a"}, {"Location", "/b"}}).Get("location"); got != "/a" {
		t.Errorf("Get = %q, want the first value", got)
	}
	if got := (Headers{{"Location", "/a"}}).Get("Vary"); got != "" {
		t.Errorf("Get of a missing name = %q", got)
	}
}
