// Leaky (heap), inside a dependency: a shipping-quote API that memoizes its
// quote computation with tiny-memo (./node_modules/tiny-memo), keyed by the
// whole request including its timestamp, so no key is ever seen twice and the
// dependency's internal Map (`cache` in tiny-memo/index.js) only grows.
//
// GET /v1/shipping-quote?from=…&to=…&grams=… computes carrier options for a
// parcel. The memo key was meant to be (from, to, weight band); a later change
// passed the full request object, which carries `requestedAt`.
//
// Speed 1: 9 req/s, ~2.5 KB per cached quote (14 carrier options, allocated
// in computeQuote) → ~80 MB/h of JS heap from the start. Cap: tiny-memo's
// maxSize, set to 75 000 "as a sanity bound" (~190 MB, after ~2.3 h at speed
// 1, ~2.3 min at SCENARIO_SPEED=60); beyond it results are no longer cached.
// stats: retained = entries in tiny-memo's cache.
import memoize from 'tiny-memo';
import { buildBallast, listen, ready, reportStats, rng, selfRequests } from './lib/corpus.mjs';

const REQUESTS_PER_SECOND = 9;
const CARRIERS = [
  { carrier: 'DHL', service: 'Paket', basePerKg: 210, days: 2 },
  { carrier: 'DHL', service: 'Express', basePerKg: 690, days: 1 },
  { carrier: 'DPD', service: 'Classic', basePerKg: 190, days: 3 },
  { carrier: 'GLS', service: 'Business', basePerKg: 175, days: 3 },
  { carrier: 'UPS', service: 'Standard', basePerKg: 240, days: 2 },
  { carrier: 'UPS', service: 'Saver', basePerKg: 520, days: 1 },
  { carrier: 'Hermes', service: 'Päckchen', basePerKg: 150, days: 4 },
  { carrier: 'Hermes', service: 'Paket', basePerKg: 185, days: 3 },
  { carrier: 'DHL', service: 'Warenpost', basePerKg: 160, days: 3 },
  { carrier: 'DHL', service: 'Sperrgut', basePerKg: 330, days: 4 },
  { carrier: 'DPD', service: 'Express 12', basePerKg: 720, days: 1 },
  { carrier: 'DPD', service: 'Predict', basePerKg: 230, days: 2 },
  { carrier: 'GLS', service: 'Express', basePerKg: 640, days: 1 },
  { carrier: 'UPS', service: 'Express Saver', basePerKg: 610, days: 1 },
];
const ZONES = { DE: 1, AT: 2, NL: 2, FR: 3, IT: 3, ES: 4, PL: 3, SE: 4 };

function computeQuote(request) {
  const kg = Math.max(0.1, request.grams / 1000);
  const zone = Math.abs(ZONES[request.to] - ZONES[request.from]) + 1;
  const options = [];
  for (const c of CARRIERS) {
    const priceCents = Math.round(c.basePerKg * kg * (1 + zone * 0.35) + 290);
    options.push({
      carrier: c.carrier,
      service: c.service,
      priceCents,
      currency: 'EUR',
      etaDays: c.days + zone - 1,
      cutoff: `${16 + (zone % 3)}:00`,
      co2Grams: Math.round(kg * zone * 57),
      label: `${c.carrier} ${c.service} (${c.days + zone - 1} days)`,
    });
  }
  return {
    route: `${request.from}-${request.to}`,
    zone,
    weightBand: Math.ceil(kg),
    computedAt: Date.now(),
    cheapest: options.reduce((a, b) => (a.priceCents <= b.priceCents ? a : b)),
    options,
  };
}

// Memoized by the whole request object (from, to, grams, requestedAt).
const quoteFor = memoize(computeQuote, { key: (request) => JSON.stringify(request), maxSize: 75_000 });

const ballastMB = buildBallast();
const { port } = await listen((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/v1/shipping-quote') return res.writeHead(404).end();
  const request = {
    from: url.searchParams.get('from'),
    to: url.searchParams.get('to'),
    grams: Number(url.searchParams.get('grams')),
    requestedAt: Date.now(),
  };
  if (!(request.from in ZONES) || !(request.to in ZONES)) return res.writeHead(400).end();
  const quote = quoteFor(request);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(quote));
});

const random = rng(7);
const countries = Object.keys(ZONES);
selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  next: () => ({
    method: 'GET',
    path: `/v1/shipping-quote?from=DE&to=${countries[Math.floor(random() * countries.length)]}&grams=${100 + Math.floor(random() * 20_000)}`,
  }),
});

reportStats(() => ({ retained: quoteFor.cache.size, capped: quoteFor.cache.size >= 75_000, hits: quoteFor.stats.hits, ballastMB }));
ready('dependency-cache: tiny-memo caches every quote under a unique key (~80 MB/h at speed 1)');
