/* A span's detail, beside the waterfall: its facts (with the source line
   its code.* attributes name), exceptions, resource, attributes, events
   and links. */

import { DASH, ms } from '../../model/format.js';
import { SPAN_KINDS, attributeText } from '../../model/otlp.js';
import { msBetween, nanos } from '../../model/time.js';
import { actionButton, el } from '../dom.js';
import { codeLocation } from '../../model/editor.js';
import { attributeTable, codeLink, exceptionBlock, keyValues, section, spanLink } from '../widgets.js';
import { traceOf } from '../state.js';

export function spanDetail(app, span, traceStart) {
	const spans = app.state.spans, status = span.status, scope = span.scope, code = codeLocation(span.attributes);
	const statusText = span.error ? 'Error' : status.code === 1 || status.code === 'STATUS_CODE_OK' ? 'OK' : 'Unset';
	let when = '';
	try { when = '  (' + new Date(Number(span.start / 1000000n)).toISOString() + ')'; } catch (e) { /* out of range */ }
	const facts = keyValues([
		['Service', span.service],
		['Kind', SPAN_KINDS[span.kind] || span.kind],
		['Start', '+' + ms(msBetween(traceStart, span.start)) + when],
		['Duration', ms(msBetween(span.start, span.end))],
		['Span ID', el('code', null, span.id)],
		['Parent ID', span.parentId ? spanLink(spans, span.parentId) : DASH + ' (root)'],
		['Status', el('span', span.error && 'tb-errs', statusText + (status.message ? ': ' + status.message : ''))],
		code && ['Code', codeLink(app.config, code)],
		traceOf(app.state).critical.has(span.id) && ['Critical path', 'yes'],
		attributeText(span.attributes, 'tracebar.source') === 'backend' && ['Source', 'the team\'s tracing backend'],
		scope.name && ['Scope', scope.name + (scope.version ? ' ' + scope.version : '')]]);
	// Events and links: a heading each, an exception's stack, their attributes.
	const list = (items, heading) => el('div', 'tb-evs', items.map(x => el('div', 'tb-evr', [el('div', null, heading(x)),
		x.name === 'exception' ? exceptionBlock(x.attributes, false, app.config) : null,
		x.attributes && x.attributes.length ? attributeTable(x.attributes) : null])));
	const eventHeading = event => [el('span', 'tb-off', '+' + ms(msBetween(span.start, nanos(event.timeUnixNano)))),
		el('strong', null, event.name || '(event)')];
	const linkHeading = link => ['trace ', el('code', null, link.traceId || ''), ' span ',
		link.traceId === span.traceId ? spanLink(spans, link.spanId || '') : el('code', null, link.spanId || '')];
	const exceptions = span.events.filter(e => e && e.name === 'exception');
	const title = el('div', 'tb-dh', [el('strong', null, span.name || '(unnamed)'), el('span', 'tb-svc', span.service),
		actionButton('tb-dx', '\u00d7', 'unselect', 'Close details')]);
	return el('div', 'tb-detail', [
		title,
		exceptions.length ? section('Exceptions', exceptions.map(e => exceptionBlock(e.attributes, false, app.config)), exceptions.length) : null,
		el('div', 'tb-cols', [
			el('div', null, [section('Span', facts), section('Resource', attributeTable(span.resource), span.resource.length)]),
			el('div', null, [section('Attributes', attributeTable(span.attributes), span.attributes.length),
				span.events.length ? section('Events', list(span.events, eventHeading), span.events.length) : null,
				span.links.length ? section('Links', list(span.links, linkHeading), span.links.length) : null])])]);
}
