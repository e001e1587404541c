// Node test worker for Tracebar's tests: a separate process, traced with the
// same OpenTelemetry setup as the app (tracing.js; OTEL_SERVICE_NAME names
// it), that does the app's background work:
//   - jobs: server.js's GET /enqueue sends a job as a line of JSON to this
//     process's queue socket (127.0.0.1:$JOBS_PORT), the message's headers
//     carrying the PRODUCER span's context. Each job is processed in a
//     CONSUMER span that starts a NEW trace with a span link to the producer
//     (the OpenTelemetry messaging conventions), with a query and an outgoing
//     step under it. A job sent with "hold": true waits until a line
//     {"release": true} comes on the socket, so a test decides when it runs.
//   - a periodic job every $PERIODIC_MS ms (default 2000; 0: none): a trace of
//     its own ("cleanup sessions" and a query) that no request started.
// Run: JOBS_PORT=9000 node worker.js   (prints "listening <port>" when the
// queue accepts jobs)
'use strict';

require('./tracing.js'); // the SDK first, as in server.js

const net = require('node:net');
const { ROOT_CONTEXT, context, propagation, trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');

const tracer = trace.getTracer('tracebar-test-node-worker');

const port = Number.parseInt(process.env.JOBS_PORT || '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('worker.js: env JOBS_PORT is required (1-65535)');
  process.exit(2);
}
const periodicMs = Number.parseInt(process.env.PERIODIC_MS || '2000', 10);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// query simulates a database query, as server.js does: a CLIENT span with the
// database conventions.
function query(table, sql, ms = 1) {
  return tracer.startActiveSpan(
    `${sql.split(' ')[0]} ${table}`,
    { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'sqlite', 'db.query.text': sql, 'db.collection.name': table } },
    async (span) => {
      try {
        await sleep(ms);
      } finally {
        span.end();
      }
    }
  );
}

// processJob runs a job in a CONSUMER span: the root of a new trace, linked
// to the span that sent the job (whose context the message's headers carry).
function processJob(job) {
  const producer = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, job.headers || {}));
  const options = {
    kind: SpanKind.CONSUMER,
    root: true,
    links: producer ? [{ context: producer, attributes: { 'messaging.operation.type': 'send' } }] : [],
    attributes: {
      'messaging.system': 'tracebar-test-queue',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'jobs',
      'messaging.message.id': String(job.id),
    },
  };
  return tracer.startActiveSpan('process jobs', options, ROOT_CONTEXT, async (span) => {
    try {
      await query('orders', 'SELECT id, email FROM orders WHERE id = ?');
      await tracer.startActiveSpan(String(job.type || 'job'), async (step) => {
        await sleep(2);
        step.end();
      });
      await query('orders', 'UPDATE orders SET receipt_sent = ? WHERE id = ?');
    } catch (err) {
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    } finally {
      span.end();
    }
  });
}

// cleanup is the periodic job: a trace of its own, from a timer.
function cleanup() {
  return context.with(ROOT_CONTEXT, () =>
    tracer.startActiveSpan('cleanup sessions', { attributes: { 'job.schedule.interval_ms': periodicMs } }, async (span) => {
      try {
        await query('sessions', 'DELETE FROM sessions WHERE expires_at < ?');
      } finally {
        span.end();
      }
    })
  );
}

const held = []; // jobs that wait for a release

function receive(line) {
  let message;
  try {
    message = JSON.parse(line);
  } catch (err) {
    console.error('worker.js: not a JSON line:', err.message);
    return;
  }
  if (message.release) {
    for (const job of held.splice(0)) processJob(job);
  } else if (message.hold) {
    held.push(message);
  } else {
    processJob(message);
  }
}

const server = net.createServer((socket) => {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      receive(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
    }
  });
  socket.on('end', () => buffered.trim() && receive(buffered));
  socket.on('error', (err) => console.error('worker.js: queue socket:', err.message));
});

server.listen(port, '127.0.0.1', () => {
  if (periodicMs > 0) setInterval(cleanup, periodicMs).unref();
  process.stdout.write(`listening ${server.address().port}\n`);
});
