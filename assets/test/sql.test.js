import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupQueries, normaliseSQL } from '../model/sql.js';
import { buildTree } from '../model/trace.js';
import { capture, load } from './fixtures.js';

test('the N+1 of /orders is one group of 4 under the app span, flagged and first', () => {
	const go = capture('go-orders'), queries = groupQueries(buildTree(go.spans).order);
	assert.equal(queries.count, 7, '1 orders query, 4 per-order product queries, 1 per fetch of /api/products');
	assert.equal(queries.groups.length, 3);
	const [n1] = queries.groups;
	assert.equal(n1.flag, 'N+1');
	assert.equal(n1.shape, 'SELECT name, price_cents FROM products WHERE id = ?');
	assert.equal(n1.system, 'sqlite');
	assert.equal(n1.spans.length, 4);
	assert.equal(n1.repeats, 4);
	assert.equal(n1.repeatParent, go.one('GET /orders', 'shop-web').id);
	assert.equal(n1.identical, 1, 'each with its own id in the text');
	assert.equal(queries.flagged, 1);
	assert.equal(queries.hasNPlusOne, true);
	assert.ok(Math.abs(n1.totalMs - n1.spans.reduce((t, s) => t + Number(s.end - s.start) / 1e6, 0)) < 1e-9);
});

test('the same query under different parents is not a repeat', () => {
	const queries = groupQueries(buildTree(capture('go-orders').spans).order);
	const products = queries.groups.find(g => g.shape === 'SELECT id, name, price_cents FROM products ORDER BY id');
	assert.equal(products.spans.length, 2, 'one per fetch of /api/products');
	assert.equal(products.repeats, 1);
	assert.equal(products.flag, '');
	assert.equal(products.identical, 2);
	assert.equal(products.repeatParent, '');
});

test('a page with one query has one unflagged group', () => {
	for (const [name, shape] of [['go-index', 'SELECT id, name, price_cents FROM products ORDER BY id'], ['node-index', 'SELECT id, name FROM users WHERE id = ?']]) {
		const queries = groupQueries(buildTree(capture(name).spans).order);
		assert.deepEqual(queries.groups.map(g => [g.shape, g.flag]), [[shape, '']], name);
		assert.equal(queries.hasNPlusOne, false);
	}
});

test('twice under one parent is a duplicate', () => {
	const span = (id, statement) => ({ id, parentId: 'p', start: 0n, end: 1000000n, db: { statement, system: 'pg', shape: normaliseSQL(statement) } });
	const queries = groupQueries([span('a', 'SELECT 1'), span('b', 'SELECT 2'), { id: 'c', parentId: 'p', db: null }]);
	assert.deepEqual(queries.groups.map(g => [g.shape, g.flag, g.identical]), [['SELECT ?', 'duplicate', 1]]);
	assert.equal(queries.totalMs, 2);
	assert.equal(queries.hasNPlusOne, false);
});

test('statements normalise to their shape, as the Go side\'s StatementShape does (testdata/sql-shapes.json, which both test)', () => {
	const cases = load('sql-shapes.json');
	assert.ok(cases.length >= 8, cases.length + ' cases');
	for (const { statement, shape } of cases) assert.equal(normaliseSQL(statement), shape, statement);
});
