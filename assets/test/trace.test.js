import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ancestorIds, buildTree, criticalPath, foldedBelow, requestRoot, serviceColors, visibleRows } from '../model/trace.js';
import { recordSpanId } from '../model/requests.js';
import { capture } from './fixtures.js';

const names = spans => spans.map(s => s.service + ' ' + s.name);

test('the Go trace is one tree: proxy, upstream call, app, its work, the inventory service', () => {
	const go = capture('go-index'), tree = buildTree(go.spans);
	assert.deepEqual(names(tree.roots), ['caddy GET /']);
	const app = go.one('GET /', 'shop-web');
	assert.deepEqual(names(tree.children.get(app.id)), ['shop-web SELECT products', 'shop-web HTTP GET', 'shop-web render index.html'], 'children by start time');
	assert.equal(tree.depth.get(go.one('GET /', 'caddy').id), 0);
	assert.equal(tree.depth.get(go.one('GET upstream').id), 1);
	assert.equal(tree.depth.get(app.id), 2);
	assert.equal(tree.depth.get(go.one('compute stock').id), 5);
	assert.equal(tree.maxDepth, 5);
	assert.equal(tree.order.length, go.spans.size);
	assert.deepEqual([...tree.services.keys()].sort(), ['browser', 'caddy', 'inventory', 'shop-web']);
	assert.equal(tree.errors, 0);
});

test('the waterfall order is depth first: a span comes right before its subtree', () => {
	const go = capture('go-orders'), tree = buildTree(go.spans), at = new Map(tree.order.map((s, i) => [s.id, i]));
	for (const span of tree.order) {
		if (!span.parentId) continue;
		assert.ok(at.get(span.parentId) < at.get(span.id), span.name + ' after its parent');
		assert.equal(tree.depth.get(span.id), tree.depth.get(span.parentId) + 1);
	}
	// The page's fetch and XHR hang under the browser's documentLoad span.
	const load = go.one('documentLoad');
	assert.deepEqual(names(tree.children.get(load.id)), ['browser HTTP GET', 'browser HTTP GET']);
	assert.equal(tree.maxDepth, 8);
	assert.equal(tree.errors, 1);
});

test('the Node app\'s spans nest under the proxy\'s', () => {
	const node = capture('node-index'), tree = buildTree(node.spans), app = node.one('GET', 'node-app');
	assert.equal(node.spans.get(app.parentId).name, 'GET upstream');
	assert.deepEqual(names(tree.children.get(app.id)), ['node-app SELECT users', 'node-app render page']);
	assert.equal(tree.depth.get(node.one('SELECT users').id), 3);
});

test('spans whose parent has not arrived, or that loop, are roots', () => {
	const node = capture('node-index'), appOnly = new Map([...node.spans].filter(([, s]) => s.service === 'node-app'));
	assert.deepEqual(names(buildTree(appOnly).roots), ['node-app GET']);
	const a = { id: 'a', parentId: 'b', start: 1n, end: 2n, service: 's' }, b = { id: 'b', parentId: 'a', start: 2n, end: 3n, service: 's' };
	const loop = buildTree(new Map([['a', a], ['b', b]]));
	assert.equal(loop.order.length, 2, 'every span shows once');
});

test('the critical path runs from the proxy through the app\'s sequential work, not the browser\'s', () => {
	const go = capture('go-index'), tree = buildTree(go.spans);
	const top = requestRoot(tree, go.spans, recordSpanId(go.record));
	assert.equal(top.id, go.record.spanId);
	const path = criticalPath(tree, top);
	for (const [name, service] of [['GET /', 'caddy'], ['GET upstream'], ['GET /', 'shop-web'], ['HTTP GET', 'shop-web'], ['GET /stock'], ['compute stock'], ['render index.html']]) {
		assert.ok(path.has(go.one(name, service).id), name + ' on the path');
	}
	assert.ok(!path.has(go.one('documentLoad').id), 'documentLoad started before the proxy span: not caused by its work');
});

test('a later fetch of the page is off the page request\'s critical path', () => {
	const go = capture('go-orders'), tree = buildTree(go.spans);
	const path = criticalPath(tree, requestRoot(tree, go.spans, recordSpanId(go.record)));
	assert.ok(path.has(go.one('render orders.html').id));
	assert.ok(path.has(go.one('apply coupon').id));
	for (const s of go.named('GET /api/products')) assert.ok(!path.has(s.id));
	// The whole page is one tree: a fetch's span climbs to the page's.
	const fetch = go.named('GET /api/products', 'caddy')[0];
	assert.equal(requestRoot(tree, go.spans, fetch.id).id, go.record.spanId, 'a fetch\'s root is the page\'s span');
});

test('a child running beside a sibling that ends later is off the path', () => {
	const span = (id, parentId, start, end) => ({ id, parentId, start: BigInt(start), end: BigInt(end), service: 's' });
	const spans = new Map([span('p', '', 0, 100), span('a', 'p', 10, 90), span('b', 'p', 20, 50), span('c', 'p', 0, 5)].map(s => [s.id, s]));
	const tree = buildTree(spans), path = criticalPath(tree, requestRoot(tree, spans, 'p'));
	assert.deepEqual([...path].sort(), ['a', 'c', 'p']);
});

test('before the record\'s span arrives, the longest root is the top', () => {
	const go = capture('go-index'), early = new Map([...go.spans].filter(([, s]) => s.service !== 'caddy'));
	const tree = buildTree(early);
	assert.deepEqual(names(tree.roots), ['browser documentLoad', 'shop-web GET /']);
	assert.equal(requestRoot(tree, early, go.record.spanId).name, 'documentLoad');
	assert.equal(requestRoot(buildTree(new Map()), new Map(), ''), null);
});

test('folding a span hides its subtree; depth folding keeps n levels', () => {
	const go = capture('go-orders'), tree = buildTree(go.spans), upstream = go.named('GET upstream').find(s => s.parentId === go.record.spanId);
	const all = visibleRows(tree, go.spans, new Set(), '').rows;
	assert.equal(all.length, go.spans.size);
	const folded = visibleRows(tree, go.spans, new Set([upstream.id]), '').rows;
	assert.equal(folded.length, go.spans.size - 8, 'the app span and its 7 children are hidden');
	assert.equal(folded.find(r => r.span.id === upstream.id).childCount, 1);
	const top = visibleRows(tree, go.spans, foldedBelow(tree, 1), '').rows;
	assert.deepEqual(top.map(r => r.span.name), ['GET /orders']);
	const two = visibleRows(tree, go.spans, foldedBelow(tree, 2), '').rows;
	assert.deepEqual(two.map(r => r.depth), [0, 1, 1]);
});

test('a filter shows its matches and their ancestors, folded or not', () => {
	const go = capture('go-orders'), tree = buildTree(go.spans), coupon = go.one('apply coupon');
	const { rows, hits } = visibleRows(tree, go.spans, foldedBelow(tree, 1), 'coupon.code=SPRING');
	assert.deepEqual([...hits], [coupon.id]);
	assert.deepEqual(rows.map(r => r.span.id), [go.record.spanId, ...ancestorIds(go.spans, coupon.id).reverse().slice(1), coupon.id]);
	assert.deepEqual(rows.map(r => r.depth), [0, 1, 2, 3]);
});

test('services get distinct colours, none red', () => {
	const colors = serviceColors(buildTree(capture('go-orders').spans).services);
	assert.equal(new Set(colors.values()).size, 4);
	for (const c of colors.values()) assert.doesNotMatch(c, /^#(ef|dc|f8)4/);
});
