// Mobile analytics collector: app SDKs POST batches of events (one device per
// batch) to /v1/batch. An abuse guard limits every device to 600 events per
// minute with a sliding-log rate limiter: the module-level plain object
// `hitsByClient` maps a client key ("appId:deviceId") to an array of event
// timestamps, and allowEvents() counts the ones inside the window by scanning
// back from the end.
//
// The log is never pruned: old timestamps are skipped by the scan but never
// removed, and devices that went away keep their arrays forever. Active
// devices keep adding, and new devices (installs, reinstalls) keep arriving.
// Speed 1: 8 batches/s × ~32 events (a timestamp each, ~10 B with the array's
// spare capacity) plus ~0.3 new devices/s (~350 B each) → ~10 MB/h of JS heap
// from the start.
// Cap: past 12 000 000 logged timestamps (~120 MB, ~12 h at speed 1, ~12 min at
// SCENARIO_SPEED=60) the limiter fails open and stops logging.
// stats: retained = timestamps logged, clients = keys in hitsByClient.
import { buildBallast, listen, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const BATCHES_PER_SECOND = 8;
const EVENTS_PER_BATCH = 32;
const ACTIVE_DEVICES = 400;
const NEW_DEVICES_PER_SECOND = 0.3;
const LIMIT_PER_WINDOW = 600;
const WINDOW_SECONDS = 60;
const MAX_LOGGED = 12_000_000;

const hitsByClient = {};
const limiter = { clients: 0, logged: 0, limited: 0, failOpen: 0 };
const totals = { batches: 0, events: 0, dropped: 0 };

function countSince(log, since) {
  let n = 0;
  for (let i = log.length - 1; i >= 0 && log[i] > since; i--) n++;
  return n;
}

function allowEvents(key, count, now) {
  let log = hitsByClient[key];
  if (log === undefined) {
    log = hitsByClient[key] = [];
    limiter.clients++;
  }
  if (countSince(log, now - scaledMs(WINDOW_SECONDS)) + count > LIMIT_PER_WINDOW) {
    limiter.limited++;
    return false;
  }
  if (limiter.logged >= MAX_LOGGED) {
    limiter.failOpen++;
    return true;
  }
  for (let i = 0; i < count; i++) log.push(now);
  limiter.logged += count;
  return true;
}

function clientKey(batch) {
  return `${batch.appId}:${batch.deviceId}`;
}

function accept(batch) {
  totals.batches++;
  totals.events += batch.events.length;
  // ... forwarded to the event pipeline (a Kafka producer in production).
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/batch') return res.writeHead(404).end();
  let batch;
  try {
    batch = JSON.parse(await readBody(req));
  } catch {
    return res.writeHead(400).end();
  }
  if (!allowEvents(clientKey(batch), batch.events.length, Date.now())) {
    totals.dropped += batch.events.length;
    return res.writeHead(429, { 'retry-after': '60' }).end();
  }
  accept(batch);
  res.writeHead(204).end();
});

// --- the SDKs: a pool of active devices, new installs replacing old ones ------------
const random = rng(404);
const APPS = ['shop-ios', 'shop-android', 'wallet-ios', 'wallet-android', 'news-web'];
const EVENTS = ['screen_view', 'tap', 'add_to_cart', 'search', 'scroll_depth', 'purchase', 'app_open', 'push_open'];
let deviceSeq = 0;
const newDevice = () => ({ appId: APPS[deviceSeq % APPS.length], deviceId: `d-${(++deviceSeq * 2654435761 >>> 0).toString(16)}-${deviceSeq.toString(36)}` });
const devices = Array.from({ length: ACTIVE_DEVICES }, newDevice);
let installs = 0;
function nextBatch() {
  for (; installs < Math.floor(programSeconds() * NEW_DEVICES_PER_SECOND); installs++) devices[Math.floor(random() * devices.length)] = newDevice();
  const device = devices[Math.floor(random() * devices.length)];
  const events = [];
  const n = EVENTS_PER_BATCH - 8 + Math.floor(random() * 17);
  for (let i = 0; i < n; i++) events.push({ name: EVENTS[Math.floor(random() * EVENTS.length)], ts: Date.now() - Math.floor(random() * 30_000), screen: `s${Math.floor(random() * 40)}` });
  return { method: 'POST', path: '/v1/batch', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...device, sdk: 'analytics-ios/7.2.1', events }) };
}
selfRequests(port, { perSecond: BATCHES_PER_SECOND, next: nextBatch, maxInFlight: 16 });

reportStats(() => ({ retained: limiter.logged, ...limiter, ...totals, capped: limiter.logged >= MAX_LOGGED, ballastMB }));
ready(`sdk-event-collector: ${BATCHES_PER_SECOND} batches/s × ~${EVENTS_PER_BATCH} events (speed 1), per-device sliding-log limiter`);
