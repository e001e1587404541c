package inject

import "testing"

func TestScriptTagEscapesEveryValue(t *testing.T) {
	got := string(ScriptTag(`/p"x/static/toolbar.js?v=1&a=2`, `n"1`, true, "tracebar-request", `<r>`, "tracebar-trace", "t"))
	want := `<script src="/p&#34;x/static/toolbar.js?v=1&amp;a=2" data-tracebar-request="&lt;r&gt;" data-tracebar-trace="t" async="async" nonce="n&#34;1"></script>`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := string(ScriptTag("/h.js", "", false)); got != `<script src="/h.js"></script>` {
		t.Fatalf("got %s", got)
	}
}

func TestSourcesAt(t *testing.T) {
	tests := []struct {
		host string
		tls  bool
		want Sources
	}{
		{"localhost:8080", false, Sources{"http://localhost:8080/__tb/static/", "http://localhost:8080/__tb/static/toolbar.css", "http://localhost:8080/__tb/"}},
		{"[::1]:443", true, Sources{"https://[::1]:443/__tb/static/", "https://[::1]:443/__tb/static/toolbar.css", "https://[::1]:443/__tb/"}},
		{"evil.test; script-src *", false, Sources{}},
		{"a'b", false, Sources{}},
		{"", false, Sources{}},
	}
	for _, tt := range tests {
		if got := SourcesAt(tt.host, tt.tls, "/__tb"); got != tt.want {
			t.Errorf("SourcesAt(%q) = %+v, want %+v", tt.host, got, tt.want)
		}
	}
}
