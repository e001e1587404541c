/* The Headers panel: the request's headers at each hop (client to proxy,
   proxy to upstream, upstream to proxy, proxy to client), tagged added,
   changed or removed against the hop before; php_fastcgi's params. */

import { ARROW, DOT, ELLIPSIS, bytes, plural } from '../../model/format.js';
import { append, el } from '../dom.js';
import { emptyNote, encodedNote, section } from '../widgets.js';

export const hasHeaders = m => !!m && typeof m === 'object' && Object.keys(m).length > 0;

// Lower-cased name -> {name, values}.
function byName(headers) {
	const out = new Map();
	if (!headers || typeof headers !== 'object') return out;
	for (const name in headers) {
		const values = [].concat(headers[name] == null ? [] : headers[name]).map(String);
		out.set(name.toLowerCase(), { name, values });
	}
	return out;
}

// A headers table, by name; with base, rows are tagged added, changed or
// removed against it. Returns the table and a summary ("5 headers · 1 added").
function headerRows(headers, base) {
	const current = byName(headers), previous = base && byName(base), rows = [], counts = { added: 0, changed: 0, removed: 0 };
	current.forEach((h, key) => {
		const before = previous && previous.get(key);
		const tag = !previous ? '' : !before ? 'added' : before.values.join('\n') !== h.values.join('\n') ? 'changed' : '';
		rows.push({ h, tag, before });
	});
	if (previous) previous.forEach((h, key) => { if (!current.has(key)) rows.push({ h, tag: 'removed' }); });
	rows.sort((a, b) => a.h.name.toLowerCase() < b.h.name.toLowerCase() ? -1 : 1);
	const table = el('table', 'tb-kv tb-hdr', rows.map(({ h, tag, before }) => {
		if (tag) counts[tag]++;
		const values = h.values.map((v, i) => [i ? el('br') : null, v]);
		const label = el('td', 'tb-tagc', tag && el('span', 'tb-tag tb-t-' + tag, tag));
		const tr = el('tr', tag && 'tb-d-' + tag, [el('th', null, h.name), el('td', null, values), label]);
		if (tag === 'changed') tr.title = 'was: ' + before.values.join(', ');
		return tr;
	}));
	const summary = [plural(current.size, 'header')];
	for (const tag in counts) if (counts[tag]) summary.push(counts[tag] + ' ' + tag);
	return { table: rows.length ? table : emptyNote('no headers'), summary: summary.join(DOT) };
}

function headerSection(title, headers, base, none) {
	if (none && !hasHeaders(headers)) return section(title, emptyNote(none));
	const x = headerRows(headers, base);
	return section(title, x.table, x.summary);
}

export function headersPanel(app) {
	const state = app.state, r = state.record, out = el('div', 'tb-pad');
	if (!r) return append(out, emptyNote(state.failed ? 'No request record.' : 'Loading request' + ELLIPSIS));
	const upstream = hasHeaders(r.upstreamRequestHeaders), fastcgi = hasHeaders(r.upstreamParams);
	// Upstream: the HTTP request headers, and php_fastcgi's params, each when there.
	const sent = upstream && headerRows(r.upstreamRequestHeaders, r.clientRequestHeaders), params = fastcgi && headerRows(r.upstreamParams);
	const toUpstream = [sent && sent.table,
		params && el('h4', null, ['FastCGI params', el('span', 'tb-sub', params.summary.replace(/header/g, 'param'))]), params && params.table,
		!upstream && !fastcgi && emptyNote('no upstream request')];
	// The client's response is compared with the upstream's, when there is one.
	const answered = hasHeaders(r.upstreamResponseHeaders) && r.upstreamResponseHeaders;
	append(out,
		el('div', 'tb-note', 'Tags compare proxy' + ARROW + 'upstream with client' + ARROW + 'proxy, and proxy' + ARROW + 'client with upstream' +
			ARROW + 'proxy.'),
		headerSection('Client' + ARROW + 'proxy', r.clientRequestHeaders),
		section('Proxy' + ARROW + 'upstream', toUpstream, sent && sent.summary),
		headerSection('Upstream' + ARROW + 'proxy', r.upstreamResponseHeaders, null,
			upstream || fastcgi ? 'no upstream response' : 'no upstream request'),
		headerSection('Proxy' + ARROW + 'client', r.clientResponseHeaders, answered, !r.done && 'response not sent yet'));
	if (r.clientEncoding) {
		const body = 'Body: ' + bytes(r.clientBytes || 0) + ' sent' + encodedNote(r) +
			'; the client got it with Content-Encoding: ' + r.clientEncoding + '.';
		append(out, el('div', 'tb-note tb-sm', body));
	}
	return out;
}
