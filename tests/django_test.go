package tests

// A real Django app (tests/django, on Debian's python3-django 3.2) behind a
// real Caddy with Tracebar, driven in headless Chromium the way a Django
// developer works: the admin's login (redirect, CSRF, session), saving a
// form, a page with an N+1, and DEBUG's error pages.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	// djangoPython is Debian's Python, the one python3-django is installed
	// for (a pyenv python3 may come first on PATH).
	djangoPython = "/usr/bin/python3"

	djangoUser     = "admin"
	djangoPassword = "Tr4cebar-pw-9f1c2e" // distinctive, to search the records for it
)

// startDjango runs the project in tests/django on a fresh sqlite database
// in a temp dir: migrate, the library fixture (3 authors, 4 books), the
// superuser djangoUser/djangoPassword, then the development server. It
// returns the server's host:port.
func startDjango(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command(djangoPython, "-c", "import django").CombinedOutput(); err != nil {
		t.Fatalf("python3-django not installed for %s (%v: %s): tests/run.sh installs it (apt-get install python3-django)", djangoPython, err, out)
	}
	project, err := filepath.Abs("django")
	if err != nil {
		t.Fatal(err)
	}
	manage := filepath.Join(project, "manage.py")
	env := []string{
		"TRACEBAR_DJANGO_DATA=" + t.TempDir(), // settings.py puts db.sqlite3 there
		"PYTHONDONTWRITEBYTECODE=1",           // no __pycache__ in the checkout
		"PYTHONUNBUFFERED=1",                  // the server's log lines as they happen
		"DJANGO_SUPERUSER_USERNAME=" + djangoUser,
		"DJANGO_SUPERUSER_PASSWORD=" + djangoPassword,
		"DJANGO_SUPERUSER_EMAIL=admin@example.com",
	}
	for _, args := range [][]string{
		{"migrate", "--noinput"},
		{"loaddata", "library"},
		{"createsuperuser", "--noinput"},
	} {
		cmd := exec.Command(djangoPython, append([]string{manage}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("manage.py %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// --noreload: one process, which the test's interrupt stops.
	// --nothreading: Django 3.2's server sends a body after a HEAD
	// response; it then closes each connection (Connection: close), so
	// those bytes cannot reach the proxy's next response.
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := start(t, env, djangoPython, manage, "runserver", addr, "--noreload", "--nothreading")
	waitListening(t, addr, cmd)
	return addr
}

// djangoSite runs Django behind Caddy with Tracebar, compression in front
// (Caddyfile.example's shape), and returns the environment.
func djangoSite(t *testing.T) *env {
	t.Helper()
	app := startDjango(t)
	e := newEnv(t)
	e.startCaddy(t, demoCaddyfile, app)
	return e
}

// toolbarShown is true once the page's toolbar loaded its record and shows
// its badge.
const toolbarShown = `host.dataset.state === 'ready' && root.querySelector('.tb-badge') && root.querySelector('.tb-badge').offsetParent !== null`

// adminLogin opens /admin/, is sent to the login form, types the
// credentials and submits; it returns when the admin index is shown.
func (b browserTab) adminLogin(base string) {
	b.t.Helper()
	b.navigate(base + "/admin/")
	b.wait("the login form with the toolbar", `location.pathname === '/admin/login/' && document.querySelector('input[name=csrfmiddlewaretoken]') && `+toolbarShown)
	if err := chromedp.Do(b.ctx,
		chromedp.SendKeys(chromedp.CSS("#id_username"), djangoUser),
		chromedp.SendKeys(chromedp.CSS("#id_password"), djangoPassword),
		chromedp.Click(chromedp.CSS(`#login-form input[type=submit]`)),
	); err != nil {
		b.fail("logging in: %v", err)
	}
	b.wait("the admin index with the toolbar", `location.pathname === '/admin/' && document.body.textContent.includes('Site administration') && `+toolbarShown)
}

// browserCookies returns the tab's cookies for its current URL, HttpOnly
// ones included.
func browserCookies() chromedp.Action[[]*network.Cookie] {
	return func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{})
		return res.Cookies, err
	}
}

// recordSummary is a history entry of /__tracebar/api/requests.
type recordSummary struct {
	ID, TraceID, Method, URL, Location, ContentType string
	Status                                          int
	Done, Injected                                  bool
}

func recentRecords(t *testing.T, base string) []recordSummary {
	t.Helper()
	resp, body := get(t, base+"/__tracebar/api/requests?limit=50")
	var out []recordSummary
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("/__tracebar/api/requests: %d %.300s", resp.StatusCode, body)
	}
	return out
}

// findRecord returns the newest record of method and URL (path and query).
func findRecord(t *testing.T, recs []recordSummary, method, url string) recordSummary {
	t.Helper()
	for _, r := range recs {
		if r.Method == method && r.URL == url {
			return r
		}
	}
	var seen []string
	for _, r := range recs {
		seen = append(seen, fmt.Sprintf("%s %s %d", r.Method, r.URL, r.Status))
	}
	t.Fatalf("no record of %s %s; records:\n  %s", method, url, strings.Join(seen, "\n  "))
	return recordSummary{}
}

// TestDjangoAdminLoginFlow logs into Django's admin in the browser: /admin/
// redirects to the login form, which carries the toolbar, the csrftoken
// cookie and the form's token; the POST passes the CSRF check and redirects
// to the admin index, which carries the toolbar. The proxy recorded the
// POST as a 302 with its secrets redacted (no password, no session or CSRF
// cookie value anywhere in the stored records or the trace), and the
// toolbar lists that POST as the one redirect that led to the index.
func TestDjangoAdminLoginFlow(t *testing.T) {
	e := djangoSite(t)
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/admin/")
	b.wait("the login form with the toolbar", `location.pathname === '/admin/login/' && document.querySelector('#login-form') && `+toolbarShown)
	if got := b.str(`location.search`); got != "?next=/admin/" {
		b.fail("/admin/ redirected to /admin/login/%s, want ?next=/admin/", got)
	}
	if !strings.Contains(b.str(`document.cookie`), "csrftoken=") {
		b.fail("no csrftoken cookie on the login form: %q", b.str(`document.cookie`))
	}
	if b.str(`(document.querySelector('#login-form input[name=csrfmiddlewaretoken]') || {}).value || ''`) == "" {
		b.fail("the login form has no csrfmiddlewaretoken")
	}
	b.wait("the badge shows the form's 200", `root.querySelector('.tb-badge').textContent.includes('200')`)
	first := findRecord(t, recentRecords(t, e.base), "GET", "/admin/")
	if first.Status != 302 || first.Location != "/admin/login/?next=/admin/" {
		t.Fatalf("GET /admin/ recorded as %d to %q, want 302 to /admin/login/?next=/admin/", first.Status, first.Location)
	}

	// Type and submit, as a user does.
	if err := chromedp.Do(b.ctx,
		chromedp.SendKeys(chromedp.CSS("#id_username"), djangoUser),
		chromedp.SendKeys(chromedp.CSS("#id_password"), djangoPassword),
		chromedp.Click(chromedp.CSS(`#login-form input[type=submit]`)),
	); err != nil {
		b.fail("logging in: %v", err)
	}
	b.wait("the admin index with the toolbar", `location.pathname === '/admin/' && `+toolbarShown)
	if text := b.str(`document.body.textContent`); !strings.Contains(text, "Site administration") || !strings.Contains(text, "Authors") || strings.Contains(text, "CSRF verification failed") {
		b.fail("the admin index is not shown after the login: %.500s", text)
	}
	b.wait("the badge shows the index's 200", `root.querySelector('.tb-badge').textContent.includes('200')`)

	// The proxy's records: the POST is a 302 to the index, no 403 anywhere.
	recs := recentRecords(t, e.base)
	post := findRecord(t, recs, "POST", "/admin/login/?next=/admin/")
	if post.Status != 302 || post.Location != "/admin/" {
		t.Fatalf("the login POST recorded as %d to %q, want 302 to /admin/", post.Status, post.Location)
	}
	for _, r := range recs {
		if r.Status == http.StatusForbidden {
			t.Fatalf("%s %s answered 403 (CSRF check failed?)", r.Method, r.URL)
		}
	}
	if index := findRecord(t, recs, "GET", "/admin/"); index.Status != 200 || !index.Injected {
		t.Fatalf("the admin index recorded as %d, injected %v", index.Status, index.Injected)
	}

	// No secret is stored: not the password (the POST's body), nor the
	// values of the session and CSRF cookies (Cookie, Set-Cookie).
	cookies, err := chromedp.Run(b.ctx, browserCookies())
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"the password": djangoPassword}
	for _, c := range cookies {
		if c.Name == "sessionid" || c.Name == "csrftoken" {
			secrets["the "+c.Name+" cookie"] = c.Value
		}
	}
	if secrets["the sessionid cookie"] == "" {
		t.Fatalf("no sessionid cookie after the login: %v", cookies)
	}
	var full struct {
		ClientRequest  map[string][]string `json:"clientRequestHeaders"`
		ClientResponse map[string][]string `json:"clientResponseHeaders"`
	}
	_, postJSON := get(t, e.base+"/__tracebar/api/requests/"+post.ID)
	if err := json.Unmarshal(postJSON, &full); err != nil {
		t.Fatalf("the POST's record: %v: %.300s", err, postJSON)
	}
	if c := full.ClientRequest["Cookie"]; len(c) == 0 || c[0] != "[redacted]" {
		t.Errorf("the POST's Cookie header stored as %q, want [redacted]", c)
	}
	// A Set-Cookie keeps its name and attributes (the cookie_flags alert
	// reads them); its value is redacted, and the secrets check below
	// proves no value is stored anywhere.
	sc := full.ClientResponse["Set-Cookie"]
	if len(sc) != 2 {
		t.Errorf("the POST's Set-Cookie headers stored as %q, want csrftoken and sessionid", sc)
	}
	for _, c := range sc {
		if !strings.HasPrefix(c, "csrftoken=[redacted]; ") && !strings.HasPrefix(c, "sessionid=[redacted]; ") {
			t.Errorf("the POST's Set-Cookie %q, want its value [redacted] and its attributes kept", c)
		}
	}
	for _, r := range recs {
		_, rec := get(t, e.base+"/__tracebar/api/requests/"+r.ID)
		_, trace := get(t, e.base+"/__tracebar/api/traces/"+r.TraceID)
		for what, v := range secrets {
			if strings.Contains(string(rec), v) || strings.Contains(string(trace), v) {
				t.Errorf("%s is stored in the record or trace of %s %s", what, r.Method, r.URL)
			}
		}
	}

	// The Requests panel of the index: exactly one redirect led here, the
	// login POST. (The GET /admin/ 302 before the form is not part of it:
	// the form was submitted, not reached by a redirect.)
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("requests")
	redirectRows := `[...root.querySelectorAll('.tb-sec')].filter(s => s.textContent.includes('Redirects that led here')).flatMap(s => [...s.querySelectorAll('.tb-req')])`
	b.wait("the history and the redirects that led here", `[...root.querySelectorAll('.tb-sec')].some(s => s.textContent.includes('History') && s.querySelectorAll('.tb-req').length >= 4) && `+redirectRows+`.length >= 1`)
	rows := b.str(redirectRows + `.map(r => r.title).join('\n')`)
	if strings.Count(rows, "\n") != 0 || !strings.HasPrefix(rows, "POST /admin/login/?next=/admin/") || !strings.Contains(b.str(redirectRows+`[0].textContent`), "302") {
		b.fail("the redirects that led to /admin/ should be exactly the login POST (302); listed:\n%s", rows)
	}
}

// TestDjangoAdminSaveRedirectsToChangelist adds an author in the admin: the
// add form carries the toolbar, Save posts it (302), and the changelist
// shows Django's success message, the new author and the toolbar.
func TestDjangoAdminSaveRedirectsToChangelist(t *testing.T) {
	e := djangoSite(t)
	b := browserTab{t, newBrowser(t)}
	b.adminLogin(e.base)

	b.navigate(e.base + "/admin/books/author/add/")
	b.wait("the add form with the toolbar", `location.pathname === '/admin/books/author/add/' && document.querySelector('#id_name') && `+toolbarShown)
	const name = "Octavia E. Butler"
	if err := chromedp.Do(b.ctx,
		chromedp.SendKeys(chromedp.CSS("#id_name"), name),
		chromedp.Click(chromedp.CSS(`input[name=_save]`)),
	); err != nil {
		b.fail("saving: %v", err)
	}
	b.wait("the changelist with the success message and the toolbar", `location.pathname === '/admin/books/author/' && document.querySelector('.messagelist .success') && `+toolbarShown)
	if msg := b.str(`document.querySelector('.messagelist .success').textContent`); !strings.Contains(msg, name) || !strings.Contains(msg, "was added successfully") {
		b.fail("success message %q", msg)
	}
	if list := b.str(`document.querySelector('#result_list').textContent`); !strings.Contains(list, name) || !strings.Contains(list, "Italo Calvino") {
		b.fail("the changelist lacks the new author: %q", list)
	}
	b.wait("the badge shows the changelist's 200", `root.querySelector('.tb-badge').textContent.includes('200')`)

	recs := recentRecords(t, e.base)
	if save := findRecord(t, recs, "POST", "/admin/books/author/add/"); save.Status != 302 || save.Location != "/admin/books/author/" {
		t.Fatalf("the save recorded as %d to %q, want 302 to /admin/books/author/", save.Status, save.Location)
	}
	if list := findRecord(t, recs, "GET", "/admin/books/author/"); list.Status != 200 || !list.Injected {
		t.Fatalf("the changelist recorded as %d, injected %v", list.Status, list.Injected)
	}
}

// TestDjangoNPlusOnePageCarriesToolbar opens /books/, a view that queries
// the books and then each book's author (an N+1): the page renders every
// book with its author and carries the toolbar, and the proxy recorded it.
// (This Django exports no spans: Debian has no OpenTelemetry for it, so
// there is no SQL to check.)
func TestDjangoNPlusOnePageCarriesToolbar(t *testing.T) {
	e := djangoSite(t)
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/books/")
	b.wait("the books page with the toolbar", `document.querySelectorAll('#books td').length === 8 && `+toolbarShown+` && Number(host.dataset.spanCount) >= 1`)
	rows := b.str(`[...document.querySelectorAll('#books tr')].slice(1).map(r => [...r.cells].map(c => c.textContent).join(' / ')).join(' | ')`)
	if want := "A Wizard of Earthsea / Ursula K. Le Guin | Invisible Cities / Italo Calvino | Solaris / Stanisław Lem | The Dispossessed / Ursula K. Le Guin"; rows != want {
		b.fail("the books page shows %q, want %q", rows, want)
	}
	b.wait("the badge shows 200", `root.querySelector('.tb-badge').textContent.includes('200')`)
	rec := findRecord(t, recentRecords(t, e.base), "GET", "/books/")
	if rec.Status != 200 || !rec.Injected || !strings.HasPrefix(rec.ContentType, "text/html") || b.str(`host.dataset.request`) != rec.ID {
		t.Fatalf("GET /books/ recorded as %+v; the toolbar shows request %q", rec, b.str(`host.dataset.request`))
	}
}

// TestDjangoDebugErrorPagesCarryToolbar: with DEBUG on, a view that raises
// gets Django's 500 debug page and an unknown URL its 404 page; a developer
// needs the toolbar most there, so both carry it: the tag in the HTML, the
// toolbar in the browser with the status on its badge, and Django's page
// intact.
func TestDjangoDebugErrorPagesCarryToolbar(t *testing.T) {
	e := djangoSite(t)
	b := browserTab{t, newBrowser(t)}
	for _, tc := range []struct {
		path   string
		status int
		title  string // the debug page's heading
	}{
		{"/boom/", 500, "RuntimeError at /boom/"},
		{"/no-such-page/", 404, "Page not found"},
	} {
		t.Run(strings.Trim(tc.path, "/"), func(t *testing.T) {
			b := browserTab{t, b.ctx}
			resp, body := get(t, e.base+tc.path)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.title) {
				t.Fatalf("GET %s: %d, want Django's %d debug page: %.300s", tc.path, resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), `<script src="/__tracebar/static/toolbar.js?v=`) {
				t.Fatalf("Django's %d debug page for %s has no toolbar tag", tc.status, tc.path)
			}
			b.navigate(e.base + tc.path)
			b.wait("the debug page with the toolbar", `location.pathname === '`+tc.path+`' && `+toolbarShown+` && root.querySelector('.tb-badge').textContent.includes('`+fmt.Sprint(tc.status)+`')`)
			if h1 := b.str(`document.querySelector('h1').textContent.replace(/\s+/g, ' ')`); !strings.Contains(h1, tc.title) {
				b.fail("the debug page's heading is %q, want %q", h1, tc.title)
			}
		})
	}
}

// TestDjangoHeadAnswersLikeGet: HEAD /admin/login/ answers the headers a
// GET would, as far as the body goes: its Content-Length, when it has one,
// is that of the GET's body with the toolbar, not of Django's own body; and
// both name the same Content-Encoding. (Transfer-Encoding is not compared:
// Go's server never sends it on a HEAD response.)
func TestDjangoHeadAnswersLikeGet(t *testing.T) {
	e := djangoSite(t)
	for _, enc := range []string{"gzip, deflate, br, zstd", "identity"} {
		t.Run("Accept-Encoding "+enc, func(t *testing.T) {
			get, getBody := rawExchange(t, e.site, "GET", "/admin/login/", enc)
			head, _ := rawExchange(t, e.site, "HEAD", "/admin/login/", enc)
			for _, r := range []*http.Response{get, head} {
				t.Logf("%s: %s Content-Length %q Transfer-Encoding %q Content-Encoding %q Vary %q", r.Request.Method, r.Status,
					r.Header.Get("Content-Length"), r.TransferEncoding, r.Header.Get("Content-Encoding"), r.Header.Values("Vary"))
			}
			if get.StatusCode != 200 || head.StatusCode != 200 {
				t.Fatalf("GET %q, HEAD %q: want 200 for both", get.Status, head.Status)
			}
			// A HEAD's Content-Length, when it has one, is the length of
			// the GET's body (RFC 9110, 8.6), not the upstream's.
			if cl := head.Header.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(getBody)) {
				t.Errorf("HEAD has Content-Length %s, the GET's body has %d bytes", cl, len(getBody))
			}
			// The same representation: a HEAD that announces gzip for a
			// GET that is not compressed (or the reverse) misleads caches.
			if g, h := get.Header.Get("Content-Encoding"), head.Header.Get("Content-Encoding"); g != h {
				t.Errorf("HEAD has Content-Encoding %q, the GET %q", h, g)
			}
		})
	}
}

// rawHeaders sends one request over a fresh connection and returns the
// response's status line and header fields exactly as they came on the
// wire (net/http's client would fill in or drop some).
func rawExchange(t *testing.T, addr, method, path, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req, _ := http.NewRequest(method, "http://"+addr+path, nil)
	req.Header.Set("User-Agent", "tracebar-tests")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Encoding", acceptEncoding)
	req.Close = true
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // de-chunked, still as encoded
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp, body
}
