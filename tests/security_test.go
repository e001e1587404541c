package tests

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// anyHostCaddyfile serves every Host name on the site's port, as a
// catch-all site does: only Tracebar's own Host check guards the toolbar.
func anyHostCaddyfile(e *env, options string) string {
	_, port, _ := net.SplitHostPort(e.site)
	return strings.Replace(strings.Replace(basicCaddyfile, "http://{site} {", "http://:"+port+" {\n\tbind 127.0.0.1", 1),
		"\ttracebar\n", "\ttracebar {\n"+options+"\t}\n", 1)
}

// TestDNSRebindingGuard: a page whose Host is another site's name (DNS
// rebinding to 127.0.0.1) is proxied as without Tracebar, and the
// toolbar's API is not served to it; a name listed in hosts gets both.
func TestDNSRebindingGuard(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, anyHostCaddyfile(e, "\t\thosts shop.example.test Other.test:8080\n"), app)
	do := func(host, path string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", e.base+path, nil)
		req.Host = host
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	tests := []struct {
		host    string
		toolbar bool
	}{
		{"evil.example", false},
		{"evil.example:80", false},
		{"localhost", true},
		{"app.localhost", true},
		{"127.0.0.1", true},
		{"[::1]:8080", true},
		{"shop.example.test", true},
		{"SHOP.example.test.", true},
		{"other.test", true}, // listed with a port: the port does not matter
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			resp, body := do(tt.host, "/")
			if got := resp.Header.Get("Traceresponse") != "" && toolbarTagRE.Match(body); got != tt.toolbar {
				t.Fatalf("toolbar %v, want %v", got, tt.toolbar)
			}
			api, _ := do(tt.host, "/__tracebar/api/requests")
			if got := api.StatusCode == 200 && api.Header.Get("Content-Type") == "application/json"; got != tt.toolbar {
				t.Fatalf("API served %v (status %d), want %v", got, api.StatusCode, tt.toolbar)
			}
		})
	}
}

// TestSecretMode: with a secret, only a browser that visited
// <prefix>/enable gets the toolbar; the cookie is HttpOnly and
// SameSite=Strict, never holds the secret, and never reaches the upstream.
func TestSecretMode(t *testing.T) {
	var mu sync.Mutex
	var cookies []string // Cookie headers as the upstream got them
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cookies = append(cookies, r.Header.Get("Cookie"))
		mu.Unlock()
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body><p>app</p></body></html>")
	}))
	defer upstream.Close()
	e := newEnv(t)
	e.startCaddy(t, strings.Replace(basicCaddyfile, "\ttracebar\n", "\ttracebar {\n\t\tsecret {env.TB_SECRET}\n\t}\n", 1),
		strings.TrimPrefix(upstream.URL, "http://"), "TB_SECRET=s3cret-value-for-tests")

	resp, body := get(t, e.base+"/", "Accept", "text/html")
	if resp.Header.Get("Traceresponse") != "" || tagRE.Match(body) {
		t.Fatal("toolbar on without the cookie")
	}
	if resp, _ := get(t, e.base+"/__tracebar/api/requests"); resp.StatusCode != 404 {
		t.Fatalf("API answered without the cookie: status %d (want the upstream's 404)", resp.StatusCode)
	}

	// <prefix>/enable without a secret is a form that posts it, so the
	// secret stays out of URLs and access logs; it is no wrong guess.
	form, body := get(t, e.base+"/__tracebar/enable")
	if form.StatusCode != 200 || !strings.Contains(string(body), `<form method="post">`) || len(form.Cookies()) != 0 ||
		!strings.Contains(form.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("enable form: status %d, CSP %q, cookies %v:\n%s", form.StatusCode, form.Header.Get("Content-Security-Policy"), form.Cookies(), body)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// A post that is not the form is refused, and is no guess either: after
	// more of them than the guesses allowed, the right secret still works.
	var malformed []string
	for range 4 {
		malformed = append(malformed, "", "other=1", "secret="+strings.Repeat("x", 5000))
	}
	for _, body := range malformed {
		bad, err := noRedirect.Post(e.base+"/__tracebar/enable", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		bad.Body.Close()
		if bad.StatusCode != 400 {
			t.Fatalf("post %.20q: status %d, want 400", body, bad.StatusCode)
		}
	}
	var cs []*http.Cookie
	for _, how := range []string{"form post", "query"} {
		var ok *http.Response
		var err error
		if how == "form post" {
			ok, err = noRedirect.PostForm(e.base+"/__tracebar/enable", url.Values{"secret": {"s3cret-value-for-tests"}})
		} else {
			ok, err = noRedirect.Get(e.base + "/__tracebar/enable?secret=s3cret-value-for-tests")
		}
		if err != nil {
			t.Fatal(err)
		}
		ok.Body.Close()
		cs = ok.Cookies()
		if ok.StatusCode != 303 || len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || strings.Contains(cs[0].Value, "s3cret") {
			t.Fatalf("enable by %s: status %d, cookies %+v", how, ok.StatusCode, cs)
		}
	}

	// Wrong guesses get 403, and after ten in a minute, 429.
	var codes []int
	for i := 0; i < 11; i++ {
		bad, err := noRedirect.PostForm(e.base+"/__tracebar/enable", url.Values{"secret": {"guess"}})
		if err != nil {
			t.Fatal(err)
		}
		bad.Body.Close()
		if len(bad.Cookies()) != 0 {
			t.Fatal("a wrong secret set a cookie")
		}
		codes = append(codes, bad.StatusCode)
	}
	if codes[0] != 403 || codes[9] != 403 || codes[10] != 429 {
		t.Fatalf("wrong secrets answered %v, want 403 x10 then 429", codes)
	}

	cookie := cs[0].Name + "=" + cs[0].Value
	resp, body = get(t, e.base+"/", "Accept", "text/html", "Cookie", "app=1; "+cookie)
	if resp.Header.Get("Traceresponse") == "" || !toolbarTagRE.Match(body) {
		t.Fatal("toolbar off with the cookie")
	}
	mu.Lock()
	defer mu.Unlock()
	if got := cookies[len(cookies)-1]; got != "app=1" {
		t.Fatalf("upstream got Cookie %q, want the app's cookie only", got)
	}
}
