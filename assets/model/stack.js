/* Stack traces as OTel SDKs record them (exception.stacktrace), read into
   the frames that name a source location, so each can open in an editor:

     { function ('' when the line names none), file, line, column (Node.js
       only), textLine (the index of the text's line that names the file) }

   The formats, each its runtime's own rendering (the fixtures in
   testdata/stacks/ hold real ones):
     Python   File "/app/x.py", line 12, in view
     Node.js  at view (/app/x.js:12:5), at async file:///app/x.mjs:3:1
     Java     at shop.Orders.load(Orders.java:18) (also OTel PHP's frames)
     Go       main.(*shop).orders(0x1, ...) then a tab and /app/main.go:304 +0x3e7
     Ruby     /app/x.rb:8:in `load' (3.4: in 'Orders#load'), from ...
     PHP      #0 /app/x.php(16): Orders->row(), and "... in /app/x.php:25"
     .NET     at Shop.Orders.Load(Int32 id) in /src/Orders.cs:line 14
   Frames without a file or line (native, internal, <anonymous>) are left
   out. Pure.

   Every pattern runs in time linear in the line: a part that must not
   reach past a separator says so ((?! in ).), rather than a lazy .+? whose
   every stop would send a greedy .+ to the line's end and back; and lines
   longer than MAX_LINE (a minified source line, a JSON payload in a
   message) are skipped before any pattern runs. */

const MAX_LINE = 1000;
const DOTNET = /^\s*at ((?:(?! in ).)+) in (.+):line (\d+)\s*$/;
const PYTHON = /^\s*File "([^"]+)", line (\d+)(?:, in (.+))?$/;
const NODE = /^\s*at (?:async )?(?:((?:(?! \().)+) \()?(.+?):(\d+):(\d+)\)?$/;
const JAVA = /^\s*at (?:[^\s(/]*\/)*([^\s(/]+)\((.+?):(\d+)\)$/;
const GO_FILE = /^\t(\S.*?):(\d+)(?: \+0x[0-9a-f]+)?$/;
const RUBY = /^\s*(?:from )?(\S.*?):(\d+):in [`']([^`']+)'(?::|$)/;
const PHP_FRAME = /^#\d+ (.+?)\((\d+)\): (.+)$/;
const PHP_THROWN = /^(?:Next |PHP Fatal error:\s+Uncaught )?[A-Za-z_\\][\w\\]*(?:: .*)? in ((?:(?! in ).)+):(\d+)$/;

// A call without its arguments: "Load(Int32 id)" gives "Load".
const callName = text => text.replace(/^(.[^(]*)\(.*\)$/, '$1');

// A file: URL (Node.js's ES modules) as its path.
function filePath(location) {
	if (!location.startsWith('file://')) return location;
	let path = location.slice(7);
	try { path = decodeURIComponent(path); } catch (e) { /* keep it as sent */ }
	return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path;
}

// Go's function line: the name without its arguments, "created by" and
// "in goroutine n".
const goFunction = text => text.replace(/^created by /, '').replace(/ in goroutine \d+$/, '').replace(/\((?:[^()]*)\)$/, '');

// One line's frame, or null; previous: the line before it (Go's function).
function frameOf(text, previous) {
	let m;
	if ((m = DOTNET.exec(text))) return { function: callName(m[1]), file: m[2], line: +m[3] };
	if ((m = PYTHON.exec(text))) return { function: m[3] || '', file: m[1], line: +m[2] };
	if ((m = GO_FILE.exec(text))) return { function: previous && previous.length <= MAX_LINE && !/^\s/.test(previous) ? goFunction(previous.trim()) : '', file: m[1], line: +m[2] };
	if ((m = NODE.exec(text))) return { function: m[1] || '', file: filePath(m[2]), line: +m[3], column: +m[4] };
	if ((m = JAVA.exec(text))) return { function: m[1], file: m[2], line: +m[3] };
	if ((m = RUBY.exec(text))) return { function: m[3], file: m[1], line: +m[2] };
	if ((m = PHP_FRAME.exec(text))) return { function: callName(m[3]), file: m[1], line: +m[2] };
	if ((m = PHP_THROWN.exec(text))) return { function: '', file: m[1], line: +m[2] };
	return null;
}

// The frames of a stack trace's text, in the text's order.
export function parseStack(text) {
	const lines = String(text || '').split(/\r?\n/), out = [];
	lines.forEach((line, i) => {
		const frame = line.length <= MAX_LINE && frameOf(line, lines[i - 1]);
		if (frame && frame.file && frame.line > 0) out.push(Object.assign(frame, { textLine: i }));
	});
	return out;
}

// Whether a file is a library's or the runtime's rather than the app's
// own: installed packages, module caches, the standard libraries.
export const libraryFile = file =>
	/node_modules|site-packages|dist-packages|\/go\/pkg\/mod\/|\/usr\/(?:local\/)?(?:go|lib)\/|\/gems\/|\/vendor\/|^node:|^<|^\/rustc\//.test(file);

// The app's innermost frame of a stack trace (not a library's), or null:
// the first in the text, save in Python's ("most recent call last"), where
// it is the last.
export function ownFrame(text, frames = parseStack(text)) {
	const own = frames.filter(frame => !libraryFile(frame.file));
	return (/most recent call last/.test(text) ? own[own.length - 1] : own[0]) || null;
}
