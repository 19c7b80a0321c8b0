// campaign-webhook-burst (healthy): e-mail event webhook receiver.
//
// POST /webhooks/esp receives delivery/open/click events from the e-mail
// provider (~1.2 KB JSON, HMAC-SHA256 signed). The receiver verifies the
// signature, drops duplicates (event ids remembered for 10 minutes), answers
// 202 and buffers the event until the CRM's ingest API acknowledges it. The
// CRM is slow: it accepts batches of up to 50 at ~5 events/s. Normal traffic
// is 2 events/s at speed 1; 25 minutes after the deploy (process start) a
// marketing campaign goes out and traffic is ×4 (8 events/s) for ~45 minutes,
// so the buffer builds up ~3 events/s, then drains at ~3 events/s once the
// campaign is over, back to empty ~45 min after it ends.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const BASE_EVENTS_PER_S = 2;
const CAMPAIGN_START_S = 1500; // 25 min after the deploy
const CAMPAIGN_LENGTH_S = 2700; // 45 min
const CAMPAIGN_FACTOR = 4;
const CRM_EVENTS_PER_S = 5;
const CRM_BATCH = 50;
const CRM_ACK_LATENCY_S = 0.4;
const DEDUPE_WINDOW_S = 600;
const MAX_BUFFERED = 150_000;
const SIGNING_SECRET = 'whsec_5f2c1d0e8b7a49e3a1c6d2b0f9e8d7c6';

const nowMs = () => programSeconds() * 1000;
const simSleep = (seconds) => new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / speed));

function campaignMultiplier(t) {
  const since = t - CAMPAIGN_START_S;
  if (since < 0 || since >= CAMPAIGN_LENGTH_S) return 1;
  if (since < 120) return 1 + ((CAMPAIGN_FACTOR - 1) * since) / 120; // sends ramp up over 2 min
  const left = CAMPAIGN_LENGTH_S - since;
  if (left < 600) return 1 + ((CAMPAIGN_FACTOR - 1) * left) / 600; // opens/clicks tail off
  return CAMPAIGN_FACTOR;
}

// --- buffer of events waiting for the CRM ------------------------------------------

class PendingEvents {
  constructor(maxLength) {
    this.items = [];
    this.head = 0;
    this.maxLength = maxLength;
    this.dropped = 0;
    this.acked = 0;
    this.peak = 0;
  }

  get length() {
    return this.items.length - this.head;
  }

  push(event) {
    if (this.length >= this.maxLength) {
      this.items[this.head++] = undefined; // drop the oldest
      this.dropped++;
    }
    this.items.push(event);
    if (this.length > this.peak) this.peak = this.length;
  }

  /** The oldest `n` events, left in the buffer until ack(). */
  peek(n) {
    return this.items.slice(this.head, this.head + n);
  }

  ack(n) {
    for (let i = 0; i < n; i++) this.items[this.head + i] = undefined;
    this.head += n;
    this.acked += n;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

const pending = new PendingEvents(MAX_BUFFERED);
const recentEventIds = new Map(); // event id -> expiry (ms)

function toPendingEvent(raw, payload) {
  return {
    id: payload.event_id,
    type: payload.event,
    campaignId: payload.campaign?.id ?? null,
    receivedAt: nowMs(),
    attempts: 0,
    body: raw,
  };
}

// --- the slow CRM downstream ----------------------------------------------------

const crm = { batches: 0, events: 0, throttled: 0 };
const crmRandom = rng(77);

/** Simulated CRM ingest call: takes batch.length / 5 s, occasionally throttles. */
async function postToCrm(batch) {
  await simSleep(CRM_ACK_LATENCY_S + batch.length / CRM_EVENTS_PER_S);
  if (crmRandom() < 0.01) {
    crm.throttled++;
    return { status: 429, retryAfterS: 5 };
  }
  // The CRM parses what we send; the request body is built per batch.
  const request = JSON.stringify({ source: 'esp', events: batch.map((event) => event.body) });
  crm.batches++;
  crm.events += batch.length;
  return { status: 200, accepted: batch.length, bytes: request.length };
}

let forwarderRunning = false;
async function runForwarder() {
  if (forwarderRunning) return;
  forwarderRunning = true;
  try {
    while (pending.length > 0) {
      const batch = pending.peek(CRM_BATCH);
      for (const event of batch) event.attempts++;
      const result = await postToCrm(batch);
      if (result.status === 200) pending.ack(batch.length);
      else await simSleep(result.retryAfterS);
    }
  } finally {
    forwarderRunning = false;
  }
}

// --- HTTP receiver ---------------------------------------------------------------------

const received = { accepted: 0, duplicates: 0, badSignature: 0, badRequest: 0 };

function signatureOk(raw, header) {
  if (typeof header !== 'string') return false;
  const expected = createHmac('sha256', SIGNING_SECRET).update(raw).digest('hex');
  const given = Buffer.from(header.replace(/^sha256=/, ''), 'hex');
  return given.length === 32 && timingSafeEqual(given, Buffer.from(expected, 'hex'));
}

function seenRecently(id, now) {
  const expiry = recentEventIds.get(id);
  if (expiry !== undefined && expiry > now) return true;
  recentEventIds.set(id, now + DEDUPE_WINDOW_S * 1000);
  return false;
}

async function handleWebhook(req, res) {
  const raw = (await readBody(req, 256 * 1024)).toString('utf8');
  if (!signatureOk(raw, req.headers['x-esp-signature'])) {
    received.badSignature++;
    res.writeHead(401).end();
    return;
  }
  let payload;
  try {
    payload = JSON.parse(raw);
  } catch {
    received.badRequest++;
    res.writeHead(400).end();
    return;
  }
  if (seenRecently(payload.event_id, nowMs())) {
    received.duplicates++;
    res.writeHead(200).end('{"duplicate":true}');
    return;
  }
  pending.push(toPendingEvent(raw, payload));
  received.accepted++;
  res.writeHead(202, { 'content-type': 'application/json' }).end('{"queued":true}');
  runForwarder();
}

function handleRequest(req, res) {
  if (req.method === 'POST' && req.url === '/webhooks/esp') {
    handleWebhook(req, res).catch(() => res.writeHead(500).end());
  } else if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200).end(JSON.stringify({ pending: pending.length }));
  } else {
    res.writeHead(404).end();
  }
}

every((60 * 1000) / speed, () => {
  const now = nowMs();
  for (const [id, expiry] of recentEventIds) if (expiry <= now) recentEventIds.delete(id);
});

// --- the e-mail provider sending events -------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handleRequest);

const EVENTS = ['delivered', 'delivered', 'delivered', 'opened', 'opened', 'clicked', 'bounced', 'unsubscribed'];
const DOMAINS = ['gmail.com', 'outlook.com', 'yahoo.com', 'web.de', 'icloud.com', 'example.org'];
const AGENTS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36',
];
const next = rng(4242);
let lastEventId = null;

function espEvent(t) {
  const inCampaign = campaignMultiplier(t) > 1;
  const event = EVENTS[Math.floor(next() * EVENTS.length)];
  const user = Math.floor(next() * 2_000_000);
  const campaign = inCampaign && next() < 0.75
    ? { id: 'cmp_spring_sale_2024', name: 'Spring sale – 30 % off everything', segment: 'all-subscribers-eu' }
    : { id: `txn_${Math.floor(next() * 40)}`, name: 'Transactional', segment: 'orders' };
  return {
    event_id: randomUUID(),
    event,
    timestamp: Math.floor(Date.now() / 1000),
    recipient: `user${user}@${DOMAINS[user % DOMAINS.length]}`,
    message_id: `<${randomUUID()}@mail.esp.example>`,
    campaign,
    tags: ['newsletter', `locale-${['de', 'en', 'fr'][user % 3]}`, `cohort-${user % 52}`],
    url: event === 'clicked' ? `https://shop.example.com/sale?utm_source=esp&utm_campaign=${campaign.id}&uid=${user}` : null,
    user_agent: event === 'opened' || event === 'clicked' ? AGENTS[user % AGENTS.length] : null,
    ip: `${10 + (user % 200)}.${(user >> 8) & 255}.${(user >> 3) & 255}.${user & 255}`,
    smtp: { response: '250 2.0.0 OK 1717000000 x12si123456qkb.89 - gsmtp', mx: `mx${user % 4}.${DOMAINS[user % DOMAINS.length]}`, attempt: 1 },
    metadata: { list: 'main', subscriber_id: `sub_${user}`, double_opt_in: true, consent_at: '2023-11-02T10:14:00Z' },
  };
}

const provider = selfRequests(port, {
  perSecond: () => BASE_EVENTS_PER_S * campaignMultiplier(programSeconds()),
  maxInFlight: 32,
  next() {
    // Providers retry on timeouts: ~1 % of deliveries are repeats.
    const payload = espEvent(programSeconds());
    if (lastEventId !== null && next() < 0.01) payload.event_id = lastEventId;
    lastEventId = payload.event_id;
    const body = JSON.stringify(payload);
    const signature = `sha256=${createHmac('sha256', SIGNING_SECRET).update(body).digest('hex')}`;
    return { method: 'POST', path: '/webhooks/esp', headers: { 'content-type': 'application/json', 'x-esp-signature': signature }, body };
  },
});

let lastAccepted = 0;
let lastT = 0;
reportStats(() => {
  const t = programSeconds();
  const rps = (received.accepted - lastAccepted) / Math.max(1e-9, t - lastT);
  lastAccepted = received.accepted;
  lastT = t;
  return {
    retained: pending.length,
    rps: Math.round(rps * 10) / 10,
    targetRps: Math.round(BASE_EVENTS_PER_S * campaignMultiplier(t) * 100) / 100,
    accepted: received.accepted,
    duplicates: received.duplicates,
    acked: pending.acked,
    peakPending: pending.peak,
    dropped: pending.dropped,
    dedupeIds: recentEventIds.size,
    crmThrottled: crm.throttled,
    failed: provider.failed,
    ballastMb,
  };
});

ready(`campaign-webhook-burst: ESP webhook receiver on 127.0.0.1:${port}, ${BASE_EVENTS_PER_S} events/s (speed 1), ×${CAMPAIGN_FACTOR} from ${CAMPAIGN_START_S} s for ${CAMPAIGN_LENGTH_S} s, CRM drains ${CRM_EVENTS_PER_S}/s`);
