// outage-backlog-drain — analytics forwarder riding out a warehouse outage (healthy).
//
// A collector receives tracking events (page views, clicks, add-to-cart; ~0.75 KB
// each as objects) at 10/s at speed 1 and forwards them in batches of up to 100
// to the data warehouse's ingest API, which accepts ~50 events/s. Events wait in
// an in-memory buffer (`outbox`) until a batch is acknowledged. From 15 min to
// 45 min after start the ingest API is down: every send fails, the sender backs
// off (5 s doubling to 60 s) and the buffer backs up to ~18 500 events (~14 MB).
// When the API comes back the sender drains it at ~40 events/s net, back to
// empty by ~54 min (~3 250 s); afterwards the floor is where it was before the
// outage. Cap: the buffer drops the oldest events beyond 150 000 (not reached).
//
// `retained` = events buffered.
import {
  buildBallast,
  paced,
  programSeconds,
  ready,
  reportStats,
  rng,
  scaledMs,
} from '../corpus/lib/corpus.mjs';

const EVENTS_PER_SECOND = 10;
const INGEST_EVENTS_PER_SECOND = 50;
const BATCH_SIZE = 100;
const OUTAGE_FROM_S = 15 * 60;
const OUTAGE_TO_S = 45 * 60;
const MAX_BUFFERED = 150_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- the buffer -------------------------------------------------------------------

class Outbox {
  constructor(maxEvents) {
    this.maxEvents = maxEvents;
    this.items = [];
    this.head = 0;
    this.dropped = 0;
  }

  get length() {
    return this.items.length - this.head;
  }

  push(event) {
    if (this.length >= this.maxEvents) {
      this.head++;
      this.dropped++;
    }
    this.items.push(event);
  }

  peek(max) {
    return this.items.slice(this.head, this.head + max);
  }

  ack(count) {
    this.head += count;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

const outbox = new Outbox(MAX_BUFFERED);

// --- the warehouse ingest API (simulated) ------------------------------------------

class IngestError extends Error {}

const warehouse = {
  accepted: 0,
  bytes: 0,
  async ingest(batch) {
    const t = programSeconds();
    if (t >= OUTAGE_FROM_S && t < OUTAGE_TO_S) {
      await sleep(20);
      throw new IngestError('connect ECONNREFUSED 10.20.0.14:443');
    }
    const body = JSON.stringify({ batch, sentAt: new Date().toISOString() });
    await sleep(scaledMs(batch.length / INGEST_EVENTS_PER_SECOND));
    this.accepted += batch.length;
    this.bytes += body.length;
  },
};

const sender = { batches: 0, failures: 0, backoffS: 0 };

async function runSender() {
  for (;;) {
    const batch = outbox.peek(BATCH_SIZE);
    if (batch.length === 0) {
      await sleep(scaledMs(1));
      continue;
    }
    try {
      await warehouse.ingest(batch);
      outbox.ack(batch.length);
      sender.batches++;
      sender.backoffS = 0;
    } catch (err) {
      sender.failures++;
      sender.lastError = err.message;
      sender.backoffS = Math.min(sender.backoffS === 0 ? 5 : sender.backoffS * 2, 60);
      await sleep(scaledMs(sender.backoffS));
    }
  }
}

// --- incoming events -----------------------------------------------------------------

const random = rng(0xa11);
const TYPES = ['page_view', 'page_view', 'page_view', 'click', 'add_to_cart', 'search'];
const PAGES = ['/', '/c/garden', '/c/kitchen', '/p/{id}', '/search', '/cart', '/checkout'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
];
let eventSeq = 0;

function collectEvent() {
  const type = TYPES[Math.floor(random() * TYPES.length)];
  const productId = 10_000 + Math.floor(random() * 90_000);
  const path = PAGES[Math.floor(random() * PAGES.length)].replace('{id}', productId);
  const event = {
    messageId: `evt-${(++eventSeq).toString(36)}-${Math.floor(random() * 1e12).toString(36)}`,
    type,
    anonymousId: `anon-${Math.floor(random() * 1e9).toString(36)}`,
    userId: random() < 0.4 ? `u${Math.floor(random() * 1e6)}` : null,
    sessionId: `s-${Math.floor(random() * 1e8).toString(36)}`,
    timestamp: new Date().toISOString(),
    page: {
      url: `https://shop.example.com${path}?ref=${Math.floor(random() * 100)}`,
      path,
      title: `Shop – ${path.split('/').pop() || 'home'}`,
      referrer: random() < 0.5 ? 'https://www.google.com/' : '',
    },
    properties: {
      productId: type === 'add_to_cart' || type === 'click' ? productId : undefined,
      query: type === 'search' ? `query ${Math.floor(random() * 5000)}` : undefined,
      position: Math.floor(random() * 24),
      experiment: random() < 0.5 ? 'checkout-v2:b' : 'checkout-v2:a',
    },
    context: {
      userAgent: AGENTS[Math.floor(random() * AGENTS.length)],
      locale: random() < 0.6 ? 'nl-NL' : 'en-GB',
      ip: `84.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`,
      screen: { width: 390, height: 844, density: 3 },
      library: { name: 'analytics.js', version: '5.2.0' },
    },
  };
  outbox.push(event);
}

// --- start -------------------------------------------------------------------

buildBallast();
runSender();
paced(EVENTS_PER_SECOND, (n) => {
  for (let i = 0; i < n; i++) collectEvent();
});

reportStats(() => {
  const t = programSeconds();
  return {
    retained: outbox.length,
    outage: t >= OUTAGE_FROM_S && t < OUTAGE_TO_S,
    accepted: warehouse.accepted,
    failures: sender.failures,
    dropped: outbox.dropped,
  };
});
ready(`outage-backlog-drain: ${EVENTS_PER_SECOND} events/s at speed 1, ingest down from ${OUTAGE_FROM_S} s to ${OUTAGE_TO_S} s, drains at ${INGEST_EVENTS_PER_SECOND}/s`);
