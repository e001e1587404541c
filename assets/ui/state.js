/* The request on show, one state object per request: its record, its
   trace (spans and log records), the other records of its trace, the live
   stream, its alerts and comparison, and what the waterfall has selected
   and folded. Showing another request makes a new one (app.show), so
   nothing carries over by mistake. The model's results are cached per
   version of the data. */

import { readSpans } from '../model/otlp.js';
import { buildTree, criticalPath, requestRoot, serviceColors } from '../model/trace.js';
import { groupQueries } from '../model/sql.js';
import { logItems, logRecordKey } from '../model/logs.js';
import { recordSpanId } from '../model/requests.js';

export function requestState(id) {
	return {
		id,
		record: null, // the API's record, null until loaded
		traceId: '',
		spans: new Map(), // id -> span (model/otlp.js)
		logs: [], // OTLP/JSON log records, as the API serves them
		logKeys: new Set(),
		others: new Map(), // id -> the other records of the trace (the page's fetches)
		stream: null, // the trace's EventSource, while open
		evicted: false, // the store dropped the trace
		backendError: '', // the team's backend did not answer for this trace: why
		failed: '', // why the record could not be loaded
		tries: 0,
		version: 0, // bumped when spans or the record change
		cache: null,
		// read when the record is done and when the trace's stream is quiet
		alerts: null, // the API's alerts, once read
		comparison: null, // the API's comparison, once read
		compareWith: '', // the record picked to compare with ('': the route's last load)
		compareAsked: false, // the Compare panel was opened: keep the comparison fresh
		compareError: '',
		routeRecords: null, // the history, for picking what to compare with
		refreshTimer: 0,
		// the waterfall
		selected: '', // the span whose detail shows
		focused: '', // the row that keeps keyboard focus
		collapsed: new Set() // folded spans
	};
}

function cached(state) {
	if (!state.cache || state.cache.version !== state.version) state.cache = { version: state.version };
	return state.cache;
}

// The tree, the critical path of the request's tree and the service colours.
export function traceOf(state) {
	const c = cached(state);
	if (!c.tree) {
		c.tree = buildTree(state.spans);
		c.critical = criticalPath(c.tree, requestRoot(c.tree, state.spans, recordSpanId(state.record)));
		c.colors = serviceColors(c.tree.services);
	}
	return c;
}

export function queriesOf(state) {
	const c = cached(state);
	return c.queries || (c.queries = groupQueries(traceOf(state).tree.order));
}

// The ids of the spans of the request's record and of the trace's others.
export const recordSpanIds = state => [state.record, ...state.others.values()].map(recordSpanId).filter(Boolean);

export function logsOf(state) {
	const c = cached(state);
	if (!c.logs || c.logCount !== state.logs.length) {
		c.logs = logItems(traceOf(state).tree.order, state.spans, state.logs, recordSpanIds(state));
		c.logCount = state.logs.length;
	}
	return c.logs;
}

// Adds an OTLP/JSON document's spans; spans are keyed by id, so repeats
// are harmless. Returns how many came.
export function addSpans(state, doc) {
	const spans = readSpans(doc);
	for (const span of spans) state.spans.set(span.id, span);
	if (spans.length) state.version++;
	return spans.length;
}

// Adds log records, without the copies a stream resends.
export function addLogs(state, records) {
	if (!Array.isArray(records)) return;
	for (const record of records) {
		if (!record || typeof record !== 'object') continue;
		const key = logRecordKey(record);
		if (state.logKeys.has(key)) continue;
		state.logKeys.add(key);
		state.logs.push(record);
	}
}

// The spans as window.__tracebar.spans shows them to the browser tests
// and to people debugging: the short names of the first toolbar
// (p: parent id, svc: service).
export function debugSpans(state) {
	const c = cached(state);
	return c.debug || (c.debug = new Map([...state.spans.values()].map(s =>
		[s.id, { id: s.id, p: s.parentId, name: s.name, kind: s.kind, svc: s.service, events: s.events, start: s.start, end: s.end }])));
}
