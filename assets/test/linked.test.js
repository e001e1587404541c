import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTree, graftLinked, linkedGrafts } from '../model/trace.js';
import { filterRecords, groupByRoute } from '../model/history.js';
import { capture, load } from './fixtures.js';

// Captured from the Node app and its worker (tests/node): GET /enqueue
// sends a job (a PRODUCER span); the worker processes it in a CONSUMER
// span that starts a trace of its own, linked to the PRODUCER. Each
// .related.json is the API's /related answer for that trace.
const page = capture('node-enqueue'), job = capture('node-job');
const names = spans => spans.map(s => s.service + ' ' + s.name);
const traces = new Map([[job.record.traceId, job.spans], [page.record.traceId, page.spans]]);

test('the job that a request enqueued goes under its PRODUCER span', () => {
	const grafts = linkedGrafts(load('node-enqueue.related.json')), producer = page.one('send jobs'), consumer = job.one('process jobs');
	assert.deepEqual(grafts, [{ traceId: job.record.traceId, under: producer.id, top: consumer.id }]);
	const spans = graftLinked(page.spans, grafts, traces), tree = buildTree(spans);
	assert.equal(spans.size, page.spans.size + job.spans.size, 'the job\'s whole trace');
	assert.deepEqual(names(tree.children.get(producer.id)), ['node-worker process jobs']);
	assert.deepEqual(names(tree.children.get(consumer.id)), ['node-worker SELECT orders', 'node-worker send receipt', 'node-worker UPDATE orders']);
	assert.equal(tree.depth.get(consumer.id), tree.depth.get(producer.id) + 1);
	assert.equal(tree.roots.length, 1, 'one tree, the request\'s');
	const top = spans.get(consumer.id);
	assert.equal(top.linked, job.record.traceId, 'the top names its trace');
	assert.equal(job.spans.get(consumer.id).parentId, '', 'the job\'s own span is left as it was');
	assert.equal(page.spans.has(consumer.id), false, 'the request\'s spans are left as they were');
});

test('the request that enqueued a job goes under the job\'s CONSUMER, the span with the link', () => {
	const grafts = linkedGrafts(load('node-job.related.json')), consumer = job.one('process jobs'), producer = page.one('send jobs');
	assert.deepEqual(grafts, [{ traceId: page.record.traceId, under: consumer.id, top: producer.id }]);
	const tree = buildTree(graftLinked(job.spans, grafts, traces));
	// By start time: the PRODUCER sent the job before the CONSUMER's work began.
	assert.deepEqual(names(tree.children.get(consumer.id)), ['node-app send jobs', 'node-worker SELECT orders', 'node-worker send receipt', 'node-worker UPDATE orders']);
});

test('nothing is grafted until the linked span and the span it goes under have come', () => {
	const grafts = linkedGrafts(load('node-enqueue.related.json'));
	assert.equal(graftLinked(page.spans, grafts, new Map()), page.spans, 'no spans of the job yet');
	const childrenOnly = new Map([...job.spans].filter(([, s]) => s.parentId));
	assert.equal(graftLinked(page.spans, grafts, new Map([[job.record.traceId, childrenOnly]])), page.spans, 'not its CONSUMER yet');
	const withoutProducer = new Map([...page.spans].filter(([, s]) => s.name !== 'send jobs'));
	assert.equal(graftLinked(withoutProducer, grafts, traces), withoutProducer, 'the PRODUCER has not come');
});

test('each linked trace is grafted once, outgoing first', () => {
	const link = (spanId, traceId, linkedSpanId) => ({ spanId, traceId, linkedSpanId });
	const related = {
		outgoing: [link('a1', 'T2', 'b1'), link('a2', 'T2', 'b2')],
		incoming: [link('a3', 'T3', 'c1'), link('a4', 'T4', 'd1'), link('a5', 'T2', 'e1')]
	};
	assert.deepEqual(linkedGrafts(related).map(g => g.traceId + ':' + g.under + '<' + g.top), ['T2:a1<b1', 'T3:a3<c1', 'T4:a4<d1']);
	assert.deepEqual(linkedGrafts(null), []);
	assert.deepEqual(linkedGrafts({}), []);
});

test('only the linked traces whose spans came are grafted: the server picks them', () => {
	const span = (id, parentId) => ({ id, parentId, start: 1n, end: 2n, service: 's', name: id });
	const mine = new Map([['p', span('p', '')]]);
	const grafts = linkedGrafts({ incoming: [{ spanId: 'p', traceId: 'T1', linkedSpanId: 'a' }, { spanId: 'p', traceId: 'T2', linkedSpanId: 'b' }] });
	const spans = graftLinked(mine, grafts, new Map([['T2', new Map([['b', span('b', '')]])]]));
	assert.deepEqual([...spans.keys()].sort(), ['b', 'p']);
	assert.equal(spans.get('b').linked, 'T2');
});

test('spans of a linked trace that repeat an id of this one are not grafted twice', () => {
	const span = (id, parentId) => ({ id, parentId, start: 1n, end: 2n, service: 's', name: id });
	const mine = new Map([['p', span('p', '')], ['x', span('x', 'p')]]);
	const theirs = new Map([['c', span('c', '')], ['x', span('x', 'c')], ['y', span('y', 'x')]]);
	const spans = graftLinked(mine, [{ traceId: 'T', under: 'p', top: 'c' }], new Map([['T', theirs]]));
	assert.deepEqual([...spans.keys()].sort(), ['c', 'p', 'x'], 'this trace\'s x kept, the other\'s and what is under it left out');
	assert.equal(spans.get('x'), mine.get('x'));
});

test('the history groups background work apart, by its root span\'s name, and finds it by kind', () => {
	const records = [
		{ id: '1', method: '', url: 'cleanup sessions', route: 'cleanup sessions', kind: 'background', durationMs: 2, startTime: '2026-01-01T00:00:01Z' },
		{ id: '2', method: '', url: 'cleanup sessions', route: 'cleanup sessions', kind: 'background', durationMs: 4, startTime: '2026-01-01T00:00:02Z' },
		{ id: '3', method: 'GET', url: '/enqueue', route: 'GET /enqueue', status: 200, durationMs: 9, startTime: '2026-01-01T00:00:03Z' },
		{ id: '4', method: '', url: 'GET /enqueue', route: 'GET /enqueue', kind: 'background', durationMs: 1, startTime: '2026-01-01T00:00:04Z' }
	];
	const groups = groupByRoute(records, 'count');
	assert.deepEqual(groups.map(g => [g.route, g.kind, g.count]), [['cleanup sessions', 'background', 2], ['GET /enqueue', '', 1], ['GET /enqueue', 'background', 1]]);
	assert.deepEqual(filterRecords(records, { text: 'background' }).map(r => r.id), ['1', '2', '4']);
});
