import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { libraryFile, ownFrame, parseStack } from '../model/stack.js';

// A fixture of testdata/stacks/ (capture.sh writes them): a header naming
// the program and runtime, a line "---", then the trace as printed.
const trace = name => readFileSync(new URL('../testdata/stacks/' + name + '.txt', import.meta.url), 'utf8').split('\n---\n')[1];
const dir = '/work/main/assets/testdata/stacks/'; // where capture.sh ran
const frames = text => parseStack(text).map(f => [f.function, f.file, f.line]);

test('Python: the File lines of both chained tracebacks, caret lines skipped', () => {
	const py = dir + 'python.py';
	assert.deepEqual(frames(trace('python')), [
		['load_order', py, 16],
		['handle', py, 27], ['view_order', py, 22], ['load_order', py, 18]]);
	assert.deepEqual(parseStack(trace('python')).map(f => f.textLine), [1, 9, 12, 15], 'the line that names the file');
});

test('Node.js: plain paths and ES modules\' file: URLs, async and anonymous frames, columns kept', () => {
	const stack = parseStack(trace('node'));
	assert.deepEqual(stack.map(f => [f.function, f.file, f.line, f.column]), [
		['loadOrder', dir + 'node-orders.cjs', 7, 29],
		['', dir + 'node.mjs', 12, 26],
		['Orders.view', dir + 'node.mjs', 12, 15],
		['handle', dir + 'node.mjs', 18, 10],
		['', dir + 'node.mjs', 24, 22]], 'Array.map (<anonymous>) names no file');
});

test('Java: at lines with module prefixes dropped, native frames and "... n more" skipped', () => {
	assert.deepEqual(frames(trace('java')), [
		['shop.Orders.load', 'Orders.java', 18],
		['shop.Orders.view', 'Orders.java', 23],
		['shop.Orders.main', 'Orders.java', 28],
		['jdk.internal.reflect.NativeMethodAccessorImpl.invoke', 'NativeMethodAccessorImpl.java', 77],
		['jdk.internal.reflect.DelegatingMethodAccessorImpl.invoke', 'DelegatingMethodAccessorImpl.java', 43],
		['java.lang.reflect.Method.invoke', 'Method.java', 569],
		['com.sun.tools.javac.launcher.Main.execute', 'Main.java', 419],
		['com.sun.tools.javac.launcher.Main.run', 'Main.java', 192],
		['com.sun.tools.javac.launcher.Main.main', 'Main.java', 132],
		['shop.Orders.lambda$load$0', 'Orders.java', 16],
		['java.util.Optional.orElseThrow', 'Optional.java', 403],
		['shop.Orders.load', 'Orders.java', 16]]);
});

test('Go: OTel Go\'s runtime.Stack, each function with the file line under it, inlined frames and created by included', () => {
	const sdk = '/root/go/pkg/mod/go.opentelemetry.io/otel/sdk@v1.47.0/trace/span.go', main = dir + 'go.go';
	assert.deepEqual(frames(trace('go')), [
		['go.opentelemetry.io/otel/sdk/trace.recordStackTrace', sdk, 527],
		['go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).RecordError', sdk, 509],
		['main.(*orders).load', main, 22],
		['main.main.func1.1', main, 32],
		['main.main.func1', main, 32],
		['main.main', main, 30]]);
	assert.deepEqual(parseStack(trace('go')).map(f => f.textLine), [2, 4, 6, 8, 10, 12], 'the tab lines');
});

test('Ruby: full_message with its cause, the first line\'s message after the frame', () => {
	const rb = dir + 'ruby.rb', rest = [['block in view_order', rb, 15], ['map', rb, 15], ['view_order', rb, 15], ['<main>', rb, 19]];
	assert.deepEqual(frames(trace('ruby')), [
		['rescue in load_order', rb, 11], ['load_order', rb, 8], ...rest,
		['fetch', rb, 9], ['load_order', rb, 9], ...rest]);
	// Ruby 3.4 quotes with ' and names the class (not installable here: the format of its NEWS).
	assert.deepEqual(frames("/app/orders.rb:9:in 'Hash#fetch': key not found: 3 (KeyError)\n\tfrom /app/orders.rb:15:in 'Orders#load'"),
		[['Hash#fetch', '/app/orders.rb', 9], ['Orders#load', '/app/orders.rb', 15]]);
});

test('PHP: where each exception was thrown, then its #n frames; internal functions skipped', () => {
	const php = dir + 'php.php';
	assert.deepEqual(frames(trace('php')), [
		['', php, 25], ['Orders->row', php, 16], ['Orders->load', php, 33], ['array_map', php, 33], ['view_order', php, 37],
		['', php, 18], ['Orders->load', php, 33], ['array_map', php, 33], ['view_order', php, 37]]);
	// OpenTelemetry PHP's own formatter writes Java's format with file names
	// (its tests' expected output, test_stacktrace_basic.phpt).
	assert.deepEqual(frames('Exception: outer\n\tat Test.create(test_stacktrace_basic.php:11)\n\tat {main}(test_stacktrace_basic.php:24)\nCaused by: Exception: inner\n\t... 1 more'),
		[['Test.create', 'test_stacktrace_basic.php', 11], ['{main}', 'test_stacktrace_basic.php', 24]]);
});

test('.NET: frames with " in <file>:line n", the arguments dropped; frames without symbols skipped', () => {
	const data = 'C:\\src\\Shop\\Data\\OrderRepository.cs';
	assert.deepEqual(frames(trace('dotnet')), [
		['Shop.Data.OrderRepository.Load', data, 21],
		['Shop.Data.OrderRepository.Load', data, 25],
		['Shop.Controllers.OrdersController.GetAsync', 'C:\\src\\Shop\\Controllers\\OrdersController.cs', 31],
		['Shop.Middleware.TimingMiddleware.InvokeAsync', 'C:\\src\\Shop\\Middleware\\TimingMiddleware.cs', 17]]);
});

test('text without frames has none', () => {
	for (const text of ['', null, 'Error: boom', 'KeyError: 3\n\nThe above exception was the direct cause', 'goroutine 1 [running]:']) {
		assert.deepEqual(parseStack(text), [], String(text));
	}
});

test('library and runtime files are told from the app\'s', () => {
	for (const file of ['/root/go/pkg/mod/go.opentelemetry.io/otel/sdk@v1.47.0/trace/span.go', '/usr/local/go/src/net/http/server.go',
		'/app/node_modules/express/lib/router/layer.js', 'node:internal/process/task_queues', '/usr/lib/python3/dist-packages/django/core/handlers/base.py',
		'/usr/local/lib/python3.11/site-packages/flask/app.py', '/var/lib/gems/3.1.0/gems/rack-3.0.0/lib/rack.rb', '/var/www/vendor/laravel/framework/src/x.php']) {
		assert.equal(libraryFile(file), true, file);
	}
	for (const file of [dir + 'go.go', '/app/src/orders.py', 'C:\\src\\Shop\\Data\\OrderRepository.cs', 'Orders.java']) {
		assert.equal(libraryFile(file), false, file);
	}
});

test('the app\'s innermost frame: the first outside libraries, the last in Python\'s order', () => {
	const own = name => { const f = ownFrame(trace(name)); return f && [f.function, f.file.split(/[\\/]/).pop(), f.line]; };
	assert.deepEqual(own('go'), ['main.(*orders).load', 'go.go', 22], 'past the OTel SDK\'s frames');
	assert.deepEqual(own('python'), ['load_order', 'python.py', 18], 'where the raised exception was raised');
	assert.deepEqual(own('node'), ['loadOrder', 'node-orders.cjs', 7]);
	assert.deepEqual(own('dotnet'), ['Shop.Data.OrderRepository.Load', 'OrderRepository.cs', 21]);
	assert.equal(ownFrame('goroutine 1 [running]:\nnet/http.(*conn).serve(0x1)\n\t/usr/local/go/src/net/http/server.go:2067 +0x690'), null, 'only the runtime\'s');
});

test('a line over 1,000 characters names no frame: a 100 KB message is skipped, the frames after it are read', () => {
	const payload = JSON.stringify(Array.from({ length: 2500 }, (_, i) => ({ id: i, note: 'row ' + i + ' in table (a)', path: '/app/x.php:' + i })));
	assert.ok(payload.length > 100000, String(payload.length));
	const text = ['OutOfBoundsException: ' + payload + ' in /app/x.php:25', 'Stack trace:', '#0 /app/x.php(16): Orders->row(' + payload + ')',
		'#1 /app/x.php(33): Orders->load()', '   at Shop.Load(Int32 id) in /src/' + ' in a'.repeat(25000) + '.cs:line 9', '#2 {main}'].join('\n');
	assert.deepEqual(parseStack(text).map(f => [f.function, f.file, f.line, f.textLine]), [['Orders->load', '/app/x.php', 33, 3]]);
	const line = length => '#0 /app/' + 'a'.repeat(length - 20) + '.php(3): f()';
	assert.equal(line(1000).length, 1000);
	assert.equal(parseStack(line(1000)).length, 1, 'a line of 1,000 characters is read');
	assert.deepEqual(parseStack(line(1001)), []);
});

test('many long lines that are no frames, each just under the bound, among frames: the frames and their lines', () => {
	const noise = [
		'E: ' + ' in a'.repeat(199), // PHP's thrown line, without a line number
		'   at x' + ' in a'.repeat(198), // .NET's, without ":line n"
		'   at ' + 'a ('.repeat(331), // Node.js's, without ":line:column"
		'   at ' + 'a/'.repeat(496), // Java's, without the call
		'\tat ' + 'f(a:1:'.repeat(165), // Node.js's again, with colons and digits
		'File "' + '", line 1'.repeat(110) + 'x' // Python's, with text after the line number
	];
	const lines = [], want = [];
	for (let i = 0; i < 1200; i++) {
		if (i % 100 === 99) {
			lines.push('#' + i + ' /app/orders.php(' + i + '): Orders->load(' + 'a, '.repeat(318) + 'z)');
			want.push(['Orders->load', '/app/orders.php', i, i]);
		} else lines.push(noise[i % noise.length]);
	}
	assert.ok(lines.every(line => line.length > 980 && line.length <= 1000), 'each near the bound');
	assert.deepEqual(parseStack(lines.join('\n')).map(f => [f.function, f.file, f.line, f.textLine]), want);
});
