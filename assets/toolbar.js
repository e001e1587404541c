/* Tracebar debug toolbar: plain ES2020, no dependencies, nothing fetched
   from outside the page's origin. Values from the API are only ever
   rendered as text nodes, never parsed as HTML. */
(() => {
'use strict';
if (window.__tracebar) return;
const D = document;
const me = D.currentScript || D.querySelector('script[data-tracebar-request]');
if (!me) return;
window.__tracebar = {};

const reqId = me.getAttribute('data-tracebar-request') || '';
const src = me.src || '', cut = src.lastIndexOf('/static/toolbar.js');
const prefix = cut >= 0 ? src.slice(0, cut) : '/__tracebar';
const TABS = ['timing', 'headers', 'trace'];
const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const DOT = ' \u00b7 ', ELL = '\u2026', DASH = '\u2014', ARR = ' \u2192 ', WARN = '\u26a0 ', HOOK = '\u2197';

/* ---- helpers ---- */
const add = (e, k) => {
	if (k == null || k === false) return;
	if (Array.isArray(k)) k.forEach(c => add(e, c));
	else e.append(k.nodeType ? k : String(k)); // strings become text nodes
};
const h = (tag, cls, kids) => {
	const e = D.createElement(tag);
	if (cls) e.className = cls;
	add(e, kids);
	return e;
};
const attrs = (e, o) => { for (const k in o) e.setAttribute(k, o[k]); return e; };
const btn = (cls, kids, label) => attrs(h('button', cls, kids), label ? { type: 'button', 'aria-label': label } : { type: 'button' });
const pct = x => Math.max(0, Math.min(100, x * 100)) + '%';
const place = (e, left, width) => { e.style.left = pct(left); if (width != null) e.style.width = pct(width); return e; };
const ls = (k, v) => { try { return v == null ? localStorage.getItem(k) : localStorage.setItem(k, v); } catch (e) { return null; } };
const plural = (n, w) => n + ' ' + w + (n === 1 ? '' : 's');
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
function anyStr(v, nested) { // OTLP AnyValue -> readable text
	if (v == null || typeof v !== 'object') return v == null ? '' : String(v);
	if ('stringValue' in v) return nested ? JSON.stringify(String(v.stringValue)) : String(v.stringValue);
	for (const k of ['intValue', 'doubleValue', 'boolValue']) if (k in v) return String(v[k]);
	if ('bytesValue' in v) return 'base64:' + v.bytesValue;
	if (v.arrayValue) return '[' + (v.arrayValue.values || []).map(x => anyStr(x, 1)).join(', ') + ']';
	if (v.kvlistValue) return '{' + (v.kvlistValue.values || []).map(kv => kv.key + ': ' + anyStr(kv.value, 1)).join(', ') + '}';
	return '';
}
const PALETTE = ['#3b82f6', '#14b8a6', '#8b5cf6', '#f59e0b', '#22c55e', '#f97316', '#64748b', '#d946ef'];
function svcColor(s) { // deterministic per service; no reds, red means error
	let x = 2166136261;
	for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
	return PALETTE[(x >>> 0) % PALETTE.length];
}

/* ---- state ---- */
let rec = null, traceId = '', es = null, evicted = false, failed = '';
let open = ls('tracebar.open') === '1', tab = ls('tracebar.tab'), selected = '', shown = '';
if (!TABS.includes(tab)) tab = 'timing';
const spans = new Map(), collapsed = new Set(), scrolls = {};
window.__tracebar.spans = spans;

/* ---- skeleton ---- */
const host = D.createElement('div');
host.id = 'tracebar-root';
// Inline !important styles win over page CSS aimed at body > div and the like.
'all:initial;position:fixed;right:12px;bottom:12px;left:auto;top:auto;z-index:2147483647;display:block;margin:0;padding:0;transform:none'
	.split(';').forEach(d => { const [k, v] = d.split(':'); host.style.setProperty(k, v, 'important'); });
attrs(host, { 'data-state': 'loading', 'data-span-count': '0' });
const root = host.attachShadow({ mode: 'open' });
const link = attrs(D.createElement('link'), { rel: 'stylesheet', href: prefix + '/static/toolbar.css' });
const wrap = h('div', 'tb');
wrap.style.display = 'none'; // unstyled content would be a mess: wait for the CSS
link.onload = () => { wrap.style.display = ''; };
const badge = btn('tb-badge');
badge.title = 'Tracebar: toggle debug panel';
const panel = attrs(h('div', 'tb-panel'), { role: 'dialog', 'aria-label': 'Tracebar' });
const tabsEl = attrs(h('div', 'tb-tabs'), { role: 'tablist' });
const tabBtn = {};
for (const t of TABS) tabsEl.append(tabBtn[t] = attrs(btn('tb-tab', t[0].toUpperCase() + t.slice(1)), { role: 'tab', 'data-tab': t }));
const sum = h('div', 'tb-sum');
const closeBtn = btn('tb-x', '\u00d7', 'Close panel');
const body = attrs(h('div', 'tb-body'), { role: 'tabpanel' });
panel.append(h('div', 'tb-head', [h('span', 'tb-brand', 'Tracebar'), tabsEl, sum, closeBtn]), body);
wrap.append(panel, badge);
root.append(link, wrap);
(D.body || D.documentElement).appendChild(host);

/* ---- rendering ---- */
let pending = false;
function schedule() { // coalesce bursts of updates into one render
	if (pending) return;
	pending = true;
	if (window.requestAnimationFrame) requestAnimationFrame(flush);
	setTimeout(flush, 120); // rAF does not fire in hidden tabs
}
function flush() { if (pending) { pending = false; render(); } }
const errCount = () => { let n = 0; spans.forEach(s => { n += s.err; }); return n; };
const total = r => r ? (r.timing && r.timing.totalMs) || r.durationMs || 0 : 0;
const rowSel = id => '.tb-span[data-span-id="' + CSS.escape(id) + '"]';

function render() {
	renderBadge();
	renderHead();
	panel.hidden = !open;
	if (!open) return;
	if (shown && shown !== tab) scrolls[shown] = body.scrollTop;
	const top = shown === tab ? body.scrollTop : scrolls[tab] || 0;
	const fa = root.activeElement, fr = fa && fa.closest('.tb-span');
	const fid = fr && fr.dataset.spanId, ftog = fa && fa.classList.contains('tb-tog');
	body.replaceChildren(tab === 'timing' ? timingView() : tab === 'headers' ? headersView() : traceView());
	body.scrollTop = top;
	shown = tab;
	const r = fid && body.querySelector(rowSel(fid)), f = r && (ftog ? r.querySelector('.tb-tog') : r);
	if (f) f.focus({ preventScroll: true });
}

function renderBadge() {
	const r = rec, code = r && r.status || 0, errs = errCount();
	badge.className = 'tb-badge' + (code >= 500 || r && r.error ? ' tb-5xx' : code >= 400 ? ' tb-4xx' : code >= 300 ? ' tb-3xx' : code ? ' tb-2xx' : '') +
		(errs ? ' tb-has-err' : '') + (open ? ' tb-open' : '');
	badge.setAttribute('aria-expanded', open);
	const k = [h('span', 'tb-dot')];
	if (failed && !r) k.push(h('span', 'tb-st', 'Tracebar: no data'));
	else {
		k.push(h('span', 'tb-st', code || ELL), h('span', 'tb-sep', DOT), h('span', 'tb-ms', r && (r.done || total(r)) ? ms(total(r)) : DASH),
			h('span', 'tb-cnt', ' ' + plural(spans.size, 'span')));
		if (errs) k.push(attrs(h('span', 'tb-errn', ' ' + WARN + errs), { title: plural(errs, 'span') + ' with error status' }));
	}
	badge.replaceChildren(...k);
}

function renderHead() {
	for (const t of TABS) tabBtn[t].setAttribute('aria-selected', t === tab);
	tabBtn.trace.replaceChildren('Trace', h('span', 'tb-n', spans.size));
	const r = rec, k = [];
	if (r) k.push(h('span', 'tb-meth', r.method), attrs(h('span', 'tb-url', r.url), { title: r.url || '' }),
		h('span', 'tb-chip' + (r.status >= 500 ? ' tb-bad' : r.status >= 400 ? ' tb-warn' : ''), r.status || (r.done ? DASH : 'in flight')));
	if (traceId) k.push(attrs(h('span', 'tb-tid', 'trace ' + traceId.slice(0, 8) + ELL), { title: traceId }));
	if (r && /^https?:\/\//.test(r.traceLink || '')) k.push(attrs(h('a', 'tb-link', 'open ' + HOOK), { href: r.traceLink, target: '_blank', rel: 'noopener noreferrer', title: r.traceLink }));
	if (evicted) k.push(h('span', 'tb-chip tb-warn', 'evicted'));
	sum.replaceChildren(...k);
}

const section = (title, content, extra) => h('section', 'tb-sec', [h('h3', null, [title, extra || extra === 0 ? h('span', 'tb-sub', extra) : null]), content]);
const kv = rows => h('table', 'tb-kv', rows.filter(Boolean).map(r => h('tr', null, [h('th', null, r[0]), h('td', null, r[1])])));
const empty = t => h('div', 'tb-empty', t);
// A timing table row: label, value, and a mini bar from a to b (ms) on a 0..end scale.
function trow(label, value, a, b, end, kind) {
	const c = h('td', 'tb-mini');
	if (end > 0 && b > a) c.append(h('div', 'tb-mt', place(h('i', 'tb-mb tb-k-' + kind), a / end, (b - a) / end)));
	return h('tr', null, [h('th', null, label), h('td', 'tb-num', value), c]);
}

/* ---- Timing ---- */
function timingView() {
	const out = h('div', 'tb-pad');
	if (!rec) return add(out, [empty(failed ? 'Could not load the request record: ' + failed : 'Loading request' + ELL), browser()]), out;
	const r = rec, t = r.timing || {}, end = total(r), us = t.upstreamStartMs || 0, rows = [];
	const row = (l, v, a, b, k, off) => rows.push(trow(l, (off ? '@ ' : '') + ms(v), a, b, end, k));
	row('Total (proxy)', end, 0, end, 'tot');
	if (t.headersMs) row('Response headers', t.headersMs, 0, t.headersMs, 'off', 1);
	if (us) row('Upstream start', us, 0, us, 'off', 1);
	let at = us;
	for (const [l, v] of [['DNS', t.dnsMs], ['Connect', t.connectMs], ['TLS', t.tlsMs]]) if (v) { row(l, v, at, at + v, 'net'); at += v; }
	if (t.wroteRequestMs) row('Request written', t.wroteRequestMs, 0, t.wroteRequestMs, 'off', 1);
	if (t.firstByteMs) row('First byte', t.firstByteMs, 0, t.firstByteMs, 'off', 1);
	if (t.upstreamLatencyMs) row('Upstream latency', t.upstreamLatencyMs, us, us + t.upstreamLatencyMs, 'up');
	if (t.upstreamDurationMs) row('Upstream duration', t.upstreamDurationMs, us, us + t.upstreamDurationMs, 'up');
	const up = hasHdr(r.upstreamRequestHeaders) || t.upstreamDurationMs || t.upstreamLatencyMs;
	if (r.error) out.append(h('div', 'tb-note tb-bad', ['Proxy error: ', r.error]));
	out.append(h('div', 'tb-cols', [section('Proxy', h('table', 'tb-kv tb-tt', rows), up ? null : 'no upstream'), browser()]),
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
			['Sent to client', bytes(r.clientBytes || 0) + (r.injected ? ' (toolbar injected)' : '')],
			r.startTime && ['Started', r.startTime]])));
	return out;
}

function browser() {
	const n = performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
	if (!n) return section('Browser', empty('Navigation Timing is not available.'));
	const end = n.loadEventEnd || Math.max(n.domContentLoadedEventEnd, n.domInteractive, n.responseEnd);
	const bar = h('div', 'tb-stack'), legend = h('div', 'tb-legend');
	[['Queued', 0, n.domainLookupStart, 0], ['DNS', n.domainLookupStart, n.domainLookupEnd, 1], ['Connect', n.connectStart, n.connectEnd, 2],
		['Stalled', n.connectEnd, n.requestStart, 0], ['Request', n.requestStart, n.responseStart, 3], ['Response', n.responseStart, n.responseEnd, 4],
		['DOM', n.responseEnd, n.domInteractive, 5], ['DOMContentLoaded', n.domInteractive, n.domContentLoadedEventEnd, 6],
		['Load', n.domContentLoadedEventEnd, n.loadEventEnd, 7]
	].forEach(([l, a, b, c]) => {
		if (!(b - a > 0 && end > 0)) return;
		bar.append(attrs(h('i', 'tb-p' + c), { title: l + ': ' + ms(b - a) }));
		bar.lastChild.style.width = pct((b - a) / end);
		legend.append(h('span', null, [h('i', 'tb-p' + c), l + ' ' + ms(b - a)]));
	});
	const rows = [['DNS', n.domainLookupStart, n.domainLookupEnd, 'p1'], ['Connect', n.connectStart, n.connectEnd, 'p2'],
		n.secureConnectionStart > 0 && ['TLS', n.secureConnectionStart, n.connectEnd, 'p2'],
		['Request', n.requestStart, n.responseStart, 'p3'], ['Response', n.responseStart, n.responseEnd, 'p4']
	].filter(Boolean).map(([l, a, b, k]) => trow(l, ms(b - a), a, b, end, k));
	for (const [l, v] of [['DOM interactive', n.domInteractive], ['DOMContentLoaded', n.domContentLoadedEventEnd], ['Load', n.loadEventEnd]])
		rows.push(trow(l, v > 0 ? '@ ' + ms(v) : 'pending', 0, v, end, 'off'));
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
	return section(title, rows.length ? t : empty('no headers'), info.join(DOT));
}
function headersView() {
	const r = rec, out = h('div', 'tb-pad');
	if (!r) return add(out, empty(failed ? 'No request record.' : 'Loading request' + ELL)), out;
	const up = hasHdr(r.upstreamRequestHeaders), upRes = hasHdr(r.upstreamResponseHeaders);
	out.append(h('div', 'tb-note', 'Tags compare proxy' + ARR + 'upstream with client' + ARR + 'proxy, and proxy' + ARR + 'client with upstream' + ARR + 'proxy.'),
		hdrTable('Client' + ARR + 'proxy', r.clientRequestHeaders),
		hdrTable('Proxy' + ARR + 'upstream', r.upstreamRequestHeaders, r.clientRequestHeaders, 'no upstream request'),
		hdrTable('Upstream' + ARR + 'proxy', r.upstreamResponseHeaders, null, up ? 'no upstream response' : 'no upstream request'),
		hdrTable('Proxy' + ARR + 'client', r.clientResponseHeaders, upRes && r.upstreamResponseHeaders, !r.done && 'response not sent yet'));
	return out;
}

/* ---- Trace ---- */
const byStart = (a, b) => a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
function tree() { // visible rows in depth-first order: {s, d: depth, n: child count}
	const kids = new Map(), roots = [], rows = [], seen = new Set();
	spans.forEach(s => {
		if (s.p && s.p !== s.id && spans.has(s.p)) (kids.get(s.p) || kids.set(s.p, []).get(s.p)).push(s);
		else roots.push(s);
	});
	kids.forEach(k => k.sort(byStart));
	const hide = s => { seen.add(s.id); (kids.get(s.id) || []).forEach(hide); };
	const walk = (s, d) => {
		if (seen.has(s.id)) return;
		seen.add(s.id);
		const k = kids.get(s.id) || [];
		rows.push({ s, d, n: k.length });
		k.forEach(collapsed.has(s.id) ? hide : c => walk(c, d + 1));
	};
	roots.sort(byStart).forEach(s => walk(s, 0));
	[...spans.values()].sort(byStart).forEach(s => walk(s, 0)); // parent cycles: show as roots
	return rows;
}
function traceView() {
	if (!spans.size) return empty(traceId ? evicted ? 'The trace was evicted from the store.' : 'Waiting for spans' + ELL : rec || failed ? 'No trace for this request.' : 'Loading' + ELL);
	let t0 = null, t1 = null;
	const svcs = new Set();
	spans.forEach(s => {
		if (t0 === null || s.s < t0) t0 = s.s;
		if (t1 === null || s.e > t1) t1 = s.e;
		svcs.add(s.svc);
	});
	const dur = Math.max(dt(t0, t1), 0.001), raw = dur / 5, p = 10 ** Math.floor(Math.log10(raw)), f = raw / p;
	const step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
	const wf = h('div', 'tb-wf'), ticks = h('div', 'tb-lane tb-ticks');
	wf.style.setProperty('--tick', step / dur * 100 + '%');
	for (let v = 0; v / dur < 0.93; v += step) ticks.append(place(h('span', 'tb-tk', v ? ms(v) : '0'), v / dur)); // no label crammed at the end
	wf.append(h('div', 'tb-axis', [h('div', 'tb-nm', plural(spans.size, 'span') + DOT + plural(svcs.size, 'service') + DOT + ms(dur)), ticks]));
	for (const { s, d, n } of tree()) {
		const sel = s.id === selected, shut = collapsed.has(s.id), color = svcColor(s.svc);
		const row = attrs(h('div', 'tb-span' + (sel ? ' tb-sel' : '') + (s.err ? ' tb-err' : '') + (rec && s.id === rec.spanId ? ' tb-me' : '')),
			{ 'data-span-id': s.id, tabindex: 0, role: 'treeitem', 'aria-level': d + 1, 'aria-selected': sel });
		if (n) row.setAttribute('aria-expanded', !shut);
		const dot = h('span', 'tb-dot');
		dot.style.background = color;
		const nm = attrs(h('div', 'tb-nm', [n ? btn('tb-tog', shut ? '\u25b8' : '\u25be', (shut ? 'Expand ' : 'Collapse ') + plural(n, 'child span')) : h('span', 'tb-tog'),
			dot, h('span', 'tb-sn', s.name || '(unnamed)'), h('span', 'tb-svc', s.svc), shut && h('span', 'tb-n', '+' + n)]), { title: s.svc + ': ' + s.name });
		nm.style.paddingLeft = 4 + d * 14 + 'px';
		const a = dt(t0, s.s) / dur, w = dt(s.s, s.e) / dur;
		const bar = place(h('div', 'tb-bar'), a, w), lane = h('div', 'tb-lane', bar);
		if (!s.err) bar.style.background = color;
		for (const ev of s.events) lane.append(attrs(place(h('i', 'tb-ev'), dt(t0, ns(ev.timeUnixNano)) / dur), { title: ev.name || 'event' }));
		// duration label: after the bar, before it, or inside it when the bar spans the lane
		const lab = h('span', 'tb-dur', ms(dt(s.s, s.e)));
		if (a + w <= 0.82) lab.style.left = pct(a + w);
		else if (a >= 0.18) lab.style.right = pct(1 - a);
		else { lab.className += ' tb-in'; lab.style.right = pct(1 - a - w); }
		lane.append(lab);
		row.append(nm, lane);
		wf.append(row);
		if (sel) wf.append(detail(s, t0));
	}
	return wf;
}

const attrTable = a => a && a.length ? kv(a.slice().sort((x, y) => String(x.key) < String(y.key) ? -1 : 1).map(x => [String(x.key), anyStr(x.value)])) : h('div', 'tb-empty tb-sm', 'none');
const goto = id => spans.has(id) ? attrs(btn('tb-go', id, 'Go to span ' + id), { 'data-goto': id }) : h('code', null, id);
function detail(s, t0) {
	const st = s.st, sc = s.scope;
	const code = s.err ? 'Error' : st.code === 1 || st.code === 'STATUS_CODE_OK' ? 'OK' : 'Unset';
	let when = '';
	try { when = '  (' + new Date(Number(s.s / 1000000n)).toISOString() + ')'; } catch (e) { /* out of range */ }
	const info = kv([['Service', s.svc], ['Kind', KINDS[s.kind] || s.kind], ['Start', '+' + ms(dt(t0, s.s)) + when], ['Duration', ms(dt(s.s, s.e))],
		['Span ID', h('code', null, s.id)], ['Parent ID', s.p ? goto(s.p) : DASH + ' (root)'],
		['Status', h('span', s.err && 'tb-errs', code + (st.message ? ': ' + st.message : ''))],
		sc.name && ['Scope', sc.name + (sc.version ? ' ' + sc.version : '')]]);
	const list = (items, head) => h('div', 'tb-evs', items.map(x => h('div', 'tb-evr', [h('div', null, head(x)), x.attributes && x.attributes.length ? attrTable(x.attributes) : null])));
	return h('div', 'tb-detail', [
		h('div', 'tb-dh', [h('strong', null, s.name || '(unnamed)'), h('span', 'tb-svc', s.svc), btn('tb-dx', '\u00d7', 'Close details')]),
		h('div', 'tb-cols', [
			h('div', null, [section('Span', info), section('Resource', attrTable(s.res), s.res.length)]),
			h('div', null, [section('Attributes', attrTable(s.attrs), s.attrs.length),
				s.events.length ? section('Events', list(s.events, ev => [h('span', 'tb-off', '+' + ms(dt(s.s, ns(ev.timeUnixNano)))), h('strong', null, ev.name || '(event)')]), s.events.length) : null,
				s.links.length ? section('Links', list(s.links, l => ['trace ', h('code', null, l.traceId || ''), ' span ', l.traceId === s.tid ? goto(l.spanId || '') : h('code', null, l.spanId || '')]), s.links.length) : null])])]);
}

/* ---- data ---- */
function merge(doc) { // OTLP/JSON; spans are keyed by id, so repeats are harmless
	let n = 0;
	for (const rs of (doc && doc.resourceSpans) || []) {
		const res = (rs.resource && rs.resource.attributes) || [], sv = res.find(a => a && a.key === 'service.name');
		const svc = (sv && anyStr(sv.value)) || 'unknown';
		for (const ss of rs.scopeSpans || []) for (const sp of ss.spans || []) {
			if (!sp || !sp.spanId) continue;
			const s = ns(sp.startTimeUnixNano), e = ns(sp.endTimeUnixNano), st = sp.status || {};
			let kind = sp.kind;
			if (typeof kind === 'string') kind = Math.max(0, KINDS.indexOf(kind.replace('SPAN_KIND_', '').toLowerCase()));
			spans.set(sp.spanId, {
				id: sp.spanId, p: /^0*$/.test(sp.parentSpanId || '') ? '' : sp.parentSpanId, tid: sp.traceId, name: String(sp.name || ''),
				kind: kind | 0, s, e: e < s ? s : e, attrs: sp.attributes || [], events: sp.events || [], links: sp.links || [], st,
				err: st.code === 2 || st.code === 'STATUS_CODE_ERROR', svc, res, scope: ss.scope || {}
			});
			n++;
		}
	}
	if (n) { host.setAttribute('data-span-count', spans.size); schedule(); }
}
function setRec(r) {
	if (!r || typeof r !== 'object' || rec && rec.done && !r.done) return; // ignore a stale in-flight copy
	rec = r;
	if (r.traceId) startTrace(r.traceId);
	schedule();
}
const getJSON = path => fetch(prefix + path, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
	.then(res => res.status === 404 ? null : res.ok ? res.json() : Promise.reject(new Error('HTTP ' + res.status)));
const ready = () => { host.setAttribute('data-state', 'ready'); schedule(); };
let tries = 0;
function retry(why) { // the record may not be stored yet: back off a little
	if (++tries < 7) return setTimeout(loadRecord, 250 * tries);
	failed = why;
	host.setAttribute('data-state', 'error');
	schedule();
}
function loadRecord() {
	getJSON('/api/requests/' + encodeURIComponent(reqId)).then(r => {
		if (!r) return retry('not found');
		setRec(r);
		if (!r.traceId) ready();
	}, e => retry(e.message || 'failed'));
}
function startTrace(id) {
	if (traceId) return;
	traceId = id;
	stream();
	getJSON('/api/traces/' + encodeURIComponent(id)).then(merge, () => {}).then(ready); // 404: no spans yet
}
const parse = e => { try { return JSON.parse(e.data); } catch (x) { return null; } };
function stream() {
	if (es || evicted || !traceId || !window.EventSource) return;
	es = new EventSource(prefix + '/api/traces/' + encodeURIComponent(traceId) + '/stream');
	es.addEventListener('request', e => { const r = parse(e); if (r && r.id === reqId) setRec(r); });
	es.addEventListener('spans', e => merge(parse(e)));
	es.addEventListener('evicted', () => { evicted = true; stop(); schedule(); });
	es.addEventListener('idle', stop); // the server ends quiet streams; reopen when looked at
}
addEventListener('focus', stream);
document.addEventListener('visibilitychange', () => { if (!document.hidden) stream(); });
function stop() { if (es) es.close(); es = null; }
addEventListener('pagehide', stop); // let the page into the back/forward cache
addEventListener('pageshow', e => { if (e.persisted) stream(); });

/* ---- interaction ---- */
function setOpen(v) { open = v; ls('tracebar.open', v ? '1' : '0'); render(); }
function setTab(t) { tab = t; ls('tracebar.tab', t); render(); }
function select(id) {
	selected = selected === id ? '' : id;
	for (let s = spans.get(id), i = 0; s && s.p && i < 999; s = spans.get(s.p), i++) collapsed.delete(s.p); // reveal it
	render();
	const r = selected && body.querySelector(rowSel(id));
	if (r) r.scrollIntoView({ block: 'nearest' });
}
badge.onclick = () => setOpen(!open);
closeBtn.onclick = () => { setOpen(false); badge.focus(); };
tabsEl.onclick = e => { const b = e.target.closest('.tb-tab'); if (b) setTab(b.dataset.tab); };
body.onclick = e => {
	const t = e.target, go = t.closest('.tb-go'), row = t.closest('.tb-span');
	if (go) return select(go.dataset.goto);
	if (t.closest('.tb-dx')) { selected = ''; return render(); }
	if (!row) return;
	const id = row.dataset.spanId;
	if (!t.closest('.tb-tog')) return select(id);
	collapsed.has(id) ? collapsed.delete(id) : collapsed.add(id);
	render();
};
body.onkeydown = e => {
	const t = e.target;
	if (t.classList.contains('tb-span') && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); select(t.dataset.spanId); }
};
D.addEventListener('keydown', e => {
	if (e.key !== 'Escape' || !open) return;
	const inside = !!root.activeElement;
	setOpen(false);
	if (inside) badge.focus();
});
if (D.readyState !== 'complete') addEventListener('load', () => setTimeout(schedule, 0)); // loadEventEnd is set after load handlers

render();
if (reqId) loadRecord();
else { failed = 'no request id'; host.setAttribute('data-state', 'error'); render(); }
})();
