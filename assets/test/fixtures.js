// Real traces, captured from the Go demo app (tests/demoapp) and the Node
// test app (tests/node) behind Caddy with Tracebar, with a headless
// Chromium loading the pages (assets/testdata/capture.sh writes them):
//   go-index    GET /: a query, a call to the inventory service, a render
//   go-orders   GET /orders (reached by a 302 from /old-orders): an N+1,
//               an exception, a warning log record, and the page's fetch
//               and XHR after load, each with its own proxy and app spans
//   node-index  GET / of the Node app: a query and a render with an event
// Each has <name>.request.json (the record), <name>.trace.json (OTLP/JSON)
// and <name>.logs.json; go-requests.json is the history (/api/requests).

import { readFileSync } from 'node:fs';
import { readSpans } from '../model/otlp.js';

const dir = new URL('../testdata/', import.meta.url);
export const load = file => JSON.parse(readFileSync(new URL(file, dir), 'utf8'));

// A captured request: its record, spans (a Map by id, as the toolbar keeps
// them), log records, and lookups by name.
export function capture(name) {
	const record = load(name + '.request.json'), doc = load(name + '.trace.json'), logs = load(name + '.logs.json');
	const spans = new Map(readSpans(doc).map(s => [s.id, s]));
	const named = (spanName, service) => [...spans.values()].filter(s => s.name === spanName && (!service || s.service === service));
	const one = (spanName, service) => {
		const found = named(spanName, service);
		if (found.length !== 1) throw new Error(name + ': ' + found.length + ' spans named ' + spanName + ' in ' + (service || 'any service'));
		return found[0];
	};
	return { record, doc, logs, spans, named, one };
}
