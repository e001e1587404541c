/* Importing what a colleague sent: an OTLP/JSON trace, or a HAR that
   Tracebar exported (its entries carry their spans), dropped anywhere on
   the history page or picked with its file input, is posted to
   <prefix>/api/import; the page then opens the first request it held. */

// What a drop must carry to be taken for an import.
const hasFiles = e => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');

// Posts one file as JSON; resolves to the API's answer { traceIds,
// requests }, or rejects with the server's own message.
export async function importFile(app, file) {
	const res = await fetch(app.prefix + '/api/import', {
		method: 'POST', credentials: 'same-origin', cache: 'no-store',
		headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: await file.text()
	});
	if (!res.ok) {
		const message = (await res.text().catch(() => '')).trim();
		throw new Error(message || 'HTTP ' + res.status);
	}
	const answer = await res.json();
	return { traceIds: Array.isArray(answer.traceIds) ? answer.traceIds : [], requests: Array.isArray(answer.requests) ? answer.requests : [] };
}

// The page an import leads to: its first request's; '' when it held none.
export const importedPage = (app, answer) =>
	answer.requests.length ? app.prefixPath + '/requests/' + encodeURIComponent(answer.requests[0]) : '';

/* Imports files one by one, telling report(message, kind) how it goes
   (kind: "busy", "error" or "done"), and opens the first request imported
   (the import makes one of each root span of a bare OTLP trace). */
export async function importFiles(app, files, report) {
	for (const file of files) {
		report('Importing ' + file.name + '\u2026', 'busy');
		let answer;
		try {
			answer = await importFile(app, file);
		} catch (e) {
			return report('Could not import ' + file.name + ': ' + e.message, 'error');
		}
		const page = importedPage(app, answer);
		if (page) {
			report('Imported ' + file.name + '; opening its first request\u2026', 'busy');
			return location.assign(page);
		}
	}
	report('The files held no request to show.', 'done');
}

/* Drag and drop of files anywhere on the page: dragging(true) while
   files are held over it, dragging(false) when they leave or drop;
   dropped(files) with the files. Returns the function that unbinds. */
export function bindDrop(dragging, dropped) {
	const over = e => {
		if (!hasFiles(e)) return;
		e.preventDefault(); // else the browser opens the file
		e.dataTransfer.dropEffect = 'copy';
		dragging(true);
	};
	const leave = e => { if (!e.relatedTarget) dragging(false); }; // left the window
	const drop = e => {
		if (!hasFiles(e)) return;
		e.preventDefault();
		dragging(false);
		if (e.dataTransfer.files.length) dropped([...e.dataTransfer.files]);
	};
	const events = [['dragenter', over], ['dragover', over], ['dragleave', leave], ['drop', drop]];
	for (const [name, listener] of events) addEventListener(name, listener);
	return () => { for (const [name, listener] of events) removeEventListener(name, listener); };
}
