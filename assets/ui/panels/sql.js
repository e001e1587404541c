/* The SQL panel: every query, grouped by statement shape (model/sql.js),
   N+1 and duplicate groups flagged and open, each run with its duration
   and a link to its span. */

import { DOT, ELLIPSIS, ms, plural } from '../../model/format.js';
import { msBetween } from '../../model/time.js';
import { append, el, place, setAttrs } from '../dom.js';
import { emptyNote, spanLink } from '../widgets.js';
import { queriesOf, traceOf } from '../state.js';

export function sqlPanel(app) {
	const state = app.state, queries = queriesOf(state), out = el('div', 'tb-pad');
	if (!queries.count) {
		return append(out, emptyNote(state.spans.size ? 'No spans with db.* attributes in this trace.' : 'Waiting for spans' + ELLIPSIS));
	}
	const start = traceOf(state).tree.start;
	const flagged = queries.flagged ? [DOT, el('strong', 'tb-errs', plural(queries.flagged, 'group') + ' repeated under one parent')] : null;
	const counts = plural(queries.count, 'query') + ' in ' + plural(queries.groups.length, 'group') + DOT + ms(queries.totalMs) + ' in total';
	append(out, el('div', 'tb-note', [counts, flagged, ' \u2014 N+1: the same statement 3 or more times under one parent; duplicate: twice.']));
	for (const group of queries.groups) append(out, groupBlock(app, group, start));
	return out;
}

// A group: a summary line (count, flag, time, statement), then its runs.
function groupBlock(app, group, start) {
	const spans = app.state.spans, opened = app.ui.sqlOpen;
	const longest = Math.max(...group.spans.map(s => msBetween(s.start, s.end)), 0.001);
	const runs = group.spans.map(span => {
		const length = msBetween(span.start, span.end), bar = el('div', 'tb-mt', place(el('i', 'tb-mb tb-k-up'), 0, length / longest));
		const text = span.db.statement !== group.shape ? el('code', 'tb-raw', span.db.statement) : null;
		const at = el('td', 'tb-num tb-mu', '+' + ms(msBetween(start, span.start)));
		return el('tr', null, [el('td', 'tb-num', ms(length)), el('td', 'tb-mini', bar), at,
			el('td', null, [spanLink(spans, span.id, span.name || span.id), el('span', 'tb-mu', ' ' + span.service), text])]);
	});
	const flagClass = group.flag === 'N+1' ? ' tb-nplus' : group.flag ? ' tb-dup' : '';
	const block = setAttrs(el('details', 'tb-qg' + flagClass), { 'data-sql': group.flag || 'single' });
	block.open = opened.has(group.key) ? opened.get(group.key) : !!group.flag;
	block.addEventListener('toggle', () => opened.set(group.key, block.open));
	const flag = group.flag && el('span', 'tb-tag tb-t-' + (group.flag === 'N+1' ? 'removed' : 'changed'), group.flag);
	const summary = el('summary', null, [el('span', 'tb-cnt2', '\u00d7' + group.spans.length), flag, el('span', 'tb-num', ms(group.totalMs)),
		el('span', 'tb-mu', 'avg ' + ms(group.totalMs / group.spans.length)), group.system && el('span', 'tb-kind', group.system),
		el('code', 'tb-stmt', group.shape || '(no statement)')]);
	const parent = spans.get(group.repeatParent);
	const identical = group.identical > 1 ? DOT + group.identical + ' with identical text' : '';
	const repeats = group.repeats > 1 ? el('div', 'tb-note tb-sm',
		[group.repeats + '\u00d7 under ', parent ? spanLink(spans, parent.id, parent.name) : 'one parent', identical]) : null;
	return append(block, setAttrs(summary, { 'data-f': 'q:' + group.key }), repeats, el('table', 'tb-kv tb-tt tb-qi', runs));
}
