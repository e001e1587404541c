/* What clicks and keys do: the buttons named by data-act, the tabs (arrow
   keys move between them), the waterfall's rows (a tree: arrows move,
   fold and unfold), links to spans (data-goto), Alt+T and Esc; and when
   the page is looked at again or left, the streams. */

import { CORNERS, THEMES, next } from './shell.js';
import { el, setAttrs, append } from './dom.js';
import { replay } from './replay.js';

export function bindEvents(app) {
	const { badge, panel, tabs, tabButtons, body, root, flash } = app.shell, ui = app.ui, trace = app.trace, client = app.client;

	function download() {
		const id = app.state.traceId;
		client.traceBlob(id).then(blob => {
			const url = URL.createObjectURL(new Blob([blob], { type: 'application/json' }));
			const a = setAttrs(el('a'), { href: url, download: 'trace-' + id + '.json' });
			append(root, a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(url), 4e4);
			flash('Downloaded trace-' + id + '.json');
		}, e => flash('Download failed: ' + e.message));
	}
	function copyTraceId() {
		const id = app.state.traceId;
		(navigator.clipboard ? navigator.clipboard.writeText(id) : Promise.reject(new Error('no clipboard')))
			.then(() => flash('Copied trace ID ' + id), () => flash('Trace ID: ' + id));
	}
	const actions = {
		close: () => { app.setOpen(false); badge.focus(); },
		theme: () => { ui.theme = next(THEMES, ui.theme); app.remember('tracebar.theme', ui.theme); app.shell.placeHost(); app.render(); },
		pos: () => { ui.corner = next(CORNERS, ui.corner); app.remember('tracebar.pos', ui.corner); app.shell.placeHost(); app.render(); },
		home: () => app.show(app.homeId),
		copy: copyTraceId,
		download,
		expand: () => { app.state.collapsed = new Set(); app.render(); },
		collapse: () => trace.collapseTo(1),
		unselect: () => { app.state.selected = ''; app.render(); },
		lvl: target => {
			const level = target.getAttribute('data-lvl'), off = ui.levelsOff;
			if (off.has(level)) off.delete(level);
			else off.add(level);
			app.render();
		},
		req: target => app.show(target.getAttribute('data-req')),
		sqlsort: target => { ui.sqlSlowest = target.getAttribute('data-sort') === 'slowest'; app.render(); },
		headers: () => app.setTab('headers'),
		replay: () => { if (app.state.record) replay(app, app.state.record); }
	};
	panel.addEventListener('click', e => {
		const target = e.target.closest('[data-act]'), name = target && target.getAttribute('data-act');
		const action = name && Object.prototype.hasOwnProperty.call(actions, name) && actions[name];
		// data-act=depth is the depth picker's: its change event acts.
		if (!action) return;
		action(target);
		e.stopPropagation();
	});
	badge.onclick = () => app.setOpen(!ui.open);

	tabs.onclick = e => { const b = e.target.closest('.tb-tab'); if (b) app.setTab(b.dataset.tab); };
	tabs.onkeydown = e => {
		const n = app.tabs.length, i = app.tabs.indexOf(ui.tab);
		const to = new Map([['ArrowRight', i + 1], ['ArrowLeft', i - 1], ['Home', 0], ['End', n - 1]]).get(e.key);
		if (to === undefined) return;
		e.preventDefault();
		app.setTab(app.tabs[(to + n) % n]);
		tabButtons[ui.tab].focus();
	};

	body.onclick = e => {
		const t = e.target, link = t.closest('.tb-go'), row = t.closest('.tb-span');
		if (link) return app.select(link.dataset.goto, true);
		if (!row) return;
		const id = row.dataset.spanId, state = app.state;
		state.focused = id;
		if (!t.closest('.tb-tog')) return app.select(id);
		if (state.collapsed.has(id)) state.collapsed.delete(id);
		else state.collapsed.add(id);
		app.render();
	};
	body.onkeydown = e => {
		if (!e.target.classList.contains('tb-span')) return;
		const state = app.state, view = trace.view, id = e.target.dataset.spanId, i = view.index.get(id), row = view.rows[i];
		if (!row) return;
		const moveTo = j => {
			if (j == null || j < 0 || j >= view.rows.length) return;
			state.focused = view.rows[j].span.id;
			trace.reveal(state.focused);
		};
		const fold = folded => {
			if (folded) state.collapsed.add(id);
			else state.collapsed.delete(id);
			app.render();
			trace.reveal(id);
		};
		const foldable = row.childCount && !view.hits;
		switch (e.key) {
		case 'Enter': case ' ': app.select(id); break;
		case 'ArrowDown': moveTo(i + 1); break;
		case 'ArrowUp': moveTo(i - 1); break;
		case 'Home': moveTo(0); break;
		case 'End': moveTo(view.rows.length - 1); break;
		case 'ArrowRight': foldable && state.collapsed.has(id) ? fold(false) : moveTo(row.childCount ? i + 1 : null); break;
		case 'ArrowLeft': foldable && !state.collapsed.has(id) ? fold(true) : moveTo(view.index.get(row.span.parentId)); break;
		default: return;
		}
		e.preventDefault();
	};

	document.addEventListener('keydown', e => {
		if (app.page) return;
		if (e.altKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyT') {
			e.preventDefault();
			const inside = !!root.activeElement;
			app.setOpen(!ui.open);
			if (ui.open) tabButtons[ui.tab].focus();
			else if (inside) badge.focus();
			return;
		}
		if (e.key !== 'Escape' || !ui.open) return;
		const active = root.activeElement;
		// Esc clears a filter first.
		if (active && active.tagName === 'INPUT' && active.value) return;
		app.setOpen(false);
		if (active) badge.focus();
	}, true);

	// Looked at again: reopen the trace's stream, refresh the history.
	const wake = () => {
		client.openStream();
		if (ui.open && ui.tab === 'requests') {
			app.history.dead = false;
			app.schedule();
			if (app.list) client.startHistory();
		}
	};
	addEventListener('focus', wake);
	document.addEventListener('visibilitychange', () => { if (!document.hidden) wake(); });
	// Streams closed on leaving let the page into the back/forward cache.
	addEventListener('pagehide', () => { client.closeStream(); client.stopHistory(); });
	addEventListener('pageshow', e => { if (e.persisted) { client.openStream(); app.schedule(); } });
}
