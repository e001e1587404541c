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
		{"http://h/a?sid=1&tenant=t", "http://h/a?sid=1&tenant=%5Bredacted%5D"}, // "tenant" configured
		{"https://acct.blob.core.windows.net/c/b?sv=2022&sig=S1G&design=d", "https://acct.blob.core.windows.net/c/b?sv=2022&sig=%5Bredacted%5D&design=d"},
		{"/a?&token=T&&x&token=U", "/a?&token=%5Bredacted%5D&&x&token=%5Bredacted%5D"},
		{"/a?token=T", "/a?token=%5Bredacted%5D"},
		{"/a?", "/a?"},
		{"/a#", "/a#"},
		{"http://u:p@h/?a=1#b", "http://u:%5Bredacted%5D@h/?a=1#b"},
		{"/a?x=1#token=T&y", "/a?x=1#token=%5Bredacted%5D&y"},
	}
	r := NewRedactor("Tenant")
	for _, tt := range tests {
		if got := r.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactHeader(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer x"}, "Cookie": {"a=b"}, "X-Auth-Token": {"t"}, "X-Csrf-Token": {"c"},
		"X-Amz-Security-Token": {"s"}, "Private-Token": {"p"}, "X-Tenant": {"acme"}, "Accept": {"text/html"}}
	got := NewRedactor("tenant").Header(h)
	if len(got) != len(h) {
		t.Fatalf("%d fields, want %d: %v", len(got), len(h), got)
	}
	for _, f := range got {
		if want := f.Name == "Accept"; (f.Value != Redacted) == !want {
			t.Errorf("%s = %q", f.Name, f.Value)
		}
	}
	if h.Get("Cookie") != "a=b" {
		t.Fatal("Header changed its input")
	}
	loc := (*Redactor)(nil).Header(http.Header{"Location": {"/cb?token=T&x=1"}, "Referer": {"http://a/?password=p"}})
	if loc.Get("Location") != "/cb?token=%5Bredacted%5D&x=1" || loc.Get("Referer") != "http://a/?password=%5Bredacted%5D" {
		t.Fatalf("URL headers kept secrets: %v", loc)
	}
	// An HTTP/2 upstream is sent the target as the :path pseudo-header.
	h2 := (*Redactor)(nil).Fields(Headers{{":method", "GET"}, {":path", "/cb?code=C&state=s"}})
	if h2[1].Value != "/cb?code=%5Bredacted%5D&state=s" || h2[0].Value != "GET" {
		t.Fatalf("pseudo-headers: %v", h2)
	}
}

func TestRedactAttributeAndSpanName(t *testing.T) {
	r := NewRedactor("tenant")
	tests := []struct{ key, in, want string }{
		{"http.request.header.authorization", "Bearer x", Redacted},
		{"url.full", "https://api/x?api_key=K&q=shoes", "https://api/x?api_key=%5Bredacted%5D&q=shoes"},
		{"url.full", "https://u:pw@h/cb#access_token=T&state=s", "https://u:%5Bredacted%5D@h/cb#access_token=%5Bredacted%5D&state=s"},
		{"url.full", "https://user@h:8080/a#section", "https://user@h:8080/a#section"},
		{"url.query", "token=T&page=2", "token=%5Bredacted%5D&page=2"},
		{"db.query.text", "SELECT 1", "SELECT 1"},
		{"app.tenant", "acme", Redacted},
	}
	for _, tt := range tests {
		if got := r.Attribute(tt.key, tt.in); got != tt.want {
			t.Errorf("Attribute(%s, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
		}
	}
	if got := r.SpanName("GET /cb?code=c0de&x=1"); got != "GET /cb?code=%5Bredacted%5D&x=1" {
		t.Errorf("SpanName = %q", got)
	}
	if got := r.SpanName("SELECT products"); got != "SELECT products" {
		t.Errorf("SpanName changed a plain name: %q", got)
	}
}

func TestRedactSetCookieKeepsItsAttributes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sid=abc123; Path=/; HttpOnly; Secure; SameSite=Lax", "sid=[redacted]; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"theme=dark", "theme=[redacted]"},
		{" sid = x ;HttpOnly", "sid=[redacted];HttpOnly"},
		{"garbage", Redacted},
	}
	for _, tt := range tests {
		if got := (*Redactor)(nil).Fields(Headers{{"Set-Cookie", tt.in}})[0].Value; got != tt.want {
			t.Errorf("Set-Cookie %q kept as %q, want %q", tt.in, got, tt.want)
		}
	}
}
