/* OTLP/JSON, as the API serves traces and the sink's streams send them,
   read into span objects that name what they hold:

     { id, parentId, traceId, name, kind (a number, see SPAN_KINDS),
       start, end (BigInt ns since the epoch; end never before start),
       attributes, events, links (OTLP/JSON, as sent),
       status ({code, message}), error (status code is Error),
       service (service.name), resource (its attributes), scope ({name, version}),
       db (null, or {statement, system, shape} for a span with db.* attributes) }

   Pure. */

import { nanos } from './time.js';
import { normaliseSQL } from './sql.js';

export const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
export const CLIENT = 3;

// The instrumentation scopes of the proxy's own spans and of the spans the
// toolbar reports for the browser.
export const PROXY_SCOPE = 'github.com/tracebar/tracebar';
export const BROWSER_SCOPE = 'tracebar/browser';

// An OTLP AnyValue as text: strings as they are (quoted inside arrays and
// maps), arrays as [a, b], maps as {k: v}.
export function anyValueText(value, nested) {
	if (value == null || typeof value !== 'object') return value == null ? '' : String(value);
	if ('stringValue' in value) return nested ? JSON.stringify(String(value.stringValue)) : String(value.stringValue);
	for (const k of ['intValue', 'doubleValue', 'boolValue']) if (k in value) return String(value[k]);
	if ('bytesValue' in value) return 'base64:' + value.bytesValue;
	if (value.arrayValue) return '[' + (value.arrayValue.values || []).map(x => anyValueText(x, true)).join(', ') + ']';
	if (value.kvlistValue) {
		return '{' + (value.kvlistValue.values || []).map(kv => kv.key + ': ' + anyValueText(kv.value, true)).join(', ') + '}';
	}
	return '';
}

// The text of the attribute named key in an OTLP attribute list; '' if none.
export function attributeText(attributes, key) {
	const found = (attributes || []).find(a => a && a.key === key);
	return found ? anyValueText(found.value) : '';
}

// A span kind as sent (2, or "SPAN_KIND_SERVER") as its number.
export function spanKind(kind) {
	if (typeof kind === 'string') return Math.max(0, SPAN_KINDS.indexOf(kind.replace('SPAN_KIND_', '').toLowerCase()));
	return kind | 0;
}

// The spans of an OTLP/JSON trace document; spans without an id are skipped.
export function readSpans(doc) {
	const out = [];
	for (const rs of (doc && doc.resourceSpans) || []) {
		const resource = (rs.resource && rs.resource.attributes) || [], service = attributeText(resource, 'service.name') || 'unknown';
		for (const ss of rs.scopeSpans || []) {
			for (const raw of ss.spans || []) if (raw && raw.spanId) out.push(readSpan(raw, service, resource, ss.scope || {}));
		}
	}
	return out;
}

function readSpan(raw, service, resource, scope) {
	const start = nanos(raw.startTimeUnixNano), end = nanos(raw.endTimeUnixNano), status = raw.status || {};
	const attributes = Array.isArray(raw.attributes) ? raw.attributes : [], name = String(raw.name || '');
	return {
		id: raw.spanId,
		parentId: /^0*$/.test(raw.parentSpanId || '') ? '' : raw.parentSpanId,
		traceId: raw.traceId,
		name,
		kind: spanKind(raw.kind),
		start,
		end: end < start ? start : end,
		attributes,
		events: (raw.events || []).filter(Boolean),
		links: raw.links || [],
		status,
		error: status.code === 2 || status.code === 'STATUS_CODE_ERROR',
		service,
		resource,
		scope,
		db: database(attributes, name)
	};
}

// A database span's statement and system, from the current semantic
// conventions (db.query.text, db.system.name) or the older ones
// (db.statement, db.system); null when the span has no db.* attribute.
function database(attributes, name) {
	let statement = '', system = '', found = false;
	for (const a of attributes) {
		const key = a && a.key;
		if (typeof key !== 'string' || key.slice(0, 3) !== 'db.') continue;
		found = true;
		if (key === 'db.query.text' || (key === 'db.statement' && !statement)) statement = anyValueText(a.value);
		else if (key === 'db.system.name' || (key === 'db.system' && !system)) system = anyValueText(a.value);
	}
	return found ? { statement, system, shape: statement ? normaliseSQL(statement) : name } : null;
}
