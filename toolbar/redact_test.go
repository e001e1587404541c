package toolbar

import (
	"net/http"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a", "/a"},
		{"/a?x=1&y=2", "/a?x=1&y=2"},
		{"/cb?code=SECRET&state=s", "/cb?code=%5Bredacted%5D&state=s"},
		{"/a?access_token=T&Api_Key=K&flag", "/a?access_token=%5Bredacted%5D&Api_Key=%5Bredacted%5D&flag"},
		{"/a?pass%77ord=p", "/a?pass%77ord=%5Bredacted%5D"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactHeader(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer x"}, "Cookie": {"a=b"}, "X-Auth-Token": {"t"}, "X-Csrf-Token": {"c"},
		"X-Amz-Security-Token": {"s"}, "Private-Token": {"p"}, "Accept": {"text/html"}}
	got := RedactHeader(h)
	for k, v := range got {
		if want := k == "Accept"; (v[0] != Redacted) == !want {
			t.Errorf("%s = %q", k, v[0])
		}
	}
	if h.Get("Cookie") != "a=b" {
		t.Fatal("RedactHeader changed its input")
	}
}
