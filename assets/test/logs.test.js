import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PHASE_EVENTS, isProxySpan, logItems, logRecordKey, severityLevel } from '../model/logs.js';
import { buildTree } from '../model/trace.js';
import { recordSpanId } from '../model/requests.js';
import { capture } from './fixtures.js';

const itemsOf = name => {
	const c = capture(name);
	return { c, items: logItems(buildTree(c.spans).order, c.spans, c.logs, [recordSpanId(c.record)]) };
};

test('/orders logs its exception, its warning record and the inventory\'s events, by time', () => {
	const { c, items } = itemsOf('go-orders');
	assert.deepEqual(items.map(x => [x.level, x.kind, x.service]), [
		['error', 'exception', 'shop-web'], ['warn', 'log', 'shop-web'], ['info', 'event', 'inventory'], ['info', 'event', 'inventory']]);
	const [exception, warning] = items;
	assert.equal(exception.text, '*errors.errorString: coupon "SPRING" expired on 2024-03-31');
	assert.equal(exception.span, c.one('apply coupon'));
	assert.equal(warning.text, 'order 3 is waiting for stock');
	assert.equal(warning.severity, 'WARN');
	assert.equal(warning.span, c.one('GET /orders', 'shop-web'), 'the record names its span');
	for (let i = 1; i < items.length; i++) assert.ok(items[i - 1].time <= items[i].time);
});

test('the proxy\'s upstream phases and the browser\'s load marks are not log lines', () => {
	const { c, items } = itemsOf('go-index');
	const upstream = c.one('GET upstream');
	assert.ok(upstream.events.some(e => PHASE_EVENTS.has(e.name)), 'the proxy span has phase events');
	assert.ok(isProxySpan(upstream, c.spans, [c.record.spanId]));
	assert.ok(c.one('documentLoad').events.length > 10, 'documentLoad has its marks');
	assert.deepEqual(items.map(x => [x.kind, x.text, x.service]), [['event', 'cache miss', 'inventory']]);
});

test('the Node app\'s span event is a log item', () => {
	const { c, items } = itemsOf('node-index');
	assert.deepEqual(items.map(x => [x.level, x.kind, x.text, x.service]), [['info', 'event', 'rendered', 'node-app']]);
	assert.equal(items[0].span, c.one('render page'));
});

test('a span without a scope is the proxy\'s when it is a CLIENT child of a record\'s span in its service', () => {
	const spans = new Map([['r', { id: 'r', service: 'caddy', scope: {} }], ['c', { id: 'c', parentId: 'r', kind: 3, service: 'caddy', scope: {} }],
		['x', { id: 'x', parentId: 'r', kind: 3, service: 'app', scope: {} }]]);
	assert.equal(isProxySpan(spans.get('c'), spans, ['r']), true);
	assert.equal(isProxySpan(spans.get('c'), spans, ['other']), false);
	assert.equal(isProxySpan(spans.get('x'), spans, ['r']), false);
});

test('levels come from severity numbers, else from the text', () => {
	assert.deepEqual([21, 17, 13, 9, 5, 1].map(n => severityLevel(n)), ['error', 'error', 'warn', 'info', 'debug', 'debug']);
	assert.deepEqual(['FATAL', 'Warning', 'TRACE', 'notice'].map(t => severityLevel(0, t)), ['error', 'warn', 'debug', 'info']);
});

test('a log record resent by the stream has the same key', () => {
	const [record] = capture('go-orders').logs;
	assert.equal(logRecordKey(record), logRecordKey(JSON.parse(JSON.stringify(record))));
	assert.notEqual(logRecordKey(record), logRecordKey({ ...record, body: 'other' }));
});
