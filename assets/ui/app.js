/* The toolbar: its configuration (from the script tag), the request on
   show (one state object, ui/state.js), the preferences that outlive it
   (ui), the history, and the render loop that draws the shown panel.
   Two modes: the badge a page gets (injected before </body>), and the
   full page of page.html (app.page) at <prefix>/ (the history alone:
   app.list) and <prefix>/requests/<id> (one request's panels). */

import { requestState, debugSpans } from './state.js';
import { remember, remembered, replace } from './dom.js';
import { CORNERS, THEMES, createShell } from './shell.js';
import { createClient } from './client.js';
import { createReporter } from './browser.js';
import { createTracePanel } from './panels/trace.js';
import { timingPanel } from './panels/timing.js';
import { headersPanel } from './panels/headers.js';
import { sqlPanel } from './panels/sql.js';
import { logsPanel } from './panels/logs.js';
import { requestsPanel } from './panels/requests.js';
import { alertsPanel } from './panels/alerts.js';
import { comparePanel } from './panels/compare.js';
import { metricsPanel } from './panels/metrics.js';
import { bindEvents } from './events.js';
import { ancestorIds } from '../model/trace.js';

const PANELS = { timing: timingPanel, headers: headersPanel, sql: sqlPanel, logs: logsPanel, alerts: alertsPanel, compare: comparePanel, metrics: metricsPanel, requests: requestsPanel };

/* config: { page, homeId, homeTraceId, prefix (absolute URL), prefixPath,
   version, hook (hook.js's window.__tracebarHook, or null), dashboard (the
   history page's panel, given by page.js only) } */
export function startToolbar(config) {
	const list = config.page && !config.homeId;
	const tabs = list ? ['requests'] : ['timing', 'headers', 'trace', 'sql', 'logs', 'alerts', 'compare', 'metrics', 'requests'];
	const pick = (value, allowed) => allowed.includes(value) ? value : allowed[0];
	const app = Object.assign({}, config, {
		list,
		tabs,
		state: requestState(config.homeId),
		ui: {
			open: config.page || remembered('tracebar.open') === '1',
			tab: pick(remembered('tracebar.tab'), tabs),
			theme: pick(remembered('tracebar.theme'), THEMES),
			corner: pick(remembered('tracebar.pos'), CORNERS),
			query: '', // the waterfall's filter
			levelsOff: new Set(), // log levels hidden
			sqlOpen: new Map(), // SQL group key -> opened or closed by hand
			sqlSlowest: false, // the SQL panel lists every query, slowest first
			scrolls: {}, // tab -> the body's scroll when left
			shownTab: '' // the tab in the body
		},
		history: { records: new Map(), stream: null, status: '', dead: false },
		config: null, // /api/config: editor links, the slow query threshold
		schedule, render, show, select, setOpen, setTab, compare, remember,
		isHome: () => app.state.id === app.homeId && !app.page,
		setLoadState: value => app.shell.host.setAttribute('data-state', value)
	});
	// For tests and people debugging: the shown request, its spans, timings.
	app.debug = window.__tracebar = {
		get spans() { return debugSpans(app.state); },
		get request() { return app.state.id; },
		perf: {}, // load: ms to parse and index a trace; render: ms of the last render
		show: id => show(id)
	};
	app.shell = createShell(app);
	app.client = createClient(app, state => { if (state.id === app.homeId) app.reporter.reportLoad(); });
	app.reporter = createReporter(app, app.client);
	app.trace = createTracePanel(app);

	// Bursts of updates (a stream's spans) coalesce into one render.
	let pending = false;
	function schedule() {
		if (pending) return;
		pending = true;
		if (window.requestAnimationFrame) requestAnimationFrame(flush);
		// rAF does not fire in hidden tabs.
		setTimeout(flush, 120);
	}
	function flush() {
		if (!pending) return;
		pending = false;
		render();
	}

	function render() {
		const started = performance.now(), ui = app.ui, { body, root, panel } = app.shell, client = app.client;
		app.shell.renderBadge();
		app.shell.renderHead();
		panel.hidden = !ui.open;
		if (!ui.open || ui.tab !== 'requests') client.stopHistory();
		if (!ui.open) return;
		if (ui.tab === 'requests' && !app.list && !app.history.stream) client.startHistory();
		// Keep the scroll and focus across the rebuild.
		if (ui.shownTab && ui.shownTab !== ui.tab) ui.scrolls[ui.shownTab] = body.scrollTop;
		const scroll = ui.shownTab === ui.tab ? body.scrollTop : ui.scrolls[ui.tab] || 0;
		const active = root.activeElement, focusKey = active && body.contains(active) && active.getAttribute('data-f');
		if (ui.tab === 'trace') {
			body.classList.add('tb-fill');
			app.trace.mount(body);
		} else {
			if (ui.shownTab === 'trace') app.trace.unmount();
			body.classList.remove('tb-fill');
			replace(body, PANELS[ui.tab](app));
			body.scrollTop = scroll;
		}
		ui.shownTab = ui.tab;
		const again = focusKey && body.querySelector('[data-f="' + CSS.escape(focusKey) + '"]');
		if (again && again !== root.activeElement) again.focus({ preventScroll: true });
		app.debug.perf.render = performance.now() - started;
	}

	function setOpen(open) {
		app.ui.open = open;
		remember('tracebar.open', open ? '1' : '0');
		render();
	}
	function setTab(tab) {
		if (tab === 'requests') app.history.dead = false;
		app.ui.tab = tab;
		remember('tracebar.tab', tab);
		render();
	}
	// Selects span id in the waterfall (keep: even when selected already),
	// unfolding its ancestors and dropping a filter that hides it.
	function select(id, keep) {
		const state = app.state;
		state.selected = keep || state.selected !== id ? id : '';
		state.focused = id;
		for (const parent of ancestorIds(state.spans, id)) state.collapsed.delete(parent);
		if (app.ui.tab !== 'trace') {
			app.ui.tab = 'trace';
			remember('tracebar.tab', 'trace');
		}
		if (!app.trace.isHit(id)) app.trace.clearFilter(false);
		render();
		app.trace.reveal(id);
	}
	// Opens the Compare tab of request id (the one on show when '') with
	// another (withId; '': the last load of its route).
	function compare(id, withId) {
		show(id);
		const state = app.state;
		Object.assign(state, { compareWith: withId || '', comparison: null, compareError: '' });
		app.client.loadComparison(state);
		setTab('compare');
	}
	// Shows another request's panels in place: a new state object.
	function show(id) {
		if (!id || id === app.state.id) return;
		app.client.closeStream();
		app.state = requestState(id);
		app.shell.host.setAttribute('data-state', 'loading');
		app.shell.host.setAttribute('data-span-count', '0');
		app.shell.host.setAttribute('data-request', id);
		if (app.ui.tab === 'requests') app.ui.tab = 'trace';
		app.client.loadRecord(app.state);
		render();
	}

	// <prefix>/requests/<id>#compare[=<other id>] opens the comparison.
	const hash = !list && config.page && /^#compare(?:=([^&]*))?$/.exec(location.hash);
	if (hash) {
		app.ui.tab = 'compare';
		try { app.state.compareWith = decodeURIComponent(hash[1] || ''); } catch (e) { /* a broken link: the route's last load */ }
	}

	bindEvents(app);
	app.reporter.start();
	render();
	app.client.loadConfig();
	app.client.loadRecord(app.state);
	if (list) app.client.startHistory();
	return app;
}
