/* A comparison of two loads of a route (the API's /compare: durations,
   spans added, removed and changed, queries per shape) sorted into what
   the Compare panel says: what got slower or faster, which queries
   appeared or vanished or ran a different number of times, which N+1
   groups came or went. Each list keeps the API's order: spans added and
   removed the longest first, changes and queries the largest first. Pure. */

// A change in a span's total time counts when it is at least 1 ms and a
// tenth of the baseline's time: below that it is noise between two loads.
export const changeCounts = (deltaMs, baselineMs) => Math.abs(deltaMs) >= Math.max(1, 0.1 * Math.abs(baselineMs || 0));

const count = side => (side && side.count) || 0;

// The panel's lists, from the API's comparison (data).
export function compareView(data) {
	const spans = (data && data.spans) || {}, queries = (data && data.queries) || [];
	const changed = (spans.changed || []).filter(c => changeCounts(c.deltaMs, c.totalMs && c.totalMs.baseline));
	const duration = (data && data.durationMs) || { request: 0, baseline: 0 };
	const nPlusOne = q => q.nPlusOne || {};
	return {
		durationMs: duration,
		deltaMs: duration.request - duration.baseline,
		slower: changed.filter(c => c.deltaMs > 0),
		faster: changed.filter(c => c.deltaMs < 0),
		added: spans.added || [],
		removed: spans.removed || [],
		appeared: queries.filter(q => count(q.request) && !count(q.baseline)),
		vanished: queries.filter(q => !count(q.request) && count(q.baseline)),
		recounted: queries.filter(q => count(q.request) && count(q.baseline) && count(q.request) !== count(q.baseline)),
		nPlusOneCame: queries.filter(q => nPlusOne(q).request && !nPlusOne(q).baseline),
		nPlusOneWent: queries.filter(q => !nPlusOne(q).request && nPlusOne(q).baseline),
		queryCount: { request: queries.reduce((n, q) => n + count(q.request), 0), baseline: queries.reduce((n, q) => n + count(q.baseline), 0) }
	};
}

// The records (history summaries) a request can be compared with: the
// other loads of its route, newest first.
export function sameRoute(records, route, id) {
	return records.filter(r => r && r.id !== id && r.route === route)
		.sort((a, b) => (Date.parse(b.startTime) || 0) - (Date.parse(a.startTime) || 0));
}

// A change as text: "+12.5 ms" or "-3.00 ms" style, with the sign always.
export const signed = (value, format) => (value > 0 ? '+' : value < 0 ? '\u2212' : '\u00b1') + format(Math.abs(value));
