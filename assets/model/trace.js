/* A trace's spans as a tree: parents and children, depth, the order of
   the waterfall, the critical path, the services and their colours, and
   the rows the waterfall shows when some spans are folded or a filter is
   on; the traces linked to it (a job it enqueued), grafted in. Spans are
   model/otlp.js's, in a Map by id. Pure. */

import { compareTimes } from './time.js';
import { SPAN_KINDS, anyValueText } from './otlp.js';

// A colour per service, distinct for up to 8 in one trace; no reds: red means error.
export const PALETTE = ['#3b82f6', '#14b8a6', '#8b5cf6', '#f59e0b', '#22c55e', '#f97316', '#64748b', '#d946ef'];

// Climbing parents stops here, in case a trace's parent ids loop.
const MAX_CLIMB = 1e4;

/* The tree of spans:
     children  Map parent id -> its child spans, by start time
     roots     spans without a parent in the trace (a parent not received
               yet, or none), by start time
     depth     Map span id -> depth (roots are 0)
     order     every span, depth first, children by start time (the
               waterfall's order); spans in a parent cycle come as roots
     start, end  the earliest start and latest end (BigInt ns; null if empty)
     services  Map service name -> span count
     errors, maxDepth */
export function buildTree(spans) {
	const children = new Map(), roots = [], depth = new Map(), order = [], services = new Map();
	let errors = 0, start = null, end = null, maxDepth = 0;
	for (const span of spans.values()) {
		if (span.error) errors++;
		if (start === null || span.start < start) start = span.start;
		if (end === null || span.end > end) end = span.end;
		services.set(span.service, (services.get(span.service) || 0) + 1);
		const parent = span.parentId;
		if (parent && parent !== span.id && spans.has(parent)) {
			const siblings = children.get(parent);
			if (siblings) siblings.push(span);
			else children.set(parent, [span]);
		} else roots.push(span);
	}
	const byStart = (a, b) => compareTimes(a.start, b.start);
	for (const list of children.values()) list.sort(byStart);
	roots.sort(byStart);
	// Depth first, with a stack: traces can be deep.
	const visit = root => {
		const stack = [[root, 0]];
		while (stack.length) {
			const [span, d] = stack.pop();
			if (depth.has(span.id)) continue;
			depth.set(span.id, d);
			if (d > maxDepth) maxDepth = d;
			order.push(span);
			const list = children.get(span.id);
			if (list) for (let i = list.length - 1; i >= 0; i--) stack.push([list[i], d + 1]);
		}
	};
	roots.forEach(visit);
	// Spans left over are in parent cycles: shown as roots.
	if (order.length < spans.size) [...spans.values()].sort(byStart).forEach(visit);
	return { children, roots, depth, order, start, end, services, errors, maxDepth };
}

// The root of the tree that holds the span spanId (a request's own span);
// without it, the longest root.
export function requestRoot(tree, spans, spanId) {
	let top = spanId ? spans.get(spanId) : null;
	for (let i = 0; top && top.parentId && spans.has(top.parentId) && i < MAX_CLIMB; i++) top = spans.get(top.parentId);
	return top || tree.roots.reduce((a, b) => !a || b.end - b.start > a.end - a.start ? b : a, null);
}

/* The critical path from top, as a Set of span ids: walking back from a
   span's end, the child that finished last before the cursor is on it,
   then the cursor moves to that child's start. Children that start
   before their parent or after its end (the browser's documentLoad, a
   later fetch) were not caused by its work and are skipped. */
export function criticalPath(tree, top) {
	const path = new Set();
	for (const stack = top ? [top] : []; stack.length;) {
		const span = stack.pop();
		if (path.has(span.id)) continue;
		path.add(span.id);
		let cursor = span.end;
		const inside = (tree.children.get(span.id) || []).filter(c => c.start >= span.start && c.start < span.end);
		inside.sort((a, b) => compareTimes(b.end, a.end));
		for (const child of inside) if (child.start < cursor) { stack.push(child); cursor = child.start; }
	}
	return path;
}

// Service name -> colour, by name order.
export const serviceColors = services => new Map([...services.keys()].sort().map((name, i) => [name, PALETTE[i % PALETTE.length]]));

// What the waterfall's filter searches in a span, lower-cased: name,
// service, id, kind, status message, attributes as key=value, event names.
const searchTexts = new WeakMap();
export function searchText(span) {
	let text = searchTexts.get(span);
	if (text === undefined) {
		const attributes = span.attributes.map(a => a && a.key + '=' + anyValueText(a.value)), events = span.events.map(e => e && e.name);
		const facts = [span.name, span.service, span.id, SPAN_KINDS[span.kind] || '', span.status.message || ''];
		text = [...facts, ...attributes, ...events].join('\n').toLowerCase();
		searchTexts.set(span, text);
	}
	return text;
}

/* The waterfall's rows, {span, depth, childCount}, in tree order. With a
   query: the spans whose searchText holds it (hits, a Set of ids) and
   their ancestors, folded or not. Else every span but those under a
   folded one (collapsed: a Set of ids). */
export function visibleRows(tree, spans, collapsed, query) {
	const rows = [], q = String(query || '').trim().toLowerCase();
	const row = span => ({ span, depth: tree.depth.get(span.id), childCount: (tree.children.get(span.id) || []).length });
	if (q) {
		const hits = new Set(), keep = new Set();
		for (const span of tree.order) {
			if (!searchText(span).includes(q)) continue;
			hits.add(span.id);
			for (let p = span, i = 0; p && !keep.has(p.id) && i < MAX_CLIMB; p = spans.get(p.parentId), i++) keep.add(p.id);
		}
		for (const span of tree.order) if (keep.has(span.id)) rows.push(row(span));
		return { rows, hits };
	}
	// The depth of the folded span whose subtree is being skipped.
	let foldedAt = -1;
	for (const span of tree.order) {
		const r = row(span);
		if (foldedAt >= 0) {
			if (r.depth > foldedAt) continue;
			foldedAt = -1;
		}
		rows.push(r);
		if (r.childCount && collapsed.has(span.id)) foldedAt = r.depth;
	}
	return { rows, hits: null };
}

// The spans to fold so that `levels` levels show: those with children at
// depth levels - 1 and below.
export function foldedBelow(tree, levels) {
	const folded = new Set();
	for (const span of tree.order) if (tree.depth.get(span.id) >= levels - 1 && tree.children.has(span.id)) folded.add(span.id);
	return folded;
}

// The ids of a span's ancestors, nearest first.
export function ancestorIds(spans, id) {
	const out = [];
	for (let span = spans.get(id), i = 0; span && span.parentId && i < MAX_CLIMB; span = spans.get(span.parentId), i++) {
		out.push(span.parentId);
	}
	return out;
}

/* The traces linked to this one, from the API's Related answer (the
   trace stream's "related" event), as the waterfall shows them: each
   other trace once, its span `top` and what descends from it under this
   trace's span `under`. A link's spanId is this trace's span, its
   linkedSpanId the other's: a job's CONSUMER span that links to this
   request's PRODUCER goes under the PRODUCER; a span of this trace that
   links into another trace gets the span it links to. The server bounds
   the traces whose spans it sends; a graft without them shows nothing. */
export function linkedGrafts(related) {
	const grafts = [], seen = new Set(), links = related ? [...related.outgoing || [], ...related.incoming || []] : [];
	for (const link of links) {
		if (!link || seen.has(link.traceId)) continue;
		seen.add(link.traceId);
		grafts.push({ traceId: link.traceId, under: link.spanId, top: link.linkedSpanId });
	}
	return grafts;
}

/* spans (a Map by id) with the linked traces grafted in: for each graft
   whose spans have come (linked: Map trace id -> Map of its spans), its
   top span and the spans below it; the top a copy with `under` as its
   parent and `linked` naming its trace. spans itself when there is
   nothing to graft, else a new Map. */
export function graftLinked(spans, grafts, linked) {
	let out = spans;
	for (const graft of grafts) {
		const other = linked.get(graft.traceId), top = other && other.get(graft.top);
		if (!top || !spans.has(graft.under) || spans.has(top.id)) continue;
		if (out === spans) out = new Map(spans);
		const children = buildTree(other).children;
		out.set(top.id, Object.assign({}, top, { parentId: graft.under, linked: graft.traceId }));
		for (const stack = [top.id]; stack.length;) {
			for (const child of children.get(stack.pop()) || []) {
				if (out.has(child.id)) continue;
				out.set(child.id, child);
				stack.push(child.id);
			}
		}
	}
	return out;
}
