// Notification dispatcher of a hosted-shop platform: POST /v1/notify takes an
// event for a shop and delivers it to the shop's webhook endpoint at its own
// subdomain (https://<shop>.hooks.shopcloud.example/...), plus the shared
// mailer and analytics APIs. Outbound calls go through class HttpClient,
// which passes its own `lookup` to http.request so DNS answers are cached
// (the platform's resolver was slow): cachedLookup() keeps every answer in
// the module-level Map `dnsCache`, keyed by hostname, and never looks at the
// answer's TTL or the map's size. The shared hosts are a handful of entries,
// but every shop that gets a notification adds its own subdomain, and shops
// that have not had one yet keep turning up.
//
// The resolver is an in-process stand-in for the VPC's split-horizon DNS: it
// answers every *.example name with 127.0.0.1 (where this process's stand-in
// for the shops' endpoints listens) plus a CNAME and a TTL, after 1-6 ms.
import http from 'node:http';
import {
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xd15c0);

// --- the resolver stand-in ------------------------------------------------------

const resolver = {
  queries: 0,
  resolve(hostname) {
    this.queries++;
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        if (!hostname.endsWith('.example')) return reject(Object.assign(new Error(`queryA ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
        const edge = hostname.length % 7;
        resolve({
          canonicalName: hostname.includes('.hooks.') ? `${hostname.split('.')[0]}.edge-${edge}.shopcloud-cdn.example` : hostname,
          records: [{ address: ['127', '0', '0', '1'].join('.'), family: 4, ttl: 60 + edge * 30 }],
        });
      }, 1 + random() * 5);
    });
  },
};

// --- the DNS cache ----------------------------------------------------------------

/** hostname -> { hostname, addresses, canonicalName, resolvedAt, lookups } — no TTL, no bound. */
const dnsCache = new Map();
const dnsStats = { hits: 0, misses: 0, errors: 0 };

function toCacheEntry(hostname, answer) {
  return {
    hostname,
    addresses: answer.records.map((r) => ({ address: r.address, family: r.family, ttl: r.ttl })),
    canonicalName: answer.canonicalName,
    resolvedAt: Date.now(),
    lookups: 1,
  };
}

function reply(entry, options, callback) {
  if (options.all) return callback(null, entry.addresses.map((a) => ({ address: a.address, family: a.family })));
  const first = entry.addresses[0];
  callback(null, first.address, first.family);
}

/** A dns.lookup-compatible function for http.request({ lookup }). */
function cachedLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  const cached = dnsCache.get(hostname);
  if (cached !== undefined) {
    dnsStats.hits++;
    cached.lookups++;
    return reply(cached, options, callback);
  }
  dnsStats.misses++;
  resolver.resolve(hostname).then(
    (answer) => {
      const entry = toCacheEntry(hostname, answer);
      dnsCache.set(hostname, entry);
      reply(entry, options, callback);
    },
    (error) => {
      dnsStats.errors++;
      callback(error);
    },
  );
}

// --- the HTTP client wrapper ----------------------------------------------------------

class HttpClient {
  constructor({ port, timeoutMs }) {
    this.port = port; // all *.example endpoints are served on one local port in this stand-in
    this.timeoutMs = timeoutMs;
    // Keep-alive for the few shared APIs; one-off connections for shops' endpoints (thousands of hosts).
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8, maxFreeSockets: 2, timeout: 4000 });
    this.oneOffAgent = new http.Agent({ keepAlive: false, maxSockets: 4 });
    this.stats = { requests: 0, failed: 0 };
  }

  postJson(url, payload, headers = {}, { reuse = true } = {}) {
    const target = new URL(url);
    const body = JSON.stringify(payload);
    this.stats.requests++;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: target.hostname,
          port: this.port,
          path: target.pathname,
          method: 'POST',
          agent: reuse ? this.agent : this.oneOffAgent,
          lookup: cachedLookup,
          timeout: this.timeoutMs,
          headers: { ...headers, host: target.hostname, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => {
        this.stats.failed++;
        reject(error);
      });
      req.end(body);
    });
  }

  close() {
    this.agent.destroy();
    this.oneOffAgent.destroy();
  }
}

// --- the shops' endpoints, the mailer and analytics (stand-in, same process) -------------

const received = { webhooks: 0, mails: 0, analytics: 0 };
const endpoints = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const host = req.headers.host ?? '';
    if (host.includes('.hooks.')) received.webhooks++;
    else if (host.startsWith('api.mailer')) received.mails++;
    else received.analytics++;
    res.writeHead(host.includes('.hooks.') && random() < 0.02 ? 500 : 200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
});
await new Promise((resolve) => endpoints.listen(0, '127.0.0.1', resolve));
onShutdown(() => endpoints.close());
const client = new HttpClient({ port: endpoints.address().port, timeoutMs: 5000 });
onShutdown(() => client.close());

// --- the dispatcher ----------------------------------------------------------------------

const counters = { events: 0, delivered: 0, failed: 0 };

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function dispatch(event) {
  const calls = [client.postJson(`https://${event.shop}.hooks.shopcloud.example/platform/events`, event, { 'x-shopcloud-topic': event.topic }, { reuse: false })];
  if (event.topic === 'order.paid') calls.push(client.postJson('https://api.mailer.example/v3/send', { template: 'order-confirmation', shop: event.shop, to: event.email }));
  calls.push(client.postJson('https://events.analytics.example/collect', { shop: event.shop, topic: event.topic, at: event.at }));
  const outcomes = await Promise.allSettled(calls);
  return outcomes.every((o) => o.status === 'fulfilled' && o.value < 300);
}

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/notify') {
      counters.events++;
      const event = JSON.parse((await readBody(req, 128 * 1024)).toString('utf8'));
      if (typeof event.shop !== 'string' || !/^[a-z0-9-]+$/.test(event.shop)) return sendJson(res, 422, { error: 'bad shop' });
      const ok = await dispatch(event);
      if (ok) counters.delivered++;
      else counters.failed++;
      return sendJson(res, ok ? 200 : 202, { ok });
    }
    if (req.method === 'GET' && req.url === '/healthz') return sendJson(res, 200, { ok: true, dnsEntries: dnsCache.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the platform's event bus (load) ----------------------------------------------------

const TOPICS = ['order.created', 'order.paid', 'order.fulfilled', 'product.updated', 'inventory.low', 'customer.created'];
const ADJECTIVES = ['blue', 'happy', 'urban', 'little', 'green', 'wild', 'golden', 'nordic', 'tiny', 'royal'];
const NOUNS = ['fox', 'bakery', 'garden', 'studio', 'outfitters', 'candles', 'ceramics', 'bikes', 'tea', 'prints'];

/** ~400 000 shops; busy ones far more often (r^3 bias), so new ones keep turning up from the long tail. */
function shopSlug() {
  const n = Math.floor(400_000 * random() ** 3);
  return `${ADJECTIVES[n % 10]}-${NOUNS[Math.floor(n / 10) % 10]}-${n.toString(36)}`;
}

function nextEvent() {
  const shop = shopSlug();
  const topic = TOPICS[Math.floor(random() * TOPICS.length)];
  const body = JSON.stringify({ id: `evt_${Math.floor(random() * 2 ** 48).toString(36)}`, shop, topic, email: `buyer${Math.floor(random() * 1e7)}@example.com`, at: Math.round(programSeconds()), data: { ref: Math.floor(random() * 1e9), amountCents: Math.floor(random() * 20_000) } });
  return { method: 'POST', path: '/v1/notify', headers: { 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// The event bus: 2 events/s; a health check every 10 s.
const bus = selfRequests(port, { perSecond: 2, maxInFlight: 32, next: nextEvent });
const health = selfRequests(port, { perSecond: 0.1, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: dnsCache.size,
  dnsHits: dnsStats.hits,
  dnsMisses: dnsStats.misses,
  events: counters.events,
  delivered: counters.delivered,
  outboundFailed: client.stats.failed,
  requestsFailed: bus.failed + health.failed,
}));

ready(
  `tenant-subdomain-dns-cache-leak: dispatches 2 shop events/s to per-shop webhook subdomains through an HttpClient whose cachedLookup keeps every DNS answer in dnsCache without TTL or bound (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
