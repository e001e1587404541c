/* The toolbar's frame: the host element (its shadow root keeps the page's
   CSS out), the badge, and the panel's head (tabs, theme and corner
   buttons), summary line and body. The host's data-state (loading, ready,
   error), data-span-count and data-request tell tests and scripts where
   the toolbar is. */

import { DASH, DOT, ELLIPSIS, ms, plural } from '../model/format.js';
import { recordMs } from '../model/requests.js';
import { actionButton, append, button, el, replace, setAttrs } from './dom.js';
import { statusChip } from './widgets.js';
import { logsOf, queriesOf, traceOf } from './state.js';
import { alertTone } from '../model/alerts.js';
import { pageRequestItems } from './panels/requests.js';
import { canReplay } from './replay.js';

export const TAB_NAMES = { timing: 'Timing', headers: 'Headers', trace: 'Trace', sql: 'SQL', logs: 'Logs', alerts: 'Alerts', compare: 'Compare', metrics: 'Metrics', requests: 'Requests' };
export const THEMES = ['auto', 'light', 'dark'];
export const CORNERS = ['br', 'bl', 'tl', 'tr'];
const CORNER_NAMES = { br: 'bottom right', bl: 'bottom left', tl: 'top left', tr: 'top right' };
const OUT = '\u2197', WARN = '\u26a0 ', DASH_TRACEBAR = ' \u2014 Tracebar';
export const next = (list, item) => list[(list.indexOf(item) + 1) % list.length];

export function createShell(app) {
	const ui = app.ui;
	const host = document.createElement('div');
	host.id = 'tracebar-root';
	setAttrs(host, { 'data-state': 'loading', 'data-span-count': '0', 'data-request': app.homeId });
	const root = host.attachShadow({ mode: 'open' });
	// This build's stylesheets, cached for good; the dashboard's only on the history page (<prefix>/).
	const stylesheets = ['toolbar.css', app.list ? 'dashboard.css' : null].filter(Boolean).map(name =>
		setAttrs(document.createElement('link'), { rel: 'stylesheet', href: app.prefix + '/static/' + name + (app.version ? '?v=' + app.version : '') }));
	const wrap = el('div', 'tb' + (app.page ? ' tb-pg' : ''));
	// Unstyled content would be a mess: hidden until the CSS has loaded.
	wrap.style.display = 'none';
	let loading = stylesheets.length;
	for (const sheet of stylesheets) sheet.onload = () => { if (--loading) return; wrap.style.display = ''; app.schedule(); };
	const badge = setAttrs(button('tb-badge'),
		{ title: 'Tracebar: toggle the debug panel (Alt+T)', 'aria-keyshortcuts': 'Alt+T', 'aria-controls': 'tb-panel' });
	const panel = setAttrs(el('div', 'tb-panel'), app.page ? { role: 'main' } : { role: 'dialog', 'aria-label': 'Tracebar', id: 'tb-panel' });
	const tabs = setAttrs(el('div', 'tb-tabs'), { role: 'tablist', 'aria-label': 'Tracebar panels' });
	const tabButtons = {};
	for (const tab of app.tabs) {
		tabButtons[tab] = setAttrs(button('tb-tab', TAB_NAMES[tab]),
			{ role: 'tab', 'data-tab': tab, id: 'tb-tab-' + tab, 'aria-controls': 'tb-body' });
		append(tabs, tabButtons[tab]);
	}
	const themeButton = actionButton('tb-ic', '\u25d0', 'theme'), cornerButton = actionButton('tb-ic', '\u21f2', 'pos');
	const closeButton = actionButton('tb-x', '\u00d7', 'close', 'Close panel (Esc)');
	const live = setAttrs(el('span', 'tb-live'), { role: 'status' });
	const brand = app.page ? setAttrs(el('a', 'tb-brand', 'Tracebar'), { href: app.prefixPath + '/', title: 'Recent requests' })
		: el('span', 'tb-brand', 'Tracebar');
	const summary = el('div', 'tb-sum');
	const body = setAttrs(el('div', 'tb-body'), { role: 'tabpanel', id: 'tb-body' });
	const head = el('div', 'tb-head', [brand, tabs, el('span', 'tb-sp'), live, themeButton, app.page ? null : [cornerButton, closeButton]]);
	append(panel, head, summary, body);
	append(wrap, panel, app.page ? null : badge);
	append(root, stylesheets, wrap);

	// The host's place: inline !important styles win over page CSS aimed at
	// body > div and the like.
	function placeHost() {
		const vertical = ui.corner[0] === 't' ? 'top:12px;bottom:auto' : 'bottom:12px;top:auto';
		const horizontal = ui.corner[1] === 'l' ? 'left:12px;right:auto' : 'right:12px;left:auto';
		const style = app.page ? 'all:initial;display:block;position:relative;margin:0;padding:0'
			: 'all:initial;position:fixed;z-index:2147483647;display:block;margin:0;padding:0;transform:none;' + vertical + ';' + horizontal;
		for (const declaration of style.split(';')) {
			const i = declaration.indexOf(':');
			host.style.setProperty(declaration.slice(0, i), declaration.slice(i + 1), 'important');
		}
		setAttrs(host, { 'data-theme': ui.theme, 'data-pos': ui.corner });
	}
	placeHost();

	// Turbo, htmx boost and the like replace <body>: put the toolbar back,
	// and drop dead clones from snapshot caches.
	function attach() {
		if (!host.isConnected) (document.body || document.documentElement).appendChild(host);
		document.querySelectorAll('#tracebar-root').forEach(x => { if (x !== host) x.remove(); });
	}
	let watched = null;
	const observer = new MutationObserver(() => {
		if (!host.isConnected || document.getElementById('tracebar-root') !== host) attach();
		if (document.body && document.body !== watched) observer.observe(watched = document.body, { childList: true });
	});
	attach();
	observer.observe(document.documentElement, { childList: true });
	if (document.body) observer.observe(watched = document.body, { childList: true });
	if (app.page) document.body.style.margin = '0';

	function renderBadge() {
		const state = app.state, r = state.record, code = (r && r.status) || 0, open = ui.open;
		const errors = state.spans.size ? traceOf(state).tree.errors : 0;
		const tone = code >= 500 || (r && r.error) ? ' tb-5xx' : code >= 400 ? ' tb-4xx' : code >= 300 ? ' tb-3xx' : code ? ' tb-2xx' : '';
		badge.className = 'tb-badge' + tone + (errors ? ' tb-has-err' : '') + (open ? ' tb-open' : '');
		badge.setAttribute('aria-expanded', open);
		const parts = [el('span', 'tb-dot')], spans = plural(state.spans.size, 'span');
		if (state.failed && !r) parts.push(el('span', 'tb-st', 'Tracebar: no data'));
		else {
			if (state.id !== app.homeId) parts.push(el('span', 'tb-other', 'other request'));
			if (r && r.operation) parts.push(el('span', 'tb-op', r.operation));
			const time = r && (r.done || recordMs(r)) ? ms(recordMs(r)) : DASH;
			parts.push(el('span', 'tb-st', code || ELLIPSIS), el('span', 'tb-sep', DOT), el('span', 'tb-ms', time),
				el('span', 'tb-cnt', ' ' + spans));
			if (errors) parts.push(setAttrs(el('span', 'tb-errn', WARN + errors), { title: plural(errors, 'span') + ' with error status' }));
			if (state.alerts && state.alerts.length) {
				parts.push(el('span', 'tb-aln tb-' + alertTone(state.alerts), plural(state.alerts.length, 'alert')));
			}
		}
		const alerts = state.alerts && state.alerts.length ? ', ' + plural(state.alerts.length, 'alert') : '';
		const said = !r ? 'loading' : (code || 'in flight') + ', ' + ms(recordMs(r)) + ', ' + spans + (errors ? ', ' + plural(errors, 'error') : '') + alerts;
		badge.setAttribute('aria-label', 'Tracebar: ' + said + '. Toggle panel (Alt+T)');
		replace(badge, parts);
	}

	// A tab's name and count (tone: bad or warn).
	function tabCount(tab, n, tone) {
		replace(tabButtons[tab], TAB_NAMES[tab]);
		if (n) append(tabButtons[tab], el('span', 'tb-n' + (tone ? ' tb-' + tone : ''), n));
	}

	function renderHead() {
		const state = app.state, r = state.record;
		for (const tab of app.tabs) {
			tabButtons[tab].setAttribute('aria-selected', tab === ui.tab);
			tabButtons[tab].tabIndex = tab === ui.tab ? 0 : -1;
		}
		body.setAttribute('aria-labelledby', 'tb-tab-' + ui.tab);
		if (!app.list) {
			const { tree } = traceOf(state), queries = queriesOf(state), logs = logsOf(state);
			tabCount('trace', state.spans.size, tree.errors ? 'bad' : '');
			tabCount('sql', queries.count, queries.hasNPlusOne ? 'bad' : queries.flagged ? 'warn' : '');
			tabCount('logs', logs.length, logs.some(x => x.level === 'error') ? 'bad' : '');
			tabCount('alerts', state.alerts ? state.alerts.length : 0, alertTone(state.alerts));
			tabCount('requests', pageRequestItems(app).length);
		}
		const nextTheme = next(THEMES, ui.theme), nextCorner = CORNER_NAMES[next(CORNERS, ui.corner)];
		setAttrs(themeButton, { 'aria-label': 'Theme: ' + ui.theme + '. Switch to ' + nextTheme, title: 'Theme: ' + ui.theme });
		setAttrs(cornerButton, { 'aria-label': 'Move to the ' + nextCorner + ' corner', title: 'Move to the ' + nextCorner + ' corner' });
		const parts = [];
		if (!app.page && state.id !== app.homeId) {
			parts.push(actionButton('tb-back', '\u2190 This page', 'home', 'Back to this page\u2019s request'));
		}
		if (app.page && !app.list) parts.push(setAttrs(el('a', 'tb-a', '\u2190 All requests'), { href: app.prefixPath + '/' }));
		if (app.list) parts.push(el('strong', null, 'Recent requests'), el('span', 'tb-mu', app.history.stream ? 'live' : app.history.status));
		if (r) {
			parts.push(el('span', 'tb-meth', r.method), r.operation ? el('span', 'tb-op', r.operation) : null, setAttrs(el('span', 'tb-url', r.url), { title: r.url || '' }), statusChip(r),
				el('span', 'tb-mu', ms(recordMs(r))));
		} else if (!app.list) {
			parts.push(el('span', 'tb-mu', state.failed ? 'Request ' + state.id + ': ' + state.failed : 'Loading' + ELLIPSIS));
		}
		parts.push(el('span', 'tb-sp'));
		if (r && r.done && !app.list && canReplay(r)) {
			const safe = r.method === 'GET' || r.method === 'HEAD';
			parts.push(actionButton('tb-tb', 'Replay', 'replay', 'Send ' + r.method + ' ' + r.url + ' again from this page and compare' + (safe ? '' : ' (asks first)'),
				app.replaying && { disabled: '' }));
		}
		if (state.traceId) {
			parts.push(setAttrs(el('code', 'tb-tid', state.traceId.slice(0, 8) + ELLIPSIS), { title: 'trace ' + state.traceId }),
				actionButton('tb-tb', 'Copy ID', 'copy', 'Copy the trace ID'),
				actionButton('tb-tb', 'OTLP JSON', 'download', 'Download the trace as OTLP JSON'));
			if (r && /^https?:\/\//.test(r.traceLink || '')) {
				const link = { href: r.traceLink, target: '_blank', rel: 'noopener noreferrer', title: r.traceLink };
				parts.push(setAttrs(el('a', 'tb-link', 'open ' + OUT), link));
			}
		}
		if (!app.page && state.id) {
			const href = app.prefixPath + '/requests/' + encodeURIComponent(state.id);
			const link = { href, target: '_blank', rel: 'noopener', title: 'This request in a page of its own' };
			parts.push(setAttrs(el('a', 'tb-a', 'full page ' + OUT), link));
		}
		if (state.evicted) parts.push(el('span', 'tb-chip tb-warn', 'evicted'));
		if (state.backendError) parts.push(setAttrs(el('span', 'tb-chip tb-warn', 'backend unreachable: local spans only'), { title: state.backendError }));
		// Keep focus on a summary button across the rebuild.
		const active = root.activeElement, action = active && summary.contains(active) && active.getAttribute('data-act');
		replace(summary, parts);
		const again = action && summary.querySelector('[data-act="' + action + '"]');
		if (again) again.focus({ preventScroll: true });
		if (app.page) document.title = (app.list ? 'Recent requests' : r ? r.method + ' ' + r.url : 'Request ' + state.id) + DASH_TRACEBAR;
	}

	// A passing message for screen readers and eyes (copied, downloaded).
	function flash(message) {
		live.textContent = message;
		setTimeout(() => { if (live.textContent === message) live.textContent = ''; }, 2500);
	}

	return { host, root, badge, panel, tabs, tabButtons, summary, body, placeHost, renderBadge, renderHead, flash };
}
