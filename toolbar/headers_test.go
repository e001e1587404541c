package toolbar

import (
	"encoding/json"
	"net/http"
	"slices"
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

func TestHeadersValues(t *testing.T) {
	h := Headers{{"Set-Cookie", "a=1"}, {"Accept", "*/*"}, {"Set-Cookie", "b=2"}, {":path", "/x"}}
	tests := []struct {
		name string
		want []string
	}{
		{"Set-Cookie", []string{"a=1", "b=2"}},
		{"set-cookie", []string{"a=1", "b=2"}},
		{"ACCEPT", []string{"*/*"}},
		{":path", []string{"/x"}},
		{"Vary", nil},
	}
	for _, tt := range tests {
		if got := h.Values(tt.name); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("Values(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
