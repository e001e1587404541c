/* The Alerts panel: what the API found worth a look in the request (N+1,
   slow queries, sequential calls, missing compression, cookie flags,
   redirect chains, errors, large documents), the most severe first, each
   with a link to its span (shown in the waterfall), its header (the
   Headers tab) or its source line (the editor). */

import { ELLIPSIS, plural } from '../../model/format.js';
import { ALERT_NAMES, alertList } from '../../model/alerts.js';
import { actionButton, append, el, setAttrs } from '../dom.js';
import { emptyNote, sourceLink, spanLink } from '../widgets.js';

const TONES = { error: 'tb-bad', warning: 'tb-warn', info: 'tb-info' };

function alertRow(app, alert) {
	const spans = app.state.spans, code = alert.code;
	const links = [
		alert.spanId ? spanLink(spans, alert.spanId, spans.has(alert.spanId) ? 'span ' + (spans.get(alert.spanId).name || alert.spanId) : alert.spanId) : null,
		alert.header ? actionButton('tb-lk', 'header ' + alert.header, 'headers', 'Show the headers (' + alert.header + ')') : null,
		code && code.file ? sourceLink(app.config, code.file, code.line) : null];
	const row = el('div', 'tb-al tb-al-' + (alert.severity || 'info'), [
		el('div', 'tb-lh', [el('span', 'tb-chip ' + (TONES[alert.severity] || ''), alert.severity || 'info'),
			el('strong', null, ALERT_NAMES[alert.kind] || alert.kind), el('span', 'tb-lt', alert.message || '')]),
		links.some(Boolean) ? el('div', 'tb-all', links) : null]);
	return setAttrs(row, { 'data-kind': alert.kind || '', 'data-severity': alert.severity || '' });
}

export function alertsPanel(app) {
	const state = app.state, out = el('div', 'tb-pad');
	if (!state.alerts) {
		const waiting = state.failed ? state.failed : state.record && !state.record.done ? 'Alerts come when the request is done.' : 'Loading' + ELLIPSIS;
		return append(out, emptyNote(waiting));
	}
	if (!state.alerts.length) return append(out, emptyNote('No alerts: nothing in this request matched a known problem.'));
	const alerts = alertList(state.alerts);
	append(out, el('div', 'tb-bar2', el('span', 'tb-mu', plural(alerts.length, 'alert') + ', the most severe first; they are read again as late spans arrive.')));
	return append(out, el('div', 'tb-als', alerts.map(alert => alertRow(app, alert))));
}
