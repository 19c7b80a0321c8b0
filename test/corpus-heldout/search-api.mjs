// Search API for a parts catalogue: GET /search?q=… ranks a small in-memory
// index and returns the top hits; a middleware times every request into a
// LatencyAggregator (./latency-aggregator.mjs) that closes a per-second
// window (a 4096-slot Float64Array, 32 KB off the JS heap) every second.
// Its trim of the window list builds the trimmed copy and throws it away, so
// every window stays in `aggregator.windows`.
//
// Speed 1: 6 req/s; one 32 KB window per second → ~113 MiB/h (~118 MB/h) of
// external (ArrayBuffer) memory; the JS heap grows only by the typed-array
// objects (~0.5 MB/h).
// Cap: the aggregator keeps at most 5 500 windows (~172 MiB, ~1.5 h at speed 1,
// ~92 s at SCENARIO_SPEED=60); later windows are not archived.
// stats: retained = aggregator.windows.length.
import { LatencyAggregator } from './latency-aggregator.mjs';
import { buildBallast, every, listen, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 6;
const aggregator = new LatencyAggregator({ capacity: 4096, keep: 60, maxWindows: 5500 });

// --- the index -----------------------------------------------------------------
const WORDS = ['bearing', 'bolt', 'bracket', 'bushing', 'clamp', 'coupling', 'flange', 'gasket', 'gear', 'hinge', 'hose', 'nozzle', 'nut', 'o-ring', 'pulley', 'seal', 'shaft', 'spring', 'valve', 'washer'];
const MATERIALS = ['steel', 'brass', 'nylon', 'aluminium', 'stainless', 'rubber'];
const parts = [];
for (let i = 0; i < 8000; i++) {
  parts.push({ id: `P${100000 + i}`, name: `${MATERIALS[i % MATERIALS.length]} ${WORDS[i % WORDS.length]} ${4 + (i % 40)}mm`, words: [WORDS[i % WORDS.length], MATERIALS[i % MATERIALS.length]], popularity: (i * 7919) % 1000 });
}

function score(part, terms) {
  let s = 0;
  for (const t of terms) if (part.words.includes(t)) s += 10;
  return s === 0 ? 0 : s + part.popularity / 1000;
}

function search(q) {
  const terms = q.toLowerCase().split(/\s+/);
  const hits = [];
  for (let i = 0; i < parts.length; i += 4) {
    const s = score(parts[i], terms);
    if (s > 0) hits.push({ s, part: parts[i] });
  }
  hits.sort((a, b) => b.s - a.s);
  return hits.slice(0, 10).map((h) => h.part);
}

function timed(handler) {
  return (req, res) => {
    const started = performance.now();
    res.on('finish', () => aggregator.record(performance.now() - started));
    handler(req, res);
  };
}

const ballastMB = buildBallast();
const { port } = await listen(
  timed((req, res) => {
    const url = new URL(req.url, 'http://search');
    if (url.pathname === '/metrics') return res.writeHead(200).end(JSON.stringify(aggregator.percentiles()));
    if (url.pathname !== '/search') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ q: url.searchParams.get('q'), hits: search(url.searchParams.get('q') ?? '') }));
  }),
);

every(scaledMs(1), () => aggregator.rotate());

// Clients, plus the monitoring agent scraping /metrics every 15 s (speed 1).
const random = rng(44);
let n = 0;
const scrapeEvery = Math.round(15 * REQUESTS_PER_SECOND);
selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  next: () => (++n % scrapeEvery === 0 ? { method: 'GET', path: '/metrics' } : { method: 'GET', path: `/search?q=${MATERIALS[Math.floor(random() * MATERIALS.length)]}+${WORDS[Math.floor(random() * WORDS.length)]}` }),
});

reportStats(() => ({ retained: aggregator.windows.length, capped: aggregator.windows.length >= aggregator.maxWindows, dropped: aggregator.dropped, ballastMB }));
ready(`search-api: ${REQUESTS_PER_SECOND} req/s (speed 1), one 32 KB latency window per second`);
