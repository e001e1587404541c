/* Tracebar fetch/XHR hook: a classic script placed right after <head>, so it
   runs before the page's own scripts and an app that keeps a reference to
   fetch still calls the wrapped one. Same-origin requests outside the
   toolbar's prefix get a traceparent whose span is the browser's CLIENT span
   for the call (a child of the page span); cross-origin ones are left alone,
   a new header there would cost a CORS preflight. toolbar.js reports the
   spans. */
(() => {
'use strict';
const W = window;
if (W.__tracebarHook) return;
const me = document.currentScript, at = n => (me && me.getAttribute(n)) || '';
const traceId = /^[0-9a-f]{32}$/.test(at('data-tracebar-trace')) && !/^0+$/.test(at('data-tracebar-trace')) ? at('data-tracebar-trace') : '';
const src = (me && me.src) || '', cut = src.lastIndexOf('/static/hook.js');
let prefix = '/__tracebar';
try { if (cut >= 0) prefix = new URL(src.slice(0, cut)).pathname; } catch (e) { /* keep the default */ }
const hex = n => {
	const b = new Uint8Array(n);
	do crypto.getRandomValues(b); while (b.every(x => !x));
	return Array.from(b, x => (x < 16 ? '0' : '') + x.toString(16)).join('');
};
const now = () => performance.timeOrigin + performance.now(); // epoch ms, sub-ms precision
const list = [], subs = [];
const H = W.__tracebarHook = {
	traceId, requestId: at('data-tracebar-request'), prefix, pageSpanId: hex(8), list, fetch: W.fetch,
	on: f => { subs.push(f); }
};
const emit = e => { for (const f of subs) try { f(e); } catch (x) { /* a listener's bug is not the page's */ } };
// Only same-origin requests outside the toolbar's own prefix are traced.
function traced(u) {
	try {
		const url = new URL(u, location.href);
		return traceId && url.origin === location.origin && url.pathname !== prefix && url.pathname.indexOf(prefix + '/') !== 0 ? url : null;
	} catch (e) { return null; }
}
function begin(kind, method, url, own) {
	const e = { kind, method: String(method || 'GET').toUpperCase(), url: url.href, spanId: hex(8), own, start: now(), end: 0, status: 0, requestId: '', error: '' };
	list.push(e);
	if (list.length > 500) list.shift();
	emit(e);
	return e;
}
function end(e, status, rid, err) {
	e.end = now();
	e.status = status | 0;
	e.requestId = String(rid || '').split('/').pop(); // X-Tracebar-Request: <prefix>/api/requests/<id>
	e.error = err ? String(err.message || err) : '';
	emit(e);
}
const parent = id => '00-' + traceId + '-' + id + '-01';

const of = W.fetch;
if (of) W.fetch = function (input, init) {
	let url, req;
	try {
		req = typeof Request === 'function' && input instanceof Request;
		url = traced(req ? input.url : String(input));
	} catch (x) { url = null; }
	if (!url) return of.apply(this, arguments);
	let args = arguments, hs, own = false;
	try {
		hs = new Headers((init && init.headers) || (req ? input.headers : undefined));
		own = !hs.has('traceparent');
	} catch (x) { hs = null; }
	const e = begin('fetch', (init && init.method) || (req && input.method), url, own);
	if (own && hs) {
		hs.set('traceparent', parent(e.spanId));
		args = [input, Object.assign({}, init, { headers: hs })];
	}
	return of.apply(this, args).then(res => { end(e, res.status, res.headers.get('X-Tracebar-Request')); return res; },
		err => { end(e, 0, '', err || 'failed'); throw err; });
};

const X = W.XMLHttpRequest && XMLHttpRequest.prototype;
if (X) {
	const open = X.open, send = X.send, set = X.setRequestHeader;
	X.open = function (method, u) {
		const url = traced(u);
		this.__tb = url ? { method, url, own: true } : null;
		return open.apply(this, arguments);
	};
	X.setRequestHeader = function (name) {
		if (this.__tb && String(name).toLowerCase() === 'traceparent') this.__tb.own = false;
		return set.apply(this, arguments);
	};
	X.send = function () {
		const t = this.__tb;
		if (t && !t.e) {
			const e = t.e = begin('xhr', t.method, t.url, t.own);
			if (t.own) try { set.call(this, 'traceparent', parent(e.spanId)); } catch (x) { e.own = false; }
			this.addEventListener('loadend', () => {
				let rid = '';
				try { rid = this.getResponseHeader('X-Tracebar-Request'); } catch (x) { /* none */ }
				end(e, this.status, rid, this.status ? '' : 'network error or aborted');
			});
		}
		return send.apply(this, arguments);
	};
}
})();
