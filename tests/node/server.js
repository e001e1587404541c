// Node test upstream app for Tracebar's tests: a tiny HTTP server, traced with
// OpenTelemetry (see tracing.js), that Tracebar proxies in front of.
// Run: PORT=8081 node server.js   (listens on 127.0.0.1:$PORT; prints "listening <port>")
// Routes:
//   GET /          HTML page; creates child spans "render page" and "SELECT users"
//   GET /api/data  JSON {"ok":true,"traceparent":<incoming traceparent header or null>}
//   anything else  404 text
'use strict';

require('./tracing.js'); // must come before http is loaded so it gets instrumented

const http = require('node:http');
const { trace, SpanKind } = require('@opentelemetry/api');

const tracer = trace.getTracer('tracebar-test-node-app');

const port = Number.parseInt(process.env.PORT || '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('server.js: env PORT is required (1-65535)');
  process.exit(2);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const PAGE =
  '<!doctype html><html><head><title>Node app</title></head><body>' +
  '<h1>Hello from Node</h1>' +
  '<p>This page is served by the Tracebar Node test app.</p>' +
  '<p><a href="/api/data">/api/data</a></p>' +
  '</body></html>';

async function handleIndex(req, res) {
  // Simulated database query (no real DB): ~2 ms of work in a client span.
  await tracer.startActiveSpan(
    'SELECT users',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'sqlite',
        'db.query.text': 'SELECT id, name FROM users WHERE id = ?',
      },
    },
    async (span) => {
      try {
        await sleep(2);
      } finally {
        span.end();
      }
    }
  );

  const body = tracer.startActiveSpan(
    'render page',
    { attributes: { 'template.name': 'index' } },
    (span) => {
      try {
        const html = PAGE;
        span.addEvent('rendered');
        return html;
      } finally {
        span.end();
      }
    }
  );

  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function handleApiData(req, res) {
  const tp = req.headers['traceparent'];
  const body = JSON.stringify({ ok: true, traceparent: typeof tp === 'string' ? tp : null });
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function notFound(req, res) {
  const body = 'not found\n';
  res.writeHead(404, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  let p;
  if (req.method === 'GET' && path === '/') {
    p = handleIndex(req, res);
  } else if (req.method === 'GET' && path === '/api/data') {
    p = handleApiData(req, res);
  } else {
    p = notFound(req, res);
  }
  Promise.resolve(p).catch((err) => {
    console.error('server.js: handler error:', err);
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    }
    res.end('internal error\n');
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
