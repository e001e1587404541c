/* Numbers as text: durations, sizes, counts and clock times. Pure. */

export const DASH = '\u2014';
export const ELLIPSIS = '\u2026';
export const DOT = ' \u00b7 ';
export const ARROW = ' \u2192 ';

// A duration in ms as people read it: 850 µs, 2.35 ms, 12.3 ms, 143 ms,
// 1.25 s, 12.5 s; a dash when unknown.
export function ms(value) {
	if (value == null || !isFinite(value)) return DASH;
	const a = Math.abs(value);
	if (a === 0) return '0 ms';
	if (a >= 1000) return (value / 1000).toFixed(a >= 1e4 ? 1 : 2) + ' s';
	if (a >= 1) return value.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2) + ' ms';
	return (value * 1000).toFixed(0) + ' \u00b5s';
}

export function bytes(n) {
	if (!isFinite(n)) return DASH;
	return n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB' : (n / 1048576).toFixed(2) + ' MB';
}

// "1 span", "2 spans", "3 queries", "2 matches".
export function plural(n, word) {
	if (n === 1) return n + ' ' + word;
	if (/[^aeiou]y$/.test(word)) return n + ' ' + word.slice(0, -1) + 'ies';
	return n + ' ' + word + (/(ch|sh|s|x)$/.test(word) ? 'es' : 's');
}

// A time (anything Date takes) as local hh:mm:ss.mmm; '' when invalid.
export function clock(time) {
	const d = new Date(time);
	return isNaN(d) ? '' : d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}
