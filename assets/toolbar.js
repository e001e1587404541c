/* Tracebar's debug toolbar: the entry module. The sources are ES modules
   (plain ES2020, no dependencies, nothing fetched from outside the page's
   origin); the server joins them into one classic script at start-up
   (assets/bundle.go), served as <prefix>/static/toolbar.js. Values from
   the API are only ever rendered as text nodes, never parsed as markup.

     lib/tag.js     ids and prefix from the script tag (shared with hook.js)
     model/         the data, pure and tested with node --test (assets/test/):
                    OTLP spans, the tree and critical path, SQL groups and
                    N+1, log items, redirects, the time axis, number formats
     ui/app.js      the toolbar: state, render loop, show and select (page.js
                    starts it too, for the standalone page and its dashboard)
     ui/shell.js    host, badge, head; ui/events.js clicks and keys
     ui/client.js   the API and its SSE streams; ui/browser.js the browser's spans
     ui/panels/     one module per panel
     ui/dom.js      the DOM helper; ui/widgets.js pieces the panels share */

import { tagIds, tagPrefix, tagVersion } from './lib/tag.js';
import { startToolbar } from './ui/app.js';

const tag = document.currentScript || document.querySelector('script[src*="/static/toolbar.js"]');
if (!window.__tracebar && tag) start(tag);

function start(tag) {
	const hook = window.__tracebarHook || null;
	const src = tag.src || '', ids = tagIds(tag), prefix = tagPrefix(src, 'toolbar.js', location.href);
	startToolbar({
		page: false, hook, homeId: ids.requestId,
		homeTraceId: (hook && hook.traceId) || ids.traceId,
		prefix: prefix.url, prefixPath: prefix.path, version: tagVersion(src)
	});
}
