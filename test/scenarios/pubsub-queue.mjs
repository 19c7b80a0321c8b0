// Leaky (heap): a consumer dies without unsubscribing; its queue grows unbounded.
//
// An in-process broker fans market ticks out to one queue per subscriber, and
// each subscriber's consumer drains its queue every 50 ms. After
// SCENARIO_ONSET seconds (default 10) the "audit-log" consumer crashes, but
// its subscription stays registered, so the broker keeps enqueueing envelopes
// nobody reads.
//
// Leak at speed 1: 250 messages/s × ~790 B per envelope ≈ 190 KB/s of JS
// heap, allocated in enqueueMessage. Capped at 200 000 queued envelopes
// (≈ 160 MB, ~14 min after the onset at speed 1); past the cap that queue
// drops new envelopes.
// stats: retained = envelopes queued across all subscribers.
import { every, onsetSeconds, paced, ready, reportStats, elapsedSeconds } from './lib/scenario.mjs';

const MESSAGES_PER_SECOND = 250;
const SAMPLES_PER_MESSAGE = 64;
const MAX_QUEUE_LENGTH = 200_000;
const ONSET_SECONDS = onsetSeconds(10);

const subscribers = ['pricing', 'risk', 'audit-log', 'alerts'].map((name) => ({
  name,
  topicPrefix: name === 'alerts' ? 'fx.' : '',
  partitions: 4,
  queue: [],
  consumerAlive: true,
  enqueued: 0,
  processed: 0,
  filtered: 0,
  dropped: 0,
  highWatermark: 0,
  maxLagMs: 0,
  lastEnqueuedAt: 0,
  lastSeq: 0,
  gaps: 0,
  bytesEnqueued: 0,
  ackTimeoutMs: 30_000,
}));
const auditLog = subscribers.find((s) => s.name === 'audit-log');
let published = 0;

// Delivers one tick to one subscriber. Each subscriber gets its own envelope
// with its own copy of the samples (a consumer may mutate or keep them),
// allocated here: when a queue stops draining, this is where the retained
// bytes were allocated. (The function is deliberately not tiny: V8 inlines
// functions under 460 bytes of bytecode into hot callers, and the sampling
// heap profiler then reports the caller instead.)
function enqueueMessage(subscriber, tick) {
  if (subscriber.topicPrefix !== '' && !tick.topic.startsWith(subscriber.topicPrefix)) {
    subscriber.filtered++;
    return false;
  }
  if (subscriber.queue.length >= MAX_QUEUE_LENGTH) {
    subscriber.dropped++;
    return false;
  }
  const samples = new Array(SAMPLES_PER_MESSAGE);
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < SAMPLES_PER_MESSAGE; i++) {
    const value = tick.price + Math.sin(tick.seq + i) * tick.spread;
    samples[i] = value;
    if (value < low) low = value;
    if (value > high) high = value;
  }
  if (subscriber.lastSeq !== 0 && tick.seq !== subscriber.lastSeq + 1) subscriber.gaps++;
  subscriber.lastSeq = tick.seq;
  const now = Date.now();
  const envelope = {
    seq: tick.seq,
    topic: tick.topic,
    traceId: tick.traceId,
    contentType: 'application/x-tick',
    subscriber: subscriber.name,
    partition: tick.seq % subscriber.partitions,
    priority: tick.topic.startsWith('fx.') ? 1 : 0,
    publishedAt: tick.publishedAt,
    receivedAt: now,
    attempts: 0,
    ackDeadline: now + subscriber.ackTimeoutMs,
    low,
    high,
    samples,
  };
  subscriber.queue.push(envelope);
  subscriber.enqueued++;
  subscriber.bytesEnqueued += SAMPLES_PER_MESSAGE * 8 + 160;
  subscriber.lastEnqueuedAt = now;
  if (subscriber.queue.length > subscriber.highWatermark) subscriber.highWatermark = subscriber.queue.length;
  const lagMs = now - tick.publishedAt;
  if (lagMs > subscriber.maxLagMs) subscriber.maxLagMs = lagMs;
  return true;
}

function publish() {
  published++;
  const tick = {
    seq: published,
    topic: published % 3 === 0 ? 'fx.eurusd' : 'equities.acme',
    price: 100 + Math.sin(published / 50) * 5,
    spread: 0.01 + (published % 7) / 1000,
    traceId: published * 7919,
    publishedAt: Date.now(),
  };
  for (const subscriber of subscribers) enqueueMessage(subscriber, tick);
}

// A consumer turns each envelope into a short-lived summary and a serialized
// record for its downstream: the churn behind the GC sawtooth.
function consume(subscriber) {
  if (!subscriber.consumerAlive) return 0;
  const batch = subscriber.queue;
  subscriber.queue = [];
  let bytes = 0;
  for (const envelope of batch) {
    let sum = 0;
    for (const sample of envelope.samples) sum += sample;
    const summary = { seq: envelope.seq, topic: envelope.topic, mean: sum / envelope.samples.length };
    bytes += JSON.stringify({ summary, samples: envelope.samples }).length;
    subscriber.processed++;
  }
  return bytes;
}

paced(MESSAGES_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) publish();
});
every(50, () => {
  if (auditLog.consumerAlive && elapsedSeconds() >= ONSET_SECONDS) {
    auditLog.consumerAlive = false; // the task crashed; nobody calls unsubscribe
    process.stdout.write(`onset: consumer "audit-log" died without unsubscribing at t=${elapsedSeconds().toFixed(1)}s\n`);
  }
  for (const subscriber of subscribers) consume(subscriber);
});
reportStats(() => ({
  retained: subscribers.reduce((n, s) => n + s.queue.length, 0),
  leaking: !auditLog.consumerAlive,
  published,
}));
ready(`pubsub-queue: the audit-log consumer dies after ${ONSET_SECONDS}s`);
