import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anyValueText, attributeText, readSpans, spanKind } from '../model/otlp.js';
import { capture } from './fixtures.js';

test('every span of a real trace is read, with its service, kind and parent', () => {
	const go = capture('go-orders');
	const count = go.doc.resourceSpans.flatMap(rs => rs.scopeSpans.flatMap(ss => ss.spans)).length;
	assert.equal(go.spans.size, count);
	const proxy = go.one('GET /orders', 'caddy');
	assert.equal(proxy.id, go.record.spanId);
	assert.equal(proxy.parentId, '', 'the root has no parent');
	assert.equal(proxy.kind, 2, 'server');
	assert.equal(proxy.traceId, go.record.traceId);
	assert.equal(proxy.scope.name, 'github.com/tracebar/tracebar');
	const app = go.one('GET /orders', 'shop-web');
	assert.equal(go.spans.get(app.parentId).name, 'GET upstream');
	assert.ok(app.start >= proxy.start && app.end <= proxy.end, 'the app works inside the proxy span');
	assert.equal(typeof app.start, 'bigint');
});

test('a span with error status is an error, with its message', () => {
	const coupon = capture('go-orders').one('apply coupon');
	assert.equal(coupon.error, true);
	assert.match(coupon.status.message, /coupon "SPRING" expired/);
	assert.equal(attributeText(coupon.attributes, 'coupon.code'), 'SPRING');
	assert.equal(capture('go-orders').one('render orders.html').error, false);
});

test('database spans carry their statement, system and shape', () => {
	const node = capture('node-index').one('SELECT users');
	assert.deepEqual(node.db, { statement: 'SELECT id, name FROM users WHERE id = ?', system: 'sqlite', shape: 'SELECT id, name FROM users WHERE id = ?' });
	const n1 = capture('go-orders').named('SELECT products', 'shop-web').map(s => s.db).filter(d => /WHERE id = \d/.test(d.statement));
	assert.equal(n1.length, 4);
	for (const db of n1) assert.equal(db.shape, 'SELECT name, price_cents FROM products WHERE id = ?');
	assert.equal(capture('node-index').one('render page').db, null);
});

test('the older db.statement and db.system, and kinds as enum names, are read too', () => {
	const [span] = readSpans({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [{
		spanId: 'a1', parentSpanId: '0000000000000000', name: 'query', kind: 'SPAN_KIND_CLIENT', startTimeUnixNano: '2000', endTimeUnixNano: '1000',
		attributes: [{ key: 'db.statement', value: { stringValue: "SELECT 1 FROM t WHERE a = 'x'" } }, { key: 'db.system', value: { stringValue: 'postgresql' } }]
	}, { name: 'no id' }] }] }] });
	assert.equal(span.kind, 3);
	assert.equal(span.parentId, '', 'an all-zero parent is none');
	assert.equal(span.service, 'unknown');
	assert.equal(span.end, span.start, 'an end before the start is clamped');
	assert.deepEqual(span.db, { statement: "SELECT 1 FROM t WHERE a = 'x'", system: 'postgresql', shape: 'SELECT ? FROM t WHERE a = ?' });
	assert.equal(spanKind('SPAN_KIND_SERVER'), 2);
});

test('OTLP values read as text, nested strings quoted', () => {
	assert.equal(anyValueText({ intValue: '42' }), '42');
	assert.equal(anyValueText({ arrayValue: { values: [{ stringValue: 'a' }, { boolValue: true }] } }), '["a", true]');
	assert.equal(anyValueText({ kvlistValue: { values: [{ key: 'k', value: { doubleValue: 1.5 } }] } }), '{k: 1.5}');
	assert.equal(anyValueText({ bytesValue: 'AAE=' }), 'base64:AAE=');
	assert.equal(anyValueText(null), '');
});
