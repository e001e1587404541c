/* The Trace panel: the waterfall, a virtual list (only the rows in view
   exist, so a 5,000-span trace scrolls), with a filter, folding, depth,
   the critical path, the services' colours, and the selected span's
   detail; the traces linked to the request's (a job it enqueued) under
   the span that links them, as their spans come (ui/client.js).
   Built once; update() refreshes it from app.state, paint() the rows in
   view. */

import { DASH, DOT, ELLIPSIS, ms, plural } from '../../model/format.js';
import { SPAN_KINDS, attributeText } from '../../model/otlp.js';
import { buildTree, foldedBelow, graftLinked, serviceColors, visibleRows } from '../../model/trace.js';
import { msBetween, nanos, timeAxis } from '../../model/time.js';
import { recordSpanId } from '../../model/requests.js';
import { actionButton, append, button, el, percent, place, replace, setAttrs } from '../dom.js';
import { emptyNote } from '../widgets.js';
import { traceOf } from '../state.js';
import { spanDetail } from './span-detail.js';

// A row's height in px, as in the CSS.
export const ROW_HEIGHT = 24;

export const rowSelector = id => '.tb-span[data-span-id="' + CSS.escape(id) + '"]';

export function createTracePanel(app) {
	const ui = app.ui, root = app.shell.root;
	const view = {
		rows: [], // the visible rows (model/trace.js visibleRows)
		index: new Map(), // span id -> its row's index
		hits: null, // the filter's matches, a Set of ids, or null
		painted: [-1, -1], // the range of rows in the DOM
		start: null, durationMs: 1, // the time axis
		servicesKey: '', detailSpan: null, detailStart: null, scrollTop: 0
	};

	const filter = setAttrs(el('input', 'tb-q'), { type: 'search', placeholder: 'Filter by name or attribute',
		'aria-label': 'Filter spans by name or attribute', spellcheck: 'false', autocomplete: 'off' });
	filter.oninput = () => { ui.query = filter.value; scroller.scrollTop = 0; app.render(); };
	filter.onkeydown = e => { if (e.key === 'Escape' && filter.value) clearFilter(); };
	const hitCount = setAttrs(el('span', 'tb-hits'), { role: 'status' });
	const depthPicker = setAttrs(el('select', 'tb-selx'), { 'aria-label': 'Expand to depth', 'data-act': 'depth' });
	depthPicker.onchange = () => { const v = +depthPicker.value; if (v) collapseTo(v); depthPicker.value = ''; };
	const services = el('div', 'tb-svcs'), axis = el('div', 'tb-axis');
	const rowsEl = setAttrs(el('div', 'tb-rows'), { role: 'tree', 'aria-label': 'Spans' });
	const scroller = el('div', 'tb-scroll', [axis, rowsEl]);
	scroller.onscroll = () => paint();
	const detailPane = el('div', 'tb-dpane');
	const tools = el('div', 'tb-tools', [filter, hitCount, actionButton('tb-tb', 'Expand all', 'expand'),
		actionButton('tb-tb', 'Collapse all', 'collapse'), el('label', 'tb-lbl', ['Depth ', depthPicker]),
		el('span', 'tb-cpk', 'critical path'), services]);
	const element = el('div', 'tb-trace', [tools, scroller, detailPane]);

	// Empties the filter; render: at once (else the caller renders).
	function clearFilter(render = true) {
		filter.value = ui.query = '';
		if (render) app.render();
	}

	// Fold so that `levels` levels show.
	function collapseTo(levels) {
		app.state.collapsed = foldedBelow(waterfall(app.state).tree, levels);
		app.render();
	}

	// The request's trace (state.js traceOf) with the linked traces'
	// spans grafted in, for a version of both.
	function waterfall(state) {
		const links = state.links, key = state.version + '/' + (links ? links.version : 0);
		if (view.graftOf !== state || view.graftKey !== key) {
			const base = traceOf(state), spans = links ? graftLinked(state.spans, links.grafts, links.traces) : state.spans;
			const tree = spans === state.spans ? base.tree : buildTree(spans);
			view.graft = { spans, tree, critical: base.critical, colors: spans === state.spans ? base.colors : serviceColors(tree.services) };
			view.graftOf = state;
			view.graftKey = key;
		}
		return view.graft;
	}

	function update() {
		const state = app.state, { spans, tree, colors } = waterfall(state);
		if (!spans.size) return showEmpty(state);
		// Spans arriving above keep the selected row, when in view, else the
		// first row in view, where it is on screen.
		const first = Math.floor(Math.max(0, scroller.scrollTop - axis.offsetHeight) / ROW_HEIGHT), selectedAt = view.index.get(state.selected);
		const anchorAt = selectedAt >= first && selectedAt < first + scroller.clientHeight / ROW_HEIGHT ? selectedAt : first;
		const anchor = (scroller.scrollTop > 0 || anchorAt !== first) && view.rows[anchorAt];
		const { duration, step, ticks } = timeAxis(msBetween(tree.start, tree.end));
		view.start = tree.start;
		view.durationMs = duration;
		element.style.setProperty('--tick', step / duration * 100 + '%');
		const { rows, hits } = visibleRows(tree, spans, state.collapsed, ui.query);
		view.rows = rows;
		view.hits = hits;
		view.index = new Map(rows.map((r, i) => [r.span.id, i]));
		// Sized before the anchor's scroll below, which it would clamp.
		rowsEl.style.height = rows.length * ROW_HEIGHT + 'px';
		const summary = plural(spans.size, 'span') + DOT + plural(tree.services.size, 'service') + DOT + ms(duration) +
			(tree.maxDepth ? DOT + 'depth ' + (tree.maxDepth + 1) : '');
		const labels = ticks.map(t => place(el('span', 'tb-tk', t.ms ? ms(t.ms) : '0'), t.at));
		replace(axis, el('div', 'tb-nm', summary), el('div', 'tb-lane tb-ticks', labels));
		hitCount.textContent = hits ? plural(hits.size, 'match') : '';
		const key = [...tree.services.keys()].join('\n');
		if (view.servicesKey !== key) {
			view.servicesKey = key;
			replace(services, [...tree.services.keys()].sort().map(name => {
				const swatch = el('i');
				swatch.style.background = colors.get(name);
				return el('span', 'tb-sv', [swatch, name]);
			}));
		}
		if (depthPicker.options.length !== tree.maxDepth + 2) {
			const depths = Array.from({ length: tree.maxDepth + 1 }, (_, i) => setAttrs(el('option', null, String(i + 1)), { value: i + 1 }));
			replace(depthPicker, el('option', null, DASH), depths);
			depthPicker.options[0].value = '';
		}
		const anchorNow = anchor && view.index.get(anchor.span.id);
		if (anchorNow != null && anchorNow !== anchorAt) scroller.scrollTop += (anchorNow - anchorAt) * ROW_HEIGHT;
		const selected = state.selected && spans.get(state.selected);
		if (view.detailSpan !== selected || view.detailStart !== tree.start) {
			view.detailSpan = selected;
			view.detailStart = tree.start;
			replace(detailPane, selected && spanDetail(app, selected, tree.start));
			detailPane.hidden = !selected;
		}
		paint(true);
	}

	function showEmpty(state) {
		view.rows = [];
		view.index = new Map();
		replace(rowsEl);
		rowsEl.style.height = '';
		const why = state.traceId ? state.evicted ? 'The trace was evicted from the store.' : 'Waiting for spans' + ELLIPSIS
			: state.record || state.failed ? 'No trace for this request.' : 'Loading' + ELLIPSIS;
		replace(axis, emptyNote(why));
		replace(detailPane);
		detailPane.hidden = true;
		hitCount.textContent = '';
	}

	// Puts the rows in view (and 8 more each side) in the DOM, keeping focus.
	function paint(force) {
		if (!element.isConnected) return;
		const n = view.rows.length, top = Math.max(0, scroller.scrollTop - axis.offsetHeight), height = scroller.clientHeight || 640;
		const from = Math.max(0, Math.floor(top / ROW_HEIGHT) - 8), to = Math.min(n, Math.ceil((top + height) / ROW_HEIGHT) + 8);
		if (!force && from === view.painted[0] && to === view.painted[1]) return;
		view.painted = [from, to];
		const state = app.state, active = root.activeElement, activeRow = active && active.closest && active.closest('.tb-span');
		const activeId = activeRow && activeRow.dataset.spanId, onToggle = active && active.classList.contains('tb-tog');
		// The one row reached by Tab: the focused one, the selected one or the first.
		const tabbable = [state.focused, state.selected].find(id => view.index.has(id)) || (n ? view.rows[0].span.id : '');
		const out = [];
		for (let i = from; i < to; i++) out.push(row(view.rows[i], i, tabbable));
		replace(rowsEl, out);
		const again = activeId && rowsEl.querySelector(rowSelector(activeId)), focus = again && (onToggle ? again.querySelector('.tb-tog') : again);
		if (focus) focus.focus({ preventScroll: true });
	}

	// One row: the name column (fold toggle, colour, name, kind, service)
	// and the lane (the bar, events, the duration label).
	function row({ span, depth, childCount }, i, tabbable) {
		const state = app.state, { colors, critical } = waterfall(state), hits = view.hits;
		const selected = span.id === state.selected, folded = !!childCount && state.collapsed.has(span.id) && !hits, color = colors.get(span.service);
		const classes = 'tb-span' + (selected ? ' tb-sel' : '') + (span.error ? ' tb-err' : '') +
			(span.id === recordSpanId(state.record) ? ' tb-me' : '') + (critical.has(span.id) ? ' tb-cp' : '') +
			(hits ? hits.has(span.id) ? ' tb-hit' : ' tb-dim' : '');
		const length = msBetween(span.start, span.end);
		const r = setAttrs(el('div', classes), { 'data-span-id': span.id, tabindex: span.id === tabbable ? 0 : -1, role: 'treeitem',
			'aria-level': depth + 1, 'aria-selected': selected,
			'aria-label': span.service + ' ' + (span.name || 'span') + ', ' + ms(length) + (span.error ? ', error' : '') });
		r.style.top = i * ROW_HEIGHT + 'px';
		if (childCount) r.setAttribute('aria-expanded', !folded);
		const dot = el('span', 'tb-dot');
		dot.style.background = color;
		const toggleLabel = (folded ? 'Expand ' : 'Collapse ') + plural(childCount, 'child span');
		const toggle = childCount ? setAttrs(button('tb-tog', folded ? '\u25b8' : '\u25be', toggleLabel), { tabindex: -1 }) : el('span', 'tb-tog');
		const kind = span.kind > 1 ? el('span', 'tb-kind', SPAN_KINDS[span.kind]) : null;
		// A span read back from the team's backend (another instance's, or an app's that exports there).
		const remote = attributeText(span.attributes, 'tracebar.source') === 'backend' ?
			setAttrs(el('span', 'tb-kind tb-bk', 'backend'), { title: 'From the team\'s tracing backend' }) : null;
		// The top of a linked trace (a job this request enqueued): a button
		// that shows that trace's record, its root span's, once it has come.
		const top = span.linked && [...state.links.traces.get(span.linked).values()].find(s => !s.parentId);
		const linked = span.linked && (top ? actionButton('tb-kind tb-lk', 'linked', 'req', 'Show trace ' + span.linked + ', linked to this one', { 'data-req': top.id })
			: el('span', 'tb-kind', 'linked'));
		const name = setAttrs(el('div', 'tb-nm', [toggle, dot, el('span', 'tb-sn', span.name || '(unnamed)'), kind, remote, linked,
			el('span', 'tb-svc', span.service), folded && el('span', 'tb-n', '+' + childCount)]), { title: span.service + ': ' + span.name });
		name.style.paddingLeft = 4 + Math.min(depth, 40) * 14 + 'px';
		const left = msBetween(view.start, span.start) / view.durationMs, width = length / view.durationMs;
		const bar = place(el('div', 'tb-bar'), left, width), lane = el('div', 'tb-lane', bar);
		if (!span.error) bar.style.background = color;
		for (const event of span.events.length > 50 ? [] : span.events) {
			const at = msBetween(view.start, nanos(event.timeUnixNano)) / view.durationMs;
			const mark = place(el('i', 'tb-ev' + (event.name === 'exception' ? ' tb-exv' : '')), at);
			append(lane, setAttrs(mark, { title: event.name || 'event' }));
		}
		// The duration: after the bar, before it, or inside it when the bar spans the lane.
		const label = el('span', 'tb-dur', ms(length));
		if (left + width <= 0.82) label.style.left = percent(left + width);
		else if (left >= 0.18) label.style.right = percent(1 - left);
		else { label.className += ' tb-in'; label.style.right = percent(1 - left - width); }
		append(lane, label);
		return append(r, name, lane);
	}

	// Scrolls span id's row into view and focuses it.
	function reveal(id) {
		const i = view.index.get(id);
		if (i == null) return;
		const header = axis.offsetHeight, top = i * ROW_HEIGHT + header, height = scroller.clientHeight;
		if (top < scroller.scrollTop + header) scroller.scrollTop = top - header;
		else if (top + ROW_HEIGHT > scroller.scrollTop + height) scroller.scrollTop = top + ROW_HEIGHT - height;
		paint(true);
		const r = rowsEl.querySelector(rowSelector(id));
		if (r) r.focus({ preventScroll: true });
	}

	// Shows the panel in body (kept across renders, with its scroll).
	function mount(body) {
		if (body.firstChild !== element || body.childNodes.length !== 1) {
			replace(body, element);
			scroller.scrollTop = view.scrollTop;
		}
		update();
	}
	const unmount = () => { view.scrollTop = scroller.scrollTop; };

	return { element, mount, unmount, update, paint, reveal, collapseTo, clearFilter, view, isHit: id => !view.hits || view.hits.has(id) };
}
