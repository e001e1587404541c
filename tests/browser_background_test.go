package tests

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// eventStreams records the URL of each event stream (EventSource) the
// tab opens from now on.
func eventStreams(b browserTab) func() []string {
	b.t.Helper()
	var mu sync.Mutex
	var urls []string
	enable := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{})
		return err
	})
	if err := chromedp.Do(b.ctx, enable); err != nil {
		b.t.Fatal(err)
	}
	err := chromedp.Listen(b.ctx, func(ev any) {
		if req, ok := ev.(*network.EventRequestWillBeSent); ok && req.Type == network.ResourceTypeEventSource {
			mu.Lock()
			urls = append(urls, req.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// TestBrowserBackgroundJobUnderProducer: the toolbar on a page of the Node
// app that sent a job shows, in its Trace tab, the worker's trace under
// the page's PRODUCER span, arriving live: the worker holds the job until
// the waterfall has rendered without it, then its CONSUMER span (the root
// of a trace of its own, linked to the PRODUCER) and the work under it
// appear, one level below the PRODUCER, without a reload, over the page's
// one event stream, its trace's. The job's own record shows the page's
// PRODUCER under its CONSUMER, the other way.
func TestBrowserBackgroundJobUnderProducer(t *testing.T) {
	e := newEnv(t)
	queue := startJobApps(t, e, 0)
	b := browserTab{t, newBrowser(t)}
	streams := eventStreams(b)
	b.navigate(e.base + "/enqueue?hold=1")
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("trace")
	// rowOf finds the waterfall's row of a span by its service and name.
	const rowOf = `((service, name) => [...root.querySelectorAll('.tb-span')].find(r => r.querySelector('.tb-sn').textContent === name && r.querySelector('.tb-svc').textContent === service))`
	b.wait("the page's PRODUCER span in the waterfall", `host.dataset.state === 'ready' && `+rowOf+`('node-app', 'send jobs')`)
	if got := b.str(rowOf + `('node-worker', 'process jobs') ? 'there' : 'not yet'`); got != "not yet" {
		b.fail("the held job's span is in the waterfall before the job ran")
	}

	releaseJobs(t, queue)
	b.wait("the job's CONSUMER span right under the PRODUCER", `(() => {
		const producer = `+rowOf+`('node-app', 'send jobs'), consumer = `+rowOf+`('node-worker', 'process jobs');
		return producer && consumer && consumer.previousElementSibling === producer &&
			+consumer.getAttribute('aria-level') === +producer.getAttribute('aria-level') + 1 &&
			consumer.querySelector('.tb-lk') && consumer.textContent.includes('consumer');
	})()`)
	b.wait("the job's work under its CONSUMER span", `(() => {
		const consumer = `+rowOf+`('node-worker', 'process jobs'), update = `+rowOf+`('node-worker', 'UPDATE orders');
		return update && +update.getAttribute('aria-level') === +consumer.getAttribute('aria-level') + 1;
	})()`)
	screenshot(t, b.ctx, "background.png")
	// HTTP/1.1 gives a host six connections for all its tabs: the job's
	// spans came over the page's trace stream, the one stream of a trace
	// it opened (perhaps more than once: a stream is opened again).
	var traceStreams []string
	for _, url := range streams() {
		if strings.Contains(url, "/__tracebar/api/traces/") && !slices.Contains(traceStreams, url) {
			traceStreams = append(traceStreams, url)
		}
	}
	if len(traceStreams) != 1 || !strings.HasSuffix(traceStreams[0], "/stream") {
		b.fail("the page opened the event streams %q, want one, its trace's", traceStreams)
	}
	// The page's own spans stay the page's: the job is not in its span count.
	if got := b.str(`[...window.__tracebar.spans.values()].some(s => s.svc === 'node-worker')`); got != "false" {
		b.fail("the job's spans joined the page's own")
	}

	// The tag on the job's span opens the job's own record, background
	// work, whose waterfall has the page's PRODUCER under its CONSUMER.
	job := b.str(rowOf + `('node-worker', 'process jobs').dataset.spanId`)
	b.do(rowOf + `('node-worker', 'process jobs').querySelector('.tb-lk').click()`)
	b.wait("the job's own panels", `host.dataset.request === '`+job+`' && host.dataset.state === 'ready'`)
	b.wait("the page's PRODUCER span under the job's CONSUMER", `(() => {
		const consumer = `+rowOf+`('node-worker', 'process jobs'), producer = `+rowOf+`('node-app', 'send jobs');
		return consumer && producer && consumer.getAttribute('aria-level') === '1' && producer.getAttribute('aria-level') === '2' &&
			producer.querySelector('.tb-lk') && !consumer.querySelector('.tb-lk');
	})()`)

	// The history page marks the job as background work, in a group of its
	// own, with no replay: it was no request.
	b.navigate(e.base + "/__tracebar/")
	b.wait("the job in the history, marked background", `(() => {
		const group = root.querySelector('.tb-rg[data-route="process jobs"][data-kind=background]'), row = group && group.querySelector('.tb-hrow[data-id="`+job+`"]');
		return row && row.querySelector('.tb-kind').textContent === 'background' && !row.querySelector('[data-replay]') &&
			group.querySelector('.tb-rgh .tb-kind').textContent === 'background';
	})()`)
	screenshot(t, b.ctx, "background-history.png")
}
