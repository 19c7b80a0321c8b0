// API gateway of a retail platform. Each incoming request (GET/POST
// /api/:service/...) is forwarded as an RPC to a downstream service through
// class RpcClient, which tracks calls in the Map `pendingCalls` (call id ->
// call) until the reply arrives; the downstreams are in-process stand-ins
// answering in 5-120 ms of production time (scaled by the speed). A call that
// gets no reply within 10 s is failed with 504 by its timeout, but the timeout
// path never deletes the Map entry. From onset (1 h of production time) the
// inventory downstream starts dropping requests, about 1 in 40 of all calls,
// and every one of them stays in pendingCalls forever. Traffic follows a
// daily curve that rises through the morning from 08:00.
// LEAKY: pendingCalls keeps every timed-out call with its request payload.
import { randomUUID } from 'node:crypto';
import {
  buildBallast, envNumber, listen, onShutdown, onsetSeconds, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 8);
const ONSET_S = onsetSeconds(3600);
const CALL_TIMEOUT_S = 10;
const random = rng(808);
const SERVICES = { catalog: 0.4, cart: 0.2, inventory: 0.1, pricing: 0.2, profile: 0.1 };
const INVENTORY_DROP = 0.25; // of inventory calls, = 1 in 40 of all calls

function clockHour() {
  return CLOCK_H + programSeconds() / 3600;
}

/** Gateway requests per second at speed 1: a daily curve, ~3.6/s at 08:00 rising to 12/s at 12:30. */
function requestRate() {
  const h = clockHour() % 24;
  const day = (0.5 - 0.5 * Math.cos((2 * Math.PI * (h - 3.5)) / 18)) ** 2; // 0 at 03:30, 1 at 12:30
  return h < 3.5 || h > 21.5 ? 0.8 : 0.8 + 11.2 * day;
}

// --- downstream stand-ins ----------------------------------------------------
const downstreamTimers = new Set();
onShutdown(() => downstreamTimers.forEach(clearTimeout));
const downstreams = {
  deliver(service, call, reply) {
    if (service === 'inventory' && programSeconds() >= ONSET_S && random() < INVENTORY_DROP) return; // dropped on the floor
    const latencyS = 0.005 + 0.115 * random() ** 3;
    const timer = setTimeout(() => {
      downstreamTimers.delete(timer);
      reply(call.id, { ok: true, service, method: call.method, data: { items: call.payload.ids?.map((id) => ({ id, available: id.length % 3 })) ?? [], version: 7 } });
    }, (latencyS * 1000) / speed);
    downstreamTimers.add(timer);
  },
};

// --- RPC client ----------------------------------------------------------------
class RpcClient {
  constructor(name) {
    this.name = name;
    this.pendingCalls = new Map();
    this.stats = { calls: 0, replies: 0, timeouts: 0, lateReplies: 0 };
  }

  call(service, method, payload, headers) {
    return new Promise((resolve, reject) => {
      const call = {
        id: randomUUID(),
        service,
        method,
        payload,
        headers,
        startedAt: programSeconds(),
        deadline: programSeconds() + CALL_TIMEOUT_S,
        resolve,
        reject,
        timer: null,
      };
      call.timer = setTimeout(() => this.onTimeout(call), (CALL_TIMEOUT_S * 1000) / speed);
      this.pendingCalls.set(call.id, call);
      this.stats.calls++;
      downstreams.deliver(service, call, (id, result) => this.onReply(id, result));
    });
  }

  onReply(id, result) {
    const call = this.pendingCalls.get(id);
    if (call === undefined) {
      this.stats.lateReplies++;
      return;
    }
    this.pendingCalls.delete(id);
    clearTimeout(call.timer);
    this.stats.replies++;
    call.resolve(result);
  }

  onTimeout(call) {
    this.stats.timeouts++;
    call.timer = null;
    call.reject(new Error(`${call.service}.${call.method} timed out after ${CALL_TIMEOUT_S}s`));
  }
}

const rpc = new RpcClient('gateway');
onShutdown(() => {
  for (const call of rpc.pendingCalls.values()) if (call.timer) clearTimeout(call.timer);
});

// --- HTTP ---------------------------------------------------------------------
function send(res, status, payload) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function forwardedHeaders(req) {
  return { 'x-request-id': req.headers['x-request-id'] ?? randomUUID(), 'x-user-id': req.headers['x-user-id'] ?? '', 'user-agent': req.headers['user-agent'] ?? '', 'accept-language': req.headers['accept-language'] ?? 'en' };
}

async function handler(req, res) {
  const match = /^\/api\/(\w+)\/([\w-]+)/.exec(req.url);
  if (match === null) return req.url === '/healthz' ? send(res, 200, { ok: true }) : send(res, 404, { error: 'not found' });
  const [, service, method] = match;
  if (!(service in SERVICES)) return send(res, 404, { error: 'unknown service' });
  try {
    const body = req.method === 'POST' ? JSON.parse((await readBody(req, 256 * 1024)).toString('utf8')) : {};
    const payload = { ...body, query: req.url.split('?')[1] ?? '' };
    const result = await rpc.call(service, method, payload, forwardedHeaders(req));
    send(res, 200, result);
  } catch (error) {
    send(res, /timed out/.test(error.message) ? 504 : 502, { error: error.message });
  }
}

// --- clients (web and app) -------------------------------------------------------
const SERVICE_NAMES = Object.keys(SERVICES);
const METHODS = { catalog: ['search', 'product'], cart: ['get', 'add-item'], inventory: ['availability'], pricing: ['quote'], profile: ['me'] };
function pickService() {
  let r = random();
  for (const name of SERVICE_NAMES) if ((r -= SERVICES[name]) < 0) return name;
  return 'catalog';
}

function nextRequest() {
  const service = pickService();
  const method = METHODS[service][Math.floor(random() * METHODS[service].length)];
  const user = `u${Math.floor(random() * 100000)}`;
  const headers = { 'x-user-id': user, 'user-agent': random() < 0.6 ? 'RetailApp/5.12 (iOS 17.4)' : 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/123.0', 'accept-language': 'en-GB,en;q=0.9' };
  if (service === 'catalog' && method === 'search') return { path: `/api/catalog/search?q=item+${Math.floor(random() * 5000)}&page=1`, headers };
  const ids = Array.from({ length: 1 + Math.floor(random() * 12) }, () => `sku-${Math.floor(random() * 80000)}`);
  const body = JSON.stringify({ ids, storeId: `store-${Math.floor(random() * 300)}`, postcode: `SW${Math.floor(random() * 20)} ${Math.floor(random() * 9)}AB`, cartId: random() < 0.5 ? `cart_${user}` : undefined });
  return { method: 'POST', path: `/api/${service}/${method}`, headers: { ...headers, 'content-type': 'application/json' }, body };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const clients = selfRequests(port, { perSecond: requestRate, next: nextRequest, maxInFlight: 256 });
reportStats(() => ({
  retained: rpc.pendingCalls.size,
  clock: Math.round(clockHour() * 100) / 100,
  ratePerS: Math.round(requestRate() * 100) / 100,
  ...rpc.stats,
  sent: clients.sent,
  failed: clients.failed,
}));
ready(`API gateway: RPC pendingCalls kept on timeout, inventory drops 1 in 40 calls from ${ONSET_S} s (clock ${CLOCK_H}h, ballast ${ballastMb} MB)`);
