/* The API and SSE client: the record of the request on show (retried
   while the proxy stores it), its trace and log records, the trace's live
   stream (spans, logs, the trace's other records, the traces linked to it
   and their spans), its alerts and comparison, the history of recent
   requests, live, and the UI's settings (/api/config). Everything lands
   in app.state, the request on show; answers for a request no longer
   shown are dropped. */

import { addLogs, addSpans } from './state.js';
import { readSpans } from '../model/otlp.js';
import { linkedGrafts } from '../model/trace.js';

const parseEvent = e => { try { return JSON.parse(e.data); } catch (x) { return null; } };

export function createClient(app, onRecord) {
	const options = { credentials: 'same-origin', cache: 'no-store' };
	const fetchPath = (path, more) => fetch(app.prefix + path, Object.assign({}, options, more));
	// JSON from the API; null on 404.
	const getJSON = path => fetchPath(path, { headers: { Accept: 'application/json' } })
		.then(res => res.status === 404 ? null : res.ok ? res.json() : Promise.reject(new Error('HTTP ' + res.status)));
	const traceURL = id => '/api/traces/' + encodeURIComponent(id);
	const shown = state => state === app.state;

	function mergeSpans(state, doc) {
		if (!shown(state) || !addSpans(state, doc)) return;
		app.shell.host.setAttribute('data-span-count', state.spans.size);
		refresh(state, 500);
		app.schedule();
	}
	function mergeLogs(state, records) {
		if (!shown(state)) return;
		addLogs(state, records);
		app.schedule();
	}
	function setRecord(state, record) {
		if (!shown(state) || !record || typeof record !== 'object') return;
		// A stale copy from before it finished.
		if (state.record && state.record.done && !record.done) return;
		const finished = record.done && !(state.record && state.record.done);
		state.record = record;
		if (finished) refresh(state, 0);
		state.version++;
		if (record.traceId) startTrace(state, record.traceId);
		onRecord(state);
		app.schedule();
	}
	function ready(state) {
		if (!shown(state)) return;
		app.setLoadState('ready');
		app.schedule();
	}
	// The record may not be stored yet: tries again, backing off a little.
	function retry(state, why) {
		if (++state.tries < 7) return setTimeout(() => loadRecord(state), 250 * state.tries);
		state.failed = why;
		app.setLoadState('error');
		app.schedule();
	}
	function loadRecord(state) {
		if (!shown(state)) return;
		if (!state.id) {
			state.failed = 'no request id';
			app.setLoadState(app.list ? 'ready' : 'error');
			return app.schedule();
		}
		getJSON('/api/requests/' + encodeURIComponent(state.id)).then(record => {
			if (!shown(state)) return;
			if (!record) return retry(state, 'not found');
			setRecord(state, record);
			if (!record.traceId) ready(state);
		}, e => shown(state) && retry(state, e.message || 'failed'));
	}
	function startTrace(state, id) {
		if (state.traceId) return;
		state.traceId = id;
		openStream(state);
		// The spans so far (a 404: none yet), parsed and indexed (perf.load).
		fetchPath(traceURL(id)).then(res => res.ok ? res.text() : '').then(text => {
			const t = performance.now();
			if (text) mergeSpans(state, JSON.parse(text));
			app.debug.perf.load = performance.now() - t;
		}).catch(() => {}).then(() => ready(state));
		getJSON(traceURL(id) + '/logs').then(records => mergeLogs(state, records), () => {});
	}
	/* The trace's live stream, the page's one connection: the server ends
	   quiet ones ("idle"), and it is opened again when the page is looked
	   at (openStream on focus), sending everything from the start: a job
	   linked to the trace meanwhile comes then. The traces linked to this
	   one (a job the request enqueued, the request that enqueued this job)
	   and their spans, as many as the server follows, go to state.links
	   { grafts (model/trace.js linkedGrafts), traces (trace id -> Map of
	   its spans), version }. */
	function openStream(state = app.state) {
		if (!shown(state) || state.evicted || !state.traceId || state.stream || !window.EventSource) return;
		const es = state.stream = new EventSource(app.prefix + traceURL(state.traceId) + '/stream');
		es.addEventListener('request', e => {
			const record = parseEvent(e);
			if (record && record.id === state.id) setRecord(state, record);
			else if (record && record.id && shown(state)) {
				state.others.set(record.id, record);
				app.schedule();
			}
		});
		es.addEventListener('spans', e => mergeSpans(state, parseEvent(e)));
		es.addEventListener('logs', e => mergeLogs(state, parseEvent(e)));
		const links = state.links || (state.links = { grafts: [], traces: new Map(), version: 0 });
		const linksChanged = () => { links.version++; app.schedule(); };
		es.addEventListener('related', e => {
			const related = parseEvent(e);
			if (shown(state) && related) { links.grafts = linkedGrafts(related); linksChanged(); }
		});
		es.addEventListener('linked', e => {
			const doc = parseEvent(e), spans = doc && doc.traceId && (links.traces.get(doc.traceId) || new Map());
			if (!shown(state) || !spans) return;
			links.traces.set(doc.traceId, spans);
			for (const span of readSpans(doc.trace)) spans.set(span.id, span);
			linksChanged();
		});
		es.addEventListener('evicted', () => { state.evicted = true; closeStream(state); app.schedule(); });
		// The team's backend, when one is set: its error, until it answers again.
		es.addEventListener('backend', e => { const status = parseEvent(e); state.backendError = status && !status.ok ? String(status.error || 'unreachable') : ''; app.schedule(); });
		es.addEventListener('idle', () => closeStream(state));
		es.onerror = () => { if (es.readyState === 2 && state.stream === es) state.stream = null; };
	}
	function closeStream(state = app.state) {
		if (state.stream) state.stream.close();
		state.stream = null;
	}

	// The alerts, and the comparison once its panel was opened, are read
	// when the record is done and again when the trace's stream has been
	// quiet for delay ms after new spans (the app's spans come in bursts).
	function refresh(state, delay) {
		clearTimeout(state.refreshTimer);
		if (!state.record || !state.record.done) return;
		state.refreshTimer = setTimeout(() => {
			if (!shown(state)) return;
			loadAlerts(state);
			if (state.compareAsked) loadComparison(state);
		}, delay);
	}
	const requestPath = (state, more) => '/api/requests/' + encodeURIComponent(state.id) + more;
	function loadAlerts(state) {
		getJSON(requestPath(state, '/alerts')).then(alerts => {
			if (!shown(state)) return;
			state.alerts = Array.isArray(alerts) ? alerts : [];
			app.schedule();
		}, () => {});
	}
	// The comparison with state.compareWith, or with the route's last load;
	// and the history, to pick another from: app.history's when it has
	// loaded, else the API's.
	function loadComparison(state) {
		state.compareAsked = true;
		// Not done yet: refresh reads it when it is.
		if (!state.record || !state.record.done) return;
		const other = state.compareWith, query = other ? '?with=' + encodeURIComponent(other) : '';
		getJSON(requestPath(state, '/compare' + query)).then(comparison => {
			if (!shown(state) || other !== state.compareWith) return;
			state.comparison = comparison;
			state.compareError = comparison ? '' : 'Request ' + (other || state.id) + ' is not in the store (any more).';
			app.schedule();
		}, e => {
			if (!shown(state)) return;
			state.compareError = 'Could not compare: ' + e.message;
			app.schedule();
		});
		if (!state.routeRecords && app.history.status === 'ok') state.routeRecords = [...app.history.records.values()];
		if (!state.routeRecords) {
			getJSON('/api/requests?limit=300').then(list => {
				if (!shown(state)) return;
				state.routeRecords = Array.isArray(list) ? list : [];
				app.schedule();
			}, () => {});
		}
	}
	function loadConfig() {
		getJSON('/api/config').then(config => { app.config = config || {}; app.schedule(); }, () => {});
	}

	// The history: recent requests, then live, only while it is shown.
	const history = app.history;
	function addHistory(record) {
		if (!record || !record.id) return;
		const old = history.records.get(record.id);
		// The list and the stream race: the finished one is kept.
		if (old && old.done && !record.done) return;
		history.records.set(record.id, record);
		// The UI's own bound, not the store's size (which the server's
		// config sets): 1,000 is what the dashboard was made to stay quick
		// with (the store's default), 300 enough for the toolbar's list.
		if (history.records.size > (app.list ? 1000 : 300)) history.records.delete(history.records.keys().next().value);
	}
	function startHistory() {
		if (history.stream || history.dead || !window.EventSource) return;
		history.status = 'loading';
		const es = history.stream = new EventSource(app.prefix + '/api/requests/stream');
		const end = () => { if (history.stream === es) history.stream = null; history.dead = true; app.schedule(); };
		es.addEventListener('request', e => { addHistory(parseEvent(e)); app.schedule(); });
		es.addEventListener('idle', () => { es.close(); end(); });
		es.onerror = () => { if (es.readyState === 2 && history.stream === es) end(); };
		// The history page shows the whole store, the toolbar the newest.
		getJSON('/api/requests' + (app.list ? '' : '?limit=50')).then(list => {
			if (Array.isArray(list)) list.forEach(addHistory);
			history.status = 'ok';
			app.schedule();
		}, e => { history.status = 'Could not load the history: ' + e.message; app.schedule(); });
	}
	// Stops the history's stream, save on the history page: it stays live.
	function stopHistory() {
		if (history.stream && !app.list) {
			history.stream.close();
			history.stream = null;
		}
	}
	// The trace as the API serves it (OTLP/JSON), for a download.
	const traceBlob = id => fetchPath(traceURL(id)).then(res => res.ok ? res.blob() : Promise.reject(new Error('HTTP ' + res.status)));

	return { loadRecord, openStream, closeStream, startHistory, stopHistory, traceBlob, getJSON, loadComparison, loadConfig };
}
