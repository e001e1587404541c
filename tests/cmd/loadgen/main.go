// Command loadgen drives a Tracebar-fronted app for tests/load.sh: a
// bounded number of HTML and JSON requests at a given concurrency, then a
// check that every request's spans reached the toolbar's store, then
// (optionally) a soak at a steady rate while Caddy's RSS is sampled. It
// prints figures and exits non-zero on any error or lost span.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:28090", "site through Tracebar")
	admin := flag.String("admin", "http://127.0.0.1:22090", "Caddy's admin endpoint (goroutine count)")
	pid := flag.Int("pid", 0, "Caddy's process id (RSS)")
	n := flag.Int("n", 10000, "requests")
	c := flag.Int("c", 100, "concurrent clients")
	soak := flag.Duration("soak", 0, "soak duration after the check (0: none)")
	flag.Parse()
	if err := run(*base, *admin, *pid, *n, *c, *soak); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// want is the number of spans of each kind of request: the proxy's server
// and client spans plus the Node app's (server; page: query and render).
var routes = []struct {
	path, accept string
	spans        int
}{
	{"/", "text/html", 5},
	{"/api/data", "application/json", 3},
}

type result struct {
	trace string
	route int
	dur   time.Duration
	err   error
}

func run(base, admin string, pid, n, c int, soak time.Duration) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}, Timeout: 30 * time.Second}
	// Warm up at the same concurrency, so pooled upstream connections (and
	// their goroutines) exist before the count, as they do after the load.
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) { defer wg.Done(); request(client, base, w%len(routes)) }(w)
	}
	wg.Wait()
	client.CloseIdleConnections()
	g0, err := goroutines(admin)
	if err != nil {
		return err
	}
	fmt.Printf("caddy before: %d goroutines, RSS %d MB\n", g0, rssMB(pid))

	results := make([]result, n)
	var next atomic.Int64
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				results[i] = request(client, base, i%len(routes))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var errs []string
	var durs []time.Duration
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err.Error())
		}
		durs = append(durs, r.dur)
	}
	slices.Sort(durs)
	fmt.Printf("load: %d requests (HTML and JSON) at %d concurrent in %.1fs: %.0f req/s, p50 %v, p99 %v, %d errors\n",
		n, c, elapsed.Seconds(), float64(n)/elapsed.Seconds(), durs[len(durs)/2].Round(time.Microsecond), durs[len(durs)*99/100].Round(time.Microsecond), len(errs))
	if len(errs) > 0 {
		return fmt.Errorf("%d errors, first: %s", len(errs), errs[0])
	}

	// Every span of every request must reach the store (the app exports
	// in batches: wait for them, with a deadline).
	want, lost := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for _, r := range results {
		want += routes[r.route].spans
		for {
			got, err := spanCount(client, base, r.trace)
			if err == nil && got >= routes[r.route].spans {
				break
			}
			if time.Now().After(deadline) {
				lost += routes[r.route].spans - got
				break
			}
			time.Sleep(100 * time.Millisecond) // the app's batch exporter has no signal to wait on
		}
	}
	fmt.Printf("spans: %d expected, %d lost\n", want, lost)
	if lost > 0 {
		return fmt.Errorf("%d spans lost", lost)
	}

	client.CloseIdleConnections()
	g1, growth := 0, 0
	for end := time.Now().Add(15 * time.Second); ; {
		if g1, err = goroutines(admin); err != nil {
			return err
		}
		if growth = g1 - g0; growth <= 0 || time.Now().After(end) {
			break
		}
		time.Sleep(200 * time.Millisecond) // connections wind down; no signal for that
	}
	fmt.Printf("caddy after: %d goroutines (growth %d), RSS %d MB\n", g1, growth, rssMB(pid))
	if growth > 0 {
		if resp, err := http.Get(admin + "/debug/pprof/goroutine?debug=1"); err == nil {
			io.Copy(os.Stderr, resp.Body)
			resp.Body.Close()
		}
		return fmt.Errorf("goroutines grew by %d after the load", growth)
	}
	if soak > 0 {
		return soakRSS(client, base, pid, soak)
	}
	return nil
}

// soakRSS keeps 20 clients busy for d and samples RSS every 10 s.
func soakRSS(client *http.Client, base string, pid int, d time.Duration) error {
	stop := make(chan struct{})
	var count, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if r := request(client, base, i%len(routes)); r.err != nil {
					failed.Add(1)
				}
				count.Add(1)
			}
		}(w)
	}
	var samples []int
	tick := time.NewTicker(10 * time.Second)
	for end := time.Now().Add(d); time.Now().Before(end); {
		<-tick.C
		samples = append(samples, rssMB(pid))
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	fmt.Printf("soak: %v, %d requests, %d errors; RSS MB every 10 s: %v\n", d, count.Load(), failed.Load(), samples)
	if len(samples) >= 12 {
		after1m := samples[5]
		fmt.Printf("soak: RSS %d MB at 1 min, %d MB at the end (growth %d MB)\n", after1m, samples[len(samples)-1], samples[len(samples)-1]-after1m)
	}
	if failed.Load() > 0 {
		return fmt.Errorf("%d errors during the soak", failed.Load())
	}
	return nil
}

func request(client *http.Client, base string, route int) result {
	rt := routes[route]
	req, _ := http.NewRequest("GET", base+rt.path, nil)
	req.Header.Set("Accept", rt.accept)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{route: route, err: err}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := result{route: route, dur: time.Since(t0), err: err}
	parts := strings.Split(resp.Header.Get("Traceresponse"), "-")
	switch {
	case err != nil:
	case resp.StatusCode != 200:
		r.err = fmt.Errorf("%s: status %d", rt.path, resp.StatusCode)
	case len(parts) != 4:
		r.err = fmt.Errorf("%s: no traceresponse", rt.path)
	case rt.accept == "text/html" && !strings.Contains(string(body), "/static/toolbar.js"):
		r.err = fmt.Errorf("%s: no toolbar in the page", rt.path)
	default:
		r.trace = parts[1]
	}
	return r
}

func spanCount(client *http.Client, base, trace string) (int, error) {
	resp, err := client.Get(base + "/__tracebar/api/traces/" + trace)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct{ Spans []json.RawMessage }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return 0, err
	}
	n := 0
	for _, rs := range doc.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	return n, nil
}

func goroutines(admin string) (int, error) {
	resp, err := http.Get(admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, fmt.Errorf("goroutine count: %w", err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	f := strings.Fields(line) // "goroutine profile: total N"
	if len(f) < 4 {
		return 0, fmt.Errorf("goroutine count: unexpected %q", line)
	}
	return strconv.Atoi(f[3])
}

func rssMB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return -1
}
