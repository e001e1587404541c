/* Tracebar debug toolbar: plain ES2020, no dependencies, nothing fetched
   from outside the page's origin. Values from the API are only ever
   rendered as text nodes, never parsed as HTML.
   Two modes: the badge a page gets (injected before </body>), and the full
   page of page.html (data-tracebar-mode="page") at <prefix>/ (recent
   requests) and <prefix>/requests/<id> (one request's panels). */
(() => {
'use strict';
const W = window, D = document;
if (W.__tracebar) return;
const me = D.currentScript || D.querySelector('script[data-tracebar-mode],script[src*="/static/toolbar.js"]');
if (!me) return;
const PAGE = me.getAttribute('data-tracebar-mode') === 'page';
const src = me.src || '', cut = src.lastIndexOf('/static/toolbar.js');
const prefix = cut >= 0 ? src.slice(0, cut) : location.origin + '/__tracebar'; // absolute
const ppath = new URL(prefix, location.href).pathname;
const HK = (!PAGE && W.__tracebarHook) || null; // hook.js: hooked fetch/XHR, the page span
const HEX16 = /^[0-9a-f]{16}$/, HEX32 = /^[0-9a-f]{32}$/;
let homeId = me.getAttribute('data-tracebar-request') || '';
if (PAGE) {
	const m = location.pathname.match(/\/requests\/([^/]+)\/?$/);
	try { homeId = m ? decodeURIComponent(m[1]) : ''; } catch (e) { homeId = ''; }
}
const LIST = PAGE && !homeId; // <prefix>/: the list of recent requests alone
const TID = (HK && HK.traceId) || (HEX32.test(me.getAttribute('data-tracebar-trace') || '') ? me.getAttribute('data-tracebar-trace') : '');
const TABS = LIST ? ['requests'] : ['timing', 'headers', 'trace', 'sql', 'logs', 'requests'];
const NAMES = { timing: 'Timing', headers: 'Headers', trace: 'Trace', sql: 'SQL', logs: 'Logs', requests: 'Requests' };
const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const LEVELS = ['error', 'warn', 'info', 'debug'];
const THEMES = ['auto', 'light', 'dark'], CORNERS = ['br', 'bl', 'tl', 'tr'];
const CORNER = { br: 'bottom right', bl: 'bottom left', tl: 'top left', tr: 'top right' };
const DOT = ' \u00b7 ', ELL = '\u2026', DASH = '\u2014', ARR = ' \u2192 ', WARN = '\u26a0 ', HOOK = '\u2197';
const RH = 24; // waterfall row height (px), as in the CSS
const SELF = 'github.com/tracebar/tracebar'; // the proxy's instrumentation scope
// The proxy's upstream phases: timing, events of its CLIENT span, not log lines.
const PHASES = new Set(['dns.start', 'dns.done', 'connect.start', 'connect.done', 'tls.start', 'tls.done', 'response.first_byte', 'next_round_trip']);

/* ---- helpers ---- */
// The one place children are added: null, undefined and false are skipped
// (DOM append(null) would print "null"), arrays are flattened, strings
// become text nodes. put appends, fill replaces; both return the element.
const add = (e, k) => {
	if (k == null || k === false) return e;
	if (Array.isArray(k)) k.forEach(c => add(e, c));
	else e.append(k.nodeType ? k : String(k));
	return e;
};
const put = (e, ...k) => add(e, k);
const fill = (e, ...k) => { e.replaceChildren(); return add(e, k); };
const h = (tag, cls, kids) => {
	const e = D.createElement(tag);
	if (cls) e.className = cls;
	add(e, kids);
	return e;
};
const attrs = (e, o) => { for (const k in o) e.setAttribute(k, o[k]); return e; };
const btn = (cls, kids, label) => attrs(h('button', cls, kids), label ? { type: 'button', 'aria-label': label, title: label } : { type: 'button' });
const act = (cls, kids, a, label, more) => attrs(btn(cls, kids, label), Object.assign({ 'data-act': a }, more));
const pct = x => Math.max(0, Math.min(100, x * 100)) + '%';
const place = (e, left, width) => { e.style.left = pct(left); if (width != null) e.style.width = pct(width); return e; };
const ls = (k, v) => { try { return v == null ? localStorage.getItem(k) : localStorage.setItem(k, v); } catch (e) { return null; } };
const plural = (n, w) => n + ' ' + (n === 1 ? w : /[^aeiou]y$/.test(w) ? w.slice(0, -1) + 'ies' : /(ch|sh|s|x)$/.test(w) ? w + 'es' : w + 's');
function ms(v) {
	if (v == null || !isFinite(v)) return DASH;
	const a = Math.abs(v);
	return a === 0 ? '0 ms' : a >= 1000 ? (v / 1000).toFixed(a >= 1e4 ? 1 : 2) + ' s' :
		a >= 1 ? v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2) + ' ms' : (v * 1000).toFixed(0) + ' \u00b5s';
}
const bytes = n => !isFinite(n) ? DASH : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB' : (n / 1048576).toFixed(2) + ' MB';
function ns(x) { // OTLP times are decimal strings of nanoseconds
	try { return BigInt(x || 0); } catch (e) { return isFinite(+x) ? BigInt(Math.round(+x)) : 0n; }
}
const dt = (a, b) => Number(b - a) / 1e6; // ns BigInts -> ms
const cmp = (a, b) => a < b ? -1 : a > b ? 1 : 0;
function anyStr(v, nested) { // OTLP AnyValue -> readable text
	if (v == null || typeof v !== 'object') return v == null ? '' : String(v);
	if ('stringValue' in v) return nested ? JSON.stringify(String(v.stringValue)) : String(v.stringValue);
	for (const k of ['intValue', 'doubleValue', 'boolValue']) if (k in v) return String(v[k]);
	if ('bytesValue' in v) return 'base64:' + v.bytesValue;
	if (v.arrayValue) return '[' + (v.arrayValue.values || []).map(x => anyStr(x, 1)).join(', ') + ']';
	if (v.kvlistValue) return '{' + (v.kvlistValue.values || []).map(kv => kv.key + ': ' + anyStr(kv.value, 1)).join(', ') + '}';
	return '';
}
const attrOf = (list, k) => { const a = (list || []).find(x => x && x.key === k); return a ? anyStr(a.value) : ''; };
const PALETTE = ['#3b82f6', '#14b8a6', '#8b5cf6', '#f59e0b', '#22c55e', '#f97316', '#64748b', '#d946ef'];
const hex = n => Array.from(crypto.getRandomValues(new Uint8Array(n)), x => (x < 16 ? '0' : '') + x.toString(16)).join('');
const clock = t => { const d = new Date(t); return isNaN(d) ? '' : d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0'); };
const SECRET = /token|secret|passw|session|auth|api.?key|^code$|^sig|credential/i;
function clean(u) { // a URL as reported in span attributes: secret-looking query values redacted
	try {
		const x = new URL(u, location.href);
		for (const k of [...x.searchParams.keys()]) if (SECRET.test(k)) x.searchParams.set(k, 'REDACTED');
		return x.href;
	} catch (e) { return String(u); }
}
/* SQL statements group by their shape: comments dropped, string, number
   and placeholder literals become ?, IN lists (?, ?, ?) become (?),
   whitespace collapses. */
const normSQL = q => q.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
	.replace(/'(?:[^']|'')*'/g, '?').replace(/\$\d+\b/g, '?')
	.replace(/(?<![\w.$])(?:0x[0-9a-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?)\b/gi, '?')
	.replace(/\(\s*\?(?:\s*,\s*\?)*\s*\)/g, '(?)').replace(/\s+/g, ' ').trim();

/* ---- state ---- */
let open = PAGE || ls('tracebar.open') === '1', tab = ls('tracebar.tab'), theme = ls('tracebar.theme'), corner = ls('tracebar.pos');
if (!TABS.includes(tab)) tab = TABS[0];
if (!THEMES.includes(theme)) theme = 'auto';
if (!CORNERS.includes(corner)) corner = 'br';
// S is the request on show: the page's own, or one picked in Requests.
const fresh = id => ({ id, rec: null, traceId: '', spans: new Map(), logs: [], logKeys: new Set(), others: new Map(), es: null, evicted: false, failed: '', tries: 0, ver: 0 });
let S = fresh(homeId), Dv = null, selected = '', focusId = '', query = '', collapsed = new Set(), shown = '';
const lvlOff = new Set(), sqlOpen = new Map(), scrolls = {}, hist = new Map();
let histEs = null, histState = '', histDead = false;
W.__tracebar = { get spans() { return S.spans; }, get request() { return S.id; }, perf: {}, show: id => show(id) };

/* ---- skeleton ---- */
const host = D.createElement('div');
host.id = 'tracebar-root';
attrs(host, { 'data-state': 'loading', 'data-span-count': '0', 'data-request': homeId });
function placeHost() { // inline !important styles win over page CSS aimed at body > div and the like
	const v = corner[0] === 't' ? 'top:12px;bottom:auto' : 'bottom:12px;top:auto', x = corner[1] === 'l' ? 'left:12px;right:auto' : 'right:12px;left:auto';
	(PAGE ? 'all:initial;display:block;position:relative;margin:0;padding:0' : 'all:initial;position:fixed;z-index:2147483647;display:block;margin:0;padding:0;transform:none;' + v + ';' + x)
		.split(';').forEach(d => { const i = d.indexOf(':'); host.style.setProperty(d.slice(0, i), d.slice(i + 1), 'important'); });
	attrs(host, { 'data-theme': theme, 'data-pos': corner });
}
placeHost();
const root = host.attachShadow({ mode: 'open' });
const ver = (src.match(/[?&]v=([0-9a-f]+)/) || [])[1]; // this build: cached for good
const link = attrs(D.createElement('link'), { rel: 'stylesheet', href: prefix + '/static/toolbar.css' + (ver ? '?v=' + ver : '') });
const wrap = h('div', 'tb' + (PAGE ? ' tb-pg' : ''));
wrap.style.display = 'none'; // unstyled content would be a mess: wait for the CSS
link.onload = () => { wrap.style.display = ''; schedule(); };
const badge = attrs(btn('tb-badge'), { title: 'Tracebar: toggle the debug panel (Alt+T)', 'aria-keyshortcuts': 'Alt+T' });
const panel = attrs(h('div', 'tb-panel'), PAGE ? { role: 'main' } : { role: 'dialog', 'aria-label': 'Tracebar', id: 'tb-panel' });
badge.setAttribute('aria-controls', 'tb-panel');
const tabsEl = attrs(h('div', 'tb-tabs'), { role: 'tablist', 'aria-label': 'Tracebar panels' });
const tabBtn = {};
for (const t of TABS) put(tabsEl, tabBtn[t] = attrs(btn('tb-tab', NAMES[t]), { role: 'tab', 'data-tab': t, id: 'tb-tab-' + t, 'aria-controls': 'tb-body' }));
const themeBtn = act('tb-ic', '\u25d0', 'theme'), posBtn = act('tb-ic', '\u21f2', 'pos');
const closeBtn = act('tb-x', '\u00d7', 'close', 'Close panel (Esc)');
const live = attrs(h('span', 'tb-live'), { role: 'status' });
const brand = PAGE ? attrs(h('a', 'tb-brand', 'Tracebar'), { href: ppath + '/', title: 'Recent requests' }) : h('span', 'tb-brand', 'Tracebar');
const sum = h('div', 'tb-sum');
const body = attrs(h('div', 'tb-body'), { role: 'tabpanel', id: 'tb-body' });
put(panel, h('div', 'tb-head', [brand, tabsEl, h('span', 'tb-sp'), live, themeBtn, PAGE ? null : posBtn, PAGE ? null : closeBtn]), sum, body);
put(wrap, panel);
if (!PAGE) put(wrap, badge);
put(root, link, wrap);
if (PAGE) D.body.style.margin = '0';

// Turbo, htmx boost and the like replace <body>: put the toolbar back.
function attach() {
	if (!host.isConnected) (D.body || D.documentElement).appendChild(host);
	D.querySelectorAll('#tracebar-root').forEach(x => { if (x !== host) x.remove(); }); // dead clones from snapshot caches
}
let watched = null;
const mo = new MutationObserver(() => {
	if (!host.isConnected || D.getElementById('tracebar-root') !== host) attach();
	if (D.body && D.body !== watched) mo.observe(watched = D.body, { childList: true });
});
attach();
mo.observe(D.documentElement, { childList: true });
if (D.body) mo.observe(watched = D.body, { childList: true });

/* ---- derived data, cached per version of the span set ---- */
function derive() {
	if (Dv && Dv.S === S && Dv.ver === S.ver) return Dv;
	const sp = S.spans, kids = new Map(), roots = [], depth = new Map(), order = [], svcs = new Map();
	let errs = 0, t0 = null, t1 = null, maxDepth = 0;
	sp.forEach(s => {
		errs += s.err;
		if (t0 === null || s.s < t0) t0 = s.s;
		if (t1 === null || s.e > t1) t1 = s.e;
		svcs.set(s.svc, (svcs.get(s.svc) || 0) + 1);
		if (s.p && s.p !== s.id && sp.has(s.p)) { const k = kids.get(s.p); k ? k.push(s) : kids.set(s.p, [s]); } else roots.push(s);
	});
	const byStart = (a, b) => cmp(a.s, b.s);
	kids.forEach(k => k.sort(byStart));
	roots.sort(byStart);
	const visit = r => { // depth-first, iterative: traces can be deep
		const st = [[r, 0]];
		while (st.length) {
			const [s, d] = st.pop();
			if (depth.has(s.id)) continue;
			depth.set(s.id, d);
			if (d > maxDepth) maxDepth = d;
			order.push(s);
			const k = kids.get(s.id);
			if (k) for (let i = k.length - 1; i >= 0; i--) st.push([k[i], d + 1]);
		}
	};
	roots.forEach(visit);
	if (order.length < sp.size) [...sp.values()].sort(byStart).forEach(visit); // parent cycles: shown as roots
	/* Critical path, from the root of this request's tree: walking back from
	   a span's end, the child that finished last before the cursor is on it,
	   then the cursor moves to that child's start. Children that start
	   before their parent or after its end (the browser's documentLoad, a
	   later fetch) were not caused by its work and are skipped. */
	const crit = new Set();
	let top = S.rec && sp.get(S.rec.spanId || S.rec.id);
	for (let i = 0; top && top.p && sp.has(top.p) && i < 1e4; i++) top = sp.get(top.p);
	if (!top) top = roots.reduce((a, b) => !a || b.e - b.s > a.e - a.s ? b : a, null);
	for (const st = top ? [top] : []; st.length;) {
		const s = st.pop();
		if (crit.has(s.id)) continue;
		crit.add(s.id);
		let cur = s.e;
		const k = (kids.get(s.id) || []).filter(c => c.s >= s.s && c.s < s.e).sort((a, b) => cmp(b.e, a.e));
		for (const c of k) if (c.s < cur) { st.push(c); cur = c.s; }
	}
	// A colour per service, distinct for up to 8 in one trace; no reds, red means error.
	const color = new Map([...svcs.keys()].sort().map((s, i) => [s, PALETTE[i % PALETTE.length]]));
	return Dv = { S, ver: S.ver, kids, roots, depth, order, errs, t0, t1, svcs, crit, maxDepth, color };
}

// SQL: spans with db.* attributes, grouped by normalised statement. A group
// repeated under one parent is flagged: 2 times "duplicate", 3 or more
// "N+1" (a query per row of an earlier result is the usual cause).
function sqlData() {
	const d = derive();
	if (d.sql) return d.sql;
	const groups = new Map();
	let n = 0, total = 0, flagged = 0;
	for (const s of d.order) if (s.db) {
		const key = s.db.sys + '\u0000' + s.db.norm, len = dt(s.s, s.e);
		let g = groups.get(key);
		if (!g) groups.set(key, g = { key, norm: s.db.norm, sys: s.db.sys, items: [], total: 0, per: new Map(), max: 0, same: new Map() });
		g.items.push(s);
		g.total += len;
		const c = (g.per.get(s.p) || 0) + 1;
		g.per.set(s.p, c);
		g.max = Math.max(g.max, c);
		g.same.set(s.db.stmt, (g.same.get(s.db.stmt) || 0) + 1);
		n++;
		total += len;
	}
	const list = [...groups.values()].sort((a, b) => b.max - a.max || b.total - a.total);
	for (const g of list) {
		g.flag = g.max >= 3 ? 'N+1' : g.max === 2 ? 'duplicate' : '';
		g.ident = Math.max(...g.same.values());
		if (g.flag) flagged++;
	}
	return d.sql = { list, n, total, flagged, nplus: list.some(g => g.flag === 'N+1') };
}

function sevLevel(n, text) {
	if (n >= 17) return 'error';
	if (n >= 13) return 'warn';
	if (n >= 9) return 'info';
	if (n >= 1) return 'debug';
	const t = String(text || '');
	return /err|fatal|crit|emerg|alert/i.test(t) ? 'error' : /warn/i.test(t) ? 'warn' : /debug|trace/i.test(t) ? 'debug' : 'info';
}
// The proxy's span: by its instrumentation scope, or, for a span that came
// without one, the CLIENT child of a record's span in the same service.
function proxySpan(s) {
	if (s.scope.name) return s.scope.name === SELF;
	const p = s.kind === 3 && S.spans.get(s.p), rid = r => r && (r.spanId || r.id);
	return !!p && p.svc === s.svc && (p.id === rid(S.rec) || [...S.others.values()].some(r => p.id === rid(r)));
}
// Logs: the spans' events (exceptions as errors) and the trace's OTLP log
// records, by time. The browser's documentLoad marks and the proxy's
// upstream phases are timing, shown in Timing and the span's detail, not
// log lines.
function logItems() {
	const d = derive();
	if (d.logs && d.logsN === S.logs.length) return d.logs;
	const out = [];
	for (const s of d.order) if (s.scope.name !== 'tracebar/browser') for (const ev of s.events) {
		if (PHASES.has(ev.name) && proxySpan(s)) continue;
		const at = ev.attributes || [], ex = ev.name === 'exception';
		const lv = attrOf(at, 'level') || attrOf(at, 'log.level') || attrOf(at, 'severity');
		out.push({ t: ns(ev.timeUnixNano), lvl: ex ? 'error' : lv ? sevLevel(0, lv) : 'info', kind: ex ? 'exception' : 'event', text: (ex && excText(at)) || ev.name || '(event)', at, s, svc: s.svc });
	}
	for (const l of S.logs) {
		const s = S.spans.get(l.spanId);
		out.push({ t: ns(l.timeUnixNano || l.observedTimeUnixNano), lvl: sevLevel(l.severityNumber | 0, l.severityText), kind: 'log', sev: l.severityText,
			text: typeof l.body === 'string' ? l.body : anyStr(l.body), at: l.attributes || [], s, sid: l.spanId, svc: l.service || (s && s.svc) || '' });
	}
	out.sort((a, b) => cmp(a.t, b.t));
	d.logsN = S.logs.length;
	return d.logs = out;
}

/* ---- rendering ---- */
let pending = false;
function schedule() { // coalesce bursts of updates into one render
	if (pending) return;
	pending = true;
	if (W.requestAnimationFrame) requestAnimationFrame(flush);
	setTimeout(flush, 120); // rAF does not fire in hidden tabs
}
function flush() { if (pending) { pending = false; render(); } }
const total = r => r ? (r.timing && r.timing.totalMs) || r.durationMs || 0 : 0;
const rowSel = id => '.tb-span[data-span-id="' + CSS.escape(id) + '"]';
const isHome = () => S.id === homeId && !PAGE;
const spanOf = r => S.spans.get((r && (r.spanId || r.id)) || '');

function render() {
	const t0 = performance.now();
	renderBadge();
	renderHead();
	panel.hidden = !open;
	if (!open || tab !== 'requests') stopHistory();
	if (!open) return;
	if (tab === 'requests' && !LIST && !histEs) startHistory();
	// Keep scroll and focus across the rebuild.
	if (shown && shown !== tab) scrolls[shown] = body.scrollTop;
	const top = shown === tab ? body.scrollTop : scrolls[tab] || 0;
	const fa = root.activeElement, fk = fa && body.contains(fa) && fa.getAttribute('data-f');
	if (tab === 'trace') {
		body.classList.add('tb-fill');
		if (body.firstChild !== traceEl() || body.childNodes.length !== 1) { fill(body, T.el); T.sc.scrollTop = T.top || 0; }
		updateTrace();
	} else {
		if (shown === 'trace' && T.el) T.top = T.sc.scrollTop;
		body.classList.remove('tb-fill');
		fill(body, tab === 'timing' ? timingView() : tab === 'headers' ? headersView() : tab === 'sql' ? sqlView() : tab === 'logs' ? logsView() : requestsView());
		body.scrollTop = top;
	}
	shown = tab;
	const f = fk && body.querySelector('[data-f="' + CSS.escape(fk) + '"]');
	if (f && f !== root.activeElement) f.focus({ preventScroll: true });
	W.__tracebar.perf.render = performance.now() - t0;
}

function renderBadge() {
	const r = S.rec, code = r && r.status || 0, errs = S.spans.size ? derive().errs : 0;
	badge.className = 'tb-badge' + (code >= 500 || r && r.error ? ' tb-5xx' : code >= 400 ? ' tb-4xx' : code >= 300 ? ' tb-3xx' : code ? ' tb-2xx' : '') +
		(errs ? ' tb-has-err' : '') + (open ? ' tb-open' : '');
	badge.setAttribute('aria-expanded', open);
	const k = [h('span', 'tb-dot')];
	if (S.failed && !r) k.push(h('span', 'tb-st', 'Tracebar: no data'));
	else {
		if (S.id !== homeId) k.push(h('span', 'tb-other', 'other request'));
		k.push(h('span', 'tb-st', code || ELL), h('span', 'tb-sep', DOT), h('span', 'tb-ms', r && (r.done || total(r)) ? ms(total(r)) : DASH),
			h('span', 'tb-cnt', ' ' + plural(S.spans.size, 'span')));
		if (errs) k.push(attrs(h('span', 'tb-errn', WARN + errs), { title: plural(errs, 'span') + ' with error status' }));
	}
	badge.setAttribute('aria-label', 'Tracebar: ' + (r ? (code || 'in flight') + ', ' + ms(total(r)) + ', ' + plural(S.spans.size, 'span') + (errs ? ', ' + plural(errs, 'error') : '') : 'loading') + '. Toggle panel (Alt+T)');
	fill(badge, k);
}

function count(t, n, cls) { const b = tabBtn[t]; fill(b, NAMES[t]); if (n) put(b, h('span', 'tb-n' + (cls ? ' tb-' + cls : ''), n)); }
function renderHead() {
	for (const t of TABS) { const on = t === tab; tabBtn[t].setAttribute('aria-selected', on); tabBtn[t].tabIndex = on ? 0 : -1; }
	body.setAttribute('aria-labelledby', 'tb-tab-' + tab);
	if (!LIST) {
		const d = derive(), q = sqlData(), lg = logItems(), lerr = lg.filter(x => x.lvl === 'error').length;
		count('trace', S.spans.size, d.errs ? 'bad' : '');
		count('sql', q.n, q.nplus ? 'bad' : q.flagged ? 'warn' : '');
		count('logs', lg.length, lerr ? 'bad' : '');
		count('requests', pageRequests().length);
	}
	const next = THEMES[(THEMES.indexOf(theme) + 1) % 3], nc = CORNERS[(CORNERS.indexOf(corner) + 1) % 4];
	attrs(themeBtn, { 'aria-label': 'Theme: ' + theme + '. Switch to ' + next, title: 'Theme: ' + theme });
	attrs(posBtn, { 'aria-label': 'Move to the ' + CORNER[nc] + ' corner', title: 'Move to the ' + CORNER[nc] + ' corner' });
	const r = S.rec, k = [];
	if (!PAGE && S.id !== homeId) k.push(act('tb-back', '\u2190 This page', 'home', 'Back to this page\u2019s request'));
	if (PAGE && !LIST) k.push(attrs(h('a', 'tb-a', '\u2190 All requests'), { href: ppath + '/' }));
	if (LIST) k.push(h('strong', null, 'Recent requests'), h('span', 'tb-mu', histEs ? 'live' : histState));
	if (r) k.push(h('span', 'tb-meth', r.method), attrs(h('span', 'tb-url', r.url), { title: r.url || '' }), status(r), h('span', 'tb-mu', ms(total(r))));
	else if (!LIST) k.push(h('span', 'tb-mu', S.failed ? 'Request ' + S.id + ': ' + S.failed : 'Loading' + ELL));
	k.push(h('span', 'tb-sp'));
	if (S.traceId) {
		k.push(attrs(h('code', 'tb-tid', S.traceId.slice(0, 8) + ELL), { title: 'trace ' + S.traceId }),
			act('tb-tb', 'Copy ID', 'copy', 'Copy the trace ID'), act('tb-tb', 'OTLP JSON', 'download', 'Download the trace as OTLP JSON'));
		if (r && /^https?:\/\//.test(r.traceLink || '')) k.push(attrs(h('a', 'tb-link', 'open ' + HOOK), { href: r.traceLink, target: '_blank', rel: 'noopener noreferrer', title: r.traceLink }));
	}
	if (!PAGE && S.id) k.push(attrs(h('a', 'tb-a', 'full page ' + HOOK), { href: ppath + '/requests/' + encodeURIComponent(S.id), target: '_blank', rel: 'noopener', title: 'This request in a page of its own' }));
	if (S.evicted) k.push(h('span', 'tb-chip tb-warn', 'evicted'));
	const fa = root.activeElement, fk = fa && sum.contains(fa) && fa.getAttribute('data-act');
	fill(sum, k);
	const f = fk && sum.querySelector('[data-act="' + fk + '"]');
	if (f) f.focus({ preventScroll: true });
	if (PAGE) D.title = (LIST ? 'Recent requests' : r ? r.method + ' ' + r.url : 'Request ' + S.id) + ' \u2014 Tracebar';
}
const status = r => h('span', 'tb-chip' + (r.error || r.status >= 500 ? ' tb-bad' : r.status >= 400 ? ' tb-warn' : r.status >= 300 ? ' tb-info' : ''), r.status || (r.done ? DASH : 'in flight'));

const section = (title, content, extra) => h('section', 'tb-sec', [h('h3', null, [title, extra || extra === 0 ? h('span', 'tb-sub', extra) : null]), content]);
const kv = rows => h('table', 'tb-kv', rows.filter(Boolean).map(r => h('tr', null, [h('th', null, r[0]), h('td', null, r[1])])));
const empty = t => h('div', 'tb-empty', t);
// A timing table row: label, value, and a mini bar from a to b (ms) on a 0..end scale.
function trow(label, value, a, b, end, kind) {
	const c = h('td', 'tb-mini');
	if (end > 0 && b > a) put(c, h('div', 'tb-mt', place(h('i', 'tb-mb tb-k-' + kind), a / end, (b - a) / end)));
	return h('tr', null, [h('th', null, label), h('td', 'tb-num', value), c]);
}

/* ---- Timing ---- */
function timingView() {
	const out = h('div', 'tb-pad');
	if (!S.rec) return add(out, [empty(S.failed ? 'Could not load the request record: ' + S.failed : 'Loading request' + ELL), isHome() ? browser() : null]), out;
	const r = S.rec, t = r.timing || {}, end = total(r), us = t.upstreamStartMs || 0, rows = [];
	const row = (l, v, a, b, k, off) => rows.push(trow(l, (off ? '@ ' : '') + ms(v), a, b, end, k));
	row('Total (proxy)', end, 0, end, 'tot');
	if (t.headersMs) row('Response headers', t.headersMs, 0, t.headersMs, 'off', 1);
	if (us) row('Upstream start', us, 0, us, 'off', 1);
	let at = us;
	for (const [l, v] of [['DNS', t.dnsMs], ['Connect', t.connectMs], ['TLS', t.tlsMs]]) if (v) { row(l, v, at, at + v, 'net'); at += v; }
	if (t.wroteRequestMs) row('Request written', t.wroteRequestMs, 0, t.wroteRequestMs, 'off', 1);
	if (t.firstByteMs) row('First byte', t.firstByteMs, 0, t.firstByteMs, 'off', 1);
	const sent = t.wroteRequestMs || at;
	if (t.firstByteMs && t.firstByteMs > sent) row('TTFB (upstream)', t.firstByteMs - sent, sent, t.firstByteMs, 'up');
	if (t.upstreamLatencyMs) row('Upstream latency', t.upstreamLatencyMs, us, us + t.upstreamLatencyMs, 'up');
	if (t.upstreamDurationMs) row('Upstream duration', t.upstreamDurationMs, us, us + t.upstreamDurationMs, 'up');
	if (t.upstreamDurationMs && end > t.upstreamDurationMs) rows.push(trow('Proxy overhead', ms(end - t.upstreamDurationMs), 0, 0, end, 'off'));
	const up = hasHdr(r.upstreamRequestHeaders) || hasHdr(r.upstreamParams) || t.upstreamDurationMs || t.upstreamLatencyMs;
	if (r.error) put(out, h('div', 'tb-note tb-bad', ['Proxy error: ', r.error]));
	put(out, h('div', 'tb-cols', [section('Proxy', h('table', 'tb-kv tb-tt', rows), up ? null : 'no upstream'), isHome() ? browser() : null]),
		section('Request', kv([
			['Request', [r.method, r.url].join(' ')],
			['Status', (r.status || DASH) + (r.done ? '' : ' (in flight)')],
			r.proto && ['Protocol', r.proto],
			r.host && ['Host', r.host],
			r.remoteAddr && ['Client', r.remoteAddr],
			r.contentType && ['Content-Type', r.contentType],
			up && ['Upstream conn.', t.connReused ? 'reused' : 'new'],
			['Request body', bytes(r.requestBytes || 0)],
			['Response body', bytes(r.responseBytes || 0) + (up ? ' from upstream' : '')],
			['Sent to client', bytes(r.clientBytes || 0) + (r.injected ? ' (toolbar injected)' : '') + encoded(r)],
			r.startTime && ['Started', r.startTime]])));
	return out;
}

// Caddy's encode, outside Tracebar, compressed the body after it was counted.
const encoded = r => r.clientEncoding ? ' (before ' + r.clientEncoding + ' by Caddy\u2019s encode)' : '';

const nav = () => performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
function browser() {
	const n = nav();
	if (!n) return section('Browser', empty('Navigation Timing is not available.'));
	const end = n.loadEventEnd || Math.max(n.domContentLoadedEventEnd, n.domInteractive, n.responseEnd);
	const bar = attrs(h('div', 'tb-stack'), { role: 'img', 'aria-label': 'Navigation timing, stacked' }), legend = h('div', 'tb-legend');
	[['Queued', 0, n.domainLookupStart, 0], ['DNS', n.domainLookupStart, n.domainLookupEnd, 1], ['Connect', n.connectStart, n.connectEnd, 2],
		['Stalled', n.connectEnd, n.requestStart, 0], ['Request', n.requestStart, n.responseStart, 3], ['Response', n.responseStart, n.responseEnd, 4],
		['DOM', n.responseEnd, n.domInteractive, 5], ['DOMContentLoaded', n.domInteractive, n.domContentLoadedEventEnd, 6],
		['Load', n.domContentLoadedEventEnd, n.loadEventEnd, 7]
	].forEach(([l, a, b, c]) => {
		if (!(b - a > 0 && end > 0)) return;
		put(bar, attrs(h('i', 'tb-p' + c), { title: l + ': ' + ms(b - a) }));
		bar.lastChild.style.width = pct((b - a) / end);
		put(legend, h('span', null, [h('i', 'tb-p' + c), l + ' ' + ms(b - a)]));
	});
	const rows = [['DNS', n.domainLookupStart, n.domainLookupEnd, 'p1'], ['Connect', n.connectStart, n.connectEnd, 'p2'],
		n.secureConnectionStart > 0 && ['TLS', n.secureConnectionStart, n.connectEnd, 'p2'],
		['Request', n.requestStart, n.responseStart, 'p3'], ['Response', n.responseStart, n.responseEnd, 'p4']
	].filter(Boolean).map(([l, a, b, k]) => trow(l, ms(b - a), a, b, end, k));
	for (const [l, v] of [['DOM interactive', n.domInteractive], ['DOMContentLoaded', n.domContentLoadedEventEnd], ['Load', n.loadEventEnd]])
		rows.push(trow(l, v > 0 ? '@ ' + ms(v) : 'pending', 0, v, end, 'off'));
	if (n.redirectCount) rows.push(h('tr', null, [h('th', null, 'Redirects'), h('td', 'tb-num', n.redirectCount), h('td')]));
	if (n.transferSize) rows.push(h('tr', null, [h('th', null, 'Transferred'), h('td', 'tb-num', bytes(n.transferSize)), h('td')]));
	return section('Browser', [bar, legend, h('table', 'tb-kv tb-tt', rows)], 'Navigation Timing');
}

/* ---- Headers ---- */
const hasHdr = m => !!m && typeof m === 'object' && Object.keys(m).length > 0;
function hmap(m) { // lower-cased name -> {name, vals}
	const o = new Map();
	if (m && typeof m === 'object') for (const k in m) o.set(k.toLowerCase(), { name: k, vals: [].concat(m[k] == null ? [] : m[k]).map(String) });
	return o;
}
// A header table; with base, rows are tagged added/changed/removed relative to it.
function hdrTable(title, m, base, none) {
	if (none && !hasHdr(m)) return section(title, empty(none));
	const x = hdrRows(m, base);
	return section(title, x.el, x.info);
}
function hdrRows(m, base) { // the table and its summary (how many, how many tagged)
	const cur = hmap(m), prev = base && hmap(base), rows = [], n = { added: 0, changed: 0, removed: 0 };
	cur.forEach((v, k) => {
		const p = prev && prev.get(k);
		rows.push([v, !prev ? '' : !p ? 'added' : p.vals.join('\n') !== v.vals.join('\n') ? 'changed' : '', p]);
	});
	if (prev) prev.forEach((v, k) => { if (!cur.has(k)) rows.push([v, 'removed']); });
	rows.sort((a, b) => a[0].name.toLowerCase() < b[0].name.toLowerCase() ? -1 : 1);
	const t = h('table', 'tb-kv tb-hdr', rows.map(([v, tag, p]) => {
		if (tag) n[tag]++;
		const tr = h('tr', tag && 'tb-d-' + tag, [h('th', null, v.name), h('td', null, v.vals.map((x, i) => [i ? h('br') : null, x])),
			h('td', 'tb-tagc', tag && h('span', 'tb-tag tb-t-' + tag, tag))]);
		if (tag === 'changed') tr.title = 'was: ' + p.vals.join(', ');
		return tr;
	}));
	const info = [plural(cur.size, 'header')];
	for (const k in n) if (n[k]) info.push(n[k] + ' ' + k);
	return { el: rows.length ? t : empty('no headers'), info: info.join(DOT) };
}
function headersView() {
	const r = S.rec, out = h('div', 'tb-pad');
	if (!r) return add(out, empty(S.failed ? 'No request record.' : 'Loading request' + ELL)), out;
	const up = hasHdr(r.upstreamRequestHeaders), fcgi = hasHdr(r.upstreamParams), upRes = hasHdr(r.upstreamResponseHeaders);
	// Upstream: the HTTP request headers, and php_fastcgi's params, each when there.
	const uh = up && hdrRows(r.upstreamRequestHeaders, r.clientRequestHeaders), up2 = fcgi && hdrRows(r.upstreamParams);
	put(out, h('div', 'tb-note', 'Tags compare proxy' + ARR + 'upstream with client' + ARR + 'proxy, and proxy' + ARR + 'client with upstream' + ARR + 'proxy.'),
		hdrTable('Client' + ARR + 'proxy', r.clientRequestHeaders),
		section('Proxy' + ARR + 'upstream', [uh && uh.el, up2 && h('h4', null, ['FastCGI params', h('span', 'tb-sub', up2.info.replace(/header/g, 'param'))]), up2 && up2.el,
			!up && !fcgi && empty('no upstream request')], uh && uh.info),
		hdrTable('Upstream' + ARR + 'proxy', r.upstreamResponseHeaders, null, up || fcgi ? 'no upstream response' : 'no upstream request'),
		hdrTable('Proxy' + ARR + 'client', r.clientResponseHeaders, upRes && r.upstreamResponseHeaders, !r.done && 'response not sent yet'),
		r.clientEncoding && h('div', 'tb-note tb-sm', 'Body: ' + bytes(r.clientBytes || 0) + ' sent' + encoded(r) + '; the client got it with Content-Encoding: ' + r.clientEncoding + '.'));
	return out;
}

/* ---- Trace: a virtual list (only rows in view exist), built once ---- */
const T = { list: [], index: new Map(), a: -1, b: -1 };
function traceEl() {
	if (T.el) return T.el;
	T.q = attrs(h('input', 'tb-q'), { type: 'search', placeholder: 'Filter by name or attribute', 'aria-label': 'Filter spans by name or attribute', spellcheck: 'false', autocomplete: 'off' });
	T.q.oninput = () => { query = T.q.value; T.sc.scrollTop = 0; render(); };
	T.q.onkeydown = e => { if (e.key === 'Escape' && T.q.value) { T.q.value = query = ''; render(); } };
	T.hits = attrs(h('span', 'tb-hits'), { role: 'status' });
	T.depth = attrs(h('select', 'tb-selx'), { 'aria-label': 'Expand to depth', 'data-act': 'depth' });
	T.depth.onchange = () => { const v = +T.depth.value; if (v) collapseTo(v); T.depth.value = ''; };
	T.svcs = h('div', 'tb-svcs');
	T.axis = h('div', 'tb-axis');
	T.rows = attrs(h('div', 'tb-rows'), { role: 'tree', 'aria-label': 'Spans' });
	T.sc = h('div', 'tb-scroll', [T.axis, T.rows]);
	T.sc.onscroll = () => paint();
	T.det = h('div', 'tb-dpane');
	return T.el = h('div', 'tb-trace', [h('div', 'tb-tools', [T.q, T.hits, act('tb-tb', 'Expand all', 'expand'), act('tb-tb', 'Collapse all', 'collapse'),
		h('label', 'tb-lbl', ['Depth ', T.depth]), h('span', 'tb-cpk', 'critical path'), T.svcs]), T.sc, T.det]);
}
function collapseTo(level) { // show `level` levels: collapse the nodes at that depth
	const d = derive();
	collapsed = new Set();
	for (const s of d.order) if (d.depth.get(s.id) >= level - 1 && d.kids.has(s.id)) collapsed.add(s.id);
	render();
}
const text = s => s.lk || (s.lk = [s.name, s.svc, s.id, KINDS[s.kind] || '', s.st.message || '', ...s.attrs.map(a => a && a.key + '=' + anyStr(a.value)),
	...s.events.map(e => e && e.name)].join('\n').toLowerCase());
function visible(d) { // rows in depth-first order: {s, d: depth, n: child count}
	const out = [], q = query.trim().toLowerCase();
	T.hit = null;
	if (q) { // matches and their ancestors, whatever is collapsed
		const hit = T.hit = new Set(), keep = new Set();
		for (const s of d.order) if (text(s).includes(q)) {
			hit.add(s.id);
			for (let p = s, i = 0; p && !keep.has(p.id) && i < 1e4; p = S.spans.get(p.p), i++) keep.add(p.id);
		}
		for (const s of d.order) if (keep.has(s.id)) out.push({ s, d: d.depth.get(s.id), n: (d.kids.get(s.id) || []).length });
		return out;
	}
	let skip = -1;
	for (const s of d.order) {
		const x = d.depth.get(s.id);
		if (skip >= 0) { if (x > skip) continue; skip = -1; }
		const n = (d.kids.get(s.id) || []).length;
		out.push({ s, d: x, n });
		if (n && collapsed.has(s.id)) skip = x;
	}
	return out;
}
function updateTrace() {
	const d = derive();
	if (!S.spans.size) {
		T.list = [];
		T.index = new Map();
		fill(T.rows);
		T.rows.style.height = '';
		fill(T.axis, empty(S.traceId ? S.evicted ? 'The trace was evicted from the store.' : 'Waiting for spans' + ELL : S.rec || S.failed ? 'No trace for this request.' : 'Loading' + ELL));
		fill(T.det);
		T.det.hidden = true;
		T.hits.textContent = '';
		return;
	}
	// Spans arriving above keep the selected row, when in view, else the
	// first row in view, where it is on screen.
	const first = Math.floor(Math.max(0, T.sc.scrollTop - T.axis.offsetHeight) / RH), si = T.index.get(selected);
	const old = si >= first && si < first + T.sc.clientHeight / RH ? si : first, anchor = (T.sc.scrollTop > 0 || old !== first) && T.list[old];
	const dur = T.dur = Math.max(dt(d.t0, d.t1), 0.001), raw = dur / 5, p = 10 ** Math.floor(Math.log10(raw)), f = raw / p;
	const step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p, ticks = h('div', 'tb-lane tb-ticks');
	T.t0 = d.t0;
	T.el.style.setProperty('--tick', step / dur * 100 + '%');
	for (let v = 0; v / dur < 0.93; v += step) put(ticks, place(h('span', 'tb-tk', v ? ms(v) : '0'), v / dur)); // no label crammed at the end
	T.list = visible(d);
	T.index = new Map(T.list.map((r, i) => [r.s.id, i]));
	fill(T.axis, h('div', 'tb-nm', plural(S.spans.size, 'span') + DOT + plural(d.svcs.size, 'service') + DOT + ms(dur) + (d.maxDepth ? DOT + 'depth ' + (d.maxDepth + 1) : '')), ticks);
	T.hits.textContent = T.hit ? plural(T.hit.size, 'match') : '';
	const key = [...d.svcs.keys()].join('\n');
	if (T.svcKey !== key) {
		T.svcKey = key;
		fill(T.svcs, [...d.svcs.keys()].sort().map(s => { const i = h('i'); i.style.background = d.color.get(s); return h('span', 'tb-sv', [i, s]); }));
	}
	if (T.depth.options.length !== d.maxDepth + 2) {
		fill(T.depth, h('option', null, DASH), Array.from({ length: d.maxDepth + 1 }, (_, i) => attrs(h('option', null, String(i + 1)), { value: i + 1 })));
		T.depth.options[0].value = '';
	}
	const now = anchor && T.index.get(anchor.s.id);
	if (now != null && now !== old) T.sc.scrollTop += (now - old) * RH;
	const s = selected && S.spans.get(selected);
	if (T.detS !== s || T.detT0 !== d.t0) {
		T.detS = s;
		T.detT0 = d.t0;
		fill(T.det, s && detail(s, d.t0));
		T.det.hidden = !s;
	}
	paint(true);
}
function paint(force) {
	if (!T.el || !T.el.isConnected) return;
	const n = T.list.length, ah = T.axis.offsetHeight, top = Math.max(0, T.sc.scrollTop - ah), hv = T.sc.clientHeight || 640;
	const a = Math.max(0, Math.floor(top / RH) - 8), b = Math.min(n, Math.ceil((top + hv) / RH) + 8);
	if (!force && a === T.a && b === T.b) return;
	T.a = a;
	T.b = b;
	T.rows.style.height = n * RH + 'px';
	const fa = root.activeElement, fr = fa && fa.closest && fa.closest('.tb-span'), fid = fr && fr.dataset.spanId, ftog = fa && fa.classList.contains('tb-tog');
	const tabbable = T.index.has(focusId) ? focusId : T.index.has(selected) ? selected : n ? T.list[0].s.id : '', out = [];
	for (let i = a; i < b; i++) out.push(row(T.list[i], i, tabbable));
	fill(T.rows, out);
	const r = fid && T.rows.querySelector(rowSel(fid)), f = r && (ftog ? r.querySelector('.tb-tog') : r);
	if (f) f.focus({ preventScroll: true });
}
function row({ s, d, n }, i, tabbable) {
	const sel = s.id === selected, shut = !!n && collapsed.has(s.id) && !T.hit, color = Dv.color.get(s.svc), me = S.rec && s.id === (S.rec.spanId || S.rec.id);
	const r = attrs(h('div', 'tb-span' + (sel ? ' tb-sel' : '') + (s.err ? ' tb-err' : '') + (me ? ' tb-me' : '') + (Dv.crit.has(s.id) ? ' tb-cp' : '') +
		(T.hit ? T.hit.has(s.id) ? ' tb-hit' : ' tb-dim' : '')),
	{ 'data-span-id': s.id, tabindex: s.id === tabbable ? 0 : -1, role: 'treeitem', 'aria-level': d + 1, 'aria-selected': sel, 'aria-label': s.svc + ' ' + (s.name || 'span') + ', ' + ms(dt(s.s, s.e)) + (s.err ? ', error' : '') });
	r.style.top = i * RH + 'px';
	if (n) r.setAttribute('aria-expanded', !shut);
	const dot = h('span', 'tb-dot');
	dot.style.background = color;
	const kind = s.kind > 1 ? h('span', 'tb-kind', KINDS[s.kind]) : null;
	const nm = attrs(h('div', 'tb-nm', [n ? attrs(btn('tb-tog', shut ? '\u25b8' : '\u25be', (shut ? 'Expand ' : 'Collapse ') + plural(n, 'child span')), { tabindex: -1 }) : h('span', 'tb-tog'),
		dot, h('span', 'tb-sn', s.name || '(unnamed)'), kind, h('span', 'tb-svc', s.svc), shut && h('span', 'tb-n', '+' + n)]), { title: s.svc + ': ' + s.name });
	nm.style.paddingLeft = 4 + Math.min(d, 40) * 14 + 'px';
	const a = dt(T.t0, s.s) / T.dur, w = dt(s.s, s.e) / T.dur;
	const bar = place(h('div', 'tb-bar'), a, w), lane = h('div', 'tb-lane', bar);
	if (!s.err) bar.style.background = color;
	for (const ev of s.events.length > 50 ? [] : s.events) put(lane, attrs(place(h('i', 'tb-ev' + (ev.name === 'exception' ? ' tb-exv' : '')), dt(T.t0, ns(ev.timeUnixNano)) / T.dur), { title: ev.name || 'event' }));
	// duration label: after the bar, before it, or inside it when the bar spans the lane
	const lab = h('span', 'tb-dur', ms(dt(s.s, s.e)));
	if (a + w <= 0.82) lab.style.left = pct(a + w);
	else if (a >= 0.18) lab.style.right = pct(1 - a);
	else { lab.className += ' tb-in'; lab.style.right = pct(1 - a - w); }
	put(lane, lab);
	put(r, nm, lane);
	return r;
}

const attrTable = a => a && a.length ? kv(a.slice().sort((x, y) => String(x.key) < String(y.key) ? -1 : 1).map(x => [String(x.key), anyStr(x.value)])) : h('div', 'tb-empty tb-sm', 'none');
const goto = (id, label) => S.spans.has(id) ? attrs(btn('tb-go', label || id, 'Show span ' + (label || id) + ' in the trace'), { 'data-goto': id, 'data-f': 'g:' + id }) : h('code', null, label || id);
const excText = at => { const t = attrOf(at, 'exception.type'), m = attrOf(at, 'exception.message'); return t || m ? (t || 'exception') + (m ? ': ' + m : '') : ''; };
function exception(at, bare) { // exception.type / message / stacktrace, as OTel records them
	const st = attrOf(at, 'exception.stacktrace'), txt = excText(at);
	if (!txt && !st) return null;
	return h('div', 'tb-exc', [bare ? null : h('div', 'tb-errs', txt),
		st ? h('details', null, [h('summary', null, 'Stack trace'), h('pre', 'tb-pre', st)]) : null]);
}
function detail(s, t0) {
	const st = s.st, sc = s.scope;
	const code = s.err ? 'Error' : st.code === 1 || st.code === 'STATUS_CODE_OK' ? 'OK' : 'Unset';
	let when = '';
	try { when = '  (' + new Date(Number(s.s / 1000000n)).toISOString() + ')'; } catch (e) { /* out of range */ }
	const info = kv([['Service', s.svc], ['Kind', KINDS[s.kind] || s.kind], ['Start', '+' + ms(dt(t0, s.s)) + when], ['Duration', ms(dt(s.s, s.e))],
		['Span ID', h('code', null, s.id)], ['Parent ID', s.p ? goto(s.p) : DASH + ' (root)'],
		['Status', h('span', s.err && 'tb-errs', code + (st.message ? ': ' + st.message : ''))],
		Dv && Dv.crit.has(s.id) && ['Critical path', 'yes'],
		sc.name && ['Scope', sc.name + (sc.version ? ' ' + sc.version : '')]]);
	const list = (items, head) => h('div', 'tb-evs', items.map(x => h('div', 'tb-evr', [h('div', null, head(x)), x.name === 'exception' ? exception(x.attributes) : null,
		x.attributes && x.attributes.length ? attrTable(x.attributes) : null])));
	const exc = s.events.filter(e => e && e.name === 'exception');
	return h('div', 'tb-detail', [
		h('div', 'tb-dh', [h('strong', null, s.name || '(unnamed)'), h('span', 'tb-svc', s.svc), act('tb-dx', '\u00d7', 'unselect', 'Close details')]),
		exc.length ? section('Exceptions', exc.map(e => exception(e.attributes)), exc.length) : null,
		h('div', 'tb-cols', [
			h('div', null, [section('Span', info), section('Resource', attrTable(s.res), s.res.length)]),
			h('div', null, [section('Attributes', attrTable(s.attrs), s.attrs.length),
				s.events.length ? section('Events', list(s.events, ev => [h('span', 'tb-off', '+' + ms(dt(s.s, ns(ev.timeUnixNano)))), h('strong', null, ev.name || '(event)')]), s.events.length) : null,
				s.links.length ? section('Links', list(s.links, l => ['trace ', h('code', null, l.traceId || ''), ' span ', l.traceId === s.tid ? goto(l.spanId || '') : h('code', null, l.spanId || '')]), s.links.length) : null])])]);
}

/* ---- SQL ---- */
function sqlView() {
	const q = sqlData(), out = h('div', 'tb-pad');
	if (!q.n) return add(out, empty(S.spans.size ? 'No spans with db.* attributes in this trace.' : 'Waiting for spans' + ELL)), out;
	const d = derive(), t0 = d.t0;
	put(out, h('div', 'tb-note', [plural(q.n, 'query') + ' in ' + plural(q.list.length, 'group') + DOT + ms(q.total) + ' in total',
		q.flagged ? [DOT, h('strong', 'tb-errs', plural(q.flagged, 'group') + ' repeated under one parent')] : null,
		' \u2014 N+1: the same statement 3 or more times under one parent; duplicate: twice.']));
	for (const g of q.list) {
		const isOpen = sqlOpen.has(g.key) ? sqlOpen.get(g.key) : !!g.flag;
		const max = Math.max(...g.items.map(s => dt(s.s, s.e)), 0.001);
		const items = g.items.map(s => {
			const len = dt(s.s, s.e), m = h('div', 'tb-mt');
			put(m, place(h('i', 'tb-mb tb-k-up'), 0, len / max));
			return h('tr', null, [h('td', 'tb-num', ms(len)), h('td', 'tb-mini', m), h('td', 'tb-num tb-mu', '+' + ms(dt(t0, s.s))),
				h('td', null, [goto(s.id, s.name || s.id), h('span', 'tb-mu', ' ' + s.svc), s.db.stmt !== g.norm ? h('code', 'tb-raw', s.db.stmt) : null])]);
		});
		const par = g.max > 1 ? [...g.per.entries()].find(([, c]) => c === g.max)[0] : '', ps = S.spans.get(par);
		const det = attrs(h('details', 'tb-qg' + (g.flag === 'N+1' ? ' tb-nplus' : g.flag ? ' tb-dup' : '')), { 'data-sql': g.flag || 'single' });
		det.open = isOpen;
		det.addEventListener('toggle', () => sqlOpen.set(g.key, det.open));
		put(det, attrs(h('summary', null, [h('span', 'tb-cnt2', '\u00d7' + g.items.length), g.flag && h('span', 'tb-tag tb-t-' + (g.flag === 'N+1' ? 'removed' : 'changed'), g.flag),
			h('span', 'tb-num', ms(g.total)), h('span', 'tb-mu', 'avg ' + ms(g.total / g.items.length)), g.sys && h('span', 'tb-kind', g.sys),
			h('code', 'tb-stmt', g.norm || '(no statement)')]), { 'data-f': 'q:' + g.key }),
		g.max > 1 ? h('div', 'tb-note tb-sm', [g.max + '\u00d7 under ', ps ? goto(ps.id, ps.name) : 'one parent', g.ident > 1 ? DOT + g.ident + ' with identical text' : '']) : null,
		h('table', 'tb-kv tb-tt tb-qi', items));
		put(out, det);
	}
	return out;
}

/* ---- Logs and errors ---- */
function logsView() {
	const all = logItems(), out = h('div', 'tb-pad'), d = derive(), n = {};
	for (const l of LEVELS) n[l] = 0;
	for (const x of all) n[x.lvl]++;
	put(out, h('div', 'tb-bar2', [h('span', 'tb-mu', 'Level'), ...LEVELS.map(l => attrs(act('tb-tb tb-lv tb-lv-' + l, [l, h('span', 'tb-n', n[l])], 'lvl', null,
		{ 'data-lvl': l, 'data-f': 'l:' + l }), { 'aria-pressed': !lvlOff.has(l) })), h('span', 'tb-mu', plural(all.length, 'entry') + ': span events, exceptions and OTLP log records')]));
	const rows = all.filter(x => !lvlOff.has(x.lvl));
	if (!rows.length) return add(out, empty(all.length ? 'Nothing at the selected levels.' : S.traceId ? 'No events or log records in this trace.' : 'Loading' + ELL)), out;
	put(out, h('div', 'tb-logs', rows.slice(0, 2000).map(x => {
		const sp = x.s || null;
		return h('div', 'tb-log tb-log-' + x.lvl, [
			h('div', 'tb-lh', [h('span', 'tb-num tb-mu', d.t0 != null && x.t ? '+' + ms(dt(d.t0, x.t)) : DASH), h('span', 'tb-lvl tb-lv-' + x.lvl, x.sev || x.lvl), h('span', 'tb-kind', x.kind),
				h('strong', 'tb-lt', x.text), h('span', 'tb-sp'), h('span', 'tb-mu', x.svc), sp ? goto(sp.id, sp.name || sp.id) : x.sid ? h('code', 'tb-mu', x.sid) : null]),
			exception(x.at, true), x.at.length ? h('details', 'tb-la', [h('summary', null, plural(x.at.length, 'attribute')), attrTable(x.at)]) : null]);
	})), rows.length > 2000 ? h('div', 'tb-note', 'First 2000 shown.') : null);
	return out;
}

/* ---- Requests ---- */
function pageRequests() { // this page's later requests: the trace's other records and the hooked fetch/XHR calls
	const out = [], byReq = new Map(), bySpan = new Map();
	if (S.id === homeId && HK) for (const e of HK.list) {
		const x = { e, t: e.start };
		out.push(x);
		bySpan.set(e.spanId, x);
		if (e.requestId) byReq.set(e.requestId, x);
	}
	S.others.forEach(r => {
		const sp = spanOf(r), x = byReq.get(r.id) || (sp && bySpan.get(sp.p));
		if (x) x.r = r;
		else out.push({ r, t: Date.parse(r.startTime) || 0 });
	});
	return out.sort((a, b) => a.t - b.t);
}
/* The redirects that led to rec, newest first; pure (no DOM, no state).
   From rec back: the newest earlier record of list, of the same client
   when both name it, that is a redirect whose Location resolves to the
   current URL and whose follow-up has the current method (303, and 301/302
   after a POST, turn into GET); then the same from that record. At most
   max steps when max is known (the navigation's redirectCount; 0: none),
   else 10; a step spans at most a minute. base: the URL that records'
   paths resolve against. */
function redirectChain(rec, list, max, base) {
	const out = [], seen = new Set(), lim = Math.min(max == null ? 10 : +max || 0, 10);
	const at = (u, b) => { try { return new URL(u, b).href; } catch (e) { return ''; } };
	const peer = r => String(r.remoteAddr || '').replace(/:\d+$/, '');
	const via = r => r.status === 303 && r.method !== 'HEAD' || (r.status === 301 || r.status === 302) && r.method === 'POST' ? 'GET' : r.method;
	for (let cur = rec; cur && out.length < lim;) {
		seen.add(cur.id);
		const want = at(cur.url, base), t = Date.parse(cur.startTime), who = peer(cur);
		let prev = null, pt = 0;
		for (const r of list) {
			const rt = r && Date.parse(r.startTime);
			if (!r || seen.has(r.id) || ![301, 302, 303, 307, 308].includes(r.status) || !r.location || !(rt <= t) || t - rt > 6e4 ||
				who && peer(r) && peer(r) !== who || via(r) !== cur.method || at(r.location, at(r.url, base)) !== want || prev && rt < pt) continue;
			prev = r;
			pt = rt;
		}
		if (!prev) break;
		out.push(prev);
		cur = prev;
	}
	return out;
}
// This request's redirects, as far as the history knows them; the browser
// tells how many it followed for the page the toolbar is on.
const redirects = n => S.rec ? redirectChain(S.rec, [...hist.values()], n ? n.redirectCount : null, location.href) : [];
function reqRow(r, extra) { // one request: a link in the page, else a button that shows its panels here
	const me = r.id === S.id, k = [h('span', 'tb-num tb-mu', extra && extra.t || clock(r.startTime)), extra && extra.kind ? h('span', 'tb-kind', extra.kind) : null,
		h('span', 'tb-meth', r.method), h('span', 'tb-url', r.url), status(r), h('span', 'tb-num', r.done === false ? 'in flight' : ms(r.durationMs)),
		h('span', 'tb-mu tb-ct', (r.contentType || '').split(';')[0]), r.injected ? h('span', 'tb-kind', 'toolbar') : null, r.id === homeId && !PAGE ? h('span', 'tb-kind', 'this page') : null];
	const a = PAGE ? attrs(h('a', 'tb-req', k), { href: ppath + '/requests/' + encodeURIComponent(r.id) }) : act('tb-req', k, 'req', null, { 'data-req': r.id });
	attrs(a, { 'data-req-id': r.id, 'data-f': 'r:' + r.id, title: r.method + ' ' + r.url + (me ? ' (shown)' : '') });
	if (me) a.setAttribute('aria-current', 'true');
	return a;
}
function requestsView() {
	const out = h('div', 'tb-pad'), list = [...hist.values()].sort((a, b) => (Date.parse(b.startTime) || 0) - (Date.parse(a.startTime) || 0));
	const histSec = section(LIST ? 'Recent requests' : 'History', list.length ? h('div', 'tb-reqs', list.map(r => reqRow(r))) :
		empty(histState === 'ok' || histEs ? 'No requests yet.' : histState && histState !== 'loading' ? histState : 'Loading' + ELL), histEs ? 'live' : histState === 'ok' ? '' : null);
	if (LIST) return add(out, histSec), out;
	const pr = pageRequests(), base = performance.timeOrigin;
	put(out, section(isHome() ? 'Requests from this page' : 'Other requests of this trace', pr.length ? h('div', 'tb-reqs', pr.map(x => {
		const e = x.e, r = x.r || { id: '', method: e.method, url: e.url.replace(location.origin, ''), status: e.status, done: !!e.end, durationMs: e.end - e.start };
		const el = reqRow(r, { t: e ? '+' + ms(e.start - base) : clock(r.startTime), kind: e ? e.kind : 'server' });
		if (e && e.end) put(el, h('span', 'tb-mu', 'browser ' + ms(e.end - e.start)));
		if (!x.r) el.disabled = true;
		if (e) attrs(el, { 'data-hook-span': e.spanId, title: e.method + ' ' + e.url + (e.end ? ' ' + ms(e.end - e.start) + ' in the browser' : ' (in flight)') });
		return el;
	})) : empty(isHome() ? HK ? 'No fetch or XHR requests yet.' : 'No later requests (the fetch hook is not on this page).' : 'None.'), pr.length || null));
	const n = isHome() && nav(), rd = redirects(n);
	if (rd.length || n && n.redirectCount) put(out, section('Redirects that led here', [n && n.redirectCount ? h('div', 'tb-note tb-sm', 'The browser followed ' + plural(n.redirectCount, 'redirect') + ' to load this page.') : null,
		rd.length ? h('div', 'tb-reqs', rd.map(r => reqRow(r))) : hist.size ? null : empty('Loading history' + ELL)]));
	put(out, histSec);
	return out;
}

/* ---- data ---- */
function merge(st, doc) { // OTLP/JSON; spans are keyed by id, so repeats are harmless
	if (st !== S) return;
	const t = performance.now();
	let n = 0;
	for (const rs of (doc && doc.resourceSpans) || []) {
		const res = (rs.resource && rs.resource.attributes) || [], svc = attrOf(res, 'service.name') || 'unknown';
		for (const ss of rs.scopeSpans || []) for (const sp of ss.spans || []) {
			if (!sp || !sp.spanId) continue;
			const s = ns(sp.startTimeUnixNano), e = ns(sp.endTimeUnixNano), stt = sp.status || {}, at = Array.isArray(sp.attributes) ? sp.attributes : [];
			let kind = sp.kind, stmt = '', sys = '', db = false;
			if (typeof kind === 'string') kind = Math.max(0, KINDS.indexOf(kind.replace('SPAN_KIND_', '').toLowerCase()));
			for (const a of at) {
				const k = a && a.key;
				if (typeof k !== 'string' || k.slice(0, 3) !== 'db.') continue;
				db = true;
				if (k === 'db.query.text' || k === 'db.statement' && !stmt) stmt = anyStr(a.value);
				else if (k === 'db.system.name' || k === 'db.system' && !sys) sys = anyStr(a.value);
			}
			const name = String(sp.name || '');
			st.spans.set(sp.spanId, {
				id: sp.spanId, p: /^0*$/.test(sp.parentSpanId || '') ? '' : sp.parentSpanId, tid: sp.traceId, name,
				kind: kind | 0, s, e: e < s ? s : e, attrs: at, events: (sp.events || []).filter(Boolean), links: sp.links || [], st: stt,
				err: stt.code === 2 || stt.code === 'STATUS_CODE_ERROR', svc, res, scope: ss.scope || {},
				db: db ? { stmt, sys, norm: stmt ? normSQL(stmt) : name } : null
			});
			n++;
		}
	}
	if (n) { st.ver++; host.setAttribute('data-span-count', st.spans.size); schedule(); }
	return performance.now() - t;
}
function addLogs(st, a) {
	if (st !== S || !Array.isArray(a)) return;
	for (const l of a) {
		if (!l || typeof l !== 'object') continue;
		const k = [l.timeUnixNano, l.spanId, l.severityNumber, typeof l.body === 'string' ? l.body : JSON.stringify(l.body)].join('|');
		if (st.logKeys.has(k)) continue;
		st.logKeys.add(k);
		st.logs.push(l);
	}
	schedule();
}
function setRec(st, r) {
	if (st !== S || !r || typeof r !== 'object' || st.rec && st.rec.done && !r.done) return; // ignore a stale in-flight copy
	st.rec = r;
	st.ver++;
	if (r.traceId) startTrace(st, r.traceId);
	if (st.id === homeId) reportLoad();
	schedule();
}
const getJSON = path => fetch(prefix + path, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
	.then(res => res.status === 404 ? null : res.ok ? res.json() : Promise.reject(new Error('HTTP ' + res.status)));
const ready = st => { if (st === S) { host.setAttribute('data-state', 'ready'); schedule(); } };
function retry(st, why) { // the record may not be stored yet: back off a little
	if (++st.tries < 7) return setTimeout(() => loadRecord(st), 250 * st.tries);
	st.failed = why;
	host.setAttribute('data-state', 'error');
	schedule();
}
function loadRecord(st) {
	if (st !== S) return;
	if (!st.id) { st.failed = 'no request id'; host.setAttribute('data-state', LIST ? 'ready' : 'error'); return schedule(); }
	getJSON('/api/requests/' + encodeURIComponent(st.id)).then(r => {
		if (st !== S) return;
		if (!r) return retry(st, 'not found');
		setRec(st, r);
		if (!r.traceId) ready(st);
	}, e => st === S && retry(st, e.message || 'failed'));
}
function startTrace(st, id) {
	if (st.traceId) return;
	st.traceId = id;
	stream(st);
	const path = '/api/traces/' + encodeURIComponent(id);
	fetch(prefix + path, { credentials: 'same-origin', cache: 'no-store' }).then(r => r.ok ? r.text() : '').then(txt => { // 404: no spans yet
		const t = performance.now();
		if (txt) merge(st, JSON.parse(txt));
		W.__tracebar.perf.load = performance.now() - t; // parse and index the trace
	}).catch(() => {}).then(() => ready(st));
	getJSON(path + '/logs').then(a => addLogs(st, a), () => {});
}
const parse = e => { try { return JSON.parse(e.data); } catch (x) { return null; } };
function stream(st = S) {
	if (st !== S || st.es || st.evicted || !st.traceId || !W.EventSource) return;
	const es = st.es = new EventSource(prefix + '/api/traces/' + encodeURIComponent(st.traceId) + '/stream');
	es.addEventListener('request', e => {
		const r = parse(e);
		if (r && r.id === st.id) setRec(st, r);
		else if (r && r.id && st === S) { st.others.set(r.id, r); schedule(); }
	});
	es.addEventListener('spans', e => merge(st, parse(e)));
	es.addEventListener('logs', e => addLogs(st, parse(e)));
	es.addEventListener('evicted', () => { st.evicted = true; stop(st); schedule(); });
	es.addEventListener('idle', () => stop(st)); // the server ends quiet streams; reopen when looked at
	es.onerror = () => { if (es.readyState === 2 && st.es === es) st.es = null; };
}
function stop(st = S) { if (st.es) st.es.close(); st.es = null; }
const wake = () => { stream(); if (open && tab === 'requests') { histDead = false; schedule(); if (LIST) startHistory(); } };
addEventListener('focus', wake);
D.addEventListener('visibilitychange', () => { if (!D.hidden) wake(); });
addEventListener('pagehide', () => { stop(); stopHistory(); }); // let the page into the back/forward cache
addEventListener('pageshow', e => { if (e.persisted) { stream(); schedule(); } });

function addHist(r) {
	if (!r || !r.id) return;
	const old = hist.get(r.id);
	if (old && old.done && !r.done) return; // the list and the stream race: keep the finished one
	hist.set(r.id, r);
	if (hist.size > 300) hist.delete(hist.keys().next().value);
}
function startHistory() { // recent requests, then live; only while the list is shown
	if (histEs || histDead || !W.EventSource) return;
	histState = 'loading';
	const es = histEs = new EventSource(prefix + '/api/requests/stream');
	es.addEventListener('request', e => { addHist(parse(e)); schedule(); });
	es.addEventListener('idle', () => { es.close(); if (histEs === es) histEs = null; histDead = true; schedule(); });
	es.onerror = () => { if (es.readyState === 2 && histEs === es) { histEs = null; histDead = true; schedule(); } };
	getJSON('/api/requests?limit=50').then(a => { if (Array.isArray(a)) a.forEach(addHist); histState = 'ok'; schedule(); },
		e => { histState = 'Could not load the history: ' + e.message; schedule(); });
}
function stopHistory() { if (histEs && !LIST) { histEs.close(); histEs = null; } }

/* ---- browser spans: documentLoad and each hooked fetch/XHR, as OTLP/JSON ---- */
const toNs = t => String(BigInt(Math.round(t * 1000)) * 1000n); // epoch ms -> ns
const okv = (key, v) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: String(v) } });
function post(spans) {
	const f = (HK && HK.fetch) || W.fetch, body = JSON.stringify({ resourceSpans: [{
		resource: { attributes: [okv('service.name', 'browser'), okv('telemetry.sdk.name', 'tracebar'), okv('user_agent.original', navigator.userAgent)] },
		scopeSpans: [{ scope: { name: 'tracebar/browser' }, spans }] }] });
	try {
		f.call(W, prefix + '/v1/traces', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body, keepalive: body.length < 6e4 })
			.then(() => stream(), () => {});
	} catch (e) { /* reporting is best effort */ }
}
const MARKS = ['fetchStart', 'unloadEventStart', 'unloadEventEnd', 'domainLookupStart', 'domainLookupEnd', 'connectStart', 'secureConnectionStart', 'connectEnd',
	'requestStart', 'responseStart', 'responseEnd', 'domInteractive', 'domContentLoadedEventStart', 'domContentLoadedEventEnd', 'domComplete', 'loadEventStart', 'loadEventEnd'];
let loadSent = false;
// documentLoad follows OpenTelemetry JS: a child of the server's span, from
// navigationStart to loadEventEnd, with the Navigation Timing marks as events.
// Its id is the page span's, the parent of every hooked fetch.
function reportLoad() {
	const n = nav(), tid = TID || (S.id === homeId && S.rec && S.rec.traceId), o = performance.timeOrigin;
	if (PAGE || loadSent || !HEX16.test(homeId) || !tid || !n || !(n.loadEventEnd > 0)) return;
	loadSent = true;
	const events = MARKS.filter(k => n[k] > 0).map(k => ({ name: k, timeUnixNano: toNs(o + n[k]) }));
	const fcp = performance.getEntriesByName && performance.getEntriesByName('first-contentful-paint')[0];
	if (fcp) events.push({ name: 'firstContentfulPaint', timeUnixNano: toNs(o + fcp.startTime) });
	events.sort((a, b) => cmp(ns(a.timeUnixNano), ns(b.timeUnixNano)));
	post([{ traceId: tid, spanId: HK ? HK.pageSpanId : hex(8), parentSpanId: homeId, name: 'documentLoad', kind: 1,
		startTimeUnixNano: toNs(o + n.startTime), endTimeUnixNano: toNs(o + n.loadEventEnd),
		attributes: [okv('url.full', clean(location.href)), okv('http.request.method', 'GET'), okv('tracebar.transfer_size', n.transferSize || 0)], events }]);
}
function reportFetch(e) {
	if (!e.end || e.sent || !HK.traceId) return;
	e.sent = true;
	const at = [okv('http.request.method', e.method), okv('url.full', clean(e.url)), okv('tracebar.initiator', e.kind)];
	if (e.status) at.push(okv('http.response.status_code', e.status));
	if (e.error) at.push(okv('error.type', e.error));
	post([{ traceId: HK.traceId, spanId: e.spanId, parentSpanId: HK.pageSpanId, name: 'HTTP ' + e.method, kind: 3,
		startTimeUnixNano: toNs(e.start), endTimeUnixNano: toNs(e.end), attributes: at,
		status: e.error || e.status >= 400 ? { code: 2, message: e.error || 'HTTP ' + e.status } : {} }]);
}
if (HK) {
	HK.list.forEach(reportFetch);
	HK.on(e => { reportFetch(e); schedule(); });
	// Turbo visits and htmx boosted links load the next page by fetch or
	// XHR and swap it in: follow them, so the toolbar shows the page on screen.
	const follow = () => {
		const here = location.href.split('#')[0];
		for (let i = HK.list.length - 1; i >= 0; i--) {
			const e = HK.list[i];
			if (e.requestId && e.url.split('#')[0] === here) return show(e.requestId);
		}
	};
	addEventListener('turbo:load', follow);
	D.addEventListener('htmx:pushedIntoHistory', follow);
}
if (!PAGE) {
	if (D.readyState === 'complete') setTimeout(reportLoad, 0);
	addEventListener('load', () => setTimeout(() => { reportLoad(); schedule(); }, 0)); // loadEventEnd is set after load handlers
}

/* ---- interaction ---- */
function setOpen(v) { open = v; ls('tracebar.open', v ? '1' : '0'); render(); }
function setTab(t) { if (t === 'requests') histDead = false; tab = t; ls('tracebar.tab', t); render(); }
function select(id, keep) {
	selected = keep || selected !== id ? id : '';
	focusId = id;
	for (let s = S.spans.get(id), i = 0; s && s.p && i < 1e4; s = S.spans.get(s.p), i++) collapsed.delete(s.p); // reveal it
	if (tab !== 'trace') { tab = 'trace'; ls('tracebar.tab', tab); }
	if (T.hit && !T.hit.has(id) && T.q) T.q.value = query = '';
	render();
	reveal(id);
}
function reveal(id) { // scroll the row into view and focus it
	const i = T.index.get(id);
	if (i == null) return;
	const sc = T.sc, ah = T.axis.offsetHeight, top = i * RH + ah, vh = sc.clientHeight;
	if (top < sc.scrollTop + ah) sc.scrollTop = top - ah;
	else if (top + RH > sc.scrollTop + vh) sc.scrollTop = top + RH - vh;
	paint(true);
	const r = T.rows.querySelector(rowSel(id));
	if (r) r.focus({ preventScroll: true });
}
function show(id) { // the panels of another request, in place
	if (!id || id === S.id) return;
	stop();
	S = fresh(id);
	Dv = null;
	selected = focusId = '';
	collapsed = new Set();
	attrs(host, { 'data-state': 'loading', 'data-span-count': '0', 'data-request': id });
	if (tab === 'requests') tab = 'trace';
	loadRecord(S);
	render();
}
function flash(msg) { live.textContent = msg; setTimeout(() => { if (live.textContent === msg) live.textContent = ''; }, 2500); }
function download() {
	const id = S.traceId;
	fetch(prefix + '/api/traces/' + encodeURIComponent(id), { credentials: 'same-origin', cache: 'no-store' })
		.then(r => r.ok ? r.blob() : Promise.reject(new Error('HTTP ' + r.status)))
		.then(b => {
			const url = URL.createObjectURL(new Blob([b], { type: 'application/json' })), a = attrs(h('a'), { href: url, download: 'trace-' + id + '.json' });
			put(root, a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(url), 4e4);
			flash('Downloaded trace-' + id + '.json');
		}, e => flash('Download failed: ' + e.message));
}
function actions(e) {
	const t = e.target.closest('[data-act]'), a = t && t.getAttribute('data-act');
	if (!a) return false;
	if (a === 'close') { setOpen(false); badge.focus(); }
	else if (a === 'theme') { theme = THEMES[(THEMES.indexOf(theme) + 1) % 3]; ls('tracebar.theme', theme); placeHost(); render(); }
	else if (a === 'pos') { corner = CORNERS[(CORNERS.indexOf(corner) + 1) % 4]; ls('tracebar.pos', corner); placeHost(); render(); }
	else if (a === 'home') show(homeId);
	else if (a === 'copy') {
		const id = S.traceId;
		(navigator.clipboard ? navigator.clipboard.writeText(id) : Promise.reject(new Error('no clipboard')))
			.then(() => flash('Copied trace ID ' + id), () => flash('Trace ID: ' + id));
	} else if (a === 'download') download();
	else if (a === 'expand') { collapsed = new Set(); render(); }
	else if (a === 'collapse') collapseTo(1);
	else if (a === 'unselect') { selected = ''; render(); }
	else if (a === 'lvl') { const l = t.getAttribute('data-lvl'); lvlOff.has(l) ? lvlOff.delete(l) : lvlOff.add(l); render(); }
	else if (a === 'req') show(t.getAttribute('data-req'));
	else return false;
	return true;
}
badge.onclick = () => setOpen(!open);
panel.addEventListener('click', e => { if (actions(e)) e.stopPropagation(); });
tabsEl.onclick = e => { const b = e.target.closest('.tb-tab'); if (b) setTab(b.dataset.tab); };
tabsEl.onkeydown = e => { // arrow keys move between tabs
	const i = TABS.indexOf(tab), j = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? TABS.length - 1 : -9;
	if (j === -9) return;
	e.preventDefault();
	setTab(TABS[(j + TABS.length) % TABS.length]);
	tabBtn[tab].focus();
};
body.onclick = e => {
	const t = e.target, go = t.closest('.tb-go'), row = t.closest('.tb-span');
	if (go) return select(go.dataset.goto, true);
	if (!row) return;
	const id = row.dataset.spanId;
	focusId = id;
	if (!t.closest('.tb-tog')) return select(id);
	collapsed.has(id) ? collapsed.delete(id) : collapsed.add(id);
	render();
};
body.onkeydown = e => { // the waterfall is a tree: arrows move, fold and unfold
	const t = e.target;
	if (!t.classList.contains('tb-span')) return;
	const id = t.dataset.spanId, i = T.index.get(id), it = T.list[i];
	if (!it) return;
	const to = j => { if (j != null && j >= 0 && j < T.list.length) { focusId = T.list[j].s.id; reveal(focusId); } };
	const fold = v => { v ? collapsed.add(id) : collapsed.delete(id); render(); reveal(id); };
	switch (e.key) {
	case 'Enter': case ' ': select(id); break;
	case 'ArrowDown': to(i + 1); break;
	case 'ArrowUp': to(i - 1); break;
	case 'Home': to(0); break;
	case 'End': to(T.list.length - 1); break;
	case 'ArrowRight': it.n && collapsed.has(id) && !T.hit ? fold(false) : to(it.n ? i + 1 : null); break;
	case 'ArrowLeft': it.n && !collapsed.has(id) && !T.hit ? fold(true) : to(T.index.get(it.s.p)); break;
	default: return;
	}
	e.preventDefault();
};
D.addEventListener('keydown', e => {
	if (PAGE) return;
	if (e.altKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyT') {
		e.preventDefault();
		const inside = !!root.activeElement;
		setOpen(!open);
		if (open) tabBtn[tab].focus();
		else if (inside) badge.focus();
		return;
	}
	if (e.key !== 'Escape' || !open) return;
	const a = root.activeElement;
	if (a && a.tagName === 'INPUT' && a.value) return; // Esc clears the filter first
	setOpen(false);
	if (a) badge.focus();
}, true);

render();
loadRecord(S);
if (LIST) startHistory();
})();
