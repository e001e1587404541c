/* Span times and the waterfall's time axis. OTLP times are decimal strings
   of nanoseconds since the epoch; they are kept as BigInt, since a Number
   holds an epoch in ns only to about 0.25 µs. Pure. */

export function nanos(value) {
	try { return BigInt(value || 0); } catch (e) { return isFinite(+value) ? BigInt(Math.round(+value)) : 0n; }
}

// The ms from start to end (BigInt ns), as a Number.
export const msBetween = (start, end) => Number(end - start) / 1e6;

export const compareTimes = (a, b) => a < b ? -1 : a > b ? 1 : 0;

// An epoch time in ms (performance.timeOrigin + now()) as OTLP ns text.
export const nanosText = epochMs => String(BigInt(Math.round(epochMs * 1000)) * 1000n);

/* The axis of a waterfall durationMs long: about five ticks, at a step of
   1, 2 or 5 times a power of ten ms, from 0; no tick past 93% of the width
   (its label would be cut at the edge). Each tick has its time (ms) and
   its place across the axis (at, 0 to 1). */
export function timeAxis(durationMs) {
	const duration = Math.max(durationMs, 0.001), rough = duration / 5;
	const power = 10 ** Math.floor(Math.log10(rough)), f = rough / power;
	const step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power, ticks = [];
	for (let i = 0; i * step / duration < 0.93; i++) ticks.push({ ms: i * step, at: i * step / duration });
	return { duration, step, ticks };
}
