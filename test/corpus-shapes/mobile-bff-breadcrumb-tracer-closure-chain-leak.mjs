// Backend-for-frontend of a banking mobile app: GET /v1/home, /v1/accounts/:id
// and /v1/cards aggregate two or three downstream services (in-process
// stand-ins with production latencies) into one response.
//
// The team wrote its own small request tracer instead of pulling in an
// OpenTelemetry SDK. Every request gets a span (startSpan: trace and span ids,
// route, attributes, child spans for the downstream calls) and a trace
// context, which is a function: createTraceContext(span, previous) returns
// `context(depth)` giving this span and, for error reports, the "breadcrumbs"
// of the requests before it (up to 10). To have the previous request at hand,
// each new context function closes over the last one, kept in the module-level
// `lastContext`:
//
//     lastContext = createTraceContext(span, lastContext);
//
// context() only ever walks 10 links back, but every closure keeps its
// `previous` alive, so the chain of contexts (and every span on it) from the
// first request onwards is never cut.
import { randomBytes } from 'node:crypto';
import {
  buildBallast,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xb4ead);
const BREADCRUMBS = 10;

// --- the tracer --------------------------------------------------------------------------

const ids = randomBytes(4096);
let idOffset = 0;

function hexId(bytes) {
  if (idOffset + bytes > ids.length) {
    randomBytes(ids.length).copy(ids);
    idOffset = 0;
  }
  const text = ids.toString('hex', idOffset, idOffset + bytes);
  idOffset += bytes;
  return text;
}

const tracer = { spans: 0, childSpans: 0, errorReports: 0 };

function startSpan(req, route) {
  tracer.spans++;
  const incoming = req.headers.traceparent;
  return {
    traceId: typeof incoming === 'string' ? incoming.slice(3, 35) : hexId(16),
    spanId: hexId(8),
    parentSpanId: typeof incoming === 'string' ? incoming.slice(36, 52) : null,
    name: `${req.method} ${route}`,
    route,
    startedAt: programSeconds(),
    durationMs: 0,
    status: 0,
    attributes: {
      'app.version': req.headers['x-app-version'] ?? 'unknown',
      'app.platform': req.headers['x-platform'] ?? 'unknown',
      'enduser.id': req.headers['x-customer'] ?? null,
      'http.user_agent': req.headers['user-agent'] ?? '',
    },
    children: [],
  };
}

function childSpan(span, service, operation) {
  tracer.childSpans++;
  const child = { spanId: hexId(8), service, operation, startedAt: performance.now(), durationMs: 0, ok: true };
  span.children.push(child);
  return child;
}

function endSpan(span, status, started) {
  span.status = status;
  span.durationMs = Math.round((performance.now() - started) * 10) / 10;
}

function createTraceContext(span, previous) {
  function context(depth = 0) {
    if (depth >= BREADCRUMBS - 1 || previous === null) return [span];
    return [span, ...previous(depth + 1)];
  }
  return context;
}

let lastContext = null;

function reportError(context, error) {
  tracer.errorReports++;
  const [span, ...before] = context();
  const breadcrumbs = before.map((s) => ({ name: s.name, status: s.status, ms: s.durationMs }));
  return { error: error.message, traceId: span.traceId, breadcrumbs };
}

// --- downstream stand-ins ------------------------------------------------------------------------

function downstream(span, service, operation, medianS, build) {
  const child = childSpan(span, service, operation);
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      child.durationMs = Math.round((performance.now() - child.startedAt) * 10) / 10;
      if (random() < 0.004) {
        child.ok = false;
        reject(new Error(`${service} ${operation}: 503`));
      } else resolve(build());
    }, scaledMs(medianS * Math.exp((random() - 0.5) * 1.2)));
  });
}

function accounts(customer) {
  const n = 1 + (customer % 3);
  return Array.from({ length: n }, (_, i) => ({ id: `acc-${customer}-${i}`, type: i === 0 ? 'current' : 'savings', balance: ((customer * 7919 + i * 104729) % 900000) / 100, currency: 'EUR' }));
}

function cards(customer) {
  return [{ id: `card-${customer}`, last4: String(1000 + (customer % 9000)), status: customer % 40 === 0 ? 'frozen' : 'active' }];
}

function transactions(accountId) {
  return Array.from({ length: 20 }, (_, i) => ({ id: `${accountId}-tx${i}`, amount: -((i * 613) % 9000) / 100, text: ['Groceries', 'Coffee', 'Rent', 'Transport', 'Salary'][i % 5] }));
}

// --- HTTP ------------------------------------------------------------------------------------------

function send(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return status;
}

async function route(req, res, span, url) {
  const customer = Number(req.headers['x-customer'] ?? 0);
  if (url.pathname === '/v1/home') {
    const [accs, crds] = await Promise.all([
      downstream(span, 'core-accounts', 'list', 0.06, () => accounts(customer)),
      downstream(span, 'cards', 'list', 0.04, () => cards(customer)),
    ]);
    return send(res, 200, { accounts: accs, cards: crds, greeting: 'Good day' });
  }
  if (url.pathname.startsWith('/v1/accounts/')) {
    const id = url.pathname.slice('/v1/accounts/'.length);
    const [txs] = await Promise.all([downstream(span, 'core-accounts', 'transactions', 0.12, () => transactions(id)), downstream(span, 'fx', 'rates', 0.02, () => ({ usd: 1.08 }))]);
    return send(res, 200, { id, transactions: txs });
  }
  if (url.pathname === '/v1/cards') {
    return send(res, 200, { cards: await downstream(span, 'cards', 'list', 0.04, () => cards(customer)) });
  }
  return send(res, 404, { error: 'not found' });
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://bff.local');
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-length': 2 });
    return res.end('ok');
  }
  const started = performance.now();
  const span = startSpan(req, url.pathname.startsWith('/v1/accounts/') ? '/v1/accounts/:id' : url.pathname);
  const context = createTraceContext(span, lastContext);
  lastContext = context;
  try {
    endSpan(span, await route(req, res, span, url), started);
  } catch (error) {
    endSpan(span, send(res, 502, reportError(context, error)), started);
  }
}

// --- clients -------------------------------------------------------------------------------------------

const VERSIONS = ['5.12.0', '5.12.1', '5.13.0', '5.11.4'];

function appRequest() {
  const customer = Math.floor(random() * 200000);
  const headers = {
    'x-customer': String(customer),
    'x-app-version': VERSIONS[Math.floor(random() * VERSIONS.length)],
    'x-platform': random() < 0.55 ? 'ios' : 'android',
    'user-agent': random() < 0.55 ? 'BankApp/5.12 CFNetwork/1494.0.7 Darwin/23.4.0' : 'okhttp/4.12.0',
  };
  if (random() < 0.3) headers.traceparent = `00-${hexId(16)}-${hexId(8)}-01`;
  const r = random();
  if (r < 0.55) return { method: 'GET', path: '/v1/home', headers };
  if (r < 0.85) return { method: 'GET', path: `/v1/accounts/acc-${customer}-0`, headers };
  return { method: 'GET', path: '/v1/cards', headers };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const app = selfRequests(port, { perSecond: 2.5, maxInFlight: 32, next: appRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: tracer.spans,
  childSpans: tracer.childSpans,
  errorReports: tracer.errorReports,
  requestsFailed: app.failed + probes.failed,
}));

ready(
  `mobile-bff-breadcrumb-tracer-closure-chain-leak: mobile BFF at 2.5 req/s, each request's trace-context closure captures the previous one (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
