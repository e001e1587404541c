import { test } from 'node:test';
import assert from 'node:assert/strict';
import { msBetween, nanos, nanosText, timeAxis } from '../model/time.js';
import { bytes, ms, plural } from '../model/format.js';
import { buildTree } from '../model/trace.js';
import { capture } from './fixtures.js';

test('the axis of a real trace: a round step, about five ticks, none at the edge', () => {
	for (const name of ['go-index', 'go-orders', 'node-index']) {
		const tree = buildTree(capture(name).spans), duration = msBetween(tree.start, tree.end);
		const axis = timeAxis(duration);
		assert.equal(axis.duration, duration);
		assert.match(String(axis.step), /^(1|2|5)(0*|\.0*\d)$/, name + ': step ' + axis.step);
		assert.ok(axis.ticks.length >= 3 && axis.ticks.length <= 7, name + ': ' + axis.ticks.length + ' ticks');
		assert.equal(axis.ticks[0].ms, 0);
		for (const t of axis.ticks) {
			assert.ok(t.at < 0.93);
			assert.ok(Math.abs(t.at - t.ms / duration) < 1e-12);
		}
	}
	// /orders and the page's load: about 200 ms, ticks every 50 ms.
	const orders = buildTree(capture('go-orders').spans);
	assert.deepEqual(timeAxis(msBetween(orders.start, orders.end)).ticks.map(t => t.ms), [0, 50, 100, 150]);
});

test('axis steps are 1, 2 or 5 times a power of ten', () => {
	assert.deepEqual([0.004, 1, 7, 12, 30, 999, 4500].map(d => timeAxis(d).step), [0.001, 0.2, 1, 2, 5, 200, 1000]);
	assert.equal(timeAxis(0).duration, 0.001, 'an empty trace still has an axis');
});

test('OTLP times are BigInt ns; epoch ms go back as ns text', () => {
	assert.equal(nanos('1796620296122475864'), 1796620296122475864n);
	assert.equal(nanos(undefined), 0n);
	assert.equal(nanos('1.5e3'), 1500n);
	assert.equal(msBetween(1000000n, 3500000n), 2.5);
	assert.equal(nanosText(1796620296122.4758), '1796620296122476000');
});

test('numbers read as people read them', () => {
	assert.deepEqual([0, 0.85, 2.345, 12.34, 143.2, 1250, 12500, null].map(ms), ['0 ms', '850 \u00b5s', '2.35 ms', '12.3 ms', '143 ms', '1.25 s', '12.5 s', '\u2014']);
	assert.deepEqual([512, 2048, 3 << 20].map(bytes), ['512 B', '2.0 KB', '3.00 MB']);
	assert.deepEqual([[1, 'span'], [2, 'span'], [3, 'query'], [2, 'match'], [0, 'entry']].map(([n, w]) => plural(n, w)), ['1 span', '2 spans', '3 queries', '2 matches', '0 entries']);
});
