// dead-consumer-retry — order-sync service whose retry worker dies silently.
//
// The service pushes order updates to a logistics partner, 12 updates/s at
// speed 1; about a quarter of the pushes fail with a transient partner error
// and go onto the in-memory retry queue (`retryQueue.jobs`), ~3 jobs/s, each
// carrying the serialized update (~1.6 KB retained per job). A single retry
// worker drains the queue with exponential backoff, so the queue normally holds
// about a hundred jobs. The worker refreshes the partner config from the config
// service when its boot copy is CONFIG_TTL_S old (40 min, SCENARIO_ONSET
// overrides); the config service returns `endpoints` as a list now, the worker
// reads `endpoints.orders.url`, throws, and since `runRetryWorker()` was
// started without a catch the rejection lands in the process-wide
// 'unhandledRejection' catch-all, which logs it and carries on. Producers keep
// enqueueing: from ~40 min the queue grows by every failed push, ~1.6 KB × 3/s
// ≈ 16 MB/h.
//
// Cap: the queue refuses jobs beyond MAX_RETRY_JOBS (60 000, ~93 MB), reached
// ~5.3 h after the onset at speed 1 (~5.3 min at SCENARIO_SPEED=60); refused
// jobs are counted as dropped.
//
// `retained` = jobs in the retry queue.
import {
  buildBallast,
  onsetSeconds,
  paced,
  programSeconds,
  ready,
  reportStats,
  rng,
  scaledMs,
} from '../corpus/lib/corpus.mjs';

const ORDER_UPDATES_PER_SECOND = 12;
const PARTNER_FAILURE_RATE = 0.25; // first push
const RETRY_FAILURE_RATE = 0.3; // redeliveries
const RETRY_BASE_DELAY_S = 15;
const MAX_ATTEMPTS = 6;
const RETRY_BATCH = 50;
const MAX_RETRY_JOBS = 60_000;
const CONFIG_TTL_S = onsetSeconds(40 * 60);

const random = rng(0xdead);
const log = {
  errors: 0,
  error(msg, err) {
    this.errors++;
    this.last = `${msg}: ${err && err.message}`;
  },
};

// Catch-all so "one bad promise doesn't take the service down".
let unhandledRejections = 0;
process.on('unhandledRejection', (reason) => {
  unhandledRejections++;
  log.error('unhandled rejection', reason);
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- the partner API and the config service (simulated network) ---------------

class PartnerError extends Error {
  constructor(status, message) {
    super(message);
    this.code = `HTTP_${status}`;
  }
}

const partner = {
  async push(url, payload, failureRate) {
    await sleep(2 + random() * 6);
    if (random() < failureRate) {
      throw new PartnerError(random() < 0.7 ? 503 : 504, `partner ${url} unavailable`);
    }
    return { accepted: true, bytes: payload.length };
  },
};

const configService = {
  async fetch(key) {
    await sleep(5);
    return JSON.stringify({
      key,
      version: 14,
      endpoints: [
        { name: 'orders', url: 'https://api.partner.example/v2/orders' },
        { name: 'retry', url: 'https://api.partner.example/v2/orders/redeliver' },
      ],
      timeoutMs: 5000,
    });
  },
};

// Read from the deployment's config file at boot.
const bootConfig = {
  version: 13,
  endpoints: {
    orders: { url: 'https://api.partner.example/v2/orders' },
    retry: { url: 'https://api.partner.example/v2/orders/redeliver' },
  },
  timeoutMs: 5000,
};

async function loadPartnerConfig() {
  const parsed = JSON.parse(await configService.fetch('partners/acme-logistics'));
  return {
    version: parsed.version,
    endpoints: {
      orders: { url: parsed.endpoints.orders.url },
      retry: { url: parsed.endpoints.retry.url },
    },
    timeoutMs: parsed.timeoutMs,
  };
}

// --- retry queue ---------------------------------------------------------------

class RetryQueue {
  constructor(maxLength) {
    this.maxLength = maxLength;
    this.jobs = [];
    this.dropped = 0;
  }

  add(job) {
    if (this.jobs.length >= this.maxLength) {
      this.dropped++;
      return false;
    }
    this.jobs.push(job);
    return true;
  }

  takeDue(now, max) {
    const due = [];
    const waiting = [];
    for (const job of this.jobs) {
      if (due.length < max && job.nextAttemptAt <= now) due.push(job);
      else waiting.push(job);
    }
    this.jobs = waiting;
    return due;
  }

  get length() {
    return this.jobs.length;
  }
}

const retryQueue = new RetryQueue(MAX_RETRY_JOBS);
let retrySeq = 0;

function enqueueRetry(update, err) {
  const now = programSeconds();
  const job = {
    id: `retry-${(++retrySeq).toString(36)}`,
    orderId: update.orderId,
    partner: update.partner,
    kind: update.kind,
    payload: JSON.stringify(update),
    attempts: 1,
    firstFailedAt: now,
    nextAttemptAt: now + RETRY_BASE_DELAY_S,
    lastError: `${err.code ?? 'ERR'} ${err.message}`,
  };
  return retryQueue.add(job);
}

const counters = { pushed: 0, firstTryOk: 0, redelivered: 0, deadLettered: 0 };

async function redeliver(job, config) {
  try {
    await partner.push(config.endpoints.retry.url, job.payload, RETRY_FAILURE_RATE);
    counters.redelivered++;
  } catch (err) {
    job.attempts++;
    job.lastError = `${err.code ?? 'ERR'} ${err.message}`;
    if (job.attempts >= MAX_ATTEMPTS) {
      counters.deadLettered++;
      return;
    }
    job.nextAttemptAt = programSeconds() + RETRY_BASE_DELAY_S * 2 ** (job.attempts - 1);
    retryQueue.add(job);
  }
}

let workerAlive = false;
async function runRetryWorker() {
  let config = bootConfig;
  let configLoadedAt = programSeconds();
  for (;;) {
    if (programSeconds() - configLoadedAt >= CONFIG_TTL_S) {
      config = await loadPartnerConfig();
      configLoadedAt = programSeconds();
    }
    const due = retryQueue.takeDue(programSeconds(), RETRY_BATCH);
    if (due.length === 0) {
      await sleep(scaledMs(1));
      continue;
    }
    await Promise.all(due.map((job) => redeliver(job, config)));
  }
}

// --- producers: order updates ------------------------------------------------

const PARTNERS = ['acme-logistics'];
const CARRIERS = ['DHL', 'UPS', 'PostNL', 'DPD', 'GLS'];
const STATUSES = ['confirmed', 'picking', 'packed', 'shipped', 'delivered'];
const COUNTRIES = ['NL', 'DE', 'BE', 'FR', 'AT', 'DK'];
let orderSeq = 700_000;

function nextOrderUpdate() {
  const orderNo = orderSeq + Math.floor(random() * 4000);
  if (random() < 0.2) orderSeq++;
  const lineCount = 3 + Math.floor(random() * 7);
  const lines = [];
  let total = 0;
  for (let i = 0; i < lineCount; i++) {
    const qty = 1 + Math.floor(random() * 4);
    const unitPriceCents = 199 + Math.floor(random() * 9000);
    total += qty * unitPriceCents;
    lines.push({
      lineNo: i + 1,
      sku: `SKU-${(100000 + Math.floor(random() * 50000)).toString(36).toUpperCase()}`,
      description: `Article ${Math.floor(random() * 90000)} colour ${i % 5} size ${36 + (i % 10)}`,
      qty,
      unitPriceCents,
    });
  }
  return {
    orderId: `ORD-${orderNo}`,
    partner: PARTNERS[0],
    kind: random() < 0.6 ? 'status' : 'lines',
    status: STATUSES[Math.floor(random() * STATUSES.length)],
    updatedAt: new Date().toISOString(),
    customer: {
      id: `C${Math.floor(random() * 1e6)}`,
      country: COUNTRIES[Math.floor(random() * COUNTRIES.length)],
      postcode: `${1000 + Math.floor(random() * 8999)} AB`,
    },
    shipping: {
      carrier: CARRIERS[Math.floor(random() * CARRIERS.length)],
      method: random() < 0.8 ? 'standard' : 'express',
      trackingNo: `TRK${Math.floor(random() * 1e10)}`,
    },
    lines,
    totals: { itemsCents: total, shippingCents: 495, vatCents: Math.round(total * 0.21), currency: 'EUR' },
  };
}

async function syncOrder(update) {
  counters.pushed++;
  try {
    await partner.push(bootConfig.endpoints.orders.url, update, PARTNER_FAILURE_RATE);
    counters.firstTryOk++;
  } catch (err) {
    enqueueRetry(update, err);
  }
}

// --- start -------------------------------------------------------------------

buildBallast();
// Fire-and-forget: the worker "never returns". The gauge is reset when it does;
// the rejection still goes (unhandled) to the catch-all above.
workerAlive = true;
runRetryWorker().finally(() => {
  workerAlive = false;
});
paced(ORDER_UPDATES_PER_SECOND, (n) => {
  for (let i = 0; i < n; i++) syncOrder(nextOrderUpdate());
});

reportStats(() => ({
  retained: retryQueue.length,
  pushed: counters.pushed,
  redelivered: counters.redelivered,
  deadLettered: counters.deadLettered,
  dropped: retryQueue.dropped,
  unhandledRejections,
  workerAlive,
}));
ready(`dead-consumer-retry: order sync at ${ORDER_UPDATES_PER_SECOND} updates/s, retry worker dies at ${CONFIG_TTL_S} s (speed-1)`);
