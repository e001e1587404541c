// Produces node.txt: error.stack, which OpenTelemetry JS's recordException
// writes as exception.stacktrace, from an ES module (file: URLs) calling a
// CommonJS one (plain paths), through an async function and a callback.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { loadOrder } = require('./node-orders.cjs');

class Orders {
	async view(id) {
		await Promise.resolve();
		return [id].map(one => loadOrder(one))[0];
	}
}

async function handle(id) {
	try {
		return await new Orders().view(id);
	} catch (error) {
		return error.stack;
	}
}

process.stdout.write(await handle(3) + '\n');
