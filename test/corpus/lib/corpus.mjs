// Shared runtime for the production-time corpus (test/corpus/). It re-exports
// the scenario runtime (../../scenarios/lib/scenario.mjs: pacing, stats,
// self-load, SIGTERM/SIGINT shutdown) and adds what this corpus needs.
//
// THE DIFFERENCE FROM test/scenarios: here SCENARIO_SPEED=1 is real production
// time. Every rate in a program is a production rate at speed 1 (e.g. "2 MB
// per hour"), multiplied by SCENARIO_SPEED; every phase length is a production
// duration, divided by it. The benchmark runs the corpus at SCENARIO_SPEED=60
// (an hour in a minute).
//
// SCENARIO_ONSET is ALSO in speed-1 (production) seconds here and is scaled
// like any other phase: SCENARIO_ONSET=3600 at SCENARIO_SPEED=60 starts the
// leak after 60 wall-clock seconds. (In test/scenarios it is wall seconds.)
// Use onsetMs()/onsetSeconds() from this file, never the scenario lib's
// onsetSeconds() directly.
//
// Env (all optional):
//   SCENARIO_SPEED       float > 0, default 1 (1 = production time).
//   SCENARIO_ONSET       leak onset, speed-1 seconds; each program has a default.
//   SCENARIO_STATS_MS    stats interval (wall ms), default 1000.
//   SCENARIO_BALLAST_MB  default 0: MB of static live data built at start
//                        (a product catalogue and price table) that never
//                        changes; for measuring costs at big heaps. Give the
//                        process --max-old-space-size ≥ 2 × ballast + 600.
//   SCENARIO_LIFETIME_S  (restarts-often only) speed-1 seconds before the
//                        program exits 0 by itself.
//   CORPUS_CHECK=1       (checker only, with node --expose-gc) each stats line
//                        also carries heapAfterGc / externalAfterGc /
//                        arrayBuffersAfterGc, measured right after gc().
//
// Stats line: the scenario protocol (`t` wall seconds, `retained` units,
// memoryUsage()) plus `simT` (program time in speed-1 seconds) and whatever
// the program adds.
import http from 'node:http';
import { elapsedSeconds, every, onShutdown, paced, speed } from '../../scenarios/lib/scenario.mjs';

export { elapsedSeconds, every, listen, onShutdown, paced, ready, scaledMs, selfLoad, speed } from '../../scenarios/lib/scenario.mjs';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** A numeric env variable, or `fallback`; exits 2 on an invalid value. */
export function envNumber(name, fallback, isValid = (v) => v >= 0) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !isValid(value)) {
    process.stderr.write(`invalid ${name}=${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}

/** Leak onset in speed-1 seconds: SCENARIO_ONSET or this program's default. */
export function onsetSeconds(defaultSeconds) {
  return envNumber('SCENARIO_ONSET', defaultSeconds);
}

/** Leak onset in wall-clock milliseconds at the current speed. */
export function onsetMs(defaultSeconds) {
  return (onsetSeconds(defaultSeconds) * 1000) / speed;
}

/** Program time in speed-1 (production) seconds since start. */
export function programSeconds() {
  return elapsedSeconds() * speed;
}

const statsIntervalMs = envNumber('SCENARIO_STATS_MS', 1000, (v) => v >= 10);
const checking = process.env.CORPUS_CHECK === '1' && typeof globalThis.gc === 'function';

/**
 * Prints a `stats` line every SCENARIO_STATS_MS: `t`, `simT`, `collect()` and
 * process.memoryUsage(); under the checker also the same after a forced GC.
 */
export function reportStats(collect) {
  every(statsIntervalMs, () => {
    const t = Math.round(elapsedSeconds() * 1000) / 1000;
    const simT = Math.round(programSeconds());
    const { heapUsed, heapTotal, external, arrayBuffers, rss } = process.memoryUsage();
    const line = { t, simT, ...collect(), heapUsed, heapTotal, external, arrayBuffers, rss };
    if (checking) {
      globalThis.gc();
      const after = process.memoryUsage();
      line.heapAfterGc = after.heapUsed;
      line.externalAfterGc = after.external;
      line.arrayBuffersAfterGc = after.arrayBuffers;
    }
    process.stdout.write(`stats ${JSON.stringify(line)}\n`);
  });
}

/**
 * Sends requests built by `next()` ({ method, path, headers?, body? }) to
 * 127.0.0.1:`port` at `perSecond` (a number or a function; × speed), at most
 * `maxInFlight` at once, over a keep-alive agent. Response bodies are read and
 * dropped (or handed to `onResponse(status, text, request)` when given).
 */
export function selfRequests(port, { perSecond, next, maxInFlight = 64, onResponse }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
  onShutdown(() => agent.destroy());
  const counters = { sent: 0, completed: 0, failed: 0, inFlight: 0 };
  paced(perSecond, (due) => {
    for (let i = 0; i < due && counters.inFlight < maxInFlight; i++) {
      const request = next();
      if (request === null) continue;
      counters.inFlight++;
      counters.sent++;
      let finished = false;
      const done = (failed) => {
        if (finished) return;
        finished = true;
        counters.inFlight--;
        if (failed) counters.failed++;
        else counters.completed++;
      };
      const headers = { ...request.headers };
      if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
      const req = http.request(
        { host: '127.0.0.1', port, method: request.method ?? 'GET', path: request.path, headers, agent },
        (res) => {
          if (onResponse === undefined) {
            res.resume();
            res.on('end', () => done(false));
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => {
            done(false);
            onResponse(res.statusCode, text, request);
          });
        },
      );
      req.on('error', () => done(true)); // e.g. while shutting down
      req.end(request.body);
    }
  });
  return counters;
}

/** Reads a request body into one Buffer. */
export function readBody(req, limit = 8 * MiB) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let length = 0;
    req.on('data', (chunk) => {
      length += chunk.length;
      if (length > limit) reject(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length)));
    req.on('error', reject);
  });
}

/** Small deterministic PRNG (mulberry32) so runs are repeatable. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- Ballast: static live data, SCENARIO_BALLAST_MB of it -------------------
//
// A product catalogue (Map sku → product) and a flat price table (Array of
// price rows), built once at start and never touched again. Sizes measured on
// Node 20 x64 (no pointer compression): ~435 B per product with its strings
// and attribute object, ~83 B per price row; the catalogue gets 70 % of the
// bytes, the price table 30 %.
const BYTES_PER_PRODUCT = 435;
const BYTES_PER_PRICE_ROW = 83;
const BRANDS = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell'];
const CATEGORIES = ['garden', 'kitchen', 'outdoor', 'office', 'toys', 'audio', 'lighting', 'tools'];
const COLORS = ['red', 'green', 'blue', 'black', 'white', 'grey'];

/** Static data retained for the life of the process (never read by programs). */
export const ballast = { catalogue: new Map(), priceTable: [] };

function catalogueProduct(i) {
  const sku = `SKU-${(100000 + i).toString(36).toUpperCase()}-${i % 97}`;
  return {
    sku,
    title: `${BRANDS[i % BRANDS.length]} ${CATEGORIES[i % CATEGORIES.length]} item model ${i}`,
    brand: BRANDS[i % BRANDS.length],
    category: CATEGORIES[(i >> 3) % CATEGORIES.length],
    priceCents: 499 + ((i * 7919) % 50000),
    currency: i % 5 === 0 ? 'GBP' : 'EUR',
    stock: (i * 31) % 400,
    active: i % 17 !== 0,
    tags: [CATEGORIES[i % CATEGORIES.length], i % 2 === 0 ? 'sale' : 'new'],
    attributes: { color: COLORS[i % COLORS.length], weightGrams: 100 + (i % 900), sizeCode: `S${i % 12}` },
  };
}

function priceRow(i) {
  return { productIndex: i >> 2, validFrom: 1_700_000_000 + i * 60, priceCents: 499 + ((i * 104729) % 50000), channel: i % 3 };
}

/** Builds SCENARIO_BALLAST_MB MB of static data (once; call before ready()). Returns the MB built. */
export function buildBallast() {
  const megabytes = envNumber('SCENARIO_BALLAST_MB', 0);
  if (megabytes <= 0) return 0;
  const products = Math.round((megabytes * MiB * 0.7) / BYTES_PER_PRODUCT);
  const rows = Math.round((megabytes * MiB * 0.3) / BYTES_PER_PRICE_ROW);
  for (let i = 0; i < products; i++) {
    const product = catalogueProduct(i);
    ballast.catalogue.set(product.sku, product);
  }
  for (let i = 0; i < rows; i++) ballast.priceTable.push(priceRow(i));
  return megabytes;
}
