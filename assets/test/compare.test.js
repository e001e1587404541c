import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeCounts, compareView, sameRoute, signed } from '../model/compare.js';
import { ms } from '../model/format.js';

// A comparison as GET /api/requests/{id}/compare answers it: the cart page
// loaded twice, the second time with a third item (one more product
// query, an N+1 now) and without the coupon check. The API sorts each
// list: spans added and removed the longest first, changes by |deltaMs|,
// queries by the change in count, then in time.
const comparison = {
	request: 'bb', baseline: 'aa', route: 'GET /cart/{id}',
	durationMs: { request: 48.5, baseline: 31.25 },
	spans: {
		added: [{ service: 'shop-web', name: 'render', key: 'shop-web render', count: 1, totalMs: 3 },
			{ service: 'shop-web', name: 'SELECT', key: 'shop-web SELECT SELECT * FROM stock WHERE id = ?', count: 1, totalMs: 0.4 }],
		removed: [{ service: 'shop-web', name: 'check coupon', key: 'shop-web check coupon', count: 1, totalMs: 2.5 }],
		changed: [
			{ service: 'shop-web', name: 'GET /cart/{id}', key: 'shop-web GET /cart/{id} /cart/{id}', count: { request: 1, baseline: 1 }, totalMs: { request: 40, baseline: 25 }, deltaMs: 15 },
			{ service: 'shop-web', name: 'tracebar proxy', key: 'p', count: { request: 1, baseline: 1 }, totalMs: { request: 210, baseline: 200 }, deltaMs: 10 },
			{ service: 'inventory', name: 'GET /stock', key: 'inventory GET /stock /stock', count: { request: 1, baseline: 1 }, totalMs: { request: 4, baseline: 9 }, deltaMs: -5 },
			{ service: 'shop-web', name: 'SELECT', key: 'shop-web SELECT SELECT name FROM products WHERE id = ?', count: { request: 3, baseline: 2 }, totalMs: { request: 3, baseline: 2 }, deltaMs: 1 },
			{ service: 'shop-web', name: 'SELECT', key: 'shop-web SELECT SELECT id FROM carts WHERE id = ?', count: { request: 1, baseline: 1 }, totalMs: { request: 1.2, baseline: 1.0 }, deltaMs: 0.2 }]
	},
	queries: [
		{ shape: 'SELECT * FROM lines WHERE cart = ?', system: 'sqlite', request: { count: 1, totalMs: 1 }, baseline: { count: 4, totalMs: 4 }, nPlusOne: { request: false, baseline: true } },
		{ shape: 'SELECT name FROM products WHERE id = ?', system: 'sqlite', request: { count: 3, totalMs: 3 }, baseline: { count: 2, totalMs: 2 }, nPlusOne: { request: true, baseline: false } },
		{ shape: 'SELECT * FROM stock WHERE id = ?', system: 'sqlite', request: { count: 1, totalMs: 0.4 }, baseline: { count: 0, totalMs: 0 }, nPlusOne: { request: false, baseline: false } },
		{ shape: 'SELECT code FROM coupons', system: 'sqlite', request: { count: 0, totalMs: 0 }, baseline: { count: 1, totalMs: 0.3 }, nPlusOne: { request: false, baseline: false } },
		{ shape: 'SELECT id FROM carts WHERE id = ?', system: 'sqlite', request: { count: 1, totalMs: 1.2 }, baseline: { count: 1, totalMs: 1 }, nPlusOne: { request: false, baseline: false } }]
};

// The comparison with each list in the reverse of the API's order.
function reversed(data) {
	const flip = list => list.slice().reverse();
	return Object.assign({}, data, { spans: { added: flip(data.spans.added), removed: flip(data.spans.removed), changed: flip(data.spans.changed) }, queries: flip(data.queries) });
}

test('slower and faster: changes of at least 1 ms and a tenth of the baseline, in the API\'s order', () => {
	const view = compareView(comparison);
	assert.deepEqual(view.slower.map(c => c.name), ['GET /cart/{id}', 'SELECT'], '+15 ms and +1 ms (of 2) count; +10 ms of 200 and +0.2 ms do not');
	assert.deepEqual(view.faster.map(c => [c.service, c.deltaMs]), [['inventory', -5]]);
	assert.equal(view.deltaMs, 17.25);
	assert.deepEqual(view.durationMs, { request: 48.5, baseline: 31.25 });
	assert.deepEqual(compareView(reversed(comparison)).slower.map(c => c.name), ['SELECT', 'GET /cart/{id}'], 'not sorted again');
});

test('spans added and removed, in the API\'s order', () => {
	const view = compareView(comparison);
	assert.deepEqual(view.added.map(s => s.name), ['render', 'SELECT']);
	assert.deepEqual(view.removed.map(s => s.name), ['check coupon']);
	assert.deepEqual(compareView(reversed(comparison)).added.map(s => s.name), ['SELECT', 'render'], 'not sorted again');
});

test('queries that appeared, vanished or ran a different number of times; N+1 groups that came and went', () => {
	const view = compareView(comparison);
	assert.deepEqual(view.appeared.map(q => q.shape), ['SELECT * FROM stock WHERE id = ?']);
	assert.deepEqual(view.vanished.map(q => q.shape), ['SELECT code FROM coupons']);
	assert.deepEqual(view.recounted.map(q => q.shape), ['SELECT * FROM lines WHERE cart = ?', 'SELECT name FROM products WHERE id = ?'], 'the API\'s order');
	assert.deepEqual(compareView(reversed(comparison)).recounted.map(q => q.shape), ['SELECT name FROM products WHERE id = ?', 'SELECT * FROM lines WHERE cart = ?']);
	assert.deepEqual(view.nPlusOneCame.map(q => q.shape), ['SELECT name FROM products WHERE id = ?']);
	assert.deepEqual(view.nPlusOneWent.map(q => q.shape), ['SELECT * FROM lines WHERE cart = ?']);
	assert.deepEqual(view.queryCount, { request: 6, baseline: 8 });
});

test('no baseline: everything the request ran is new, nothing else', () => {
	const view = compareView({ request: 'bb', baseline: null, route: 'GET /', durationMs: { request: 5, baseline: 0 },
		spans: { added: [{ name: 'x', totalMs: 1 }], removed: [], changed: [] },
		queries: [{ shape: 'SELECT 1', request: { count: 2, totalMs: 1 }, baseline: { count: 0, totalMs: 0 }, nPlusOne: { request: false, baseline: false } }] });
	assert.deepEqual([view.slower, view.faster, view.removed, view.vanished, view.recounted, view.nPlusOneWent], [[], [], [], [], [], []]);
	assert.deepEqual(view.appeared.map(q => q.shape), ['SELECT 1']);
	assert.equal(view.deltaMs, 5);
	assert.deepEqual(compareView(null).slower, [], 'nothing loaded yet');
});

test('a change counts from 1 ms and a tenth of the baseline', () => {
	assert.deepEqual([[1, 2], [0.9, 2], [5, 60], [-6, 60], [0, 0], [1, 0]].map(([d, b]) => changeCounts(d, b)), [true, false, false, true, false, true]);
	assert.deepEqual([12.5, -3, 0].map(v => signed(v, ms)), ['+12.5 ms', '\u22123.00 ms', '\u00b10 ms']);
});

test('the loads of the same route, newest first, without the request itself', () => {
	const records = [
		{ id: 'a', route: 'GET /cart/{id}', startTime: '2025-01-01T10:00:00Z' },
		{ id: 'b', route: 'GET /cart/{id}', startTime: '2025-01-01T10:00:05Z' },
		{ id: 'c', route: 'GET /', startTime: '2025-01-01T10:00:06Z' },
		{ id: 'd', route: 'GET /cart/{id}', startTime: '2025-01-01T10:00:07Z' },
		{ id: 'e', route: 'POST /cart/{id}', startTime: '2025-01-01T10:00:08Z' }];
	assert.deepEqual(sameRoute(records, 'GET /cart/{id}', 'b').map(r => r.id), ['d', 'a']);
});
