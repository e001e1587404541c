/* The Timing panel: the proxy's timings of the request (its total, the
   upstream's connection, first byte, latency and duration), the request's
   facts and sizes, and, for the page the toolbar is on, the browser's
   Navigation Timing. */

import { DASH, ELLIPSIS, bytes, ms } from '../../model/format.js';
import { recordMs, sessionFacts } from '../../model/requests.js';
import { append, el, percent, setAttrs } from '../dom.js';
import { emptyNote, encodedNote, keyValues, section, timingRow } from '../widgets.js';
import { navigationTiming } from '../browser.js';
import { hasHeaders } from './headers.js';

export function timingPanel(app) {
	const out = el('div', 'tb-pad'), state = app.state, record = state.record, browser = app.isHome() ? browserSection() : null;
	if (!record) {
		return append(out, emptyNote(state.failed ? 'Could not load the request record: ' + state.failed : 'Loading request' + ELLIPSIS), browser);
	}
	const t = record.timing || {}, end = recordMs(record);
	const upstream = hasHeaders(record.upstreamRequestHeaders) || hasHeaders(record.upstreamParams) ||
		t.upstreamDurationMs || t.upstreamLatencyMs;
	if (record.error) append(out, el('div', 'tb-note tb-bad', ['Proxy error: ', record.error]));
	const session = sessionFacts(record);
	append(out,
		el('div', 'tb-cols', [section('Proxy', el('table', 'tb-kv tb-tt', proxyRows(t, end)), upstream ? null : 'no upstream'), browser]),
		section('Request', keyValues([
			['Request', [record.method, record.url].join(' ')],
			['Status', (record.status || DASH) + (record.done ? '' : ' (in flight)')],
			record.proto && ['Protocol', record.proto],
			record.host && ['Host', record.host],
			record.remoteAddr && ['Client', record.remoteAddr],
			record.contentType && ['Content-Type', record.contentType],
			upstream && ['Upstream conn.', t.connReused ? 'reused' : 'new'],
			['Request body', bytes(record.requestBytes || 0)],
			['Response body', bytes(record.responseBytes || 0) + (upstream ? ' from upstream' : '')],
			['Sent to client', bytes(record.clientBytes || 0) + (record.injected ? ' (toolbar injected)' : '') + encodedNote(record)],
			record.startTime && ['Started', record.startTime]])),
		session && section(session.title, keyValues(session.rows)));
	return out;
}

// The proxy's timings, ms from the request's start: spans as bars,
// instants ("@ 2 ms") as bars from 0.
function proxyRows(t, end) {
	const rows = [], upstreamStart = t.upstreamStartMs || 0;
	const row = (label, value, from, to, kind, instant) =>
		rows.push(timingRow(label, (instant ? '@ ' : '') + ms(value), from, to, end, kind));
	row('Total (proxy)', end, 0, end, 'tot');
	if (t.headersMs) row('Response headers', t.headersMs, 0, t.headersMs, 'off', true);
	if (upstreamStart) row('Upstream start', upstreamStart, 0, upstreamStart, 'off', true);
	let at = upstreamStart;
	for (const [label, value] of [['DNS', t.dnsMs], ['Connect', t.connectMs], ['TLS', t.tlsMs]]) {
		if (!value) continue;
		row(label, value, at, at + value, 'net');
		at += value;
	}
	if (t.wroteRequestMs) row('Request written', t.wroteRequestMs, 0, t.wroteRequestMs, 'off', true);
	if (t.firstByteMs) row('First byte', t.firstByteMs, 0, t.firstByteMs, 'off', true);
	const sent = t.wroteRequestMs || at;
	if (t.firstByteMs && t.firstByteMs > sent) row('TTFB (upstream)', t.firstByteMs - sent, sent, t.firstByteMs, 'up');
	if (t.upstreamLatencyMs) row('Upstream latency', t.upstreamLatencyMs, upstreamStart, upstreamStart + t.upstreamLatencyMs, 'up');
	if (t.upstreamDurationMs) row('Upstream duration', t.upstreamDurationMs, upstreamStart, upstreamStart + t.upstreamDurationMs, 'up');
	if (t.upstreamDurationMs && end > t.upstreamDurationMs) {
		rows.push(timingRow('Proxy overhead', ms(end - t.upstreamDurationMs), 0, 0, end, 'off'));
	}
	return rows;
}

// The browser's Navigation Timing of the page: a stacked bar of its
// phases with a legend, and a table.
function browserSection() {
	const n = navigationTiming();
	if (!n) return section('Browser', emptyNote('Navigation Timing is not available.'));
	const end = n.loadEventEnd || Math.max(n.domContentLoadedEventEnd, n.domInteractive, n.responseEnd);
	const bar = setAttrs(el('div', 'tb-stack'), { role: 'img', 'aria-label': 'Navigation timing, stacked' }), legend = el('div', 'tb-legend');
	// [label, from, to, colour]
	const phases = [['Queued', 0, n.domainLookupStart, 0], ['DNS', n.domainLookupStart, n.domainLookupEnd, 1],
		['Connect', n.connectStart, n.connectEnd, 2], ['Stalled', n.connectEnd, n.requestStart, 0],
		['Request', n.requestStart, n.responseStart, 3], ['Response', n.responseStart, n.responseEnd, 4],
		['DOM', n.responseEnd, n.domInteractive, 5], ['DOMContentLoaded', n.domInteractive, n.domContentLoadedEventEnd, 6],
		['Load', n.domContentLoadedEventEnd, n.loadEventEnd, 7]];
	for (const [label, from, to, colour] of phases) {
		if (!(to - from > 0 && end > 0)) continue;
		const part = setAttrs(el('i', 'tb-p' + colour), { title: label + ': ' + ms(to - from) });
		part.style.width = percent((to - from) / end);
		append(bar, part);
		append(legend, el('span', null, [el('i', 'tb-p' + colour), label + ' ' + ms(to - from)]));
	}
	const spans = [['DNS', n.domainLookupStart, n.domainLookupEnd, 'p1'], ['Connect', n.connectStart, n.connectEnd, 'p2'],
		n.secureConnectionStart > 0 && ['TLS', n.secureConnectionStart, n.connectEnd, 'p2'],
		['Request', n.requestStart, n.responseStart, 'p3'], ['Response', n.responseStart, n.responseEnd, 'p4']];
	const rows = spans.filter(Boolean).map(([label, from, to, kind]) => timingRow(label, ms(to - from), from, to, end, kind));
	const instants = [['DOM interactive', n.domInteractive], ['DOMContentLoaded', n.domContentLoadedEventEnd], ['Load', n.loadEventEnd]];
	for (const [label, v] of instants) {
		rows.push(timingRow(label, v > 0 ? '@ ' + ms(v) : 'pending', 0, v, end, 'off'));
	}
	if (n.redirectCount) rows.push(el('tr', null, [el('th', null, 'Redirects'), el('td', 'tb-num', n.redirectCount), el('td')]));
	if (n.transferSize) rows.push(el('tr', null, [el('th', null, 'Transferred'), el('td', 'tb-num', bytes(n.transferSize)), el('td')]));
	return section('Browser', [bar, legend, el('table', 'tb-kv tb-tt', rows)], 'Navigation Timing');
}
