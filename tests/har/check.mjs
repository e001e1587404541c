// Reads a HAR file as Chrome DevTools' importer does (HARFormat.js) and
// prints what it read: node check.mjs file.har. Exits non-zero with
// DevTools' own error when DevTools could not import the file.
import { readFileSync } from 'node:fs';
import { HARRoot } from './HARFormat.mjs';

const root = new HARRoot(JSON.parse(readFileSync(process.argv[2], 'utf8')));
// Importer.ts next sorts the entries by start and reads these of each.
const entries = root.log.entries.sort((a, b) => a.startedDateTime.valueOf() - b.startedDateTime.valueOf());
console.log(JSON.stringify({
	version: root.log.version,
	creator: root.log.creator.name,
	pages: root.log.pages.length,
	entries: entries.map(entry => ({
		url: entry.request.url, method: entry.request.method, status: entry.response.status,
		mimeType: entry.response.content.mimeType, time: entry.time,
		wait: entry.timings.wait, receive: entry.timings.receive, headers: entry.request.headers.length
	}))
}));
