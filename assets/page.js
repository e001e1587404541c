/* The standalone page (page.html) at <prefix>/ and <prefix>/requests/<id>:
   the toolbar's panels, full size, and on <prefix>/ the history as a
   dashboard. An entry of its own, so that the dashboard's code is not in
   the toolbar.js every page loads. */

import { tagPrefix, tagVersion } from './lib/tag.js';
import { startToolbar } from './ui/app.js';
import { dashboardPanel } from './ui/panels/dashboard.js';

const tag = document.currentScript || document.querySelector('script[src*="/static/page.js"]');
if (!window.__tracebar && tag) start(tag);

function start(tag) {
	const src = tag.src || '', prefix = tagPrefix(src, 'page.js', location.href);
	const m = location.pathname.match(/\/requests\/([^/]+)\/?$/); // <prefix>/requests/<id>, or <prefix>/ for the history
	let homeId = '';
	try { homeId = m ? decodeURIComponent(m[1]) : ''; } catch (e) { /* the history */ }
	startToolbar({
		page: true, hook: null, homeId, homeTraceId: '', dashboard: dashboardPanel,
		prefix: prefix.url, prefixPath: prefix.path, version: tagVersion(src)
	});
}
