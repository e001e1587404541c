/* The app's metrics around a request (the API's /api/metrics: series of
   gauges, sums, histograms, times in unix ms): the window to ask for, the
   services in order, what a series shows over the window (the latest
   value, a counter's increase, a histogram's count and percentiles, and
   bars: its buckets, the others' values over time) and where an exemplar
   leads. Exponential histograms and summaries show their count and mean.
   Pure. */

import { anyValueText } from './otlp.js';
import { DASH, bytes, clock, ms } from './format.js';

const sum = values => values.reduce((a, b) => a + b, 0);

// From the request's start − 30 s to its end + 30 s (unix ms): the SDKs
// export every 10 to 60 s, so a point soon after still measures it.
export function metricWindow(record) {
	const start = record ? Date.parse(record.startTime) : NaN;
	return isFinite(start) ? { from: start - 3e4, to: start + (record.durationMs || 0) + 3e4 } : null;
}

// Whether a read of the metrics ({ at, to: its window's end, error },
// unix ms) is the last one needed: it succeeded after the window's points
// were all in (the SDKs export every 10 to 60 s, so 90 s after the
// window's end, reading again finds nothing new).
export const metricsSettled = read => !read.error && read.at > read.to + 9e4;

// The services of series: those of the trace first, in the order of
// first (its spans' services, in the waterfall's order), then the others
// by name.
export function metricServices(series, first) {
	const rank = service => first.indexOf(service) + 1 || 1e9;
	return [...new Set(series.map(s => s.service || 'unknown'))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
}

// A series' attributes as "key=value, ...".
export const seriesLabel = series => (series.attributes || []).map(a => a.key + '=' + anyValueText(a.value)).join(', ');

// A value in its metric's unit (UCUM): durations and sizes as people read
// them; annotations ({request}) and "1" left out.
export function metricValue(value, unit) {
	if (value == null || !isFinite(value)) return DASH;
	if (unit === 's' || unit === 'ms') return ms(unit === 's' ? value * 1000 : value);
	if (unit === 'By') return bytes(value);
	const text = String(Math.abs(value) >= 1e4 ? Math.round(value) : +value.toPrecision(4));
	return unit && unit !== '1' && unit[0] !== '{' ? text + ' ' + unit : text;
}

// The value at quantile q (0 to 1) of histogram buckets, interpolated in
// its bucket as Prometheus does; null without counts.
export function bucketQuantile(bounds, counts, q) {
	let rank = q * sum(counts), i = 0;
	if (!rank) return null;
	while (i < counts.length - 1 && rank > counts[i]) rank -= counts[i++];
	if (i >= bounds.length) return bounds[bounds.length - 1];
	const lower = i ? bounds[i - 1] : Math.min(0, bounds[0]);
	return lower + (bounds[i] - lower) * rank / counts[i];
}

// Heights (0 to 1) of bars for values.
function bars(values) {
	const top = Math.max(...values), bottom = Math.min(0, ...values);
	return values.map(v => top > bottom ? (v - bottom) / (top - bottom) : 0.5);
}

/* What a series shows over the window: text, and bars. A cumulative
   point counts from its start: the window's share is the last point less
   the one before the window (of the same start), or the last point
   itself when its start is in the window; else the text says since when
   it counts. Delta points add up. A histogram's buckets count only with
   points of the last one's bounds (the API leaves out empty fields): a
   point without buckets or of other bounds (the instrument changed) is
   left out. */
export function seriesView(series, window) {
	const points = series.points || [], last = points[points.length - 1], unit = series.unit, before = series.before;
	if (!last) return { text: DASH, bars: [] };
	const delta = series.temporality === 'delta', values = points.map(p => p.value), same = p => p && p.counts && String(p.bounds) === String(last.bounds);
	let base = before && before.start === last.start ? before : last.start >= window.from ? { value: 0, counts: [], bounds: last.bounds } : null;
	if (last.counts && !same(base)) base = null;
	const since = delta || base ? '' : ' since ' + clock(last.start);
	if (last.counts) {
		const counts = last.counts.map((c, i) => delta ? sum(points.filter(same).map(p => p.counts[i])) : c - (base && base.counts[i] || 0));
		const used = counts.map((c, i) => c ? i : '').filter(String), q = p => metricValue(bucketQuantile(last.bounds || [], counts, p), unit);
		return { text: sum(counts) + ' \u00d7 \u00b7 p50 ' + q(0.5) + ' \u00b7 p95 ' + q(0.95) + since, bars: bars(counts.slice(used[0], used.pop() + 1)) };
	}
	if (last.value == null) {
		const count = last.count - (base && base.count || 0);
		return { text: count + ' \u00d7 \u00b7 mean ' + metricValue((last.sum - (base && base.sum || 0)) / count, unit) + since, bars: [] };
	}
	if (series.kind !== 'sum' || !series.monotonic) return { text: metricValue(last.value, unit), bars: values.length > 1 ? bars(values) : [] };
	// A counter: its increase, and per export.
	if (delta) return { text: '+' + metricValue(sum(values), unit), bars: bars(values) };
	const steps = points.map((p, i) => p.value - (i ? points[i - 1] : base || p).value).slice(base ? 0 : 1);
	return { text: '+' + metricValue(last.value - (base ? base.value : 0), unit) + since, bars: steps.length > 1 ? bars(steps) : [] };
}

// The exemplars of a series measured in the window, newest first, one per span.
export function seriesExemplars(series, window) {
	const seen = new Set();
	return (series.points || []).flatMap(p => p.exemplars || []).filter(e => e.traceId && e.time >= window.from && e.time <= window.to
		&& !seen.has(e.spanId) && seen.add(e.spanId)).sort((a, b) => b.time - a.time);
}

// Where an exemplar leads: its span in the trace on show (traceId), else
// the record of its trace (the API names it), else nowhere (null).
export function exemplarTarget(exemplar, traceId) {
	if (traceId && exemplar.traceId === traceId) return { span: exemplar.spanId };
	return exemplar.request ? { request: exemplar.request } : null;
}
