/* What Tracebar's injected <script> tags tell the scripts they load: the
   request's record id and trace id (data-tracebar-request and
   data-tracebar-trace) and, from the tag's src, the toolbar's URL prefix
   and build version. One copy, joined into both hook.js and toolbar.js. */

export const DEFAULT_PREFIX = '/__tracebar';

export const isSpanId = id => /^[0-9a-f]{16}$/.test(id);
// W3C Trace Context: 32 lower-case hex digits, not all zero.
export const isTraceId = id => /^[0-9a-f]{32}$/.test(id) && !/^0+$/.test(id);

export const tagAttribute = (tag, name) => (tag && tag.getAttribute(name)) || '';

// The record and trace ids a tag names; a malformed trace id is none.
export function tagIds(tag) {
	const traceId = tagAttribute(tag, 'data-tracebar-trace');
	return { requestId: tagAttribute(tag, 'data-tracebar-request'), traceId: isTraceId(traceId) ? traceId : '' };
}

// The prefix in a tag's src: "http://h/__tracebar/static/hook.js?v=1" gives
// url "http://h/__tracebar" (absolute) and path "/__tracebar". Without
// one, the default prefix on base's origin.
export function tagPrefix(src, file, base) {
	const cut = src ? src.lastIndexOf('/static/' + file) : -1;
	let url = cut >= 0 ? src.slice(0, cut) : '', path = DEFAULT_PREFIX;
	try {
		if (!url) url = new URL(DEFAULT_PREFIX, base).href;
		path = new URL(url, base).pathname;
	} catch (e) { /* keep the default */ }
	return { url, path };
}

// The build a tag loads (its ?v=), so the stylesheet is the same build's.
export const tagVersion = src => (String(src || '').match(/[?&]v=([0-9a-f]+)/) || [])[1] || '';

// n random bytes as hex, never all zero (an invalid span or trace id).
export function randomHex(n) {
	const b = new Uint8Array(n);
	do crypto.getRandomValues(b); while (b.every(x => !x));
	return Array.from(b, x => (x < 16 ? '0' : '') + x.toString(16)).join('');
}
