// Storefront search/recommendation service: mostly idle, it forwards each
// query to the search cluster and waits (~300 ms median), then decorates the
// hits. 2 req/s, x2 during the two daily traffic peaks (1-2 h, 3-4 h).
//
// When the search cluster fails (~4 % of calls: 502/503 pages from its load
// balancer, 500s with a Java stack trace, 429s with a JSON body), the
// service keeps the upstream error response so that the /debug/upstream-
// errors page can show "what the upstream said" and the same failure isn't
// logged twice. The cache is keyed by the status and the response body -
// but every error body carries its own request id and timestamp, so every
// error is distinct: `errorResponses` (a module-level Map) grows by one
// entry per upstream error, forever, peaks or not.
import {
  buildBallast,
  listen,
  onShutdown,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';
import { createHash } from 'node:crypto';

const random = rng(0xe770);

const PEAKS = [
  [3600, 7200],
  [10800, 14400],
];
function trafficFactor() {
  const s = programSeconds();
  for (const [from, to] of PEAKS) {
    if (s >= from - 600 && s < from) return 1 + (s - (from - 600)) / 600;
    if (s >= from && s <= to) return 2;
    if (s > to && s <= to + 600) return 1 + (to + 600 - s) / 600;
  }
  return 1;
}

function logNormal(median, sigma) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

// --- the search cluster stand-in -------------------------------------------------------------

const FRAMES = [
  'org.elasticsearch.action.search.SearchPhaseController.reducedQueryPhase',
  'org.elasticsearch.action.search.FetchSearchPhase.innerRun',
  'org.elasticsearch.search.SearchService.executeQueryPhase',
  'org.elasticsearch.transport.TransportService.sendRequest',
  'io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead',
  'com.shop.search.gateway.QueryRouter.route',
  'com.shop.search.gateway.ShardSelector.pick',
  'java.util.concurrent.ThreadPoolExecutor.runWorker',
];

function errorBody(status, requestId) {
  const at = new Date().toISOString();
  if (status === 500) {
    const depth = 80 + Math.floor(random() * 120);
    const trace = Array.from({ length: depth }, (_, i) => `\tat ${FRAMES[(i * 7 + depth) % FRAMES.length]}(${FRAMES[i % FRAMES.length].split('.').at(-2)}.java:${100 + ((i * 37) % 900)})`).join('\n');
    return JSON.stringify({ error: 'search_phase_execution_exception', reason: 'all shards failed', requestId, at, stackTrace: `java.lang.IllegalStateException: shard [${Math.floor(random() * 12)}] unavailable\n${trace}` });
  }
  if (status === 429) return JSON.stringify({ error: 'too_many_requests', requestId, at, retryAfterMs: 250 + Math.floor(random() * 1000) });
  return `<html><head><title>${status} Bad Gateway</title></head><body><center><h1>${status} ${status === 502 ? 'Bad Gateway' : 'Service Unavailable'}</h1></center><hr><center>envoy</center><!-- request_id=${requestId} upstream=search-${Math.floor(random() * 9)}.internal at=${at} ${'padding to disable MSIE friendly error pages '.repeat(12)}--></body></html>`;
}

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

function querySearchCluster(query, requestId) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      const r = random();
      if (r < 0.04) {
        const status = r < 0.016 ? 500 : r < 0.027 ? 502 : r < 0.035 ? 503 : 429;
        resolve({ status, headers: { 'content-type': status === 500 || status === 429 ? 'application/json' : 'text/html', 'x-request-id': requestId, server: 'envoy' }, body: errorBody(status, requestId) });
        return;
      }
      const hits = Array.from({ length: 10 }, (_, i) => ({ id: `p${(query.length * 131 + i * 17) % 50000}`, score: 1 / (i + 1) }));
      resolve({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hits, took: 12 }) });
    }, Math.min(5000, logNormal(300, 0.6)) / speed);
    pendingTimers.add(timer);
  });
}

// --- error responses, "deduplicated" ---------------------------------------------------------------

const errorResponses = new Map();

function rememberUpstreamError(query, response) {
  const key = `${response.status}:${createHash('sha1').update(response.body).digest('hex')}`;
  let entry = errorResponses.get(key);
  if (entry === undefined) {
    entry = { status: response.status, headers: response.headers, body: response.body, query, firstSeen: programSeconds(), count: 0 };
    errorResponses.set(key, entry);
    console.error(`upstream ${response.status} for "${query}" (request ${response.headers['x-request-id']})`);
  }
  entry.count++;
  entry.lastSeen = programSeconds();
  return entry;
}

// --- HTTP ---------------------------------------------------------------------------------------

let requestSeq = 0;
const served = { ok: 0, upstreamErrors: 0 };

function sendJson(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function search(res, query) {
  const requestId = `req-${(++requestSeq).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`;
  const response = await querySearchCluster(query, requestId);
  if (response.status !== 200) {
    served.upstreamErrors++;
    rememberUpstreamError(query, response);
    return sendJson(res, 503, JSON.stringify({ error: 'search unavailable', requestId }));
  }
  const { hits } = JSON.parse(response.body);
  served.ok++;
  sendJson(res, 200, JSON.stringify({ query, results: hits.map((hit) => ({ ...hit, url: `/p/${hit.id}` })) }));
}

function handler(req, res) {
  req.resume();
  const url = new URL(req.url ?? '/', 'http://search.local');
  if (url.pathname === '/healthz') return sendJson(res, 200, '{"ok":true}');
  if (url.pathname === '/debug/upstream-errors') return sendJson(res, 200, JSON.stringify({ distinct: errorResponses.size }));
  if (url.pathname === '/v1/search') {
    return search(res, url.searchParams.get('q') ?? '').catch((error) => {
      if (!res.headersSent) sendJson(res, 500, JSON.stringify({ error: String(error) }));
    });
  }
  sendJson(res, 404, '{"error":"not found"}');
}

const WORDS = ['red', 'shoes', 'running', 'kids', 'jacket', 'rain', 'lamp', 'desk', 'oak', 'usb-c', 'charger', 'mug', 'tent', 'wool', 'socks'];
function nextQuery() {
  const q = Array.from({ length: 1 + Math.floor(random() * 3) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
  return { method: 'GET', path: `/v1/search?q=${encodeURIComponent(q)}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const shoppers = selfRequests(port, { perSecond: () => 2 * trafficFactor(), maxInFlight: 64, next: nextQuery });
const balancer = selfRequests(port, { perSecond: 0.2, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: errorResponses.size,
  trafficFactor: Math.round(trafficFactor() * 100) / 100,
  served: served.ok,
  upstreamErrors: served.upstreamErrors,
  requestsFailed: shoppers.failed + balancer.failed,
}));

ready(`upstream-error-cache-leak: mostly idle search service, 2 req/s (x2 at 1-2 h and 3-4 h), every distinct upstream error kept in errorResponses (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
