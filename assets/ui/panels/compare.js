/* The Compare panel: the request against the last load of its route (or
   a record the user picks): both durations, the spans that got slower or
   faster, appeared or vanished, the queries that appeared, vanished or ran
   a different number of times, and the N+1 groups that came or went
   (model/compare.js shapes the API's /compare answer). */

import { DOT, ELLIPSIS, clock, ms, plural } from '../../model/format.js';
import { compareView, sameRoute, signed } from '../../model/compare.js';
import { actionButton, append, button, el, setAttrs } from '../dom.js';
import { emptyNote, keyValues, section } from '../widgets.js';

const delta = (value, format = ms) => el('span', 'tb-num ' + (value > 0 ? 'tb-up' : value < 0 ? 'tb-down' : 'tb-mu'), signed(value, format));
const count = n => String(n);

// A link to another record: its page, or its panels here.
function recordLink(app, id, text) {
	if (app.page) return setAttrs(el('a', 'tb-lk', text), { href: app.prefixPath + '/requests/' + encodeURIComponent(id) });
	return actionButton('tb-lk', text, 'req', 'Show request ' + id, { 'data-req': id });
}

// What to compare with: the route's other loads, or any record id.
function picker(app, data) {
	const state = app.state, route = data ? data.route : '', records = sameRoute(state.routeRecords || [], route, state.id);
	const label = r => clock(r.startTime) + DOT + (r.status || '\u2013') + DOT + ms(r.durationMs) + (r.id === (data && data.baseline) ? ' (baseline)' : '');
	const picked = state.compareWith && !records.some(r => r.id === state.compareWith) ? [{ id: state.compareWith }] : [];
	const select = setAttrs(el('select', 'tb-selx', [setAttrs(el('option', null, 'the last load before this one'), { value: '' }),
		records.map(r => setAttrs(el('option', null, label(r)), { value: r.id })),
		picked.map(r => setAttrs(el('option', null, 'request ' + r.id), { value: r.id }))]), { 'aria-label': 'Compare with', 'data-f': 'cmp:with' });
	select.value = state.compareWith;
	select.onchange = () => pick(select.value);
	const input = setAttrs(el('input', 'tb-q tb-cmp-id'), { type: 'text', placeholder: 'or a request id', 'aria-label': 'Compare with the request of this id',
		spellcheck: 'false', autocomplete: 'off', 'data-f': 'cmp:id' });
	const go = button('tb-tb', 'Compare');
	const pick = id => {
		if (app.page) history.replaceState(null, '', '#compare' + (id ? '=' + encodeURIComponent(id) : ''));
		app.compare('', id);
	};
	go.onclick = () => { if (input.value.trim()) pick(input.value.trim()); };
	input.onkeydown = e => { if (e.key === 'Enter') go.onclick(); };
	return el('div', 'tb-bar2', [el('span', 'tb-mu', 'Compare with'), select, input, go,
		el('span', 'tb-mu', plural(records.length, 'other load') + ' of ' + (route || 'this route') + ' in the history')]);
}

// A table of span groups: service, name, count, time, and more columns.
function spanTable(rows, columns) {
	return el('table', 'tb-kv tb-cmpt', rows.map(row => el('tr', null, [el('th', null, row.service), el('td', 'tb-cn', row.name),
		columns(row).map(cell => el('td', 'tb-num', cell))])));
}

// A table of query shapes: the statement, the counts and times of both.
function queryTable(rows) {
	return el('table', 'tb-kv tb-cmpt', rows.map(q => el('tr', null, [el('td', null, el('code', 'tb-stmt', q.shape || '(no statement)')),
		el('td', 'tb-num', q.baseline.count + ' \u2192 ' + q.request.count), el('td', 'tb-num', ms(q.baseline.totalMs) + ' \u2192 ' + ms(q.request.totalMs))])));
}

export function comparePanel(app) {
	const state = app.state, data = state.comparison, out = el('div', 'tb-pad');
	if (!state.compareAsked) app.client.loadComparison(state);
	if (state.compareError) return append(out, picker(app, data), el('div', 'tb-note tb-bad', state.compareError));
	if (!data) {
		const waiting = state.record && !state.record.done ? 'The comparison comes when the request is done.' : 'Loading' + ELLIPSIS;
		return append(out, emptyNote(waiting));
	}
	append(out, picker(app, data));
	const view = compareView(data);
	if (!data.baseline) {
		return append(out, setAttrs(el('div', 'tb-note tb-cmp-none', 'No earlier load of this route (' + data.route + ') to compare with: load the page again, or pick a request above.'),
			{ 'data-baseline': '' }));
	}
	const total = view.durationMs.baseline ? ' (' + signed(Math.round(view.deltaMs / view.durationMs.baseline * 100), x => x + ' %') + ')' : '';
	const base = setAttrs(el('div', 'tb-note tb-cmp-base', ['Compared with ', recordLink(app, data.baseline, data.baseline), ', the ',
		state.compareWith ? 'request picked' : 'last load of ' + data.route, '.']), { 'data-baseline': data.baseline });
	append(out, base, keyValues([
		['Duration', [ms(view.durationMs.baseline), ' \u2192 ', ms(view.durationMs.request), ' ', delta(view.deltaMs), total]],
		['Queries', [count(view.queryCount.baseline), ' \u2192 ', count(view.queryCount.request), ' ',
			setAttrs(delta(view.queryCount.request - view.queryCount.baseline, count), { 'data-query-delta': view.queryCount.request - view.queryCount.baseline })]]]));
	const changed = c => [c.count.baseline + ' \u2192 ' + c.count.request, ms(c.totalMs.baseline) + ' \u2192 ' + ms(c.totalMs.request), delta(c.deltaMs)];
	const alone = s => ['\u00d7' + s.count, ms(s.totalMs)];
	const parts = [
		['N+1 that came', view.nPlusOneCame.length && el('div', 'tb-cmp-n1', queryTable(view.nPlusOneCame)), 'tb-cmp-came'],
		['N+1 that went', view.nPlusOneWent.length && queryTable(view.nPlusOneWent), 'tb-cmp-went'],
		['Slower', view.slower.length && spanTable(view.slower, changed), 'tb-cmp-slower'],
		['Faster', view.faster.length && spanTable(view.faster, changed), 'tb-cmp-faster'],
		['Queries that appeared', view.appeared.length && queryTable(view.appeared), 'tb-cmp-appeared'],
		['Queries that vanished', view.vanished.length && queryTable(view.vanished), 'tb-cmp-vanished'],
		['Queries run a different number of times', view.recounted.length && queryTable(view.recounted), 'tb-cmp-recounted'],
		['Spans added', view.added.length && spanTable(view.added, alone), 'tb-cmp-added'],
		['Spans removed', view.removed.length && spanTable(view.removed, alone), 'tb-cmp-removed']];
	const shown = parts.filter(([, content]) => content);
	if (!shown.length) return append(out, emptyNote('No span or query changed by more than 1 ms and a tenth of its time.'));
	return append(out, shown.map(([title, content, name]) => setAttrs(section(title, content), { 'data-cmp': name.slice(7) })));
}
