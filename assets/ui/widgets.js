/* Pieces the panels share: sections, key-value tables, notes, status
   chips, timing rows with a mini bar, attribute tables, links to a span,
   exceptions. */

import { DASH } from '../model/format.js';
import { anyValueText, attributeText } from '../model/otlp.js';
import { exceptionText } from '../model/logs.js';
import { append, button, el, place, setAttrs } from './dom.js';

// A titled section; extra (a count, a summary) goes after the title.
export const section = (title, content, extra) =>
	el('section', 'tb-sec', [el('h3', null, [title, extra || extra === 0 ? el('span', 'tb-sub', extra) : null]), content]);

// A table of [name, value] rows; false and null rows are left out.
export const keyValues = rows =>
	el('table', 'tb-kv', rows.filter(Boolean).map(([name, value]) => el('tr', null, [el('th', null, name), el('td', null, value)])));

export const emptyNote = text => el('div', 'tb-empty', text);

// A timing table row: label, value, and a mini bar from `from` to `to` (ms)
// on a 0 to end scale; kind names the bar's colour.
export function timingRow(label, value, from, to, end, kind) {
	const bar = el('td', 'tb-mini');
	if (end > 0 && to > from) append(bar, el('div', 'tb-mt', place(el('i', 'tb-mb tb-k-' + kind), from / end, (to - from) / end)));
	return el('tr', null, [el('th', null, label), el('td', 'tb-num', value), bar]);
}

// A record's status as a coloured chip.
export function statusChip(record) {
	const status = record.status;
	const tone = record.error || status >= 500 ? ' tb-bad' : status >= 400 ? ' tb-warn' : status >= 300 ? ' tb-info' : '';
	return el('span', 'tb-chip' + tone, record.status || (record.done ? DASH : 'in flight'));
}

// OTLP attributes as a table, by key.
export function attributeTable(attributes) {
	if (!attributes || !attributes.length) return el('div', 'tb-empty tb-sm', 'none');
	const sorted = attributes.slice().sort((x, y) => String(x.key) < String(y.key) ? -1 : 1);
	return keyValues(sorted.map(a => [String(a.key), anyValueText(a.value)]));
}

// A button that shows span id in the waterfall (data-goto, see
// ui/events.js), or the id as code when the span has not arrived.
export function spanLink(spans, id, label) {
	const text = label || id;
	if (!spans.has(id)) return el('code', null, text);
	return setAttrs(button('tb-go', text, 'Show span ' + text + ' in the trace'), { 'data-goto': id, 'data-f': 'g:' + id });
}

// An exception as OTel records it (exception.type, message, stacktrace);
// bare leaves out the "type: message" line.
export function exceptionBlock(attributes, bare) {
	const stack = attributeText(attributes, 'exception.stacktrace'), text = exceptionText(attributes);
	if (!text && !stack) return null;
	return el('div', 'tb-exc', [bare ? null : el('div', 'tb-errs', text),
		stack ? el('details', null, [el('summary', null, 'Stack trace'), el('pre', 'tb-pre', stack)]) : null]);
}

// Caddy's encode, outside Tracebar, compressed the body after it was counted.
export const encodedNote = record => record.clientEncoding ? ' (before ' + record.clientEncoding + ' by Caddy\u2019s encode)' : '';
