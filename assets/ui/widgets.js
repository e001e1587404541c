/* Pieces the panels share: sections, key-value tables, notes, status
   chips, timing rows with a mini bar, attribute tables, links to a span
   and to a source line, exceptions with their stack frames. */

import { DASH, ms } from '../model/format.js';
import { anyValueText, attributeText } from '../model/otlp.js';
import { exceptionText } from '../model/logs.js';
import { editorLink, shortLocation } from '../model/editor.js';
import { libraryFile, ownFrame, parseStack } from '../model/stack.js';
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

// A source file at a line, as its last path segments and the line: a link
// that opens it in the editor of config (/api/config), or text when none is
// set or the path is not absolute.
export function sourceLink(config, file, line) {
	const href = editorLink(config, file, line), text = shortLocation(file, line), where = file + (line ? ':' + line : '');
	if (!href) return setAttrs(el('code', 'tb-loc', text), { title: where });
	return setAttrs(el('a', 'tb-src', text), { href, title: 'Open ' + where + ' in your editor' });
}

// A code location (model/editor.js codeLocation): its link and function.
export const codeLink = (config, code) => code &&
	el('span', 'tb-code', [sourceLink(config, code.file, code.line), code.function ? el('span', 'tb-mu', ' ' + code.function) : null]);

// A stack trace as it was sent, each line that names a source file a link
// to it (when an editor is set).
function stackText(stack, frames, config) {
	const at = new Map(frames.map(frame => [frame.textLine, frame])), lines = stack.split(/\r?\n/);
	return el('pre', 'tb-pre', lines.map((line, i) => {
		const frame = at.get(i), href = frame && editorLink(config, frame.file, frame.line), end = i < lines.length - 1 ? '\n' : '';
		if (!href) return line + end;
		const indent = /^\s*/.exec(line)[0];
		return [indent, setAttrs(el('a', 'tb-src' + (libraryFile(frame.file) ? ' tb-lib' : ''), line.slice(indent.length)),
			{ href, title: 'Open ' + frame.file + ':' + frame.line + ' in your editor' }), end];
	}));
}

// An exception as OTel records it (exception.type, message, stacktrace),
// with the app's innermost frame (not a library's) at hand; bare leaves
// out the "type: message" line. config: /api/config, for editor links.
export function exceptionBlock(attributes, bare, config) {
	const stack = attributeText(attributes, 'exception.stacktrace'), text = exceptionText(attributes);
	if (!text && !stack) return null;
	const frames = parseStack(stack), own = ownFrame(stack, frames);
	const where = own ? el('div', 'tb-at', ['at ', codeLink(config, own)]) : null;
	return el('div', 'tb-exc', [bare ? null : el('div', 'tb-errs', text), where,
		stack ? el('details', null, [el('summary', null, 'Stack trace'), stackText(stack, frames, config)]) : null]);
}

// Caddy's encode, outside Tracebar, compressed the body after it was counted.
export const encodedNote = record => record.clientEncoding ? ' (before ' + record.clientEncoding + ' by Caddy\u2019s encode)' : '';

// What a request row shows of a summary: method, the operation (GraphQL,
// RPC) when named, URL, status and duration.
export const summaryParts = r => [el('span', 'tb-meth', r.method), r.operation ? el('span', 'tb-op', r.operation) : null,
	el('span', 'tb-url', r.url), statusChip(r), el('span', 'tb-num', r.done === false ? 'in flight' : ms(r.durationMs))];
