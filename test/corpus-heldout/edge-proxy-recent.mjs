// Edge proxy with a "recent requests" debug view (healthy).
//
// Every proxied request is summarized into a fixed-capacity ring buffer
// (`recent`, 50 000 slots) that GET /_debug/recent pages through. The ring
// fills over ~40 min at speed 1 and then overwrites its oldest slot; the
// upstream is a small in-process origin on 127.0.0.1.
//
// Speed 1: 21 req/s, ~0.4 KB per summary → ~20 MB once full (~40 min), flat
// afterwards.
// stats: retained = filled slots.
import http from 'node:http';
import { buildBallast, listen, onShutdown, ready, reportStats, rng, selfRequests } from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 21;
const CAPACITY = 50_000;

class RecentRequests {
  constructor(capacity) {
    this.capacity = capacity;
    this.slots = new Array(capacity);
    this.next = 0;
    this.size = 0;
    this.total = 0;
  }

  push(entry) {
    this.slots[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    this.total++;
  }

  latest(n) {
    const out = [];
    for (let i = 1; i <= Math.min(n, this.size); i++) out.push(this.slots[(this.next - i + this.capacity) % this.capacity]);
    return out;
  }
}

const recent = new RecentRequests(CAPACITY);

function summarize(req, status, startedAt, bytes, upstream) {
  return {
    id: req.headers['x-request-id'],
    at: Date.now(),
    method: req.method,
    path: req.url,
    host: req.headers.host,
    client: req.headers['x-forwarded-for'],
    userAgent: req.headers['user-agent'],
    referer: req.headers.referer ?? null,
    status,
    bytes,
    upstream,
    durationMs: Math.round((performance.now() - startedAt) * 100) / 100,
  };
}

// The origin.
const origin = await listen((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>page ${req.url}</body></html>`);
});
const originAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
onShutdown(() => originAgent.destroy());

const ballastMB = buildBallast();
const { port } = await listen((req, res) => {
  if (req.url.startsWith('/_debug/recent')) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(recent.latest(50)));
  const startedAt = performance.now();
  const upstream = `127.0.0.1:${origin.port}`;
  const proxied = http.request({ host: '127.0.0.1', port: origin.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-host': req.headers.host }, agent: originAgent }, (up) => {
    let bytes = 0;
    res.writeHead(up.statusCode, up.headers);
    up.on('data', (chunk) => {
      bytes += chunk.length;
      res.write(chunk);
    });
    up.on('end', () => {
      res.end();
      recent.push(summarize(req, up.statusCode, startedAt, bytes, upstream));
    });
  });
  proxied.on('error', () => res.writeHead(502).end());
  req.pipe(proxied);
});

const random = rng(77);
const SECTIONS = ['products', 'categories', 'blog', 'help', 'brands', 'deals'];
let n = 0;
selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  next: () => {
    n++;
    if (n % 5000 === 0) return { method: 'GET', path: '/_debug/recent' };
    const section = SECTIONS[Math.floor(random() * SECTIONS.length)];
    return {
      method: 'GET',
      path: `/${section}/${Math.floor(random() * 200_000)}?ref=${n % 13 === 0 ? 'newsletter' : 'organic'}`,
      headers: { 'x-request-id': `req-${n.toString(36)}-${Math.floor(random() * 1e9).toString(36)}`, 'x-forwarded-for': `10.${n % 250}.${(n >> 8) % 250}.${Math.floor(random() * 250)}`, 'user-agent': `Mozilla/5.0 (Linux; Android 14; Pixel ${6 + (n % 3)}) Chrome/124.0.${n % 6000}.0 Mobile Safari/537.36`, referer: `https://www.example.test/${SECTIONS[n % SECTIONS.length]}` },
    };
  },
});

reportStats(() => ({ retained: recent.size, total: recent.total, ballastMB }));
ready(`edge-proxy-recent: ${REQUESTS_PER_SECOND} req/s (speed 1), ring of ${CAPACITY} recent requests`);
