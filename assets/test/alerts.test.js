import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALERT_NAMES, alertList, alertTone } from '../model/alerts.js';

// Alerts as GET /api/requests/{id}/alerts answers them: the most severe first.
const alerts = [
	{ kind: 'error_span', severity: 'error', message: 'apply coupon: coupon "SPRING" expired', spanId: '00f067aa0ba902b8' },
	{ kind: 'n_plus_one', severity: 'warning', message: 'SELECT name FROM products WHERE id = ? ran 4 times under GET /orders', spanId: '00f067aa0ba902b7', code: { file: '/app/main.go', line: 331 } },
	{ kind: 'cookie_flags', severity: 'warning', message: 'Set-Cookie session without HttpOnly', header: 'Set-Cookie' },
	{ kind: 'uncompressed', severity: 'info', message: 'text/html of 40 KB sent without Content-Encoding', header: 'Content-Encoding' }];

test('the alerts keep the API\'s order; nulls and what is not a list are dropped', () => {
	assert.deepEqual(alertList(alerts).map(a => a.kind), ['error_span', 'n_plus_one', 'cookie_flags', 'uncompressed']);
	const reversed = alerts.slice().reverse();
	assert.deepEqual(alertList(reversed), reversed, 'not sorted again');
	assert.deepEqual(alertList([{ kind: 'x', severity: 'odd' }, null, { kind: 'y', severity: 'info' }]).map(a => a.kind), ['x', 'y']);
	assert.deepEqual(alertList(null), []);
	assert.deepEqual(alertList({ kind: 'x' }), []);
});

test('the tone is the most severe alert\'s', () => {
	assert.equal(alertTone(alerts), 'bad');
	assert.equal(alertTone(alerts.filter(a => a.severity !== 'error')), 'warn');
	assert.equal(alertTone([alerts[3]]), 'info');
	assert.equal(alertTone([]), '');
});

test('every kind of the API has a name', () => {
	for (const kind of ['n_plus_one', 'slow_query', 'sequential_calls', 'uncompressed', 'cookie_flags', 'redirect_chain', 'error_span', 'large_document']) {
		assert.ok(ALERT_NAMES[kind], kind);
	}
});
