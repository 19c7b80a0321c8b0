// Healthy: heavy allocation churn and a tall GC sawtooth, nothing retained.
//
// An HTTP orders API (driving its own traffic on 127.0.0.1) renders ~200
// orders per request as JSON; the client parses each response and keeps it
// for 2 s (speed 1) in a latency window, so responses survive young-generation
// GCs and pile up in the old generation until a major GC: raw heap and RSS
// saw up and down by tens of MB while the floor after each major GC is flat.
//
// Churn at speed 1: 100 requests/s × ~200 KB allocated per request (render,
// stringify, parse) ≈ 20 MB/s. Nothing grows: the window holds ~200
// responses at any speed.
// stats: retained = parsed responses in the window.
import http from 'node:http';
import { every, listen, onShutdown, paced, ready, reportStats, scaledMs } from './lib/scenario.mjs';

const REQUESTS_PER_SECOND = 100;
const ORDERS_PER_PAGE = 200;
const WINDOW_SECONDS = 2;
const MAX_IN_FLIGHT = 16;

function renderOrders(page) {
  const orders = [];
  for (let i = 0; i < ORDERS_PER_PAGE; i++) {
    const id = page * ORDERS_PER_PAGE + i;
    orders.push({
      id,
      customer: `c-${id % 1_000}`,
      status: id % 11 === 0 ? 'refunded' : 'paid',
      lines: [
        { sku: id % 97, qty: 1 + (id % 3), cents: 1_999 },
        { sku: id % 89, qty: 1, cents: 499 },
      ],
    });
  }
  return orders;
}

const { port } = await listen((req, res) => {
  const page = Number(/page=(\d+)/.exec(req.url)?.[1] ?? 0);
  const body = JSON.stringify({ page, orders: renderOrders(page) });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

// The client side: fetch pages, parse them, keep them in a time window.
const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
onShutdown(() => agent.destroy());
const window = [];
let inFlight = 0;
let page = 0;
function fetchPage() {
  inFlight++;
  const startedAt = performance.now();
  const req = http.get({ host: '127.0.0.1', port, path: `/orders?page=${page++}`, agent }, (res) => {
    const chunks = [];
    res.on('data', (chunk) => chunks.push(chunk));
    res.on('end', () => {
      inFlight--;
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      window.push({ at: performance.now(), latencyMs: performance.now() - startedAt, orders: parsed.orders });
    });
  });
  req.on('error', () => inFlight--);
}
paced(REQUESTS_PER_SECOND, (due) => {
  for (let i = 0; i < due && inFlight < MAX_IN_FLIGHT; i++) fetchPage();
});
let p99 = 0;
every(100, () => {
  const cutoff = performance.now() - scaledMs(WINDOW_SECONDS);
  while (window.length > 0 && window[0].at < cutoff) window.shift();
  const latencies = window.map((w) => w.latencyMs).sort((a, b) => a - b);
  p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
});

reportStats(() => ({ retained: window.length, inFlight, p99: Math.round(p99 * 10) / 10 }));
ready(`churn: http on 127.0.0.1:${port}, ~20 MB/s of short-lived garbage at speed 1`);
