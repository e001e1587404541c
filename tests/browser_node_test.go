package tests

import (
	"testing"
)

// TestBrowserPanelsWithNodeApp: the toolbar on a page of the Node app
// (the real @opentelemetry/sdk-node over OTLP/HTTP protobuf) shows the
// app's spans in the waterfall, its query in the SQL panel and its span
// event in the Logs panel.
func TestBrowserPanelsWithNodeApp(t *testing.T) {
	e := newEnv(t)
	app := startNodeApp(t, e.otlpHTTP, "http/protobuf")
	e.startCaddy(t, basicCaddyfile, app)
	b := browserTab{t, newBrowser(t)}
	b.navigate(e.base + "/")
	// Proxy server and client, Node's server span, query and render.
	b.wait("the Node app's spans", `host.dataset.state === 'ready' && Number(host.dataset.spanCount) >= 5`)
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)

	b.tab("trace")
	b.wait("the Node spans in the waterfall", `['SELECT users', 'render page'].every(n => [...root.querySelectorAll('.tb-span')].some(r => r.textContent.includes(n) && r.textContent.includes('node-app')))`)
	b.tab("sql")
	b.wait("the Node app's query", `[...root.querySelectorAll('.tb-qg')].some(g => g.textContent.includes('SELECT id, name FROM users WHERE id = ?') && g.textContent.includes('sqlite'))`)
	b.tab("logs")
	b.wait("the Node app's span event", `[...root.querySelectorAll('.tb-log')].some(l => l.textContent.includes('rendered') && l.textContent.includes('node-app'))`)
}
