// Node test upstream app for Tracebar's tests: a tiny HTTP server, traced with
// OpenTelemetry (see tracing.js), that Tracebar proxies in front of.
// Run: PORT=8081 node server.js   (listens on 127.0.0.1:$PORT; prints "listening <port>")
// Routes:
//   GET /              HTML page; creates child spans "render page" and "SELECT users"
//   GET /api/data      JSON {"ok":true,"traceparent":<incoming traceparent header or null>}
//   GET /cart          HTML page; every load adds an item to the cart, then one query
//                      span per item ("SELECT products"): an N+1 that grows by one per load
//   GET /availability  text; calls /api/data three times, one after another (HTTP CLIENT spans)
//   GET /boom          500; the server span records a thrown Error (its Node stack trace)
//   POST /graphql      {"query","operationName","variables"}: sets graphql.operation.* on the
//                      server span; query { products cart }, mutation { addToCart(productId) }
//   GET /enqueue       HTML page; publishes a job to the worker (worker.js, at JOBS_ADDR
//                      host:port) in a PRODUCER span whose context the message carries;
//                      ?hold=1: the worker keeps the job until it is told to release it
//   anything else      404 text
// The server span of a known route gets http.route; query spans get the code.* attributes
// (function, file, line) of the line that issued them, read from a captured stack.
// The app has no database: a query is a CLIENT span with the database conventions.
'use strict';

require('./tracing.js'); // must come before http is loaded so it gets instrumented

const http = require('node:http');
const net = require('node:net');
const { context, propagation, trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');

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

// codeAttributes returns the code.* attributes of the frame `depth` calls
// above its caller (1: the line that called the function calling it), from a
// stack captured with V8's structured call sites.
function codeAttributes(depth) {
  const previous = Error.prepareStackTrace;
  const holder = {};
  try {
    Error.prepareStackTrace = (_, callSites) => callSites;
    Error.captureStackTrace(holder, codeAttributes);
    const frame = holder.stack[depth];
    if (!frame || !frame.getFileName()) return {};
    return {
      'code.function.name': frame.getFunctionName() || '<anonymous>',
      'code.file.path': frame.getFileName(),
      'code.line.number': frame.getLineNumber(),
      'code.column.number': frame.getColumnNumber(),
    };
  } finally {
    Error.prepareStackTrace = previous;
  }
}

// query simulates a database query (no real DB): ~ms milliseconds of work in a
// CLIENT span with the database conventions and the code.* of its caller.
async function query(table, sql, ms = 1) {
  const code = codeAttributes(1); // before any await: the caller is still on the stack
  return tracer.startActiveSpan(
    `${sql.split(' ')[0]} ${table}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'sqlite',
        'db.query.text': sql,
        'db.collection.name': table,
        ...code,
      },
    },
    async (span) => {
      try {
        await sleep(ms);
      } finally {
        span.end();
      }
    }
  );
}

function send(res, status, contentType, body) {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function handleIndex(req, res) {
  await query('users', 'SELECT id, name FROM users WHERE id = ?', 2);

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

const PRODUCTS = [
  { id: 1, name: 'Espresso cup', price: '9.00' },
  { id: 2, name: 'Pour-over kettle', price: '42.00' },
  { id: 3, name: 'Grinder', price: '129.00' },
];
const cart = []; // product ids, one per item

// loadCart reads the cart, then each item's product with a query of its own.
async function loadCart() {
  await query('cart_items', 'SELECT id, product_id FROM cart_items ORDER BY id');
  const items = [];
  for (const [index, productId] of cart.entries()) {
    await query('products', `SELECT name, price FROM products WHERE id = ${productId}`);
    items.push({ id: index + 1, ...PRODUCTS.find((p) => p.id === productId) });
  }
  return items;
}

async function handleCart(req, res) {
  cart.push(PRODUCTS[cart.length % PRODUCTS.length].id);
  await query('cart_items', 'INSERT INTO cart_items (product_id) VALUES (?)');
  const items = await loadCart();
  const rows = items.map((it) => `<tr><td>${it.id}</td><td>${it.name}</td><td>${it.price}</td></tr>`).join('');
  send(res, 200, 'text/html; charset=utf-8',
    '<!doctype html><html><head><title>Cart</title></head><body><h1>Cart</h1>' +
    '<p>Every load adds an item, and each item is read with a query of its own.</p>' +
    `<table><tr><th>#</th><th>Product</th><th>Price</th></tr>${rows}</table></body></html>`);
}

// getLocal GETs a path of this app (an instrumented outgoing call).
function getLocal(path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

async function handleAvailability(req, res) {
  const lines = [];
  for (const warehouse of ['north', 'south', 'east']) {
    lines.push(`${warehouse}: ${await getLocal(`/api/data?warehouse=${warehouse}`)}`);
  }
  send(res, 200, 'text/plain; charset=utf-8', lines.join('\n') + '\n');
}

function chargeCard(cents) {
  throw new Error(`card declined: insufficient funds for ${cents} cents`);
}

function checkout(items) {
  const cents = items.reduce((sum, id) => sum + Math.round(Number(PRODUCTS.find((p) => p.id === id).price) * 100), 0);
  chargeCard(cents);
}

async function handleBoom(req, res) {
  const span = trace.getActiveSpan();
  try {
    checkout(cart);
    send(res, 200, 'text/plain; charset=utf-8', 'paid\n');
  } catch (err) {
    span.recordException(err);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    send(res, 500, 'text/plain; charset=utf-8', `checkout failed: ${err.message}\n`);
  }
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > limit) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

// graphqlOperation finds the operation of a GraphQL document to run: the one
// named operationName, or the only one; the shorthand "{ field }" is an
// anonymous query. Returns { type, name, field } or throws.
function graphqlOperation(doc, operationName) {
  const source = String(doc).replace(/#[^\n]*/g, '');
  const ops = [];
  const definition = /(?:^|})\s*(?:(query|mutation|subscription)\b\s*([_A-Za-z]\w*)?[^{]*)?{\s*(?:\w+\s*:\s*)?([_A-Za-z]\w*)/g;
  for (const m of source.matchAll(definition)) {
    ops.push({ type: m[1] || 'query', name: m[2] || '', field: m[3] });
  }
  if (ops.length === 0) throw new Error('the document has no operation');
  if (!operationName) {
    if (ops.length > 1) throw new Error('operationName is required when the document has several operations');
    return ops[0];
  }
  const op = ops.find((o) => o.name === operationName);
  if (!op) throw new Error(`no operation "${operationName}" in the document`);
  return op;
}

async function handleGraphQL(req, res) {
  const span = trace.getActiveSpan();
  const type = 'application/graphql-response+json';
  let op, request;
  try {
    request = JSON.parse(await readBody(req, 64 << 10));
    op = graphqlOperation(request.query, request.operationName);
  } catch (err) {
    send(res, 400, type, JSON.stringify({ errors: [{ message: err.message }] }));
    return;
  }
  span.setAttributes({ 'graphql.operation.type': op.type, 'graphql.document': request.query });
  if (op.name) span.setAttribute('graphql.operation.name', op.name);
  let data;
  if (op.type === 'query' && op.field === 'products') {
    await query('products', 'SELECT id, name, price FROM products ORDER BY id');
    data = PRODUCTS;
  } else if (op.type === 'query' && op.field === 'cart') {
    data = await loadCart();
  } else if (op.type === 'mutation' && op.field === 'addToCart') {
    const id = Number((request.variables || {}).productId);
    if (!PRODUCTS.some((p) => p.id === id)) {
      send(res, 200, type, JSON.stringify({ errors: [{ message: 'variable $productId must name a product' }] }));
      return;
    }
    cart.push(id);
    await query('cart_items', 'INSERT INTO cart_items (product_id) VALUES (?)');
    data = await loadCart();
  } else {
    span.setStatus({ code: SpanStatusCode.ERROR, message: `cannot ${op.type} field "${op.field}"` });
    send(res, 200, type, JSON.stringify({ errors: [{ message: `cannot ${op.type} field "${op.field}"` }] }));
    return;
  }
  send(res, 200, type, JSON.stringify({ data: { [op.field]: data } }));
}

// publish sends job to the worker's queue, a line of JSON on a TCP socket (a
// broker's part, without one), in a PRODUCER span by the messaging
// conventions; the message's headers carry the span's context, so the worker's
// CONSUMER span can link to it.
function publish(job) {
  const [host, port] = (process.env.JOBS_ADDR || '').split(':');
  const attributes = {
    'messaging.system': 'tracebar-test-queue',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
    'messaging.destination.name': 'jobs',
    'messaging.message.id': job.id,
  };
  return tracer.startActiveSpan('send jobs', { kind: SpanKind.PRODUCER, attributes }, (span) => {
    const headers = {};
    propagation.inject(context.active(), headers);
    const message = JSON.stringify({ ...job, headers }) + '\n';
    span.setAttribute('messaging.message.body.size', Buffer.byteLength(message));
    return new Promise((resolve, reject) => {
      if (!host || !port) throw new Error('env JOBS_ADDR (host:port of worker.js) is not set');
      const socket = net.connect({ host, port: Number(port) }, () => socket.end(message));
      socket.on('error', reject);
      socket.on('close', (hadError) => hadError || resolve());
    })
      .catch((err) => {
        span.recordException(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        throw err;
      })
      .finally(() => span.end());
  });
}

let jobCount = 0;

async function handleEnqueue(req, res) {
  const hold = new URL(req.url, 'http://app').searchParams.get('hold') === '1';
  const job = { id: `job-${process.pid}-${++jobCount}`, type: 'send receipt', order: jobCount, hold };
  await query('orders', 'INSERT INTO orders (status) VALUES (?)');
  try {
    await publish(job);
  } catch (err) {
    send(res, 503, 'text/plain; charset=utf-8', `could not queue the job: ${err.message}\n`);
    return;
  }
  send(res, 200, 'text/html; charset=utf-8',
    '<!doctype html><html><head><title>Order placed</title></head><body><h1>Order placed</h1>' +
    `<p>Job <code>${job.id}</code> is queued: a worker sends the receipt.</p></body></html>`);
}

function notFound(req, res) {
  const body = 'not found\n';
  res.writeHead(404, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

const routes = new Map([
  ['GET /', handleIndex],
  ['GET /api/data', handleApiData],
  ['GET /cart', handleCart],
  ['GET /availability', handleAvailability],
  ['GET /boom', handleBoom],
  ['POST /graphql', handleGraphQL],
  ['GET /enqueue', handleEnqueue],
]);

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  const handler = routes.get(`${req.method} ${path}`);
  let p;
  if (handler) {
    // The instrumentation's server span is the active one here; it has no
    // router to learn the route from.
    trace.getActiveSpan()?.setAttribute('http.route', path);
    p = handler(req, res);
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
