import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterChoices, filterRecords, groupByRoute, isError, newestFirst, percentile, routeOf, sparkline, statusClass,
	SPARK_POINTS } from '../model/history.js';
import { load } from './fixtures.js';

const history = load('go-requests.json');
const at = i => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
// A summary as the API sends it, with the fields of issue 14.
const near = (actual, expected, message) => assert.ok(Math.abs(actual - expected) < 1e-9, (message || '') + ': ' + actual + ' is not ' + expected);
const summary = (id, more) => Object.assign({ id, method: 'GET', url: '/', status: 200, done: true, startTime: at(+id), durationMs: 1 }, more);

test('the demo app\'s history, from before summaries had a route, groups by method and path, the query dropped', () => {
	const groups = groupByRoute(history);
	const counts = Object.fromEntries(groups.map(g => [g.route, g.count]));
	assert.deepEqual(counts, { 'GET /favicon.ico': 2, 'GET /api/products': 2, 'GET /orders': 1, 'GET /old-orders': 1, 'GET /': 1 });
	const products = groups.find(g => g.route === 'GET /api/products');
	assert.deepEqual(products.records.map(r => r.url), ['/api/products?via=xhr', '/api/products'], 'newest first');
	assert.deepEqual(products.recent, [5.426, 4.543], 'the sparkline goes oldest to newest');
	assert.equal(groups[0].route, 'GET /favicon.ico', 'the route requested last comes first');
	assert.equal(routeOf({ method: 'GET', url: '/orders/42?x=1#top' }), 'GET /orders/42', 'ids are the API\'s to fold');
});

test('the API\'s route wins over the path; the operation splits one GraphQL endpoint into groups', () => {
	const records = [
		summary('1', { method: 'GET', url: '/orders/a-slug', route: 'GET /orders/{slug}' }),
		summary('2', { method: 'GET', url: '/orders/other', route: 'GET /orders/{slug}' }),
		summary('3', { method: 'POST', url: '/graphql', route: 'POST /graphql', operation: 'query GetCart' }),
		summary('4', { method: 'POST', url: '/graphql', route: 'POST /graphql', operation: 'mutation AddItem' }),
		summary('5', { method: 'POST', url: '/graphql', route: 'POST /graphql', operation: 'query GetCart' }),
		summary('6', { method: 'PUT', url: '/items/7', route: 'PUT /items/{id}' })
	];
	const groups = groupByRoute(records, 'count');
	assert.deepEqual(groups.map(g => [g.route, g.operation, g.count]), [
		['GET /orders/{slug}', '', 2], ['POST /graphql', 'query GetCart', 2], ['POST /graphql', 'mutation AddItem', 1], ['PUT /items/{id}', '', 1]]);
	assert.equal(routeOf(records[0]), 'GET /orders/{slug}');
});

test('percentiles interpolate between ranks, on known inputs', () => {
	const ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
	assert.equal(percentile(ten, 50), 5.5);
	near(percentile(ten, 95), 9.55);
	assert.equal(percentile(ten, 0), 1);
	assert.equal(percentile(ten, 100), 10);
	assert.equal(percentile([7], 95), 7);
	assert.equal(percentile([], 50), null);
	assert.equal(percentile([1, 2, 3, 4], 50), 2.5, 'the median of an even count');
	assert.deepEqual(ten.slice(0, 2), [10, 1], 'the input is not sorted in place');
	near(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 95), 95.05);
});

test('a group counts errors, takes p50/p95 of finished requests only, and the median query count', () => {
	const durations = [12, 30, 18, 25, 100, 15, 22, 20, 16, 14];
	const records = durations.map((ms, i) => summary(String(i + 1), { url: '/orders', durationMs: ms, queries: i % 2 ? 3 : 5 }));
	records.push(summary('20', { url: '/orders', done: false, status: 0, durationMs: 0 }));
	records[4].status = 502;
	records[6].error = true;
	const [group] = groupByRoute(records);
	assert.equal(group.count, 11);
	assert.equal(group.errors, 2, 'a 502 and a request the API marks');
	assert.equal(group.p50, percentile(durations, 50));
	assert.equal(group.p50, 19);
	near(group.p95, 68.5, 'between 30 and 100');
	assert.equal(group.queries, 4, 'the median of five 5s and five 3s');
	assert.deepEqual(group.recent, durations, 'the in-flight request draws no point');
	assert.equal(group.last, Date.parse(at(20)));
	assert.equal(groupByRoute([summary('1')])[0].queries, null, 'no count without the field');
});

test('the sparkline keeps the newest durations only', () => {
	const records = Array.from({ length: 45 }, (_, i) => summary(String(i + 1), { durationMs: i + 1 }));
	const [group] = groupByRoute(newestFirst(records));
	assert.equal(group.recent.length, SPARK_POINTS);
	assert.deepEqual(group.recent, Array.from({ length: SPARK_POINTS }, (_, i) => 45 - SPARK_POINTS + 1 + i));
});

test('filters: text over URL, route, operation and status; method, status class, service', () => {
	const records = [
		summary('1', { method: 'GET', url: '/orders/7', route: 'GET /orders/{id}', services: ['shop-web'] }),
		summary('2', { method: 'POST', url: '/graphql', operation: 'query GetCart', services: ['shop-web', 'cart'] }),
		summary('3', { method: 'GET', url: '/old-orders', status: 302 }),
		summary('4', { method: 'GET', url: '/missing', status: 404 }),
		summary('5', { method: 'GET', url: '/api/products', status: 503, services: ['inventory'] }),
		summary('6', { method: 'GET', url: '/orders/8', status: 200, error: true }),
		summary('7', { method: 'GET', url: '/slow', status: 0, done: false })
	];
	const ids = filter => filterRecords(records, Object.assign({ text: '', method: '', status: '', service: '' }, filter)).map(r => r.id);
	assert.deepEqual(ids({}), ['1', '2', '3', '4', '5', '6', '7']);
	assert.deepEqual(ids({ text: 'orders' }), ['1', '3', '6']);
	assert.deepEqual(ids({ text: '{id}' }), ['1'], 'the API\'s route');
	assert.deepEqual(ids({ text: 'getcart' }), ['2'], 'the operation, any case');
	assert.deepEqual(ids({ text: '404' }), ['4']);
	assert.deepEqual(ids({ text: 'orders 302' }), ['3'], 'every word');
	assert.deepEqual(ids({ method: 'POST' }), ['2']);
	assert.deepEqual(ids({ status: '2xx' }), ['1', '2', '6']);
	assert.deepEqual(ids({ status: '3xx' }), ['3']);
	assert.deepEqual(ids({ status: '5xx' }), ['5']);
	assert.deepEqual(ids({ status: 'error' }), ['5', '6']);
	assert.deepEqual(ids({ service: 'cart' }), ['2']);
	assert.deepEqual(ids({ service: 'shop-web', text: 'orders' }), ['1']);
	assert.deepEqual(filterChoices(records), { methods: ['GET', 'POST'], services: ['cart', 'inventory', 'shop-web'] });
	assert.deepEqual([statusClass(records[6]), statusClass(records[4]), isError(records[4]), isError(records[0])], ['', '5xx', true, false]);
});

test('groups sort by recent, count, p95 or errors', () => {
	const records = [
		summary('1', { url: '/a', durationMs: 50 }), summary('2', { url: '/a', durationMs: 60, status: 500 }),
		summary('3', { url: '/b', durationMs: 500 }),
		summary('4', { url: '/c', durationMs: 5 }), summary('5', { url: '/c', durationMs: 6 }), summary('6', { url: '/c', durationMs: 7 })
	];
	const order = by => groupByRoute(records, by).map(g => g.route.slice(5));
	assert.deepEqual(order('recent'), ['c', 'b', 'a']);
	assert.deepEqual(order('count'), ['c', 'a', 'b']);
	assert.deepEqual(order('p95'), ['b', 'a', 'c']);
	assert.deepEqual(order('errors'), ['a', 'b', 'c'], 'ties by route');
});

test('sparkline points scale to the box: oldest left, zero at the bottom, the largest at the top', () => {
	assert.equal(sparkline([0, 5, 10], 20, 10), '0,10 10,5 20,0');
	assert.equal(sparkline([2, 4], 100, 20), '0,10 100,0');
	assert.equal(sparkline([2, 4], 100, 20, 8), '0,15 100,10', 'on a shared scale');
	assert.equal(sparkline([3], 60, 16), '60,0', 'one value: at the right edge');
	assert.equal(sparkline([0, 0], 60, 16), '0,16 60,16', 'all zero: along the bottom');
	assert.equal(sparkline([1, 2, 3], 10, 7), '0,4.7 5,2.3 10,0', 'rounded to a tenth');
	assert.equal(sparkline([], 60, 16), '');
});
