// Fare quote API (healthy): GET /v1/quote?from=…&to=… asks the pricing engine
// (a second HTTP server in this process, on 127.0.0.1) for a fare and returns
// it. Every upstream call arms a request timeout (setTimeout, 2 s at speed 1)
// and clears it when the response arrives; on timeout the request is
// aborted and the client gets 504 with a cached-fare fallback.
//
// Load follows a 3-hour cycle (speed 1): 1 req/s at the trough, 5 req/s at
// the peak (first peak at 90 min). The engine answers in 50–400 ms, ~0.5 %
// of its answers take 3 s (they time out). Nothing outlives its request, so
// the heap floor only follows the (small) number of requests in flight.
// At SCENARIO_SPEED=60 a cycle lasts 3 min.
// stats: retained = upstream calls in flight (armed timeouts).
import http from 'node:http';
import { buildBallast, listen, programSeconds, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const MIN_PER_SECOND = 1;
const MAX_PER_SECOND = 5;
const PERIOD_SECONDS = 3 * 3600;
const UPSTREAM_TIMEOUT_SECONDS = 2;

// --- the pricing engine -------------------------------------------------------------
const engineRandom = rng(505);
const { port: enginePort } = await listen((req, res) => {
  const url = new URL(req.url, 'http://engine');
  const slow = engineRandom() < 0.005;
  const delay = slow ? 3 : 0.05 + engineRandom() * 0.35;
  setTimeout(() => {
    const base = 4900 + ((url.searchParams.get('from').charCodeAt(0) * 131 + url.searchParams.get('to').charCodeAt(1) * 17) % 30000);
    const fares = ['saver', 'flex', 'business'].map((cls, i) => ({ fareClass: cls, amountCents: base * (1 + i * 0.8) | 0, currency: 'EUR', seatsLeft: 1 + ((base >> i) % 9) }));
    if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ route: `${url.searchParams.get('from')}-${url.searchParams.get('to')}`, fares }));
  }, scaledMs(delay));
});

// --- the API ------------------------------------------------------------------------
const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const stats = { inFlight: 0, ok: 0, timedOut: 0, failed: 0 };
const lastFares = new Map(); // route → last good answer (one per route, 400 routes)

function requestFare(from, to) {
  return new Promise((resolve, reject) => {
    stats.inFlight++;
    const req = http.get({ host: '127.0.0.1', port: enginePort, path: `/fare?from=${from}&to=${to}`, agent: upstreamAgent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        clearTimeout(timeout);
        stats.inFlight--;
        resolve(JSON.parse(text));
      });
    });
    const timeout = setTimeout(() => {
      req.destroy(new Error('upstream timeout'));
    }, scaledMs(UPSTREAM_TIMEOUT_SECONDS));
    req.on('error', (error) => {
      clearTimeout(timeout);
      stats.inFlight--;
      reject(error);
    });
  });
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  const url = new URL(req.url, 'http://api');
  if (url.pathname !== '/v1/quote') return res.writeHead(404).end();
  const from = url.searchParams.get('from');
  const to = url.searchParams.get('to');
  try {
    const quote = await requestFare(from, to);
    lastFares.set(quote.route, quote);
    stats.ok++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(quote));
  } catch (error) {
    if (error.message === 'upstream timeout') stats.timedOut++;
    else stats.failed++;
    const cached = lastFares.get(`${from}-${to}`);
    res.writeHead(504, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'pricing unavailable', cached: cached ?? null }));
  }
});

// --- travellers --------------------------------------------------------------------------
function loadNow() {
  const phase = (programSeconds() % PERIOD_SECONDS) / PERIOD_SECONDS; // trough at 0, peak at 0.5
  return MIN_PER_SECOND + ((MAX_PER_SECOND - MIN_PER_SECOND) * (1 - Math.cos(2 * Math.PI * phase))) / 2;
}
const random = rng(506);
const AIRPORTS = ['BER', 'MUC', 'FRA', 'HAM', 'CGN', 'DUS', 'STR', 'VIE', 'ZRH', 'AMS', 'CDG', 'LHR', 'MAD', 'BCN', 'FCO', 'LIS', 'CPH', 'OSL', 'ARN', 'HEL'];
selfRequests(port, {
  perSecond: loadNow,
  next: () => {
    const from = AIRPORTS[Math.floor(random() * AIRPORTS.length)];
    const to = AIRPORTS[Math.floor(random() * AIRPORTS.length)];
    return { path: `/v1/quote?from=${from}&to=${to}&date=2024-07-${10 + Math.floor(random() * 20)}&pax=${1 + Math.floor(random() * 3)}` };
  },
  maxInFlight: 128,
});

reportStats(() => ({ retained: stats.inFlight, load: Math.round(loadNow() * 100) / 100, ...stats, ballastMB }));
ready(`fare-quote-api: ${MIN_PER_SECOND}–${MAX_PER_SECOND} req/s over a ${PERIOD_SECONDS / 3600} h cycle (speed 1), ${UPSTREAM_TIMEOUT_SECONDS} s upstream timeout`);
