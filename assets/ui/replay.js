/* Replay: the request sent again from the page itself, with the browser's
   own cookies (so Tracebar stores no secret for it) and a fresh trace,
   then compared with the original. GET and HEAD go at once; another
   method only after the user confirms it, and only with the body the
   proxy captured for that purpose (form and JSON up to 64 KB, secret
   fields redacted). The request carries X-Tracebar-Replay: <original id>,
   which the new record keeps as replayOf.
   Not replayed: a record imported from a file (it was never sent here);
   one of another origin than the page's: that would need CORS, and the
   custom X-Tracebar-Replay header makes even a GET preflighted, which the
   app would have to allow. A URL with a redacted secret in it is sent
   with the placeholder, once the user agrees. One replay at a time. */

const SAFE = ['GET', 'HEAD'];
// The placeholder of a redacted secret (toolbar.Redacted), as is or percent-encoded.
const REDACTED = /\[redacted\]|%5Bredacted%5D/i;

// The page's fetch from before the hook (hook.js), so the replay does not
// join the page's trace.
const pageFetch = () => (window.__tracebarHook && window.__tracebarHook.fetch) || window.fetch;

// The id of the record a response made: the span id of its Traceresponse
// (00-<trace>-<span>-<flags>).
const recordIdOf = res => (res.headers.get('Traceresponse') || '').split('-')[2] || '';

// Whether record (a summary or the whole record) may be replayed from this
// page: a plain exchange (not a background trace, whose "URL" is a span's;
// nor a WebSocket or event stream, which a fetch cannot reopen), not
// imported, and of the page's origin: its host (which only the
// whole record names) this page's, its URL a path here (not "//host/x" or
// "/\host/x", which browsers read as another host, nor an absolute URL).
export const canReplay = record => !record.kind && !record.imported && (!record.host || record.host === location.host) && /^\/(?![/\\])/.test(record.url);

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

/* Replays record (the API's, or its history summary) and shows the new
   request compared with it: here, or on the standalone page when the
   toolbar is the history list. One at a time: app.replaying is true
   meanwhile (the Replay buttons are disabled). Returns the new record's
   id; '' when a replay was running, the record may not be replayed, the
   user declined, the body was not captured or the request failed (each
   said to the user: report(message), by default the head's status line). */
export async function replay(app, record, report = app.shell.flash) {
	if (app.replaying) return '';
	app.replaying = true;
	app.schedule();
	const id = await send(app, record, report).catch(e => report('Replay failed: ' + (e.message || e)));
	app.replaying = false;
	app.schedule();
	return id || '';
}

// replay's work: the new record's id, or nothing.
async function send(app, record, report) {
	// The whole record: a summary has neither the host nor the body.
	const full = await app.client.getJSON('/api/requests/' + encodeURIComponent(record.id));
	if (!full) return report('Replay: request ' + record.id + ' is no longer stored.');
	const method = String(full.method || 'GET').toUpperCase(), what = method + ' ' + full.url;
	if (!canReplay(full)) return report('Replay: ' + what + (full.kind ? ' is a ' + full.kind + ' record' : full.imported ? ' was imported' : ' is of another origin') + ': it cannot be sent from here.');
	const init = { method, credentials: 'include', redirect: 'manual', headers: { 'X-Tracebar-Replay': full.id } };
	const placeholder = REDACTED.test(full.url) ? '\n\nIts URL holds a redacted secret: the placeholder [redacted] is sent in its place.' : '';
	if (!SAFE.includes(method)) {
		const body = full.requestBody;
		if (!body) return window.alert('Tracebar cannot replay ' + what + ': its body was not captured (only form and JSON bodies up to 64 KB are).');
		const redacted = body.redacted ? '\n\nSecret fields were redacted: their placeholder is sent, not their values.' : '';
		if (!window.confirm('Send ' + what + ' again, with its captured body? It may change data on the server.' + redacted + placeholder)) return;
		init.headers['Content-Type'] = body.contentType;
		init.body = body.text;
	} else if (placeholder && !window.confirm('Send ' + what + ' again?' + placeholder)) return;
	// Records from 2 s before on may be the replay's: the server's clock may
	// differ a little. The record is done when the body is read.
	const since = Date.now() - 2000;
	const res = await pageFetch().call(window, full.url, init);
	if (res.type !== 'opaqueredirect') await res.arrayBuffer().catch(() => null);
	const id = recordIdOf(res) || await findReplay(app, full, since);
	if (!id) return report('Replay: the new request was not found.');
	if (app.list || app.page) location.assign(app.prefixPath + '/requests/' + encodeURIComponent(id) + '#compare=' + encodeURIComponent(full.id));
	else app.compare(id, full.id);
	return id;
}
