// Mobile push notifier: takes notification jobs from the campaign service and
// delivers them through the push gateway link (a long-lived connection to the
// vendor; simulated in-process here). Deliveries fail transiently (~30 %:
// throttling, resets); a failed delivery is parked until the link reports
// 'online' again (it re-handshakes every ~5 min at speed 1), then retried.
//
// The retry scheduler parks with `link.on('online', () => retry(ctx))` and
// never removes the listener (it should have used once(), and removed it on
// success): every failure leaves a listener closing over its ~1 KB retry
// context on the link. retry() returns early for settled contexts, so the
// 'online' storms stay cheap, but nothing is ever freed.
//
// Speed 1: 24 deliveries/s, ~10 listeners/s parked (first failures plus
// retries that fail again), ~0.75 KB each (context, closure, listener slot)
// → ~30 MB/h of JS heap.
// Cap: with 120 000 parked retries (~90 MB, ~3.3 h at speed 1) new failures
// go to the dead-letter list (a counter) instead of being parked.
// stats: retained = link.listenerCount('online').
import { EventEmitter } from 'node:events';
import { buildBallast, every, paced, ready, reportStats, rng, scaledMs } from '../corpus/lib/corpus.mjs';

const DELIVERIES_PER_SECOND = 24;
const FAILURE_RATIO = 0.3;
const MAX_PARKED = 120_000;
const RECONNECT_SECONDS = 300;

class GatewayLink extends EventEmitter {
  constructor() {
    super();
    this.connected = true;
    this.handshakes = 0;
  }

  async send(message) {
    await new Promise((resolve) => setImmediate(resolve)); // the socket write + ack
    if (failures() < FAILURE_RATIO) {
      const error = new Error('push gateway: 429 too many requests');
      error.code = 'THROTTLED';
      throw error;
    }
    return { messageId: `m-${message.token.slice(0, 8)}-${Date.now().toString(36)}` };
  }

  reconnect() {
    this.handshakes++;
    this.emit('online', this.handshakes);
  }
}

const failures = rng(55);
const link = new GatewayLink();
link.setMaxListeners(0); // parked retries all listen; the warning was noise
const counters = { delivered: 0, failed: 0, retried: 0, deadLettered: 0 };

function retryContext(job, error) {
  return {
    jobId: job.id,
    campaignId: job.campaignId,
    token: job.token,
    platform: job.platform,
    payload: job.payload,
    attempt: job.attempt + 1,
    firstFailedAt: Date.now(),
    lastError: { code: error.code, message: error.message },
    backoff: [1, 2, 4, 8, 16, 32].map((s) => s * 1000),
    settled: false,
  };
}

function scheduleRetry(job, error) {
  if (link.listenerCount('online') >= MAX_PARKED) {
    counters.deadLettered++;
    return;
  }
  const ctx = retryContext(job, error);
  link.on('online', () => retry(ctx));
}

async function retry(ctx) {
  if (ctx.settled || ctx.attempt > 6) return;
  ctx.settled = true;
  counters.retried++;
  try {
    await link.send(ctx);
  } catch (error) {
    scheduleRetry({ id: ctx.jobId, campaignId: ctx.campaignId, token: ctx.token, platform: ctx.platform, payload: ctx.payload, attempt: ctx.attempt }, error);
  }
}

async function deliver(job) {
  try {
    await link.send(job);
    counters.delivered++;
  } catch (error) {
    counters.failed++;
    scheduleRetry(job, error);
  }
}

const ballastMB = buildBallast();
every(scaledMs(RECONNECT_SECONDS), () => link.reconnect());

// Jobs from the campaign service.
const random = rng(56);
const TITLES = ['Your order has shipped', 'Price drop on your wishlist', 'Flash sale starts now', 'Your parcel arrives today', 'Complete your purchase'];
let jobSeq = 0;
function nextJob() {
  jobSeq++;
  const token = `${(jobSeq * 2654435761 >>> 0).toString(16).padStart(8, '0')}${Math.floor(random() * 1e16).toString(16)}${'f'.repeat(48)}`;
  return {
    id: `job-${jobSeq}`,
    campaignId: `cmp-${1 + (jobSeq % 40)}`,
    token,
    platform: jobSeq % 3 === 0 ? 'apns' : 'fcm',
    attempt: 0,
    payload: {
      title: TITLES[jobSeq % TITLES.length],
      body: `Hi! ${TITLES[(jobSeq + 2) % TITLES.length]} — order #${100000 + Math.floor(random() * 900000)} with ${1 + (jobSeq % 7)} item(s). Tap to see the details in the app.`,
      deepLink: `shop://orders/${100000 + Math.floor(random() * 900000)}?utm_campaign=cmp-${1 + (jobSeq % 40)}`,
      badge: 1 + (jobSeq % 9),
      data: { locale: 'de-DE', segment: `seg-${jobSeq % 12}`, sentBy: 'campaign-service' },
    },
  };
}

paced(DELIVERIES_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) deliver(nextJob());
});

reportStats(() => ({ retained: link.listenerCount('online'), capped: link.listenerCount('online') >= MAX_PARKED, handshakes: link.handshakes, ...counters, ballastMB }));
ready(`push-notifier: ${DELIVERIES_PER_SECOND} deliveries/s (speed 1), ~${FAILURE_RATIO * 100} % parked for retry on 'online'`);
