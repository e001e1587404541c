import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALERT_NAMES, alertTone, sortAlerts } from '../model/alerts.js';

// Alerts as GET /api/requests/{id}/alerts answers them.
const alerts = [
	{ kind: 'uncompressed', severity: 'info', message: 'text/html of 40 KB sent without Content-Encoding', header: 'Content-Encoding' },
	{ kind: 'n_plus_one', severity: 'warning', message: 'SELECT name FROM products WHERE id = ? ran 4 times under GET /orders', spanId: '00f067aa0ba902b7', code: { file: '/app/main.go', line: 331 } },
	{ kind: 'error_span', severity: 'error', message: 'apply coupon: coupon "SPRING" expired', spanId: '00f067aa0ba902b8' },
	{ kind: 'cookie_flags', severity: 'warning', message: 'Set-Cookie session without HttpOnly', header: 'Set-Cookie' }];

test('errors first, then warnings, then the rest, each in the API\'s order', () => {
	assert.deepEqual(sortAlerts(alerts).map(a => a.kind), ['error_span', 'n_plus_one', 'cookie_flags', 'uncompressed']);
	assert.deepEqual(sortAlerts([{ kind: 'x', severity: 'odd' }, null, { kind: 'y', severity: 'info' }]).map(a => a.kind), ['y', 'x'], 'unknown severities last');
	assert.deepEqual(sortAlerts(null), []);
});

test('the tone is the most severe alert\'s', () => {
	assert.equal(alertTone(alerts), 'bad');
	assert.equal(alertTone(alerts.filter(a => a.severity !== 'error')), 'warn');
	assert.equal(alertTone([alerts[0]]), 'info');
	assert.equal(alertTone([]), '');
});

test('every kind of the API has a name', () => {
	for (const kind of ['n_plus_one', 'slow_query', 'sequential_calls', 'uncompressed', 'cookie_flags', 'redirect_chain', 'error_span', 'large_document']) {
		assert.ok(ALERT_NAMES[kind], kind);
	}
});
