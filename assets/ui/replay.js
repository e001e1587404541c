/* Replay: the request sent again from the page itself, with the browser's
   own cookies (so Tracebar stores no secret for it) and a fresh trace,
   then compared with the original. GET and HEAD go at once; another
   method only after the user confirms it, and only with the body the
   proxy captured for that purpose (form and JSON up to 64 KB, secret
   fields redacted). The request carries X-Tracebar-Replay: <original id>,
   which the new record keeps as replayOf. */

const SAFE = ['GET', 'HEAD'];

// The page's fetch from before the hook (hook.js), so the replay does not
// join the page's trace.
const pageFetch = () => (window.__tracebarHook && window.__tracebarHook.fetch) || window.fetch;

// The id of the record a response made: the span id of its Traceresponse
// (00-<trace>-<span>-<flags>).
const recordIdOf = res => (res.headers.get('Traceresponse') || '').split('-')[2] || '';

// The record's URL from this page: its path here, or on its own host when
// that is another site of the same Caddy (CORS may then hide the answer).
const requestURL = record => !record.host || record.host === location.host ? record.url : location.protocol + '//' + record.host + record.url;

// A redirect answered to redirect: 'manual' hides its headers: the newest
// records of the same method and URL tell which one replayed record.
async function findReplay(app, record, since) {
	const list = await app.client.getJSON('/api/requests?limit=20').catch(() => null);
	for (const r of Array.isArray(list) ? list : []) {
		if (r.id === record.id || r.method !== record.method || r.url !== record.url || Date.parse(r.startTime) < since) continue;
		const full = await app.client.getJSON('/api/requests/' + encodeURIComponent(r.id)).catch(() => null);
		if (full && full.replayOf === record.id) return r.id;
	}
	return '';
}

/* Replays record (the API's) and shows the new request compared with it:
   here, or on the standalone page when the toolbar is the history list.
   Returns the new record's id; '' when the user declined, the body was not
   captured, or the request failed (each said to the user). */
export async function replay(app, record) {
	const method = String(record.method || 'GET').toUpperCase(), what = method + ' ' + record.url;
	const init = { method, credentials: 'include', redirect: 'manual', headers: { 'X-Tracebar-Replay': record.id } };
	if (!SAFE.includes(method)) {
		// The history holds summaries: the body is in the full record.
		const full = await app.client.getJSON('/api/requests/' + encodeURIComponent(record.id)).catch(() => null), body = (full || record).requestBody;
		if (!body) {
			window.alert('Tracebar cannot replay ' + what + ': its body was not captured (only form and JSON bodies up to 64 KB are).');
			return '';
		}
		const redacted = body.redacted ? '\n\nSecret fields were redacted: their placeholder is sent, not their values.' : '';
		if (!window.confirm('Send ' + what + ' again, with its captured body? It may change data on the server.' + redacted)) return '';
		init.headers['Content-Type'] = body.contentType;
		init.body = body.text;
	}
	const since = Date.now() - 2000; // the server's clock may differ a little
	let id = '';
	try {
		const res = await pageFetch().call(window, requestURL(record), init);
		if (res.type !== 'opaqueredirect') await res.arrayBuffer().catch(() => null); // the record is done when the body is
		id = recordIdOf(res);
	} catch (e) {
		app.shell.flash('Replay failed: ' + (e.message || e));
	}
	id = id || await findReplay(app, record, since);
	if (!id) {
		app.shell.flash('Replay: the new request was not found.');
		return '';
	}
	if (app.list || app.page) location.assign(app.prefixPath + '/requests/' + encodeURIComponent(id) + '#compare=' + encodeURIComponent(record.id));
	else app.compare(id, record.id);
	return id;
}
