import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketQuantile, exemplarTarget, metricServices, metricValue, metricWindow, metricsSettled, seriesExemplars, seriesLabel, seriesView } from '../model/metrics.js';
import { ms } from '../model/format.js';
import { buildTree } from '../model/trace.js';
import { capture, load } from './fixtures.js';

// GET /api/metrics around a load of the Go demo app's / (after one of
// /orders), its metrics flushed by the app's /debug/flush-metrics, and
// that load's record: go-metrics.json and go-metrics.request.json.
const answer = load('go-metrics.json'), record = load('go-metrics.request.json');
const window = metricWindow(record);
const find = (service, name, route) => answer.series.find(s => s.service === service && s.name === name &&
	(!route || s.attributes.some(a => a.key === 'http.route' && a.value.stringValue === route)));

test('the window is the request \u00b1 30 s, in unix ms', () => {
	const start = Date.parse(record.startTime);
	assert.deepEqual(window, { from: start - 30000, to: start + record.durationMs + 30000 });
	assert.equal(metricWindow(null), null);
	assert.equal(metricWindow({ startTime: 'not a time' }), null);
	for (const s of answer.series) for (const p of s.points) assert.ok(p.time >= window.from && p.time <= window.to, s.name + ' point outside the window asked for');
});

test('a read of the metrics 90 s after the window\'s end is the last: the SDKs export at least every 60 s', () => {
	const read = (at, error) => ({ at, to: window.to, error });
	assert.equal(metricsSettled(read(window.from)), false);
	assert.equal(metricsSettled(read(window.to + 60000)), false);
	assert.equal(metricsSettled(read(window.to + 90000)), false);
	assert.equal(metricsSettled(read(window.to + 90001)), true);
	assert.equal(metricsSettled(read(window.to + 90001, '')), true);
	assert.equal(metricsSettled(read(window.to + 90001, 'Could not read the metrics: 502')), false, 'a failed read is tried again');
});

test('the trace\'s services come first, in its order, then the others by name', () => {
	const waterfall = buildTree(capture('go-index').spans).order.map(span => span.service);
	assert.ok(waterfall.indexOf('shop-web') < waterfall.indexOf('inventory'), 'the shop calls the inventory');
	assert.deepEqual(metricServices(answer.series, waterfall), ['shop-web', 'inventory']);
	assert.deepEqual(metricServices(answer.series, ['inventory', 'shop-web', 'inventory']), ['inventory', 'shop-web']);
	assert.deepEqual(metricServices(answer.series, ['shop-web']), ['shop-web', 'inventory']);
	assert.deepEqual(metricServices(answer.series, []), ['inventory', 'shop-web']);
	assert.deepEqual(metricServices([{ name: 'x' }, { service: 'b' }], ['b']), ['b', 'unknown']);
});

test('values read in their unit', () => {
	assert.equal(metricValue(0.0125, 's'), ms(12.5));
	assert.equal(metricValue(3, 'ms'), ms(3));
	assert.equal(metricValue(2048, 'By'), '2.0 KB');
	assert.equal(metricValue(3, '{connection}'), '3', 'annotations left out');
	assert.equal(metricValue(0.123456, '1'), '0.1235');
	assert.equal(metricValue(123456.7, 'Cel'), '123457 Cel');
	assert.equal(metricValue(NaN, 's'), '\u2014');
});

test('a histogram quantile lies in the bucket that holds it', () => {
	const bounds = [1, 2, 5];
	assert.equal(bucketQuantile(bounds, [0, 0, 0, 0], 0.5), null, 'no counts');
	assert.equal(bucketQuantile(bounds, [2, 0, 0, 0], 0.5), 0.5, 'half way into the first bucket, from 0');
	assert.equal(bucketQuantile(bounds, [0, 4, 0, 0], 0.75), 1.75);
	assert.equal(bucketQuantile(bounds, [0, 0, 0, 3], 0.5), 5, 'past the last bound: the last bound');
	const p95 = bucketQuantile(bounds, [10, 5, 5, 0], 0.95);
	assert.ok(p95 > 2 && p95 <= 5, 'the 19th of 20 is in (2, 5]: ' + p95);
});

test('the request\'s duration histogram: its one measurement, p50 and p95 in its bucket, an exemplar to its span', () => {
	const series = find('shop-web', 'http.server.request.duration', '/{$}'), point = series.points[0];
	const view = seriesView(series, window), bucket = point.counts.findIndex(c => c > 0);
	const lower = bucket ? point.bounds[bucket - 1] : 0, upper = point.bounds[bucket];
	assert.ok(point.sum > lower && point.sum <= upper, 'the measurement is in the bucket counted');
	assert.match(view.text, /^1 \u00d7 \u00b7 p50 .+ \u00b7 p95 .+$/);
	assert.equal(view.text.includes('since'), false, 'the run started in the window: all of it is the window\'s');
	assert.equal(view.text, '1 \u00d7 \u00b7 p50 ' + metricValue(lower + (upper - lower) / 2, 's') + ' \u00b7 p95 ' + metricValue(lower + (upper - lower) * 0.95, 's'));
	assert.deepEqual(view.bars, [1], 'one bucket used, full height');
	const exemplars = seriesExemplars(series, window);
	assert.equal(exemplars.length, 1);
	assert.equal(exemplars[0].traceId, record.traceId);
	assert.equal(exemplars[0].request, record.id);
	assert.deepEqual(exemplarTarget(exemplars[0], record.traceId), { span: exemplars[0].spanId });
	assert.deepEqual(exemplarTarget(exemplars[0], 'another trace'), { request: record.id });
	assert.equal(exemplarTarget({ traceId: 'x', spanId: 'y' }, 'z'), null, 'a trace not stored leads nowhere');
	assert.equal(seriesExemplars(series, { from: 0, to: window.from }).length, 0, 'measured outside the window');
	assert.match(seriesLabel(series), /^http\.request\.method=GET, http\.response\.status_code=200, http\.route=\/\{\$\}, /);
});

test('a cumulative histogram counts the window: the last point less the one before it, if of the same run', () => {
	const bounds = [1, 2];
	const series = (before, start) => ({ kind: 'histogram', temporality: 'cumulative', unit: 's', before,
		points: [{ start, time: 5000, count: 7, sum: 9, bounds, counts: [1, 5, 1] }] });
	const same = seriesView(series({ start: 0, time: 500, count: 3, sum: 3, bounds, counts: [1, 2, 0] }, 0), { from: 1000, to: 9000 });
	assert.match(same.text, /^4 \u00d7/);
	assert.deepEqual(same.bars, [1, 1 / 3], 'buckets 2 and 3: 3 and 1');
	const reset = seriesView(series({ start: 0, time: 500, count: 3, sum: 3, bounds, counts: [1, 2, 0] }, 800), { from: 1000, to: 9000 });
	assert.match(reset.text, /^7 \u00d7 .* since /, 'a new run that started before the window: counted since its start');
	const inWindow = seriesView(series(null, 2000), { from: 1000, to: 9000 });
	assert.match(inWindow.text, /^7 \u00d7/);
	assert.equal(inWindow.text.includes('since'), false);
	const delta = seriesView({ kind: 'histogram', temporality: 'delta', unit: 's', points: [
		{ start: 0, time: 1, count: 1, sum: 1, bounds, counts: [1, 0, 0] },
		{ start: 1, time: 2, count: 2, sum: 3, bounds, counts: [0, 2, 0] }] }, { from: 0, to: 9 });
	assert.match(delta.text, /^3 \u00d7/);
	assert.deepEqual(delta.bars, [0.5, 1]);
});

test('histogram points without buckets (the API leaves empty fields out) count for nothing, and do not break the view', () => {
	const bounds = [1, 2], window = { from: 1000, to: 9000 };
	const delta = seriesView({ kind: 'histogram', temporality: 'delta', unit: 's', points: [
		{ start: 0, time: 1000, count: 0, sum: 0 },
		{ start: 1000, time: 2000, count: 2, sum: 3, bounds, counts: [0, 2, 0] }] }, window);
	assert.match(delta.text, /^2 \u00d7 \u00b7 p50 /);
	assert.deepEqual(delta.bars, [1]);
	const before = { start: 0, time: 500, count: 0, sum: 0 };
	const cumulative = seriesView({ kind: 'histogram', temporality: 'cumulative', unit: 's', before,
		points: [{ start: 0, time: 5000, count: 3, sum: 4, bounds, counts: [1, 2, 0] }] }, window);
	assert.match(cumulative.text, /^3 \u00d7 .* since /, 'no buckets to take off: counted since the run started');
	const empty = seriesView({ kind: 'histogram', temporality: 'cumulative', unit: 's', before,
		points: [{ start: 0, time: 5000, count: 0, sum: 0 }] }, window);
	assert.deepEqual(empty.bars, []);
	assert.match(empty.text, /^0 \u00d7 \u00b7 mean \u2014/);
	const noBounds = seriesView({ kind: 'histogram', temporality: 'delta', unit: 's', points: [{ start: 0, time: 1000, count: 4, sum: 2, counts: [4] }] }, window);
	assert.match(noBounds.text, /^4 \u00d7 \u00b7 p50 \u2014 \u00b7 p95 \u2014$/, 'one bucket without bounds: no quantiles');
});

test('histogram points of other bounds than the last point\'s are left out', () => {
	const window = { from: 1000, to: 9000 };
	const delta = seriesView({ kind: 'histogram', temporality: 'delta', unit: 's', points: [
		{ start: 0, time: 1000, count: 10, sum: 5, bounds: [1], counts: [5, 5] },
		{ start: 1000, time: 2000, count: 1, sum: 0.5, bounds: [1, 2], counts: [1, 0, 0] },
		{ start: 2000, time: 3000, count: 2, sum: 3, bounds: [1, 2], counts: [0, 2, 0] }] }, window);
	assert.match(delta.text, /^3 \u00d7/, 'the last two points: 1 and 2');
	assert.deepEqual(delta.bars, [0.5, 1]);
	const cumulative = seriesView({ kind: 'histogram', temporality: 'cumulative', unit: 's',
		before: { start: 0, time: 500, count: 10, sum: 5, bounds: [1], counts: [5, 5] },
		points: [{ start: 0, time: 5000, count: 3, sum: 4, bounds: [1, 2], counts: [1, 2, 0] }] }, window);
	assert.match(cumulative.text, /^3 \u00d7 .* since /, 'the point before the window has other buckets: nothing to take off');
	assert.deepEqual(cumulative.bars, [0.5, 1]);
});

test('a counter shows its increase over the window, a gauge its last value', () => {
	const loaded = find('shop-web', 'shop.products.loaded');
	assert.equal(seriesView(loaded, window).text, '+4', 'the run started in the window');
	assert.equal(seriesExemplars(loaded, window)[0].traceId, record.traceId, 'the products were loaded in the request');
	const counter = (before, start) => ({ kind: 'sum', monotonic: true, temporality: 'cumulative', before,
		points: [{ start, time: 5000, value: 20 }, { start, time: 6000, value: 26 }] });
	const view = seriesView(counter({ start: 0, time: 500, value: 14 }, 0), { from: 1000, to: 9000 });
	assert.equal(view.text, '+12');
	assert.deepEqual(view.bars, [1, 1], 'per export: 6 and 6');
	assert.match(seriesView(counter(null, 0), { from: 1000, to: 9000 }).text, /^\+26 since /);
	assert.equal(seriesView({ kind: 'sum', monotonic: true, temporality: 'delta', points: [{ value: 2 }, { value: 3 }] }, window).text, '+5');
	const idle = answer.series.find(s => s.name === 'db.client.connection.count' && s.attributes.some(a => a.value.stringValue === 'idle'));
	assert.equal(seriesView(idle, window).text, String(idle.points[0].value));
	assert.deepEqual(seriesView(idle, window).bars, [], 'one point: no bars');
	const memory = find('shop-web', 'go.memory.used');
	assert.equal(seriesView(memory, window).text, metricValue(memory.points[0].value, 'By'));
	const gauge = seriesView({ kind: 'gauge', points: [{ value: 2 }, { value: 4 }] }, window);
	assert.deepEqual(gauge, { text: '4', bars: [0.5, 1] });
});

test('exponential histograms and summaries show their count and mean; no points, a dash', () => {
	const exponential = { kind: 'exponential_histogram', temporality: 'cumulative', unit: 'ms',
		points: [{ start: 2000, time: 5000, count: 4, sum: 10, scale: 1, zeroCount: 0, positive: { offset: 0, counts: [4] } }] };
	assert.equal(seriesView(exponential, { from: 1000, to: 9000 }).text, '4 \u00d7 \u00b7 mean ' + ms(2.5));
	const summary = { kind: 'summary', points: [{ start: 0, time: 5000, count: 2, sum: 3, quantiles: [] }] };
	assert.match(seriesView(summary, { from: 1000, to: 9000 }).text, /^2 \u00d7 \u00b7 mean 1\.5 since /);
	assert.deepEqual(seriesView({ kind: 'gauge', points: [] }, window), { text: '\u2014', bars: [] });
});
