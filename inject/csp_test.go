package inject

import (
	"net/http"
	"strings"
	"testing"
)

var src = Sources{
	Script: "http://localhost:8080/__tracebar/static/toolbar.js",
	Style:  "http://localhost:8080/__tracebar/static/toolbar.css",
	API:    "http://localhost:8080/__tracebar/api/",
}

func TestAllowInCSP(t *testing.T) {
	tests := []struct {
		name      string
		policies  []string
		want      []string
		wantNonce string // "own": a fresh one
	}{
		{"no policy", nil, nil, ""},
		{"self admits", []string{"default-src 'self'"}, []string{"default-src 'self'"}, ""},
		{"page nonce reused", []string{"script-src 'nonce-abc' 'unsafe-inline'; style-src 'self'; connect-src 'self'"},
			[]string{"script-src 'nonce-abc' 'unsafe-inline'; style-src 'self'; connect-src 'self'"}, "abc"},
		{"unsafe-inline page gets a URL source, not a nonce", []string{"script-src 'unsafe-inline' https://cdn.example"},
			[]string{"script-src 'unsafe-inline' https://cdn.example " + src.Script}, ""},
		{"strict-dynamic with hashes gets our nonce", []string{"script-src 'strict-dynamic' 'sha256-xyz'"},
			[]string{"script-src 'strict-dynamic' 'sha256-xyz' 'nonce-OWN'"}, "own"},
		{"none everywhere: default-src stays, specific directives take the toolbar", []string{"default-src 'none'"},
			[]string{"default-src 'none'; script-src-elem " + src.Script + "; style-src-elem " + src.Style + "; connect-src " + src.API}, ""},
		{"strict-dynamic in default-src: inline styles keep unsafe-inline", []string{"default-src 'self' 'unsafe-inline' 'strict-dynamic'"},
			[]string{"default-src 'self' 'unsafe-inline' 'strict-dynamic'; script-src-elem 'self' 'unsafe-inline' 'strict-dynamic' 'nonce-OWN'"}, "own"},
		{"connect and style limited", []string{"script-src 'self'; style-src https://cdn.example; connect-src https://api.example"},
			[]string{"script-src 'self'; style-src https://cdn.example " + src.Style + "; connect-src https://api.example " + src.API}, ""},
		{"origin source admits", []string{"default-src http://localhost:8080"}, []string{"default-src http://localhost:8080"}, ""},
		{"two policies in one field", []string{"script-src 'self', script-src https://cdn.example"},
			[]string{"script-src 'self'", "script-src https://cdn.example " + src.Script}, ""},
		{"two policies: our own nonce where a nonce is needed", []string{"script-src 'nonce-abc'", "script-src 'self'"},
			[]string{"script-src 'nonce-abc' 'nonce-OWN'", "script-src 'self'"}, "own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, p := range tt.policies {
				h.Add("Content-Security-Policy", p)
			}
			h.Set("Content-Security-Policy-Report-Only", "default-src 'none'")
			nonce := AllowInCSP(h, src)
			got := h.Values("Content-Security-Policy")
			for i := range got {
				got[i] = strings.ReplaceAll(got[i], "'nonce-"+nonce+"'", map[bool]string{true: "'nonce-OWN'", false: "'nonce-" + nonce + "'"}[tt.wantNonce == "own"])
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("policies\n got %q\nwant %q", got, tt.want)
			}
			if tt.wantNonce == "own" {
				if len(nonce) < 16 {
					t.Fatalf("nonce %q", nonce)
				}
			} else if nonce != tt.wantNonce {
				t.Fatalf("nonce %q, want %q", nonce, tt.wantNonce)
			}
			if h.Get("Content-Security-Policy-Report-Only") != "default-src 'none'" {
				t.Fatal("report-only policy changed")
			}
		})
	}
}
