import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeLocation, editorLink, hostPath, nearestCode, shortLocation } from '../model/editor.js';
import { readSpans } from '../model/otlp.js';

// The presets of toolbar.EditorPresets (the "editor" global option).
const PRESETS = {
	vscode: 'vscode://file/{file}:{line}',
	cursor: 'cursor://file/{file}:{line}',
	idea: 'idea://open?file={file}&line={line}',
	phpstorm: 'phpstorm://open?file={file}&line={line}',
	sublime: 'subl://open?url=file://{file}&line={line}'
};

test('each preset opens an absolute path at its line', () => {
	const want = {
		vscode: 'vscode://file/work/shop/main.go:42',
		cursor: 'cursor://file/work/shop/main.go:42',
		idea: 'idea://open?file=/work/shop/main.go&line=42',
		phpstorm: 'phpstorm://open?file=/work/shop/main.go&line=42',
		sublime: 'subl://open?url=file:///work/shop/main.go&line=42'
	};
	for (const [name, template] of Object.entries(PRESETS)) {
		assert.equal(editorLink({ editor: template, editorPaths: [] }, '/work/shop/main.go', 42), want[name], name);
	}
});

test('only what would break the URL is encoded', () => {
	const config = { editor: PRESETS.idea };
	assert.equal(editorLink(config, '/srv/my app/a&b/c#1+2?.py', 7), 'idea://open?file=/srv/my%20app/a%26b/c%231%2B2%3F.py&line=7');
	assert.equal(editorLink(config, '/srv/app/caf\u00e9.rb', 7), 'idea://open?file=/srv/app/caf%C3%A9.rb&line=7');
	assert.equal(editorLink(config, '/srv/app/(group)/[id]/page.tsx', 3), 'idea://open?file=/srv/app/(group)/%5Bid%5D/page.tsx&line=3');
});

test('Windows paths go with forward slashes', () => {
	assert.equal(editorLink({ editor: PRESETS.vscode }, 'C:\\src\\Shop\\Orders.cs', 21), 'vscode://file/C:/src/Shop/Orders.cs:21');
	assert.equal(editorLink({ editor: PRESETS.sublime }, 'C:\\src\\Shop\\Orders.cs', 21), 'subl://open?url=file:///C:/src/Shop/Orders.cs&line=21');
});

test('no link without an editor, a file, or an absolute path', () => {
	for (const [config, file] of [[null, '/a.go'], [{ editor: '' }, '/a.go'], [{ editor: PRESETS.vscode }, ''],
		[{ editor: PRESETS.vscode }, 'Orders.java'], [{ editor: PRESETS.vscode }, 'node:internal/timers'], [{ editor: PRESETS.vscode }, '<frozen runpy>']]) {
		assert.equal(editorLink(config, file, 1), null, JSON.stringify([config, file]));
	}
	assert.equal(editorLink({ editor: PRESETS.vscode }, '/a.go', 0), 'vscode://file/a.go:1', 'line 1 when unknown');
});

test('no link when the template\'s scheme runs script or shows content, however it is written', () => {
	for (const editor of ['javascript:alert({line})//{file}', 'JavaScript:void(0)/{file}', 'data:text/html,{file}', 'vbscript:msgbox({line}){file}',
		' \u0001javascript:x/{file}', 'java\tscript:x/{file}', 'jav\nas\rcript:x/{file}']) {
		assert.equal(editorLink({ editor }, '/app/x.go', 3), null, JSON.stringify(editor));
	}
	assert.equal(editorLink({ editor: 'javascript-editor://open/{file}' }, '/app/x.go', 3), 'javascript-editor://open/app/x.go', 'only the scheme counts');
	assert.equal(editorLink({ editor: 'x-data:{file}' }, '/app/x.go', 3), 'x-data:/app/x.go');
});

test('container paths map to the host by the first matching prefix, on a path boundary', () => {
	const config = { editor: PRESETS.vscode, editorPaths: [{ from: '/app', to: '/home/dev/shop' }, { from: '/app/vendor', to: '/never' }, { from: '/srv/', to: '/home/dev/srv/' }] };
	assert.equal(hostPath(config, '/app/vendor/x.php'), '/home/dev/shop/vendor/x.php', 'the first match wins');
	assert.equal(hostPath(config, '/application/x.php'), '/application/x.php', 'not a prefix up to a slash');
	assert.equal(hostPath(config, '/srv/x.py'), '/home/dev/srv/x.py');
	assert.equal(editorLink(config, '/app/handlers/orders.go', 9), 'vscode://file/home/dev/shop/handlers/orders.go:9');
	assert.equal(editorLink({ editor: PRESETS.vscode, editorPaths: [{ from: '/app', to: 'D:\\shop' }] }, '/app/x.cs', 2), 'vscode://file/D:/shop/x.cs:2');
});

const attributes = map => Object.entries(map).map(([key, value]) => ({ key, value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value } }));

test('code.* attributes: the current names win over the older ones', () => {
	assert.deepEqual(codeLocation(attributes({ 'code.file.path': '/app/cart.go', 'code.line.number': 31, 'code.function.name': 'main.(*shop).cart',
		'code.filepath': '/old.go', 'code.lineno': 1, 'code.function': 'old' })), { file: '/app/cart.go', line: 31, function: 'main.(*shop).cart' });
	assert.deepEqual(codeLocation(attributes({ 'code.filepath': '/app/views.py', 'code.lineno': 12, 'code.namespace': 'shop.views', 'code.function': 'cart' })),
		{ file: '/app/views.py', line: 12, function: 'shop.views.cart' });
	assert.deepEqual(codeLocation(attributes({ 'code.file.path': '/app/x.js' })), { file: '/app/x.js', line: 0, function: '' });
	assert.equal(codeLocation(attributes({ 'code.function': 'orders' })), null, 'no file, no location');
	assert.equal(codeLocation([]), null);
});

test('a database span\'s code is its own, else its nearest ancestor\'s', () => {
	const span = (id, parentId, attrs) => ({ traceId: '01', spanId: id, parentSpanId: parentId, name: id, attributes: attributes(attrs) });
	const doc = { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [
		span('0a', '', { 'code.file.path': '/app/server.go', 'code.line.number': 5 }),
		span('0b', '0a', { 'code.file.path': '/app/cart.go', 'code.line.number': 31 }),
		span('0c', '0b', {}),
		span('0d', '0c', { 'db.query.text': 'SELECT 1' }),
		span('0e', '0c', { 'db.query.text': 'SELECT 2', 'code.filepath': '/app/repo.go', 'code.lineno': 77 }),
		span('0f', 'gone', { 'db.query.text': 'SELECT 3' })] }] }] };
	const spans = new Map(readSpans(doc).map(s => [s.id, s]));
	assert.deepEqual(nearestCode(spans, spans.get('0d')), { file: '/app/cart.go', line: 31, function: '', spanId: '0b' });
	assert.deepEqual(nearestCode(spans, spans.get('0e')), { file: '/app/repo.go', line: 77, function: '', spanId: '0e' });
	assert.equal(nearestCode(spans, spans.get('0f')), null, 'the parent has not arrived');
	spans.get('0a').parentId = '0d'; // a cycle, as broken data may hold
	spans.get('0b').attributes = [];
	assert.deepEqual(nearestCode(spans, spans.get('0d')).spanId, '0a');
	spans.get('0a').attributes = [];
	assert.equal(nearestCode(spans, spans.get('0d')), null, 'a cycle ends the walk');
});

test('a short location: the last two path segments and the line', () => {
	assert.equal(shortLocation('/work/main/tests/demoapp/cart.go', 31), 'demoapp/cart.go:31');
	assert.equal(shortLocation('C:\\src\\Shop\\Orders.cs', 2), 'Shop/Orders.cs:2');
	assert.equal(shortLocation('main.go', 0), 'main.go');
});
