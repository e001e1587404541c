/* The browser's part of the trace, reported as OTLP/JSON to the sink
   (<prefix>/v1/traces, same origin): the page load (documentLoad) and
   each fetch/XHR call hook.js saw. URLs go as the browser has them; the
   sink redacts secrets before anything is stored. Also: following Turbo
   and htmx page swaps. */

import { nanosText, nanos, compareTimes } from '../model/time.js';
import { isSpanId, randomHex } from '../lib/tag.js';

// The page's Navigation Timing entry, if the browser has one.
export const navigationTiming = () => performance.getEntriesByType && performance.getEntriesByType('navigation')[0];

// The marks of documentLoad's events, as OpenTelemetry JS names them.
const MARKS = ['fetchStart', 'unloadEventStart', 'unloadEventEnd', 'domainLookupStart', 'domainLookupEnd', 'connectStart',
	'secureConnectionStart', 'connectEnd', 'requestStart', 'responseStart', 'responseEnd', 'domInteractive',
	'domContentLoadedEventStart', 'domContentLoadedEventEnd', 'domComplete', 'loadEventStart', 'loadEventEnd'];

const attribute = (key, v) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: String(v) } });

export function createReporter(app, client) {
	const hook = app.hook;
	let loadSent = false;

	function post(spans) {
		const send = (hook && hook.fetch) || window.fetch; // the page's own fetch: not traced again
		const resource = { attributes: [attribute('service.name', 'browser'), attribute('telemetry.sdk.name', 'tracebar'),
			attribute('user_agent.original', navigator.userAgent)] };
		const body = JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'tracebar/browser' }, spans }] }] });
		const request = { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
			body, keepalive: body.length < 6e4 }; // keepalive has a 64 KB budget
		try {
			send.call(window, app.prefix + '/v1/traces', request).then(() => client.openStream(), () => {});
		} catch (e) { /* reporting is best effort */ }
	}

	/* documentLoad follows OpenTelemetry JS: a child of the proxy's span
	   for the page, from navigationStart to loadEventEnd, with the
	   Navigation Timing marks as events. Its id is the page span's, the
	   parent of every hooked call. Sent once, when the load has ended and
	   the trace id is known. */
	function reportLoad() {
		const n = navigationTiming(), state = app.state, origin = performance.timeOrigin;
		const traceId = app.homeTraceId || (state.id === app.homeId && state.record && state.record.traceId);
		if (app.page || loadSent || !isSpanId(app.homeId) || !traceId || !n || !(n.loadEventEnd > 0)) return;
		loadSent = true;
		const events = MARKS.filter(k => n[k] > 0).map(k => ({ name: k, timeUnixNano: nanosText(origin + n[k]) }));
		const paint = performance.getEntriesByName && performance.getEntriesByName('first-contentful-paint')[0];
		if (paint) events.push({ name: 'firstContentfulPaint', timeUnixNano: nanosText(origin + paint.startTime) });
		events.sort((a, b) => compareTimes(nanos(a.timeUnixNano), nanos(b.timeUnixNano)));
		post([{ traceId, spanId: hook ? hook.pageSpanId : randomHex(8), parentSpanId: app.homeId, name: 'documentLoad', kind: 1,
			startTimeUnixNano: nanosText(origin + n.startTime), endTimeUnixNano: nanosText(origin + n.loadEventEnd),
			attributes: [attribute('url.full', location.href), attribute('http.request.method', 'GET'),
				attribute('tracebar.transfer_size', n.transferSize || 0)],
			events }]);
	}

	// A finished fetch/XHR call: a CLIENT span, child of the page span.
	function reportCall(call) {
		if (!call.end || call.sent || !hook.traceId) return;
		call.sent = true;
		const attributes = [attribute('http.request.method', call.method), attribute('url.full', call.url),
			attribute('tracebar.initiator', call.kind)];
		if (call.status) attributes.push(attribute('http.response.status_code', call.status));
		if (call.error) attributes.push(attribute('error.type', call.error));
		post([{ traceId: hook.traceId, spanId: call.spanId, parentSpanId: hook.pageSpanId, name: 'HTTP ' + call.method, kind: 3,
			startTimeUnixNano: nanosText(call.start), endTimeUnixNano: nanosText(call.end), attributes,
			status: call.error || call.status >= 400 ? { code: 2, message: call.error || 'HTTP ' + call.status } : {} }]);
	}

	function start() {
		if (hook) {
			hook.list.forEach(reportCall);
			hook.on(call => { reportCall(call); app.schedule(); });
			// Turbo visits and htmx boosted links load the next page by fetch
			// or XHR and swap it in: follow them, so the toolbar shows the
			// page on screen.
			const follow = () => {
				const here = location.href.split('#')[0];
				for (let i = hook.list.length - 1; i >= 0; i--) {
					const call = hook.list[i];
					if (call.requestId && call.url.split('#')[0] === here) return app.show(call.requestId);
				}
			};
			addEventListener('turbo:load', follow);
			document.addEventListener('htmx:pushedIntoHistory', follow);
		}
		if (!app.page) {
			if (document.readyState === 'complete') setTimeout(reportLoad, 0);
			// loadEventEnd is set after the load handlers have run.
			addEventListener('load', () => setTimeout(() => { reportLoad(); app.schedule(); }, 0));
		}
	}

	return { start, reportLoad };
}
