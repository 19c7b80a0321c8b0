// Analytics beacon collector of a news site: the CDN's edge workers forward
// the browsers' beacons (page views, scroll depth, clicks, web vitals) to this
// collector in small groups (POST /v1/collect). Each event is validated,
// enriched (site section, device class, a session bucket) and appended to the
// buffer array of the module-level `batcher` (class EventBatcher), which sends
// the buffer to the analytics warehouse's ingest API as one batch every 5 s or
// as soon as it holds 500 events, whichever comes first, and starts a new
// buffer. Traffic follows the day: quiet in the early morning, rising through
// the morning to the lunchtime and afternoon peak (the program's clock starts
// at 07:00 of the simulated day, SCENARIO_CLOCK_H), ~15 -> ~120 events/s.
//
// Healthy: at most one batch in the buffer plus the ones in flight to the
// warehouse; busier hours mean fuller, more frequent batches, not more held.
import { buildBallast, envNumber, every, listen, MiB, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0xbeac0);
const START_HOUR = envNumber('SCENARIO_CLOCK_H', 7, (v) => v >= 0 && v < 24);
const MAX_BATCH = 500;
const MAX_WAIT_SECONDS = 5;

/** Hour of the simulated day (0-24). */
function clockHour() {
  return (START_HOUR + programSeconds() / 3600) % 24;
}

/** Events per second by hour of day: ~15 at 04:00, ~120 at 16:00 (a raised cosine). */
function eventsPerSecond() {
  const phase = ((clockHour() - 4) / 24) * 2 * Math.PI;
  return 15 + 105 * (1 - Math.cos(phase)) / 2;
}

// --- batching ---------------------------------------------------------------------

class EventBatcher {
  constructor(maxBatch, maxWaitSeconds, send) {
    this.maxBatch = maxBatch;
    this.maxWaitSeconds = maxWaitSeconds;
    this.send = send;
    this.buffer = [];
    this.openedAt = 0;
    this.inFlight = 0;
    this.stats = { events: 0, batches: 0, bySize: 0, byTime: 0, lastBatchSize: 0 };
  }

  add(event) {
    if (this.buffer.length === 0) this.openedAt = programSeconds();
    this.buffer.push(event);
    this.stats.events++;
    if (this.buffer.length >= this.maxBatch) this.flush('size');
  }

  /** Called by the timer: sends a buffer that has waited long enough. */
  tick() {
    if (this.buffer.length > 0 && programSeconds() - this.openedAt >= this.maxWaitSeconds) this.flush('time');
  }

  flush(reason) {
    const batch = this.buffer;
    this.buffer = [];
    this.stats.batches++;
    this.stats.lastBatchSize = batch.length;
    if (reason === 'size') this.stats.bySize++;
    else this.stats.byTime++;
    this.inFlight++;
    this.send(batch).finally(() => this.inFlight--);
  }
}

// --- warehouse ingest stand-in: serialises the batch, answers after 5-20 ms ------------

const warehouse = {
  rows: 0,
  bytes: 0,
  async ingest(batch) {
    const body = JSON.stringify({ table: 'web_events', rows: batch });
    await new Promise((resolve) => setTimeout(resolve, 5 + random() * 15));
    this.rows += batch.length;
    this.bytes += body.length;
  },
};

const batcher = new EventBatcher(MAX_BATCH, MAX_WAIT_SECONDS, (batch) => warehouse.ingest(batch));

// --- enrichment -----------------------------------------------------------------------

const EVENT_TYPES = new Set(['page_view', 'scroll', 'click', 'web_vital', 'video_play']);
const SECTIONS = { politics: 'news', world: 'news', football: 'sport', tennis: 'sport', recipes: 'life', travel: 'life', markets: 'business' };

function deviceClass(ua) {
  if (ua.includes('Mobile')) return 'mobile';
  if (ua.includes('iPad') || ua.includes('Tablet')) return 'tablet';
  return 'desktop';
}

function enrich(raw, edge, receivedAt) {
  const path = String(raw.url ?? '/').split('?')[0];
  const topic = path.split('/')[1] ?? '';
  return {
    type: raw.type,
    anonymousId: raw.aid,
    sessionBucket: Number.parseInt(String(raw.sid).slice(-2), 16) % 64,
    path,
    section: SECTIONS[topic] ?? 'other',
    referrer: raw.ref || null,
    device: deviceClass(String(raw.ua ?? '')),
    country: edge.country,
    edge: edge.pop,
    value: typeof raw.value === 'number' ? raw.value : null,
    clientTs: raw.ts,
    receivedAt,
  };
}

// --- HTTP -------------------------------------------------------------------------------

const collector = { requests: 0, accepted: 0, dropped: 0 };

async function handler(req, res) {
  try {
    if (req.method === 'POST' && req.url === '/v1/collect') {
      const body = JSON.parse((await readBody(req, 1 * MiB)).toString('utf8'));
      const receivedAt = Math.round(programSeconds() * 1000);
      collector.requests++;
      for (const raw of body.events) {
        if (!EVENT_TYPES.has(raw.type) || typeof raw.aid !== 'string') {
          collector.dropped++;
          continue;
        }
        batcher.add(enrich(raw, body.edge, receivedAt));
        collector.accepted++;
      }
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, buffered: batcher.buffer.length }));
      return;
    }
    res.writeHead(404).end();
  } catch (error) {
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error.message ?? error));
  }
}

// --- the CDN edge workers (the load) -------------------------------------------------------

const POPS = [['fra', 'DE'], ['ams', 'NL'], ['lhr', 'GB'], ['cdg', 'FR'], ['mad', 'ES'], ['waw', 'PL']];
const TOPICS = Object.keys(SECTIONS);
const UAS = ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0', 'Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15'];
const EVENTS_PER_REQUEST = 12; // average group size forwarded by an edge worker

function beaconGroup() {
  const [pop, country] = POPS[Math.floor(random() * POPS.length)];
  const n = 1 + Math.floor(random() * (2 * EVENTS_PER_REQUEST - 1));
  const events = [];
  for (let i = 0; i < n; i++) {
    const topic = TOPICS[Math.floor(random() * TOPICS.length)];
    const roll = random();
    const type = roll < 0.35 ? 'page_view' : roll < 0.6 ? 'scroll' : roll < 0.8 ? 'click' : roll < 0.97 ? 'web_vital' : 'video_play';
    events.push({
      type,
      aid: `a_${Math.floor(random() * 4e6).toString(36)}`,
      sid: Math.floor(random() * 0xffffff).toString(16),
      url: `/${topic}/2024/06/${Math.floor(random() * 900 + 100)}-story?utm_source=${random() < 0.3 ? 'newsletter' : 'direct'}`,
      ref: random() < 0.4 ? 'https://www.google.com/' : '',
      ua: UAS[Math.floor(random() * UAS.length)],
      value: type === 'scroll' ? Math.round(random() * 100) : type === 'web_vital' ? Math.round(random() * 3000) : undefined,
      ts: Date.now(),
    });
  }
  return { method: 'POST', path: '/v1/collect', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ edge: { pop, country }, events }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const beacons = selfRequests(port, { perSecond: () => eventsPerSecond() / EVENTS_PER_REQUEST, maxInFlight: 16, next: beaconGroup });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

// The batcher's timer checks twice a second (production time) whether the buffer is due.
every(Math.max(1, 500 / speed), () => batcher.tick());

reportStats(() => ({
  retained: batcher.buffer.length,
  clockHour: Math.round(clockHour() * 100) / 100,
  eventsPerSecond: Math.round(eventsPerSecond() * 10) / 10,
  batches: batcher.stats.batches,
  bySize: batcher.stats.bySize,
  byTime: batcher.stats.byTime,
  lastBatchSize: batcher.stats.lastBatchSize,
  inFlight: batcher.inFlight,
  requestsFailed: beacons.failed + probes.failed,
}));

ready(`beacon-collector-batch-flush: buffers enriched beacon events, sends a batch every ${MAX_WAIT_SECONDS} s or at ${MAX_BATCH} events; traffic ramps with the day from ${START_HOUR}:00 (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
