import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSpanId, isTraceId, randomHex, tagIds, tagPrefix, tagVersion } from '../lib/tag.js';

// A script tag as hook.js and toolbar.js see theirs.
const tag = attributes => ({ getAttribute: name => (name in attributes ? attributes[name] : null) });

test('a tag names its record and trace; a malformed or zero trace id is none', () => {
	const record = '4d58b3300df9fc97', trace = '4d760188ad613a0b67aa1c66f09c4d06';
	assert.deepEqual(tagIds(tag({ 'data-tracebar-request': record, 'data-tracebar-trace': trace })), { requestId: record, traceId: trace });
	assert.deepEqual(tagIds(tag({ 'data-tracebar-trace': '0'.repeat(32) })), { requestId: '', traceId: '' });
	assert.equal(tagIds(tag({ 'data-tracebar-trace': trace.toUpperCase() })).traceId, '');
	assert.deepEqual(tagIds(null), { requestId: '', traceId: '' });
});

test('the prefix comes from the tag\'s src, else the default on the page\'s origin', () => {
	const page = 'http://127.0.0.1:8080/shop/orders';
	assert.deepEqual(tagPrefix('http://127.0.0.1:8080/dev/tb/static/hook.js?v=0123456789ab', 'hook.js', page),
		{ url: 'http://127.0.0.1:8080/dev/tb', path: '/dev/tb' });
	assert.deepEqual(tagPrefix('http://127.0.0.1:8080/__tracebar/static/toolbar.js', 'toolbar.js', page),
		{ url: 'http://127.0.0.1:8080/__tracebar', path: '/__tracebar' });
	assert.deepEqual(tagPrefix('', 'toolbar.js', page), { url: 'http://127.0.0.1:8080/__tracebar', path: '/__tracebar' });
	assert.equal(tagVersion('http://h/__tracebar/static/toolbar.js?v=0123456789ab'), '0123456789ab');
	assert.equal(tagVersion('http://h/__tracebar/static/toolbar.js'), '');
});

test('random ids are valid span and trace ids', () => {
	for (let i = 0; i < 50; i++) {
		assert.ok(isSpanId(randomHex(8)));
		assert.ok(isTraceId(randomHex(16)));
	}
});
