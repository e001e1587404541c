/* The Logs panel: span events, exceptions and OTLP log records
   (model/logs.js), filtered by level, each with its span and the source
   line it names (code.*, or an exception's stack). */

import { DASH, ELLIPSIS, ms, plural } from '../../model/format.js';
import { LEVELS } from '../../model/logs.js';
import { msBetween } from '../../model/time.js';
import { actionButton, append, el, setAttrs } from '../dom.js';
import { codeLocation } from '../../model/editor.js';
import { attributeTable, codeLink, emptyNote, exceptionBlock, spanLink } from '../widgets.js';
import { logsOf, traceOf } from '../state.js';

const MAX_SHOWN = 2000;

export function logsPanel(app) {
	const state = app.state, hidden = app.ui.levelsOff, all = logsOf(state), out = el('div', 'tb-pad'), counts = {};
	for (const level of LEVELS) counts[level] = 0;
	for (const item of all) counts[item.level]++;
	const toggle = level => setAttrs(actionButton('tb-tb tb-lv tb-lv-' + level, [level, el('span', 'tb-n', counts[level])], 'lvl', null,
		{ 'data-lvl': level, 'data-f': 'l:' + level }), { 'aria-pressed': !hidden.has(level) });
	const what = plural(all.length, 'entry') + ': span events, exceptions and OTLP log records';
	append(out, el('div', 'tb-bar2', [el('span', 'tb-mu', 'Level'), LEVELS.map(toggle), el('span', 'tb-mu', what)]));
	const items = all.filter(item => !hidden.has(item.level));
	if (!items.length) {
		const none = all.length ? 'Nothing at the selected levels.'
			: state.traceId ? 'No events or log records in this trace.' : 'Loading' + ELLIPSIS;
		return append(out, emptyNote(none));
	}
	const start = traceOf(state).tree.start;
	const line = item => {
		const when = start != null && item.time ? '+' + ms(msBetween(start, item.time)) : DASH;
		const span = item.span ? spanLink(state.spans, item.span.id, item.span.name || item.span.id)
			: item.spanId ? el('code', 'tb-mu', item.spanId) : null;
		const attributes = item.attributes.length
			? el('details', 'tb-la', [el('summary', null, plural(item.attributes.length, 'attribute')), attributeTable(item.attributes)]) : null;
		return el('div', 'tb-log tb-log-' + item.level, [
			el('div', 'tb-lh', [el('span', 'tb-num tb-mu', when), el('span', 'tb-lvl tb-lv-' + item.level, item.severity || item.level),
				el('span', 'tb-kind', item.kind), el('strong', 'tb-lt', item.text), el('span', 'tb-sp'),
				codeLink(app.config, codeLocation(item.attributes)), el('span', 'tb-mu', item.service), span]),
			exceptionBlock(item.attributes, true, app.config),
			attributes]);
	};
	append(out, el('div', 'tb-logs', items.slice(0, MAX_SHOWN).map(line)));
	if (items.length > MAX_SHOWN) append(out, el('div', 'tb-note', 'First ' + MAX_SHOWN + ' shown.'));
	return out;
}
