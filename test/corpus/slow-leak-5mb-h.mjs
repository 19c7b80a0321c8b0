// Leaky (heap), slow: a webhook dispatcher whose per-tenant metrics registry
// keeps every raw sample it was ever given.
//
// The dispatcher POSTs JSON events to each tenant's endpoint (a receiver on
// 127.0.0.1 that answers 200, sometimes 500/429) and records, per delivery,
// its latency and payload size in ./metrics-registry.mjs. Every flush (60 s at
// speed 1) exports the new samples and advances a cursor, but the samples
// themselves are never dropped (TenantMetrics.samples grows forever).
//
// Speed 1: 4.5 deliveries/s, 2 samples each (~165 B) → ~5 MB/h of JS heap
// from the start. Cap: 1 000 000 samples (~165 MB, after ~31 h at speed 1,
// ~31 min at SCENARIO_SPEED=60); further samples are dropped.
// stats: retained = samples held across tenants.
import http from 'node:http';
import { registry } from './metrics-registry.mjs';
import { buildBallast, every, listen, onShutdown, paced, ready, reportStats, rng, scaledMs } from './lib/corpus.mjs';

const DELIVERIES_PER_SECOND = 4.5;
const FLUSH_EVERY_SECONDS = 60;
const TENANTS = 24;

const ballastMB = buildBallast();
const random = rng(3);

// The tenants' endpoints: mostly fine, some throttling and errors.
const { port } = await listen((req, res) => {
  req.resume();
  req.on('end', () => {
    const roll = random();
    const status = roll < 0.02 ? 500 : roll < 0.05 ? 429 : 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 200 ? '{"received":true}' : '{"error":"try later"}');
  });
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
onShutdown(() => agent.destroy());
const dispatcher = { sent: 0, failed: 0, inFlight: 0, exported: 0 };

function buildEvent(seq) {
  const tenant = `tenant-${seq % TENANTS}`;
  return {
    tenant,
    body: JSON.stringify({
      id: `evt_${seq.toString(36)}`,
      type: seq % 3 === 0 ? 'invoice.paid' : 'order.updated',
      createdAt: new Date().toISOString(),
      data: { orderId: `ord_${(seq * 7919) % 1_000_000}`, amountCents: 100 + (seq % 90_000), currency: 'EUR' },
    }),
  };
}

function deliver(event) {
  const started = performance.now();
  dispatcher.inFlight++;
  const req = http.request(
    { host: '127.0.0.1', port, method: 'POST', path: `/hooks/${event.tenant}`, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(event.body) } },
    (res) => {
      res.resume();
      res.on('end', () => {
        dispatcher.inFlight--;
        dispatcher.sent++;
        const status = res.statusCode;
        registry.observe(event.tenant, 'webhook.latency_ms', performance.now() - started, status);
        registry.observe(event.tenant, 'webhook.payload_bytes', event.body.length, status);
      });
    },
  );
  req.on('error', () => {
    dispatcher.inFlight--;
    dispatcher.failed++;
  });
  req.end(event.body);
}

let seq = 0;
paced(DELIVERIES_PER_SECOND, (due) => {
  for (let i = 0; i < due && dispatcher.inFlight < 64; i++) deliver(buildEvent(++seq));
});

every(scaledMs(FLUSH_EVERY_SECONDS), () => {
  for (const exported of registry.flushAll()) dispatcher.exported += exported.series.length;
});

reportStats(() => ({ retained: registry.totalSamples, capped: registry.capped, delivered: dispatcher.sent, ballastMB }));
ready('slow-leak-5mb-h: per-tenant metrics keep every raw sample (~5 MB/h at speed 1)');
