/* The history as a dashboard: request summaries (the API's /api/requests
   and its stream) filtered and searched, grouped by route with their
   percentiles, query counts and errors, and a route's recent durations
   as a sparkline. Pure. */

export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'];
export const GROUP_ORDERS = ['recent', 'count', 'p95', 'errors'];
// The durations a route's sparkline draws, newest last.
export const SPARK_POINTS = 30;

// A failed request: a 5xx, or one the API marks (a span with error status
// or an exception event).
export const isError = r => r.status >= 500 || !!r.error;

// "2xx" to "5xx"; '' in flight or for anything else.
export const statusClass = r => r.status >= 200 && r.status < 600 ? Math.floor(r.status / 100) + 'xx' : '';

const startMs = r => Date.parse(r.startTime) || 0;

// A record's method and route: the API's ("GET /orders/{id}", from the
// app's http.route or the path with its ids folded, toolbar.RouteOf);
// for a summary without one, the method and the URL's path, unfolded.
export const routeOf = r => r.route || ((r.method || '') + ' ' + String(r.url || '').replace(/[?#].*$/, '')).trim();

/* The records that pass filter: { text, method, status, service }, each
   '' for any. text: words that must all occur (any case) in the method,
   URL, route, operation, status or kind ("background": a trace no
   proxied request started; "websocket", "sse"); status: a class of STATUS_CLASSES or
   "error" (isError). */
export function filterRecords(records, filter) {
	const words = String(filter.text || '').toLowerCase().split(/\s+/).filter(Boolean);
	const out = [];
	for (const r of records) {
		if (filter.method && r.method !== filter.method) continue;
		if (filter.status && (filter.status === 'error' ? !isError(r) : statusClass(r) !== filter.status)) continue;
		if (filter.service && !(r.services || []).includes(filter.service)) continue;
		if (words.length) {
			const text = [r.method, r.url, routeOf(r), r.operation, r.status, r.kind].join(' ').toLowerCase();
			if (!words.every(word => text.includes(word))) continue;
		}
		out.push(r);
	}
	return out;
}

// The values to choose from in the filters: methods and services seen, sorted.
export function filterChoices(records) {
	const methods = new Set(), services = new Set();
	for (const r of records) {
		if (r.method) methods.add(r.method);
		for (const service of r.services || []) services.add(service);
	}
	return { methods: [...methods].sort(), services: [...services].sort() };
}

/* The p-th percentile (0 to 100) of values, interpolated between the two
   nearest ranks (as NumPy's default and spreadsheets do); null when there
   are none. sorted: values are in ascending order already. */
export function percentile(values, p, sorted) {
	if (!values.length) return null;
	const list = sorted ? values : values.slice().sort((a, b) => a - b);
	const rank = (Math.min(100, Math.max(0, p)) / 100) * (list.length - 1), low = Math.floor(rank);
	return low + 1 < list.length ? list[low] + (list[low + 1] - list[low]) * (rank - low) : list[low];
}

/* records grouped by route: method and route, and the operation
   (GraphQL, RPC) when the record names one, so one POST /graphql becomes
   a group per operation; each kind of record (r.kind: background work,
   WebSocket and SSE sessions) has groups of its own. Each group: { key,
   route, operation, kind, count, errors, p50, p95 (ms, finished records only; null when none), queries
   (the median query count; null when no record counts them), last (the
   newest start, epoch ms), records (newest first), recent (durations of
   the SPARK_POINTS newest finished records, oldest first) }. Groups come
   in the order of GROUP_ORDERS[order] (default: the newest request first). */
export function groupByRoute(records, order) {
	const byKey = new Map();
	for (const r of records) {
		const route = routeOf(r), operation = r.operation || '', kind = r.kind || '';
		const key = route + (operation ? '\u0000' + operation : '') + (kind ? '\u0001' + kind : '');
		let group = byKey.get(key);
		if (!group) byKey.set(key, group = { key, route, operation, kind, records: [] });
		group.records.push(r);
	}
	const groups = [];
	for (const group of byKey.values()) {
		const list = group.records.sort((a, b) => startMs(b) - startMs(a)), durations = [], queries = [];
		let errors = 0;
		for (const r of list) {
			if (isError(r)) errors++;
			if (r.done !== false) durations.push(+r.durationMs || 0);
			if (typeof r.queries === 'number') queries.push(r.queries);
		}
		const sorted = durations.slice().sort((a, b) => a - b);
		groups.push(Object.assign(group, {
			count: list.length, errors, last: list.length ? startMs(list[0]) : 0,
			p50: percentile(sorted, 50, true), p95: percentile(sorted, 95, true), queries: percentile(queries, 50),
			recent: durations.slice(0, SPARK_POINTS).reverse()
		}));
	}
	return sortGroups(groups, order);
}

const ORDER_KEYS = {
	recent: g => g.last,
	count: g => g.count,
	p95: g => g.p95 == null ? -1 : g.p95,
	errors: g => g.errors
};

// groups in the order named (GROUP_ORDERS), largest first; ties by route.
export function sortGroups(groups, order) {
	const value = ORDER_KEYS[order] || ORDER_KEYS.recent;
	return groups.sort((a, b) => value(b) - value(a) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

// records newest first (a new array).
export const newestFirst = records => records.slice().sort((a, b) => startMs(b) - startMs(a));

/* A sparkline of values on a width by height box (SVG user units, y
   down): the points of a polyline, oldest left, from 0 at the bottom to
   the largest value (max, when given, else the values' own) at the top;
   one value sits at the right edge. "x,y x,y ...", rounded to 0.1. */
export function sparkline(values, width, height, max) {
	const top = max > 0 ? max : Math.max(0, ...values), n = values.length;
	const round = x => Math.round(x * 10) / 10;
	return values.map((value, i) => {
		const x = n > 1 ? (i / (n - 1)) * width : width;
		const y = top > 0 ? height - (Math.min(Math.max(value, 0), top) / top) * height : height;
		return round(x) + ',' + round(y);
	}).join(' ');
}
