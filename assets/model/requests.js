/* Request records (the API's /api/requests): their spans, durations, the
   redirects that led to one, and a page's later requests. Pure. */

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
