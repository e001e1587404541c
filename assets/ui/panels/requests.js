/* The Requests panel: the page's later requests (its fetch and XHR calls
   and the trace's other records), the redirects that led to the request,
   and the history of recent requests, live. On <prefix>/, the history
   alone, as a dashboard (panels/dashboard.js, which only page.js loads). */

import { ELLIPSIS, clock, ms, plural } from '../../model/format.js';
import { pageRequests, redirectChain } from '../../model/requests.js';
import { actionButton, append, el, setAttrs } from '../dom.js';
import { emptyNote, section, summaryParts } from '../widgets.js';
import { navigationTiming } from '../browser.js';

// The page's later requests; the hooked calls only on the page's own request.
export function pageRequestItems(app) {
	const calls = app.state.id === app.homeId && app.hook ? app.hook.list : [];
	return pageRequests(calls, app.state.others.values(), app.state.spans);
}

// One request: a link in the standalone page, else a button that shows
// its panels here (data-act=req). extra: its time and kind in a list.
function requestRow(app, r, extra) {
	const shown = r.id === app.state.id, time = (extra && extra.time) || clock(r.startTime);
	const parts = [el('span', 'tb-num tb-mu', time), extra && extra.kind ? el('span', 'tb-kind', extra.kind) : null,
		summaryParts(r), el('span', 'tb-mu tb-ct', (r.contentType || '').split(';')[0]),
		r.injected ? el('span', 'tb-kind', 'toolbar') : null, r.id === app.homeId && !app.page ? el('span', 'tb-kind', 'this page') : null];
	const row = app.page ? setAttrs(el('a', 'tb-req', parts), { href: app.prefixPath + '/requests/' + encodeURIComponent(r.id) })
		: actionButton('tb-req', parts, 'req', null, { 'data-req': r.id });
	setAttrs(row, { 'data-req-id': r.id, 'data-f': 'r:' + r.id, title: r.method + ' ' + r.url + (shown ? ' (shown)' : '') });
	if (shown) row.setAttribute('aria-current', 'true');
	return row;
}

// A page request: the hooked call, with its record once known (else the
// call stands in for it, disabled); or a record alone.
function pageRequestRow(app, { call, record }) {
	if (!call) return requestRow(app, record, { time: clock(record.startTime), kind: 'server' });
	const r = record || { id: '', method: call.method, url: call.url.replace(location.origin, ''), status: call.status, done: !!call.end,
		durationMs: call.end - call.start };
	const row = requestRow(app, r, { time: '+' + ms(call.start - performance.timeOrigin), kind: call.kind });
	const browser = call.end ? ' ' + ms(call.end - call.start) + ' in the browser' : ' (in flight)';
	if (call.end) append(row, el('span', 'tb-mu', 'browser ' + ms(call.end - call.start)));
	if (!record) row.disabled = true;
	return setAttrs(row, { 'data-hook-span': call.spanId, title: call.method + ' ' + call.url + browser });
}

function historySection(app) {
	const history = app.history, records = [...history.records.values()];
	records.sort((a, b) => (Date.parse(b.startTime) || 0) - (Date.parse(a.startTime) || 0));
	const waiting = history.status === 'ok' || history.stream ? 'No requests yet.'
		: history.status && history.status !== 'loading' ? history.status : 'Loading' + ELLIPSIS;
	const list = records.length ? el('div', 'tb-reqs', records.map(r => requestRow(app, r))) : emptyNote(waiting);
	return section('History', list, history.stream ? 'live' : history.status === 'ok' ? '' : null);
}

// The redirects that led to the request, as far as the history knows
// them; the browser tells how many it followed for the page the toolbar is on.
function redirectSection(app, home) {
	const navigation = home && navigationTiming(), followed = navigation ? navigation.redirectCount : 0, history = app.history.records;
	const chain = app.state.record ? redirectChain(app.state.record, [...history.values()], navigation ? followed : null, location.href) : [];
	if (!chain.length && !followed) return null;
	return section('Redirects that led here', [
		followed ? el('div', 'tb-note tb-sm', 'The browser followed ' + plural(followed, 'redirect') + ' to load this page.') : null,
		chain.length ? el('div', 'tb-reqs', chain.map(r => requestRow(app, r))) : history.size ? null : emptyNote('Loading history' + ELLIPSIS)]);
}

export function requestsPanel(app) {
	// The history page's dashboard, given by page.js.
	if (app.list) return app.dashboard(app);
	const out = el('div', 'tb-pad');
	const home = app.isHome(), items = pageRequestItems(app);
	const none = home ? app.hook ? 'No fetch or XHR requests yet.' : 'No later requests (the fetch hook is not on this page).' : 'None.';
	append(out, section(home ? 'Requests from this page' : 'Other requests of this trace',
		items.length ? el('div', 'tb-reqs', items.map(item => pageRequestRow(app, item))) : emptyNote(none), items.length || null));
	return append(out, redirectSection(app, home), historySection(app));
}
