import { test } from 'node:test';
import assert from 'node:assert/strict';

// The UI modules need a page to run, but they load without one: every
// import names an export that exists (the server's join checks the same
// at start-up, test or not, for the files it serves).
test('every UI module loads, its imports resolved', async () => {
	const app = await import('../ui/app.js');
	assert.equal(typeof app.startToolbar, 'function');
	const dom = await import('../ui/dom.js');
	assert.equal(typeof dom.el, 'function');
});
