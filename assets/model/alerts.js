/* The alerts of a request (the API's /alerts: {kind, severity, message,
   spanId?, header?, code?}, the most severe first) and the tone the panel
   and the badge show them in. Pure. */

export const SEVERITIES = ['error', 'warning', 'info'];

export const ALERT_NAMES = {
	n_plus_one: 'N+1 queries', slow_query: 'Slow query', sequential_calls: 'Sequential calls', uncompressed: 'Uncompressed',
	cookie_flags: 'Cookie flags', redirect_chain: 'Redirect chain', error_span: 'Error', large_document: 'Large document'
};

const rank = alert => { const i = SEVERITIES.indexOf(alert && alert.severity); return i < 0 ? SEVERITIES.length : i; };

// The alerts to show, in the API's order (it sorts them), nulls left out.
export const alertList = alerts => Array.isArray(alerts) ? alerts.filter(Boolean) : [];

// The tone of a count of alerts: that of the most severe one.
export function alertTone(alerts) {
	const top = Math.min(...(alerts || []).map(rank), SEVERITIES.length);
	return ['bad', 'warn', 'info'][top] || '';
}
