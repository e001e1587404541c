import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageRequests, recordMs, recordSpanId, redirectChain, sessionFacts } from '../model/requests.js';
import { capture, load } from './fixtures.js';

const history = load('go-requests.json'), base = 'http://127.0.0.1:8080/';
const find = (method, url) => history.find(r => r.method === method && r.url === url);

test('/orders was reached by the 302 from /old-orders', () => {
	const chain = redirectChain(find('GET', '/orders'), history, null, base);
	assert.deepEqual(chain.map(r => [r.method, r.url, r.status, r.location]), [['GET', '/old-orders', 302, '/orders']]);
	assert.deepEqual(redirectChain(find('GET', '/orders'), history, 1, base).map(r => r.url), ['/old-orders'], 'the browser followed one');
});

test('no chain when the browser followed none, or for requests no redirect led to', () => {
	assert.deepEqual(redirectChain(find('GET', '/orders'), history, 0, base), []);
	assert.deepEqual(redirectChain(find('GET', '/api/products'), history, null, base), []);
	assert.deepEqual(redirectChain(find('GET', '/'), history, null, base), []);
});

test('a redirect of another client, or a minute old, is not the one', () => {
	const orders = { ...find('GET', '/orders'), remoteAddr: '10.0.0.1:5000' };
	const fromElsewhere = history.map(r => r.url === '/old-orders' ? { ...r, remoteAddr: '10.0.0.2:6000' } : r);
	assert.deepEqual(redirectChain(orders, fromElsewhere, null, base), []);
	const old = history.map(r => r.url === '/old-orders' ? { ...r, startTime: new Date(Date.parse(r.startTime) - 61e3).toISOString() } : r);
	assert.deepEqual(redirectChain(find('GET', '/orders'), old, null, base), []);
});

test('a POST answered 303 is followed by a GET, chains go back step by step', () => {
	const t = i => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
	const list = [
		{ id: '3', method: 'GET', url: '/done', status: 200, startTime: t(3) },
		{ id: '2', method: 'GET', url: '/next', status: 302, location: 'http://127.0.0.1:8080/done', startTime: t(2) },
		{ id: '1', method: 'POST', url: '/form', status: 303, location: '/next', startTime: t(1) },
		{ id: '0', method: 'POST', url: '/other', status: 307, location: '/form', startTime: t(0) }
	];
	assert.deepEqual(redirectChain(list[0], list, null, base).map(r => r.id), ['2', '1', '0']);
	assert.deepEqual(redirectChain(list[0], list, 2, base).map(r => r.id), ['2', '1']);
});

test('the page\'s fetch and XHR join their records through the browser spans', () => {
	const go = capture('go-orders');
	const others = history.filter(r => r.traceId === go.record.traceId && r.id !== go.record.id);
	assert.deepEqual(others.map(r => r.url).sort(), ['/api/products', '/api/products?via=xhr']);
	// The hook's calls, as the browser spans of the trace tell them.
	const calls = go.named('HTTP GET', 'browser').map(s => ({ spanId: s.id, start: Number(s.start / 1000000n), requestId: '' }));
	const items = pageRequests(calls, others, go.spans);
	assert.equal(items.length, 2, 'each call and its record are one item');
	for (const item of items) {
		assert.ok(item.call && item.record);
		assert.equal(go.spans.get(recordSpanId(item.record)).parentId, item.call.spanId);
	}
	assert.ok(items[0].time <= items[1].time);
	assert.equal(items[0].record.url, '/api/products', 'the fetch ran before the XHR');
	// Without the calls (another page's toolbar), the records alone, by start.
	assert.deepEqual(pageRequests([], others, go.spans).map(x => x.record.url), ['/api/products', '/api/products?via=xhr']);
	// A call that names its record joins it even before the spans arrive.
	const named = pageRequests([{ spanId: 'ffff', start: 1, requestId: others[0].id }], others, new Map());
	assert.equal(named.find(x => x.call).record, others[0]);
});

test('a record\'s span and total time', () => {
	const go = capture('go-orders');
	assert.equal(recordSpanId(go.record), go.record.spanId);
	assert.equal(recordSpanId({ id: 'abc' }), 'abc');
	assert.equal(recordMs(go.record), go.record.timing.totalMs);
	assert.equal(recordMs(find('GET', '/orders')), find('GET', '/orders').durationMs);
	assert.equal(recordMs(null), 0);
});

test('a WebSocket session: both directions, then its close', () => {
	const record = { kind: 'websocket', session: {
		openedAt: '2026-12-07T08:00:00Z', closedAt: '2026-12-07T08:00:01.5Z', durationMs: 1500,
		clientToServer: { bytes: 72063, messages: 4, text: 3, binary: 1, frames: 8, pings: 1, closes: 1 },
		serverToClient: { bytes: 72027, messages: 4, text: 3, binary: 1, frames: 6, pongs: 1, closes: 1 },
		closeCode: 1000, closeReason: 'bye', closedBy: 'client' } };
	const facts = sessionFacts(record);
	assert.equal(facts.title, 'WebSocket session');
	assert.deepEqual(Object.fromEntries(facts.rows), {
		Opened: '2026-12-07T08:00:00Z', Closed: '2026-12-07T08:00:01.5Z (1.50 s)',
		'Client \u2192 server': '4 messages (3 text, 1 binary), 70.4 KB, 1 ping',
		'Server \u2192 client': '4 messages (3 text, 1 binary), 70.3 KB, 1 pong',
		Close: '1000 \u201cbye\u201d by the client' });
});

test('an open event stream, a socket that ended without a Close frame, and a plain exchange', () => {
	const stream = sessionFacts({ kind: 'sse', session: { openedAt: 't0', serverToClient: { bytes: 137, messages: 5 } } });
	assert.deepEqual(stream, { title: 'Event stream', rows: [['Opened', 't0'], ['Closed', 'still open'], ['Server \u2192 client', '5 events, 137 B']] });
	const dropped = sessionFacts({ kind: 'websocket', session: { openedAt: 't0', closedAt: 't1', closeCode: 1006 } });
	assert.equal(Object.fromEntries(dropped.rows).Close, '1006: the connection ended without a Close frame');
	assert.equal(sessionFacts({ kind: '', status: 200 }), null);
});
