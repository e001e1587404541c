/* The SQL panel: every query, grouped by statement shape (model/sql.js),
   N+1 and duplicate groups flagged and open, each run with its duration
   and a link to its span; or every query, slowest first. Queries from
   /api/config's slowQueryMs on are marked slow; slow queries and repeated
   groups link to the line that issued them (the code.* of the span or its
   nearest ancestor). */

import { DOT, ELLIPSIS, ms, plural } from '../../model/format.js';
import { msBetween } from '../../model/time.js';
import { nearestCode } from '../../model/editor.js';
import { actionButton, append, el, place, setAttrs } from '../dom.js';
import { codeLink, emptyNote, spanLink } from '../widgets.js';
import { queriesOf, traceOf } from '../state.js';

export function sqlPanel(app) {
	const state = app.state, queries = queriesOf(state), out = el('div', 'tb-pad');
	if (!queries.count) {
		return append(out, emptyNote(state.spans.size ? 'No spans with db.* attributes in this trace.' : 'Waiting for spans' + ELLIPSIS));
	}
	const start = traceOf(state).tree.start, slowMs = slowQueryMs(app), slowest = app.ui.sqlSlowest;
	const slow = queries.groups.reduce((n, group) => n + group.spans.filter(span => msBetween(span.start, span.end) >= slowMs).length, 0);
	const flagged = queries.flagged ? [DOT, el('strong', 'tb-errs', plural(queries.flagged, 'group') + ' repeated under one parent')] : null;
	const counts = plural(queries.count, 'query') + ' in ' + plural(queries.groups.length, 'group') + DOT + ms(queries.totalMs) + ' in total';
	const slowNote = slow ? [DOT, el('strong', 'tb-wa', slow + ' slow (\u2265 ' + ms(slowMs) + ')')] : null;
	const order = (label, value) => setAttrs(actionButton('tb-tb', label, 'sqlsort', null, { 'data-sort': value, 'data-f': 'sort:' + value }),
		{ 'aria-pressed': slowest === (value === 'slowest') });
	append(out, el('div', 'tb-bar2', [el('span', 'tb-mu', 'Order'),
		setAttrs(el('span', 'tb-ord', [order('Grouped', 'grouped'), order('Slowest first', 'slowest')]), { role: 'group', 'aria-label': 'Order of the queries' })]),
		el('div', 'tb-note', [counts, slowNote, flagged, ' \u2014 N+1: the same statement 3 or more times under one parent; duplicate: twice.']));
	if (slowest) return append(out, slowestTable(app, queries, start, slowMs));
	for (const group of queries.groups) append(out, groupBlock(app, group, start, slowMs));
	return out;
}

// The slow query threshold, in ms: /api/config's, the server's own; until
// it came no query is marked slow.
const slowQueryMs = app => (app.config && app.config.slowQueryMs) || Infinity;

// One run of a query: its duration and bar (on a 0 to longest scale), its
// start, its span, its text when not the shape, and for a slow one the
// mark and the line that issued it.
function queryRow(app, span, shape, start, longest, slowMs) {
	const spans = app.state.spans, length = msBetween(span.start, span.end), slow = length >= slowMs;
	const bar = el('div', 'tb-mt', place(el('i', 'tb-mb ' + (slow ? 'tb-k-slow' : 'tb-k-up')), 0, length / longest));
	const text = span.db.statement !== shape ? el('code', 'tb-raw', span.db.statement) : null;
	const at = el('td', 'tb-num tb-mu', '+' + ms(msBetween(start, span.start)));
	const where = slow ? [el('span', 'tb-tag tb-t-slow', 'slow'), codeLink(app.config, nearestCode(spans, span))] : null;
	return setAttrs(el('tr', slow ? 'tb-slow' : null, [el('td', 'tb-num', ms(length)), el('td', 'tb-mini', bar), at,
		el('td', null, [spanLink(spans, span.id, span.name || span.id), el('span', 'tb-mu', ' ' + span.service), where, text])]),
		slow ? { 'data-slow': 'true' } : {});
}

// Every query in one table, the slowest first, its statement with it.
function slowestTable(app, queries, start, slowMs) {
	const runs = [];
	for (const group of queries.groups) for (const span of group.spans) runs.push({ span, group, length: msBetween(span.start, span.end) });
	runs.sort((a, b) => b.length - a.length);
	const longest = Math.max(runs.length ? runs[0].length : 0, 0.001);
	return el('table', 'tb-kv tb-tt tb-qi tb-qs', runs.map(({ span, group }) => {
		const row = queryRow(app, span, span.db.statement, start, longest, slowMs);
		row.lastChild.prepend(el('code', 'tb-stmt', span.db.statement || group.shape || '(no statement)'), el('br'));
		return row;
	}));
}

// A group: a summary line (count, flag, time, statement), then its runs.
function groupBlock(app, group, start, slowMs) {
	const spans = app.state.spans, opened = app.ui.sqlOpen;
	const longest = Math.max(...group.spans.map(s => msBetween(s.start, s.end)), 0.001);
	const runs = group.spans.map(span => queryRow(app, span, group.shape, start, longest, slowMs));
	const slow = runs.some(row => row.hasAttribute('data-slow'));
	const flagClass = group.flag === 'N+1' ? ' tb-nplus' : group.flag ? ' tb-dup' : '';
	const block = setAttrs(el('details', 'tb-qg' + flagClass), { 'data-sql': group.flag || 'single' });
	block.open = opened.has(group.key) ? opened.get(group.key) : !!group.flag || slow;
	block.addEventListener('toggle', () => opened.set(group.key, block.open));
	const flag = group.flag && el('span', 'tb-tag tb-t-' + (group.flag === 'N+1' ? 'removed' : 'changed'), group.flag);
	const summary = el('summary', null, [el('span', 'tb-cnt2', '\u00d7' + group.spans.length), flag, slow ? el('span', 'tb-tag tb-t-slow', 'slow') : null,
		el('span', 'tb-num', ms(group.totalMs)),
		el('span', 'tb-mu', 'avg ' + ms(group.totalMs / group.spans.length)), group.system && el('span', 'tb-kind', group.system),
		el('code', 'tb-stmt', group.shape || '(no statement)')]);
	const parent = spans.get(group.repeatParent);
	const identical = group.identical > 1 ? DOT + group.identical + ' with identical text' : '';
	const code = group.repeats > 1 && nearestCode(spans, group.spans[0]);
	const repeats = group.repeats > 1 ? el('div', 'tb-note tb-sm', [group.repeats + '\u00d7 under ',
		parent ? spanLink(spans, parent.id, parent.name) : 'one parent', identical, code ? [DOT + 'issued at ', codeLink(app.config, code)] : null]) : null;
	return append(block, setAttrs(summary, { 'data-f': 'q:' + group.key }), repeats, el('table', 'tb-kv tb-tt tb-qi', runs));
}
