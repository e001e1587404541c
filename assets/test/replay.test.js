import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canReplay } from '../ui/replay.js';

// The page the toolbar is on: canReplay reads location when called.
globalThis.location = new URL('https://shop.test/orders');

test('a replay is offered for a plain request of this page\'s origin only, never for an imported one or a session', () => {
	const cases = [
		[{ url: '/orders?page=2', host: 'shop.test' }, true, 'the whole record, this host'],
		[{ url: '/orders' }, true, 'a summary: it names no host'],
		[{ url: '/orders', host: 'admin.shop.test' }, false, 'another site of the same Caddy'],
		[{ url: '/orders', host: 'shop.test', imported: true }, false, 'imported from a file'],
		[{ url: '/cleanup', kind: 'background' }, false, 'a trace no proxied request started'],
		[{ url: '/chat', host: 'shop.test', kind: 'websocket' }, false, 'a WebSocket session'],
		[{ url: '/events', host: 'shop.test', kind: 'sse' }, false, 'an event stream'],
		[{ url: '//evil.test/x', host: 'shop.test' }, false, 'a path the browser reads as another host'],
		[{ url: '/\\evil.test/x' }, false, 'the same, with a backslash'],
		[{ url: 'https://evil.test/x' }, false, 'an absolute URL (a proxy request)'],
		[{ url: '*' }, false, 'OPTIONS *'],
		[{ url: '' }, false, 'no URL']
	];
	for (const [record, want, why] of cases) assert.equal(canReplay(record), want, why);
});
