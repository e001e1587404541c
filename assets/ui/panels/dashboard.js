/* The history page (<prefix>/) as a dashboard: the requests the store
   holds (app.history, live), searched and filtered, grouped by route
   (count, p50 and p95, the median query count, errors, a sparkline of the
   route's recent durations) or listed, newest first; each request with
   its compare and replay actions. Files dropped on the page, or picked
   with the import button, are imported (ui/import.js).
   Built once per app and updated in place: a request's row is made once
   per version of its record and moved, not rebuilt; the lists show a
   window (a group's newest few, the list's first page) that grows on
   request, so the store full (1,000 requests) stays quick. */

import { DASH, DOT, ELLIPSIS, clock, ms, plural } from '../../model/format.js';
import { GROUP_ORDERS, STATUS_CLASSES, filterChoices, filterRecords, groupByRoute, isError, newestFirst, routeOf, sparkline } from '../../model/history.js';
import { button, el, remember, remembered, replace, setAttrs } from '../dom.js';
import { emptyNote, summaryParts } from '../widgets.js';
import { bindDrop, importFiles } from '../import.js';
import { canReplay, replay } from '../replay.js';

const GROUP_ROWS = 3; // a group's newest requests shown at first
const PAGE = 200; // rows added by "show more"
const SPARK_WIDTH = 120, SPARK_HEIGHT = 22;
const ORDER_NAMES = { recent: 'Newest first', count: 'Most requests', p95: 'Slowest (p95)', errors: 'Most errors' };
const SVG = 'http://www.w3.org/2000/svg';

const dashboards = new WeakMap(); // app -> its dashboard

// The dashboard of app, brought up to date with its history.
export function dashboardPanel(app) {
	let dashboard = dashboards.get(app);
	if (!dashboard) dashboards.set(app, dashboard = createDashboard(app));
	dashboard.update();
	return dashboard.element;
}

const requestHref = (app, id) => app.prefixPath + '/requests/' + encodeURIComponent(id);

function svg(tag, attributes) {
	const e = document.createElementNS(SVG, tag);
	for (const name in attributes) e.setAttribute(name, attributes[name]);
	return e;
}

// The route's recent durations, oldest to newest, on the route's own scale.
function sparkSVG(durations) {
	const box = { viewBox: '-2 -2 ' + (SPARK_WIDTH + 4) + ' ' + (SPARK_HEIGHT + 4), width: SPARK_WIDTH, height: SPARK_HEIGHT + 4 };
	const label = durations.length ? plural(durations.length, 'recent duration') + ', oldest first: ' + durations.map(ms).join(', ') : 'no finished request';
	const out = svg('svg', Object.assign({ class: 'tb-spark', role: 'img', 'aria-label': label }, box));
	const title = svg('title');
	title.textContent = label;
	out.append(title);
	if (!durations.length) return out;
	const points = sparkline(durations, SPARK_WIDTH, SPARK_HEIGHT);
	out.append(svg('polyline', { points, fill: 'none' }));
	const [x, y] = points.slice(points.lastIndexOf(' ') + 1).split(',');
	out.append(svg('circle', { cx: x, cy: y, r: 2 }));
	return out;
}

// Puts nodes in parent in this order, moving only those out of place.
function reconcile(parent, nodes) {
	nodes.forEach((node, i) => {
		const at = parent.childNodes[i];
		if (at !== node) parent.insertBefore(node, at || null);
	});
	while (parent.childNodes.length > nodes.length) parent.lastChild.remove();
}

function select(label, key, onChange) {
	const e = setAttrs(el('select', 'tb-selx'), { 'aria-label': label, 'data-f': 'h:' + key, 'data-filter': key });
	e.onchange = () => onChange(e.value);
	return e;
}

// Sets a select's options ([value, text]) when they changed, keeping its value.
function setOptions(e, options, value) {
	const key = options.map(o => o[0]).join('\u0000');
	if (e.dataset.options !== key) {
		replace(e, options.map(([v, text]) => setAttrs(el('option', null, text), { value: v })));
		e.dataset.options = key;
	}
	e.value = options.some(o => o[0] === value) ? value : '';
}

/* A dashboard's parts and state, which the functions below share:
     app, filter { text, method, status, service }, view { mode, order },
     shown     group key -> rows shown ('' the flat list's)
     rows      record id -> { record, node }: a row per version of a record
     blocks    group key -> { node, head, list, signature }: a route's block
     tools     the bar's controls (dashboardTools)
     status, summary, columns, content, flat: the page's elements
     update()  draws it again; startImport(files) imports files */
function createDashboard(app) {
	const view = { mode: remembered('tracebar.dash.view') === 'list' ? 'list' : 'groups', order: remembered('tracebar.dash.order') || 'recent' };
	if (!GROUP_ORDERS.includes(view.order)) view.order = 'recent';
	const context = {
		app, view, filter: { text: '', method: '', status: '', service: '' }, shown: new Map(), rows: new Map(), blocks: new Map(),
		status: setAttrs(el('div', 'tb-dstat'), { role: 'status' }),
		summary: el('div', 'tb-dsum'),
		columns: el('div', 'tb-rgh tb-cols-head', [el('span', null, 'Route'), el('span', 'tb-num', 'Requests'), el('span', 'tb-num', 'p50'),
			el('span', 'tb-num', 'p95'), el('span', 'tb-num', 'Queries'), el('span', 'tb-num', 'Errors'), el('span', null, 'Recent durations')]),
		content: el('div', 'tb-dash-list'),
		flat: el('div', 'tb-reqs'),
		update: () => updateDashboard(context),
		startImport: files => importFiles(app, files, (message, kind) => say(context, message, kind))
	};
	context.tools = dashboardTools(context);
	const drop = setAttrs(el('div', 'tb-drop', el('div', null, 'Drop a HAR or OTLP JSON file to import it')), { hidden: '' });
	const element = el('div', 'tb-pad tb-dash', [context.tools.bar, context.status, context.summary, context.columns, context.content, drop]);

	// Replay and "show more" act here; rows' links need nothing.
	context.content.addEventListener('click', e => {
		const target = e.target.closest('[data-replay],[data-more]');
		if (!target) return;
		if (target.hasAttribute('data-replay')) return replayRow(context, target);
		const key = target.getAttribute('data-more'), shown = context.shown;
		shown.set(key, target.hasAttribute('data-fewer') ? GROUP_ROWS : (shown.get(key) || (key ? GROUP_ROWS : PAGE)) + PAGE);
		context.update();
	});
	bindDrop(on => { drop.hidden = !on; }, context.startImport);
	return { element, update: context.update };
}

// The bar above the requests: search, filters, the view (by route or
// all requests), the order of routes and the import; each change updates.
function dashboardTools(context) {
	const { filter, view } = context, update = context.update;
	const search = setAttrs(el('input', 'tb-q'), { type: 'search', placeholder: 'Search URL, route, operation, status',
		'aria-label': 'Search requests by URL, route, operation or status', spellcheck: 'false', autocomplete: 'off', 'data-f': 'h:q' });
	search.oninput = () => { filter.text = search.value; context.shown.delete(''); update(); };
	search.onkeydown = e => { if (e.key === 'Escape' && search.value) { search.value = filter.text = ''; update(); e.stopPropagation(); } };
	const methodSelect = select('Method', 'method', v => { filter.method = v; update(); });
	const statusSelect = select('Status', 'status', v => { filter.status = v; update(); });
	const serviceSelect = select('Service', 'service', v => { filter.service = v; update(); });
	setOptions(statusSelect, [['', 'Any status'], ...STATUS_CLASSES.map(c => [c, c]), ['error', 'Errors']], '');
	const orderSelect = select('Order of routes', 'order', v => { view.order = v; remember('tracebar.dash.order', v); update(); });
	setOptions(orderSelect, GROUP_ORDERS.map(o => [o, ORDER_NAMES[o]]), view.order);
	const modeButton = (mode, text) => {
		const b = setAttrs(button('tb-tb', text), { 'data-view': mode, 'data-f': 'h:v' + mode });
		b.onclick = () => { view.mode = mode; remember('tracebar.dash.view', mode); update(); };
		return b;
	};
	const modes = [modeButton('groups', 'By route'), modeButton('list', 'All requests')];
	const fileInput = setAttrs(el('input', 'tb-file'), { type: 'file', accept: '.har,.json,application/json', multiple: '', 'data-f': 'h:file',
		'aria-label': 'Import a HAR or OTLP JSON file' });
	fileInput.onchange = () => { const files = [...fileInput.files]; fileInput.value = ''; if (files.length) context.startImport(files); };
	const importLabel = setAttrs(el('label', 'tb-tb tb-imp', ['Import HAR or OTLP', ELLIPSIS, fileInput]),
		{ title: 'Import a HAR or OTLP JSON file (or drop it anywhere on this page)' });
	const bar = el('div', 'tb-tools tb-dtools', [search, methodSelect, statusSelect, serviceSelect, el('span', 'tb-seg', modes), orderSelect,
		el('span', 'tb-sp'), importLabel]);
	return { bar, methodSelect, serviceSelect, orderSelect, modes };
}

// The status line: a message, and its kind ("busy", "error", or '' for news).
function say(context, message, kind) {
	const status = context.status;
	replace(status, message);
	status.className = 'tb-dstat' + (kind === 'error' ? ' tb-note tb-bad' : message ? ' tb-note' : '');
	status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

// Replays a row's request (ui/replay.js, which opens the comparison), its
// button disabled meanwhile; what goes wrong shows in the status line.
async function replayRow(context, target) {
	const app = context.app, id = target.getAttribute('data-replay');
	if (app.replaying) return;
	let told = false;
	target.disabled = true;
	say(context, 'Replaying ' + target.getAttribute('data-what') + ELLIPSIS, 'busy');
	try {
		const replayed = await replay(app, app.history.records.get(id) || { id }, message => { told = true; say(context, message, 'error'); });
		if (!replayed && !told) say(context, ''); // declined
	} finally {
		target.disabled = false;
	}
}

// A request's row: a link to its page, its kind (background work, a
// session), the compare and replay actions (canReplay: none for an
// imported request, never sent here, nor for a record of any kind).
function rowOf(context, r) {
	const cached = context.rows.get(r.id);
	if (cached && cached.record === r) return cached.node;
	const error = isError(r), href = requestHref(context.app, r.id), what = r.method + ' ' + r.url;
	const queries = typeof r.queries === 'number' && r.queries ? el('span', 'tb-mu', plural(r.queries, 'query')) : null;
	const link = setAttrs(el('a', 'tb-req', [el('span', 'tb-num tb-mu', clock(r.startTime)), r.kind ? el('span', 'tb-kind', r.kind) : null, summaryParts(r), queries,
		error ? el('span', 'tb-chip tb-bad', 'error') : null]),
	{ href, 'data-req-id': r.id, 'data-f': 'r:' + r.id, title: what + (r.operation ? ' (' + r.operation + ')' : '') });
	const node = setAttrs(el('div', 'tb-hrow' + (error ? ' tb-herr' : ''), [link,
		setAttrs(el('a', 'tb-act', 'Compare'), { href: href + '#compare', title: 'Compare with the previous ' + routeOf(r), 'data-f': 'c:' + r.id }),
		canReplay(r) ? setAttrs(button('tb-act', 'Replay'), { 'data-replay': r.id, 'data-what': what, title: 'Send ' + what + ' again and compare', 'data-f': 'p:' + r.id }) : null]),
	{ 'data-id': r.id, 'data-error': error });
	context.rows.set(r.id, { record: r, node });
	return node;
}

// The rows of records up to the window of key, and the button that
// shows more (or fewer).
function windowed(context, records, key) {
	const first = key ? GROUP_ROWS : PAGE, limit = context.shown.get(key) || first, nodes = records.slice(0, limit).map(r => rowOf(context, r));
	const more = records.length - limit;
	if (more > 0) {
		const text = more <= PAGE ? 'Show all ' + records.length : 'Show ' + PAGE + ' more (' + more + ' not shown)';
		nodes.push(setAttrs(button('tb-more', text), { 'data-more': key, 'data-f': 'm:' + key }));
	} else if (key && limit > GROUP_ROWS) {
		nodes.push(setAttrs(button('tb-more', 'Show fewer'), { 'data-more': key, 'data-fewer': '', 'data-f': 'm:' + key }));
	}
	return nodes;
}

// A route's block: its figures, then its newest requests.
function groupBlock(context, group) {
	let block = context.blocks.get(group.key);
	if (!block) {
		const head = el('div', 'tb-rgh'), list = el('div', 'tb-reqs');
		const label = group.route + (group.operation ? ' ' + group.operation : '');
		block = { head, list, node: setAttrs(el('div', 'tb-rg', [head, list]), { 'data-route': group.route, role: 'group', 'aria-label': label }), signature: '' };
		context.blocks.set(group.key, block);
	}
	const signature = [group.count, group.errors, group.p50, group.p95, group.queries, group.recent.join()].join('|');
	if (signature !== block.signature) {
		block.signature = signature;
		// Background work has no method: its route is its root span's name.
		const space = group.kind === 'background' ? -1 : group.route.indexOf(' '), method = space > 0 ? group.route.slice(0, space) : '', path = group.route.slice(space + 1);
		const label = [group.kind ? el('span', 'tb-kind', group.kind) : null, ...group.operation ? [el('span', 'tb-meth', method), el('span', 'tb-op', group.operation), el('span', 'tb-url tb-mu', path)]
			: [el('span', 'tb-meth', method), el('span', 'tb-url', path)]];
		const figure = (name, value) => setAttrs(el('span', 'tb-num', value), { 'data-stat': name, title: name + ': ' + value });
		replace(block.head, setAttrs(el('span', 'tb-rl', label), { title: group.route + (group.operation ? ' ' + group.operation : '') }),
			figure('count', group.count), figure('p50', ms(group.p50)), figure('p95', ms(group.p95)),
			figure('queries', group.queries == null ? DASH : Math.round(group.queries * 10) / 10),
			group.errors ? setAttrs(el('span', 'tb-num tb-errs', group.errors), { 'data-stat': 'errors', title: plural(group.errors, 'error') }) : figure('errors', DASH),
			sparkSVG(group.recent));
		block.node.classList.toggle('tb-rg-err', group.errors > 0);
		block.node.setAttribute('data-operation', group.operation);
		block.node.setAttribute('data-kind', group.kind);
	}
	reconcile(block.list, windowed(context, group.records, group.key));
	return block.node;
}

// Brings the dashboard up to date with the history, the filter and the view.
function updateDashboard(context) {
	const started = performance.now(), { app, filter, view, tools, rows, blocks, summary, columns, content } = context, history = app.history;
	const all = [...history.records.values()];
	for (const [id, row] of rows) if (history.records.get(id) !== row.record) rows.delete(id); // gone or replaced
	const choices = filterChoices(all);
	setOptions(tools.methodSelect, [['', 'Any method'], ...choices.methods.map(m => [m, m])], filter.method);
	setOptions(tools.serviceSelect, [['', 'Any service'], ...choices.services.map(s => [s, s])], filter.service);
	tools.serviceSelect.hidden = !choices.services.length;
	filter.method = tools.methodSelect.value;
	filter.service = tools.serviceSelect.value;
	for (const b of tools.modes) b.setAttribute('aria-pressed', b.getAttribute('data-view') === view.mode);
	tools.orderSelect.hidden = columns.hidden = view.mode !== 'groups';

	const records = filterRecords(all, filter), filtered = records.length !== all.length;
	if (!all.length) {
		const waiting = history.status === 'ok' || history.stream ? 'No requests yet. Load a page of your app through Caddy, or drop a HAR or OTLP JSON file here to import it.'
			: history.status && history.status !== 'loading' ? history.status : 'Loading' + ELLIPSIS;
		replace(summary);
		columns.hidden = true;
		reconcile(content, [emptyNote(waiting)]);
	} else if (!records.length) {
		replace(summary, plural(all.length, 'request'), ' stored');
		columns.hidden = true;
		reconcile(content, [emptyNote('No request matches the filter.')]);
	} else if (view.mode === 'groups') {
		const groups = groupByRoute(records, view.order), errors = groups.reduce((n, g) => n + g.errors, 0);
		replace(summary, plural(records.length, 'request'), filtered ? ' of ' + all.length : '', DOT, plural(groups.length, 'route'),
			errors ? [DOT, el('span', 'tb-errs', plural(errors, 'error'))] : null);
		reconcile(content, groups.map(group => groupBlock(context, group)));
		const keys = new Set(groups.map(g => g.key));
		for (const key of blocks.keys()) if (!keys.has(key)) blocks.delete(key);
	} else {
		const list = newestFirst(records), errors = list.filter(isError).length;
		replace(summary, plural(list.length, 'request'), filtered ? ' of ' + all.length : '', errors ? [DOT, el('span', 'tb-errs', plural(errors, 'error'))] : null);
		reconcile(context.flat, windowed(context, list, ''));
		reconcile(content, [context.flat]);
	}
	app.debug.perf.dashboard = performance.now() - started;
}
