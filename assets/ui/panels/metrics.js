/* The Metrics panel: what each service measured around the request
   (model/metrics.js), read from /api/metrics when shown and every 10 s
   while it is, until the window's points are all in (metricsSettled). A series
   shows its value over the window, bars, and its exemplars: links to the
   span (this trace) or the request (another trace) each was measured in. */

import { ELLIPSIS, clock } from '../../model/format.js';
import { exemplarTarget, metricServices, metricValue, metricWindow, metricsSettled, seriesExemplars, seriesLabel, seriesView } from '../../model/metrics.js';
import { append, button, el, setAttrs } from '../dom.js';
import { emptyNote, section } from '../widgets.js';
import { traceOf } from '../state.js';

// The request on show -> { at (ms), to (the window's end), answer, error }.
const loads = new WeakMap();

function load(app, state, timeWindow) {
	const entry = Object.assign({}, loads.get(state), { at: Date.now(), to: timeWindow.to });
	loads.set(state, entry);
	app.client.getJSON('/api/metrics?from=' + timeWindow.from + '&to=' + timeWindow.to)
		.then(answer => { entry.answer = answer || {}; entry.error = ''; }, e => { entry.error = 'Could not read the metrics: ' + e.message; })
		.then(() => { app.schedule(); if (!metricsSettled(entry)) setTimeout(app.schedule, 1e4); });
}

// Bars of heights 0 to 1 as a sparkline of block characters.
const sparkline = heights => el('span', 'tb-spark', heights.map(height => '\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588'[Math.round(height * 7)]).join(''));

function exemplarLink(app, exemplar, unit) {
	const to = exemplarTarget(exemplar, app.state.traceId), text = metricValue(exemplar.value, unit) + ' at ' + clock(exemplar.time);
	if (!to) return el('code', 'tb-mu', text);
	const link = setAttrs(button('tb-lk', text, 'Show the ' + (to.span ? 'span' : 'request') + ' it was measured in'), { 'data-exemplar': exemplar.traceId });
	link.onclick = () => to.span ? app.select(to.span, true) : (app.show(to.request), app.setTab('trace'));
	return link;
}

function seriesRow(app, series, timeWindow) {
	const view = seriesView(series, timeWindow), exemplars = seriesExemplars(series, timeWindow).slice(0, 5);
	return setAttrs(el('div', 'tb-log', [
		el('div', 'tb-lh', [el('strong', 'tb-lt', series.name), el('span', 'tb-num', view.text), view.bars.length ? sparkline(view.bars) : null]),
		el('div', 'tb-mu', seriesLabel(series)),
		exemplars.length ? el('div', null, ['exemplars: ', exemplars.map(e => [exemplarLink(app, e, series.unit), ' '])]) : null]),
	{ 'data-metric': series.name, title: series.description || '' });
}

export function metricsPanel(app) {
	const state = app.state, timeWindow = metricWindow(state.record), out = el('div', 'tb-pad');
	if (!timeWindow) return append(out, emptyNote(state.failed || 'Loading' + ELLIPSIS));
	const entry = loads.get(state);
	if (!entry || entry.to !== timeWindow.to || !metricsSettled(entry) && Date.now() - entry.at >= 1e4) load(app, state, timeWindow);
	const { answer, error } = loads.get(state), series = answer && answer.series || [];
	append(out, el('div', 'tb-bar2 tb-mu', 'From ' + clock(timeWindow.from) + ' to ' + clock(timeWindow.to) + ': the request \u00b1 30 s'));
	if (error || !series.length) {
		return append(out, emptyNote(error || (!answer ? 'Loading' + ELLIPSIS : answer.enabled ? 'No metrics in this window yet.' : 'This Tracebar keeps no metrics.')));
	}
	return append(out, metricServices(series, traceOf(state).tree.order.map(span => span.service)).map(service => {
		const list = series.filter(s => (s.service || 'unknown') === service);
		return setAttrs(section(service, list.map(s => seriesRow(app, s, timeWindow)), list.length + ' series'), { 'data-service': service });
	}));
}
