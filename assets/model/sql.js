/* SQL: the statements of a trace's database spans, grouped by shape, with
   the repeats that make an N+1 flagged. Pure. */

import { msBetween } from './time.js';

/* A statement's shape, what its repeats share: comments dropped, string,
   number and placeholder literals ($1) become ?, IN lists (?, ?, ?)
   become (?), whitespace collapses.
   "SELECT * FROM t WHERE id = 3 -- x" gives "SELECT * FROM t WHERE id = ?". */
export const normaliseSQL = statement => statement
	.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
	.replace(/'(?:[^']|'')*'/g, '?')
	.replace(/\$\d+\b/g, '?')
	.replace(/(?<![\w.$])(?:0x[0-9a-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?)\b/gi, '?')
	.replace(/\(\s*\?(?:\s*,\s*\?)*\s*\)/g, '(?)')
	.replace(/\s+/g, ' ')
	.trim();

/* The database spans (those with span.db, see otlp.js) of spans, in the
   order given, grouped by system and shape. A group run more than once
   under one parent span is flagged: twice "duplicate", 3 or more times
   "N+1" (a query per row of an earlier result is the usual cause).
   Groups come flagged first (most repeats), then by total time. */
export function groupQueries(spans) {
	const byKey = new Map();
	let count = 0, totalMs = 0;
	for (const span of spans) {
		if (!span.db) continue;
		const key = span.db.system + '\u0000' + span.db.shape, length = msBetween(span.start, span.end);
		let group = byKey.get(key);
		if (!group) {
			group = { key, shape: span.db.shape, system: span.db.system, spans: [], totalMs: 0,
				perParent: new Map(), repeats: 0, texts: new Map() };
			byKey.set(key, group);
		}
		group.spans.push(span);
		group.totalMs += length;
		const underParent = (group.perParent.get(span.parentId) || 0) + 1;
		group.perParent.set(span.parentId, underParent);
		group.repeats = Math.max(group.repeats, underParent);
		group.texts.set(span.db.statement, (group.texts.get(span.db.statement) || 0) + 1);
		count++;
		totalMs += length;
	}
	const groups = [...byKey.values()].sort((a, b) => b.repeats - a.repeats || b.totalMs - a.totalMs);
	let flagged = 0;
	for (const group of groups) {
		group.flag = group.repeats >= 3 ? 'N+1' : group.repeats === 2 ? 'duplicate' : '';
		// The parent it repeats most under, and how many share one exact text.
		group.repeatParent = group.repeats > 1 ? [...group.perParent].find(([, n]) => n === group.repeats)[0] : '';
		group.identical = Math.max(...group.texts.values());
		if (group.flag) flagged++;
	}
	return { groups, count, totalMs, flagged, hasNPlusOne: groups.some(g => g.flag === 'N+1') };
}
