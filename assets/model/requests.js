/* Request records (the API's /api/requests): their spans, durations, the
   redirects that led to one, a page's later requests, and what a
   WebSocket or event stream carried. Pure. */

import { bytes, ms, plural } from './format.js';

// The id of the proxy's SERVER span for a record: the record's own id.
export const recordSpanId = record => (record && record.id) || '';

// A record's total time at the proxy, in ms (0 while unknown).
export const recordMs = record => (record && record.durationMs) || 0;

const REDIRECTS = [301, 302, 303, 307, 308];

/* The redirects that led to record, newest first.
   From record back: the newest earlier record of list, of the same client
   when both name it, that is a redirect whose Location resolves to the
   current URL and whose follow-up has the current method (303, and 301/302
   after a POST, turn into GET); then the same from that record. At most
   max steps when max is known (the navigation's redirectCount; 0: none),
   else 10; a step spans at most a minute. base: the URL that records'
   paths resolve against. */
export function redirectChain(record, list, max, base) {
	const out = [], seen = new Set(), limit = Math.min(max == null ? 10 : +max || 0, 10);
	const resolve = (url, against) => { try { return new URL(url, against).href; } catch (e) { return ''; } };
	const client = r => String(r.remoteAddr || '').replace(/:\d+$/, '');
	const followedWith = r => {
		const toGet = (r.status === 303 && r.method !== 'HEAD') || ((r.status === 301 || r.status === 302) && r.method === 'POST');
		return toGet ? 'GET' : r.method;
	};
	for (let current = record; current && out.length < limit;) {
		seen.add(current.id);
		const want = resolve(current.url, base), time = Date.parse(current.startTime), who = client(current);
		let previous = null, previousTime = 0;
		for (const r of list) {
			const t = r && Date.parse(r.startTime);
			if (!r || seen.has(r.id) || !REDIRECTS.includes(r.status) || !r.location || !(t <= time) || time - t > 6e4) continue;
			if (who && client(r) && client(r) !== who) continue;
			if (followedWith(r) !== current.method || resolve(r.location, resolve(r.url, base)) !== want) continue;
			if (previous && t < previousTime) continue;
			previous = r;
			previousTime = t;
		}
		if (!previous) break;
		out.push(previous);
		current = previous;
	}
	return out;
}

/* A page's later requests, oldest first: the page's fetch and XHR calls
   (calls, as hook.js records them) and the trace's other records, a call
   and its record joined as one item {call, record, time}. A record joins
   the call that named it (X-Tracebar-Request) or whose browser span is
   its span's parent. time: the call's start (epoch ms), else the record's. */
export function pageRequests(calls, records, spans) {
	const out = [], byRequest = new Map(), bySpan = new Map();
	for (const call of calls) {
		const item = { call, record: null, time: call.start };
		out.push(item);
		bySpan.set(call.spanId, item);
		if (call.requestId) byRequest.set(call.requestId, item);
	}
	for (const record of records) {
		const span = spans.get(recordSpanId(record)), item = byRequest.get(record.id) || (span && bySpan.get(span.parentId));
		if (item) item.record = record;
		else out.push({ call: null, record, time: Date.parse(record.startTime) || 0 });
	}
	return out.sort((a, b) => a.time - b.time);
}

// One direction of a session (Record.session's flows), as a line:
// "4 messages (3 text, 1 binary), 70.4 KB, 1 ping".
function flowText(flow, events) {
	if (!flow) return '';
	const kinds = [flow.text && flow.text + ' text', flow.binary && flow.binary + ' binary'].filter(Boolean);
	const control = [flow.pings && plural(flow.pings, 'ping'), flow.pongs && plural(flow.pongs, 'pong')].filter(Boolean);
	return [plural(flow.messages || 0, events ? 'event' : 'message') + (kinds.length ? ' (' + kinds.join(', ') + ')' : ''),
		bytes(flow.bytes || 0), ...control].join(', ');
}

/* What a WebSocket or event stream record (kind "websocket" or "sse")
   carried, as { title, rows: [[label, text]] } for a facts table; null
   for a plain exchange. */
export function sessionFacts(record) {
	const session = record && record.session;
	if (!session || (record.kind !== 'websocket' && record.kind !== 'sse')) return null;
	const socket = record.kind === 'websocket', open = !session.closedAt;
	const rows = [['Opened', session.openedAt], ['Closed', open ? 'still open' : session.closedAt + ' (' + ms(session.durationMs || 0) + ')']];
	if (socket) {
		rows.push(['Client \u2192 server', flowText(session.clientToServer)], ['Server \u2192 client', flowText(session.serverToClient)]);
		// RFC 6455 §7.1.5: 1005, a Close frame without a code; 1006, no Close frame at all.
		if (!open) rows.push(['Close', session.closeCode === 1006 ? '1006: the connection ended without a Close frame'
			: [session.closeCode, session.closeReason && '\u201c' + session.closeReason + '\u201d', session.closedBy && 'by the ' + session.closedBy].filter(Boolean).join(' ')]);
	} else {
		rows.push(['Server \u2192 client', flowText(session.serverToClient, true)]);
	}
	return { title: socket ? 'WebSocket session' : 'Event stream', rows };
}
