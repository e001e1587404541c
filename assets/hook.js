/* Tracebar fetch/XHR hook: a classic script placed right after <head>, so it
   runs before the page's own scripts and an app that keeps a reference to
   fetch still calls the wrapped one. Same-origin requests outside the
   toolbar's prefix get a traceparent whose span is the browser's CLIENT span
   for the call (a child of the page span); cross-origin ones are left alone,
   a new header there would cost a CORS preflight. toolbar.js reports the
   spans. The source is an ES module; the server joins it with lib/tag.js
   into one classic script (assets/bundle.go).

   window.__tracebarHook: { traceId, requestId, prefix, pageSpanId,
   list (the calls, newest last, at most 500), fetch (the page's own),
   on(listener) (called with a call when it starts and when it ends) };
   a call: { kind ('fetch' or 'xhr'), method, url, spanId, own (we set its
   traceparent), start, end (epoch ms; 0 in flight), status, requestId
   (X-Tracebar-Request's record id), error }. */

import { randomHex, tagIds, tagPrefix } from './lib/tag.js';

if (!window.__tracebarHook) installHook(document.currentScript);

function installHook(tag) {
	const { traceId, requestId } = tagIds(tag);
	const prefix = tagPrefix(tag && tag.src, 'hook.js', location.href).path;
	// Epoch ms, with sub-ms precision.
	const now = () => performance.timeOrigin + performance.now();
	const calls = [], listeners = [];
	window.__tracebarHook = {
		traceId, requestId, prefix, pageSpanId: randomHex(8), list: calls, fetch: window.fetch,
		on: f => { listeners.push(f); }
	};
	const emit = call => { for (const f of listeners) try { f(call); } catch (x) { /* a listener's bug is not the page's */ } };

	// Only same-origin requests outside the toolbar's own prefix are traced.
	function traced(u) {
		try {
			const url = new URL(u, location.href);
			const ours = url.pathname === prefix || url.pathname.indexOf(prefix + '/') === 0;
			return traceId && url.origin === location.origin && !ours ? url : null;
		} catch (e) { return null; }
	}
	function begin(kind, method, url, own) {
		const call = {
			kind, method: String(method || 'GET').toUpperCase(), url: url.href, spanId: randomHex(8), own,
			start: now(), end: 0, status: 0, requestId: '', error: ''
		};
		calls.push(call);
		if (calls.length > 500) calls.shift();
		emit(call);
		return call;
	}
	function end(call, status, recordHeader, error) {
		call.end = now();
		call.status = status | 0;
		// X-Tracebar-Request: <prefix>/api/requests/<id>
		call.requestId = String(recordHeader || '').split('/').pop();
		call.error = error ? String(error.message || error) : '';
		emit(call);
	}
	const traceparent = spanId => '00-' + traceId + '-' + spanId + '-01';

	const pageFetch = window.fetch;
	if (pageFetch) window.fetch = function (input, init) {
		let url, isRequest;
		try {
			isRequest = typeof Request === 'function' && input instanceof Request;
			url = traced(isRequest ? input.url : String(input));
		} catch (x) { url = null; }
		if (!url) return pageFetch.apply(this, arguments);
		let args = arguments, headers, own = false;
		try {
			headers = new Headers((init && init.headers) || (isRequest ? input.headers : undefined));
			own = !headers.has('traceparent');
		} catch (x) { headers = null; }
		const call = begin('fetch', (init && init.method) || (isRequest && input.method), url, own);
		if (own && headers) {
			headers.set('traceparent', traceparent(call.spanId));
			args = [input, Object.assign({}, init, { headers })];
		}
		return pageFetch.apply(this, args).then(res => { end(call, res.status, res.headers.get('X-Tracebar-Request')); return res; },
			err => { end(call, 0, '', err || 'failed'); throw err; });
	};

	const xhr = window.XMLHttpRequest && XMLHttpRequest.prototype;
	if (!xhr) return;
	const open = xhr.open, send = xhr.send, setHeader = xhr.setRequestHeader;
	xhr.open = function (method, u) {
		const url = traced(u);
		this.__tracebarCall = url ? { method, url, own: true, call: null } : null;
		return open.apply(this, arguments);
	};
	xhr.setRequestHeader = function (name) {
		if (this.__tracebarCall && String(name).toLowerCase() === 'traceparent') this.__tracebarCall.own = false;
		return setHeader.apply(this, arguments);
	};
	xhr.send = function () {
		const pending = this.__tracebarCall;
		if (pending && !pending.call) {
			const call = pending.call = begin('xhr', pending.method, pending.url, pending.own);
			if (pending.own) try { setHeader.call(this, 'traceparent', traceparent(call.spanId)); } catch (x) { call.own = false; }
			this.addEventListener('loadend', () => {
				let record = '';
				try { record = this.getResponseHeader('X-Tracebar-Request'); } catch (x) { /* none */ }
				end(call, this.status, record, this.status ? '' : 'network error or aborted');
			});
		}
		return send.apply(this, arguments);
	};
}
