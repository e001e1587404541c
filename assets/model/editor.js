/* Links that open a source file at a line in the developer's editor: the
   URL template of /api/config ("vscode://file/{file}:{line}" and the
   like), the container paths mapped to the host's (editorPaths), and the
   OTel code.* attributes that name a span's file and line. Pure. */

import { attributeText } from './otlp.js';

// A path as a URL takes it: as it is, save what would end it or change
// its meaning (space, %, ?, #, &, + and what is not ASCII).
const encodePath = path => encodeURI(path).replace(/[?#&+]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());

// The file as the editor's machine sees it: the first editorPaths entry
// whose "from" is a prefix of the path (up to a /) maps it to its "to".
export function hostPath(config, file) {
	for (const map of (config && config.editorPaths) || []) {
		const from = String((map && map.from) || '');
		if (from && (file === from || file.startsWith(from.endsWith('/') ? from : from + '/'))) return String(map.to || '') + file.slice(from.length);
	}
	return file;
}

// Schemes that run script or show content rather than open an editor: a
// link with one is never made (the server refuses such a template too).
// Browsers read a URL's scheme past leading spaces and control characters
// and without its tabs and newlines, and so is it read here.
const UNSAFE = /^[\0- ]*(?:javascript|data|vbscript):/i;

/* The editor URL for file at line, or null when no editor is configured,
   the file is not an absolute path (Java's Orders.java, <anonymous>,
   node:internal: no editor could find them) or the URL's scheme is unsafe
   (UNSAFE). Windows paths (C:\src\x.cs) go with forward slashes, as
   editors' URL handlers take them. */
export function editorLink(config, file, line) {
	const template = config && config.editor;
	if (!template || !file) return null;
	let path = hostPath(config, String(file));
	if (/^[A-Za-z]:[\\/]/.test(path)) path = path.replace(/\\/g, '/');
	else if (path[0] !== '/') return null;
	const number = Math.max(1, Math.floor(+line) || 1), encoded = encodePath(path);
	// After one slash (vscode://file/{file}) the path goes without its own:
	// two would make its first segment a host. After two (file://{file}) it
	// keeps it, and a Windows path gets one.
	const href = template.replace(/\{file\}/g, (all, at) => {
		const before = template.slice(Math.max(0, at - 2), at);
		if (before === '//') return encoded[0] === '/' ? encoded : '/' + encoded;
		return before.endsWith('/') ? encoded.replace(/^\//, '') : encoded;
	}).replace(/\{line\}/g, number);
	return UNSAFE.test(href.replace(/[\t\n\r]/g, '')) ? null : href;
}

/* The source location code.* attributes name: {file, line, function}, or
   null without a file. The current names (code.file.path,
   code.line.number, code.function.name) win over the older ones
   (code.filepath, code.lineno, code.namespace with code.function). */
export function codeLocation(attributes) {
	const text = key => attributeText(attributes, key);
	const file = text('code.file.path') || text('code.filepath');
	if (!file) return null;
	const older = text('code.function'), namespace = text('code.namespace');
	return {
		file,
		line: +(text('code.line.number') || text('code.lineno')) || 0,
		function: text('code.function.name') || (namespace && older ? namespace + '.' + older : older)
	};
}

// The code location of span or, when it names none, of its nearest
// ancestor that does (a database span issued from code that a span of
// the app's names); spans: a Map by id.
export function nearestCode(spans, span) {
	const seen = new Set();
	for (let at = span; at && !seen.has(at.id); at = spans.get(at.parentId)) {
		seen.add(at.id);
		const found = codeLocation(at.attributes);
		if (found) return Object.assign(found, { spanId: at.id });
	}
	return null;
}

// A location as people read it: the file's last two path segments and the line.
export function shortLocation(file, line) {
	const parts = String(file).split(/[\\/]/);
	return parts.slice(-2).join('/') + (line ? ':' + line : '');
}
