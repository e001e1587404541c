package caddymodule

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tracebar/tracebar/toolbar"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "tracebar",
		Usage: "check [flags]",
		Short: "Tracebar's tools for CI: check routes against their budgets",
		Long: `
Tracebar's tools. 'caddy tracebar check' reads the requests a running
Caddy with Tracebar recorded and fails when a route exceeds its budgets.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(newCheckCommand())
		},
	})
}

// Exit statuses of 'caddy tracebar check'.
const (
	checkOK     = 0 // every budget held
	checkBreach = 1 // a route exceeded a budget
	checkCannot = 2 // bad flags or budgets, the API unreachable, or a budget without traffic
)

// defaultCheckAPI is the toolbar of Caddyfile.example's site.
const defaultCheckAPI = "http://localhost:8080/__tracebar"

const checkLong = `
Reads the requests a running Caddy with Tracebar recorded (GET <api>/api/requests)
and fails when a route exceeds its budgets. Run a test suite, in any language,
through the Caddy, then this.

A route is as the history names it: the method and the app's http.route
("GET /orders/{id}"), else the path with ids folded. --route takes a pattern
in which * stands for any characters; one starting with "/" applies to every
method. Without --route, the limit flags apply to every route.

Limits:
  --max-queries N       database spans in any one request
  --no-n-plus-one       no request with an N+1 alert (one statement 3+ times under one span)
  --max-p95 D           95th percentile (nearest rank) of the proxy's SERVER span durations
  --max-errors N        requests that failed: a 5xx, or a span with an error status or exception

Or --budgets <file>, a JSON array of budgets:
  [{"route": "GET /orders", "maxQueries": 10, "noNPlusOne": true, "maxP95": "250ms", "maxErrors": 0}]
Every field but route is optional; a route that several budgets name keeps the
strictest of each limit. The file and the flags may be given together.

Only finished requests count; --since D keeps those that started within D.
WebSocket and event-stream sessions and background jobs do not: a session
lasts as long as it stays open, and a job is no route.
Apps export their spans a moment after they answer: --settle D first waits
until no request or span has arrived for D (at most a minute more).
With the directive's secret set, put it in TRACEBAR_SECRET.

Exit status: 0 when every budget held; 1 when one was exceeded (the report names
the worst request of each breach and its toolbar page); 2 on bad flags or budgets,
an API that cannot be read, or a budget whose routes had no traffic (unless
--allow-missing).`

func newCheckCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check [--api <url>] [--route <pattern>]... <limits> | --budgets <file> [flags]",
		Short: "Fails when a route exceeds its budgets (queries, N+1, p95, errors)",
		Long:  checkLong,
		Example: `  $ caddy tracebar check --route 'GET /orders' --no-n-plus-one --max-queries 20
  $ caddy tracebar check --api http://localhost:8080/__tracebar --max-p95 300ms --since 10m
  $ caddy tracebar check --budgets budgets.json --settle 2s`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return checkUsageError(cmd, fmt.Errorf("unexpected argument %q", args[0]))
			}
			return nil
		},
		RunE: caddycmd.WrapCommandFuncForCobra(cmdCheck),
	}
	cmd.SetFlagErrorFunc(checkUsageError)
	f := cmd.Flags()
	f.String("api", defaultCheckAPI, "URL of the tracebar prefix of the running Caddy's site")
	f.StringArray("route", nil, "route pattern the limit flags apply to (repeatable; * for any characters; default: every route)")
	f.Int("max-queries", 0, "most database spans in one request")
	f.Bool("no-n-plus-one", false, "fail on any request with an N+1 alert")
	f.Duration("max-p95", 0, "longest p95 of the proxy's SERVER span, e.g. 250ms")
	f.Int("max-errors", 0, "most failed requests (5xx, or a span with an error)")
	f.String("budgets", "", "JSON file of budgets: [{route, maxQueries, noNPlusOne, maxP95, maxErrors}]")
	f.Duration("since", 0, "only requests that started within this long ago (default: all the store keeps)")
	f.Duration("settle", 0, "first wait until no request or span arrived for this long")
	f.Bool("allow-missing", false, "a budget whose routes had no traffic passes")
	f.BoolP("verbose", "v", false, "print the table when every budget held too")
	return cmd
}

// checkUsageError makes err exit with checkCannot: Caddy's Main exits
// with another status than 1 only for the error WrapCommandFuncForCobra
// returns.
func checkUsageError(cmd *cobra.Command, err error) error {
	if errors.Is(err, pflag.ErrHelp) {
		return err
	}
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
		return checkCannot, fmt.Errorf("%w (caddy tracebar check --help)", err)
	})(cmd, nil)
}

func cmdCheck(fs caddycmd.Flags) (int, error) {
	cfg, err := checkConfigFromFlags(fs)
	if err != nil {
		return checkCannot, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return runCheck(ctx, cfg, os.Stdout)
}

// checkConfig is what to check, from the flags.
type checkConfig struct {
	API          string // the prefix's URL, without a trailing slash
	Budgets      []budget
	Since        time.Duration // 0: every record
	Settle       time.Duration // 0: read at once
	settleLimit  time.Duration // how much longer than Settle to wait at most
	AllowMissing bool
	Verbose      bool
	Secret       string // the directive's secret, from TRACEBAR_SECRET
}

func checkConfigFromFlags(fs caddycmd.Flags) (checkConfig, error) {
	cfg := checkConfig{
		API:          strings.TrimRight(fs.String("api"), "/"),
		settleLimit:  time.Minute,
		AllowMissing: fs.Bool("allow-missing"),
		Verbose:      fs.Bool("verbose"),
		Secret:       os.Getenv("TRACEBAR_SECRET"),
	}
	if u, err := url.Parse(cfg.API); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return cfg, fmt.Errorf("--api %q: want the URL of the tracebar prefix, e.g. %s", fs.String("api"), defaultCheckAPI)
	}
	var err error
	if cfg.Since, err = fs.GetDuration("since"); err == nil && cfg.Since < 0 {
		err = errors.New("--since is negative")
	}
	if err != nil {
		return cfg, err
	}
	if cfg.Settle, err = fs.GetDuration("settle"); err == nil && cfg.Settle < 0 {
		err = errors.New("--settle is negative")
	}
	if err != nil {
		return cfg, err
	}
	var limits budget
	if fs.Changed("max-queries") {
		n := fs.Int("max-queries")
		if n < 0 {
			return cfg, errors.New("--max-queries is negative")
		}
		limits.MaxQueries = &n
	}
	limits.NoNPlusOne = fs.Bool("no-n-plus-one")
	if fs.Changed("max-p95") {
		d, err := fs.GetDuration("max-p95")
		if err == nil && d <= 0 {
			err = errors.New("--max-p95 must be above zero")
		}
		if err != nil {
			return cfg, err
		}
		limits.MaxP95 = &d
	}
	if fs.Changed("max-errors") {
		n := fs.Int("max-errors")
		if n < 0 {
			return cfg, errors.New("--max-errors is negative")
		}
		limits.MaxErrors = &n
	}
	file := fs.String("budgets")
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return cfg, fmt.Errorf("--budgets: %w", err)
		}
		if cfg.Budgets, err = parseBudgets(data); err != nil {
			return cfg, fmt.Errorf("--budgets %s: %w", file, err)
		}
	}
	routes, err := fs.GetStringArray("route")
	if err != nil {
		return cfg, err
	}
	switch {
	case limits.hasLimit():
		if len(routes) == 0 {
			routes = []string{"*"}
		}
		for _, route := range routes {
			b := limits
			if b.Route = strings.TrimSpace(route); b.Route == "" {
				return cfg, errors.New("--route is empty")
			}
			cfg.Budgets = append(cfg.Budgets, b)
		}
	case len(routes) > 0:
		return cfg, fmt.Errorf("--route %s: give it a limit (--max-queries, --no-n-plus-one, --max-p95 or --max-errors)", routes[0])
	case file == "":
		return cfg, errors.New("no budget: give --max-queries, --no-n-plus-one, --max-p95 or --max-errors, or --budgets <file>")
	}
	return cfg, nil
}

// runCheck reads the API, checks every route a budget names and writes
// the report to out; it returns the exit status and, unless every budget
// held, why not.
func runCheck(ctx context.Context, cfg checkConfig, out io.Writer) (int, error) {
	c := newCheckClient(cfg.API)
	if cfg.Secret != "" {
		if err := c.enable(ctx, cfg.Secret); err != nil {
			return checkCannot, err
		}
	}
	window := "finished requests"
	if cfg.Since > 0 {
		window += " that started in the last " + cfg.Since.String()
	}
	if cfg.Settle > 0 {
		quiet, err := c.settle(ctx, cfg.Settle, cfg.Settle+cfg.settleLimit)
		if err != nil {
			return checkCannot, err
		}
		if !quiet {
			window += " (still arriving: no " + cfg.Settle.String() + " lull)"
		}
	}
	var all []checkRecord
	if err := c.getJSON(ctx, "/api/requests", &all); err != nil {
		return checkCannot, err
	}
	from := time.Now().Add(-cfg.Since)
	rep := checkReport{api: cfg.API, window: window, notRequests: map[string]int{}, allowMissing: cfg.AllowMissing, verbose: cfg.Verbose}
	var records []checkRecord
	for _, rec := range all {
		switch {
		case cfg.Since > 0 && rec.StartTime.Before(from):
		case rec.Kind != "": // a session or a background job, not a request
			rep.notRequests[rec.Kind]++
		case !rec.Done:
			rep.inFlight++
		default:
			if rec.Route == "" { // an API older than routes
				rec.Route = rec.Method + " " + toolbar.FoldPath(rec.URL)
			}
			records = append(records, rec)
		}
	}
	rep.counted = len(records)
	rep.checks, rep.missing = planChecks(cfg.Budgets, records)
	for _, rc := range rep.checks {
		if !rc.limits.NoNPlusOne {
			continue
		}
		rc.nPlusOne = map[string][]toolbar.Alert{}
		for _, rec := range rc.records {
			var alerts []toolbar.Alert
			err := c.getJSON(ctx, "/api/requests/"+url.PathEscape(rec.ID)+"/alerts", &alerts)
			var status *checkStatusError
			if errors.As(err, &status) && status.code == http.StatusNotFound {
				continue // evicted since the list was read
			}
			if err != nil {
				return checkCannot, err
			}
			for _, a := range alerts {
				if a.Kind == toolbar.AlertNPlusOne {
					rc.nPlusOne[rec.ID] = append(rc.nPlusOne[rec.ID], a)
				}
			}
		}
	}
	exceeded, err := rep.write(out)
	switch {
	case err != nil:
		return checkCannot, fmt.Errorf("writing the report: %w", err)
	case exceeded > 0:
		return checkBreach, fmt.Errorf("%s exceeded", plural(exceeded, "budget", "budgets"))
	case len(rep.missing) > 0 && !cfg.AllowMissing:
		return checkCannot, fmt.Errorf("no request matched %s", strings.Join(rep.missing, ", "))
	}
	return checkOK, nil
}

// checkClient reads a Tracebar API: client with a timeout per call, stream
// without, for the live history. newTimer makes the timers settle waits
// on (time.NewTimer's, but in tests).
type checkClient struct {
	api      string
	client   *http.Client
	stream   *http.Client
	newTimer func(time.Duration) checkTimer
}

// checkTimer is the part of a *time.Timer that settle uses.
type checkTimer interface {
	Chan() <-chan time.Time
	Reset(d time.Duration) bool
	Stop() bool
}

type realTimer struct{ *time.Timer }

func (t realTimer) Chan() <-chan time.Time { return t.C }

func newCheckClient(api string) *checkClient {
	jar, _ := cookiejar.New(nil) // never fails without options
	transport := http.DefaultTransport.(*http.Transport).Clone()
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &checkClient{
		api:      api,
		client:   &http.Client{Transport: transport, Jar: jar, CheckRedirect: noRedirect, Timeout: 30 * time.Second},
		stream:   &http.Client{Transport: transport, Jar: jar, CheckRedirect: noRedirect},
		newTimer: func(d time.Duration) checkTimer { return realTimer{time.NewTimer(d)} },
	}
}

// checkStatusError is an API answer other than 200.
type checkStatusError struct {
	url  string
	code int
	body string
}

func (e *checkStatusError) Error() string {
	msg := fmt.Sprintf("GET %s: %d %s: %s", e.url, e.code, http.StatusText(e.code), e.body)
	if e.code == http.StatusNotFound || e.code == http.StatusForbidden {
		msg += " (is --api the site's URL and the tracebar prefix, e.g. " + defaultCheckAPI + ", and this host in its allow list?)"
	}
	return msg
}

func (c *checkClient) unreachable(err error) error {
	return fmt.Errorf("cannot reach the Tracebar API at %s (is Caddy running with tracebar there?): %w", c.api, err)
}

// getJSON reads path under the prefix into v.
func (c *checkClient) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.api+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("reading GET %s: %w", req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &checkStatusError{req.URL.String(), resp.StatusCode, clipBody(body)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("GET %s answered %q, not Tracebar's JSON: is --api the tracebar prefix, this host in its allow list, and TRACEBAR_SECRET set if it has a secret?",
			req.URL, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", req.URL, err)
	}
	return nil
}

// enable posts the secret to <prefix>/enable, which answers with the
// cookie that opens the API to this client.
func (c *checkClient) enable(ctx context.Context, secret string) error {
	form := url.Values{"secret": {secret}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api+"/enable", strings.NewReader(form))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch resp.StatusCode {
	case http.StatusSeeOther:
		return nil
	case http.StatusForbidden:
		return errors.New("TRACEBAR_SECRET is not the tracebar directive's secret")
	}
	return fmt.Errorf("POST %s: %s: %s (does the tracebar directive set a secret?)", req.URL, resp.Status, clipBody(body))
}

// settle follows the live history until it has been quiet for quiet: no
// new request and no trace that grew (the stream sends a summary for
// each). It gives up after limit, and says whether the quiet came.
func (c *checkClient) settle(ctx context.Context, quiet, limit time.Duration) (bool, error) {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	giveUp := c.newTimer(limit)
	defer giveUp.Stop()
	go func() {
		select {
		case <-giveUp.Chan():
			cancel() // streamCtx ends, ctx does not: not an error
		case <-streamCtx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(streamCtx, http.MethodGet, c.api+"/api/requests/stream", nil)
	if err != nil {
		return false, err
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		if streamCtx.Err() != nil {
			return false, ctx.Err() // nil when only the limit passed
		}
		return false, c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return false, &checkStatusError{req.URL.String(), resp.StatusCode, clipBody(body)}
	}
	events := make(chan struct{}, 1)
	go func() {
		defer close(events)
		readEvents(resp.Body, func() {
			select {
			case events <- struct{}{}:
			default: // one pending wake-up is enough
			}
		})
	}()
	lull := c.newTimer(quiet)
	defer lull.Stop()
	for {
		select {
		case _, open := <-events:
			if !open {
				if streamCtx.Err() != nil {
					return false, ctx.Err()
				}
				return false, fmt.Errorf("GET %s: the stream ended", req.URL)
			}
			lull.Reset(quiet)
		case <-lull.Chan():
			return true, nil
		case <-streamCtx.Done():
			return false, ctx.Err()
		}
	}
}

// readEvents calls wake for each event of the stream r (an "event:"
// line; comments such as keep-alives are none) until r ends.
func readEvents(r io.Reader, wake func()) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event:") {
			wake()
		}
	}
}

func clipBody(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
