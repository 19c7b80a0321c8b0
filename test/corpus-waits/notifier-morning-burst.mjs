// Notification service of a delivery app: other services POST notification
// requests (order confirmed, courier nearby, ...), the notifier looks up the
// user's devices, renders the template and waits for the push provider
// (~1.5 s median). Mostly idle: 0.4 req/s through the night, but the
// morning burst (breakfast orders) triples the traffic over 20 minutes from
// 1 h, holds it for an hour and falls back over 20 minutes (1-2.67 h).
//
// State: a module-level template cache (fixed set of templates x locales),
// a device directory cache bounded at 5 000 users (oldest out), the
// per-user rate limiter `rateWindows` (a Map of one-minute windows, swept
// every minute) and the pushes in flight. Everything held during the burst
// goes away after it.
import {
  buildBallast,
  every,
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

const random = rng(0x0b0e57);

/** Morning burst: x1 -> x3 over 3 600-4 800 s, x3 until 8 400 s, back to x1 by 9 600 s. */
function trafficFactor() {
  const s = programSeconds();
  if (s < 3600 || s > 9600) return 1;
  if (s < 4800) return 1 + 2 * ((s - 3600) / 1200);
  if (s < 8400) return 3;
  return 1 + 2 * ((9600 - s) / 1200);
}

function logNormal(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- templates and devices ---------------------------------------------------------------

const LOCALES = ['en', 'de', 'fr', 'es', 'it', 'nl'];
const KINDS = ['order.confirmed', 'order.preparing', 'courier.nearby', 'order.delivered', 'promo.lunch'];
const templateCache = new Map();

function template(kind, locale) {
  const key = `${kind}:${locale}`;
  let compiled = templateCache.get(key);
  if (compiled === undefined) {
    const source = `[${locale}] {{name}}, ${kind.replace('.', ' ')}: {{restaurant}} - order {{orderId}} ({{items}} items, {{total}})`;
    const parts = source.split(/(\{\{\w+\}\})/);
    compiled = (vars) => parts.map((p) => (p.startsWith('{{') ? String(vars[p.slice(2, -2)] ?? '') : p)).join('');
    templateCache.set(key, compiled);
  }
  return compiled;
}

const DEVICE_CACHE_LIMIT = 5000;
const deviceCache = new Map();

function devicesOf(userId) {
  let devices = deviceCache.get(userId);
  if (devices === undefined) {
    const count = 1 + (userId.length + userId.charCodeAt(userId.length - 1)) % 3;
    devices = Array.from({ length: count }, (_, i) => ({ token: `${userId}-${i}-${Math.floor(random() * 1e12).toString(36)}`, platform: i % 2 ? 'ios' : 'android', locale: LOCALES[i % LOCALES.length] }));
    deviceCache.set(userId, devices);
    if (deviceCache.size > DEVICE_CACHE_LIMIT) deviceCache.delete(deviceCache.keys().next().value);
  }
  return devices;
}

// --- rate limiting: one-minute windows per user, swept every minute ------------------

const rateWindows = new Map();
const RATE_LIMIT = 6;

function allow(userId) {
  const minute = Math.floor(programSeconds() / 60);
  let window = rateWindows.get(userId);
  if (window === undefined || window.minute !== minute) {
    window = { minute, count: 0, kinds: [] };
    rateWindows.set(userId, window);
  }
  window.count++;
  return window.count <= RATE_LIMIT;
}

every(60_000 / speed, () => {
  const minute = Math.floor(programSeconds() / 60);
  for (const [userId, window] of rateWindows) if (window.minute < minute) rateWindows.delete(userId);
});

// --- the push provider -----------------------------------------------------------------------

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

function push(device, message) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      resolve({ id: `push-${Math.floor(random() * 1e12).toString(36)}`, token: device.token, accepted: true, size: message.length });
    }, Math.min(20_000, logNormal(1500, 0.5)) / speed);
    pendingTimers.add(timer);
  });
}

// --- HTTP ---------------------------------------------------------------------------------------

const inFlight = new Set();
const counts = { sent: 0, limited: 0 };

function sendJson(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function notify(req, res) {
  const request = JSON.parse((await readBody(req)).toString('utf8'));
  if (!allow(request.userId)) {
    counts.limited++;
    return sendJson(res, 429, '{"error":"rate limited"}');
  }
  const job = { request, messages: [], receipts: [] };
  inFlight.add(job);
  try {
    for (const device of devicesOf(request.userId)) {
      const text = template(request.kind, device.locale)(request.vars);
      job.messages.push({ device, text, payload: JSON.stringify({ to: device.token, notification: { title: request.vars.restaurant, body: text }, data: request.vars }) });
    }
    job.receipts = await Promise.all(job.messages.map((m) => push(m.device, m.payload)));
    counts.sent += job.receipts.length;
    sendJson(res, 200, JSON.stringify({ delivered: job.receipts.length }));
  } finally {
    inFlight.delete(job);
  }
}

function handler(req, res) {
  if (req.method === 'POST' && req.url === '/v1/notifications') {
    return notify(req, res).catch((error) => {
      if (!res.headersSent) sendJson(res, 400, JSON.stringify({ error: String(error) }));
    });
  }
  req.resume();
  if (req.url === '/healthz') return sendJson(res, 200, '{"ok":true}');
  sendJson(res, 404, '{"error":"not found"}');
}

const RESTAURANTS = ['Pho Saigon', 'Burger Hof', 'Sushi Ko', 'Pasta Nonna', 'Taco Loco', 'Curry House', 'Bagel Bros'];
function nextNotification() {
  const userId = `u-${Math.floor(random() * 40_000)}`;
  return {
    method: 'POST',
    path: '/v1/notifications',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      userId,
      kind: KINDS[Math.floor(random() * KINDS.length)],
      vars: { name: `Customer ${userId.slice(2)}`, restaurant: RESTAURANTS[Math.floor(random() * RESTAURANTS.length)], orderId: `o-${Math.floor(random() * 1e8).toString(36)}`, items: 1 + Math.floor(random() * 6), total: `${(5 + random() * 60).toFixed(2)} EUR` },
    }),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const producers = selfRequests(port, { perSecond: () => 0.4 * trafficFactor(), maxInFlight: 64, next: nextNotification });
const balancer = selfRequests(port, { perSecond: 0.2, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: rateWindows.size,
  inFlight: inFlight.size,
  devices: deviceCache.size,
  trafficFactor: Math.round(trafficFactor() * 100) / 100,
  sent: counts.sent,
  requestsFailed: producers.failed + balancer.failed,
}));

ready(`notifier-morning-burst: mostly idle notifier waiting on the push provider, 0.4 req/s, x3 morning burst 1-2.67 h (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
