/* The Logs panel's items: the spans' events (exceptions as errors) and the
   trace's OTLP log records, by time, each with a level. The browser's
   documentLoad marks and the proxy's upstream phases are timing (shown in
   Timing and the span's detail), not log lines. Pure. */

import { compareTimes, nanos } from './time.js';
import { BROWSER_SCOPE, CLIENT, PROXY_SCOPE, anyValueText, attributeText } from './otlp.js';

export const LEVELS = ['error', 'warn', 'info', 'debug'];

// The events of the proxy's CLIENT span that time the upstream exchange.
export const PHASE_EVENTS = new Set(['dns.start', 'dns.done', 'connect.start', 'connect.done', 'tls.start', 'tls.done',
	'response.first_byte', 'next_round_trip']);

// A level from an OTLP severity number (1-24), else from a severity text.
export function severityLevel(number, text) {
	if (number >= 17) return 'error';
	if (number >= 13) return 'warn';
	if (number >= 9) return 'info';
	if (number >= 1) return 'debug';
	const t = String(text || '');
	return /err|fatal|crit|emerg|alert/i.test(t) ? 'error' : /warn/i.test(t) ? 'warn' : /debug|trace/i.test(t) ? 'debug' : 'info';
}

// "type: message" of an exception event's attributes; '' without either.
export function exceptionText(attributes) {
	const type = attributeText(attributes, 'exception.type'), message = attributeText(attributes, 'exception.message');
	return type || message ? (type || 'exception') + (message ? ': ' + message : '') : '';
}

// Whether span is the proxy's: by its instrumentation scope, or, for a
// span that came without one, a CLIENT child of one of the records' spans
// (recordSpanIds) in the same service.
export function isProxySpan(span, spans, recordSpanIds) {
	if (span.scope.name) return span.scope.name === PROXY_SCOPE;
	const parent = span.kind === CLIENT && spans.get(span.parentId);
	return !!parent && parent.service === span.service && recordSpanIds.includes(parent.id);
}

/* The items, oldest first, each
     { time (BigInt ns), level, kind ('event', 'exception' or 'log'),
       text, attributes, span (the span it belongs to, if received),
       spanId, service, severity (a log record's severity text) }
   spans: the trace's spans in any order; logs: OTLP/JSON log records as
   the API serves them (with their service). */
export function logItems(spans, byId, logs, recordSpanIds) {
	const out = [];
	for (const span of spans) {
		if (span.scope.name === BROWSER_SCOPE) continue;
		for (const event of span.events) {
			if (PHASE_EVENTS.has(event.name) && isProxySpan(span, byId, recordSpanIds)) continue;
			const attributes = event.attributes || [], exception = event.name === 'exception';
			const level = ['level', 'log.level', 'severity'].map(key => attributeText(attributes, key)).find(Boolean);
			out.push({
				time: nanos(event.timeUnixNano), level: exception ? 'error' : level ? severityLevel(0, level) : 'info',
				kind: exception ? 'exception' : 'event', text: (exception && exceptionText(attributes)) || event.name || '(event)',
				attributes, span, spanId: span.id, service: span.service, severity: ''
			});
		}
	}
	for (const record of logs) {
		const span = byId.get(record.spanId);
		out.push({
			time: nanos(record.timeUnixNano || record.observedTimeUnixNano),
			level: severityLevel(record.severityNumber | 0, record.severityText),
			kind: 'log',
			text: typeof record.body === 'string' ? record.body : anyValueText(record.body),
			attributes: record.attributes || [], span, spanId: record.spanId || '',
			service: record.service || (span && span.service) || '',
			severity: record.severityText || ''
		});
	}
	return out.sort((a, b) => compareTimes(a.time, b.time));
}

// A key that tells log records apart, to drop the copies a stream resends.
export const logRecordKey = r =>
	[r.timeUnixNano, r.spanId, r.severityNumber, typeof r.body === 'string' ? r.body : JSON.stringify(r.body)].join('|');
