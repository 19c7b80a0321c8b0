// Leaky (heap), onset after 10 min: a notification service whose only
// consumer task dies on a malformed job and is never restarted, while the
// producers keep enqueuing.
//
// Order events arrive from the event bus (simulated: ~1.5 KB JSON messages, 10–19 items) and
// are enqueued on an in-process JobQueue (./job-queue.mjs); one consumer
// renders each notification and hands it to the mail relay. At the onset
// (default 600 s of production time; SCENARIO_ONSET in speed-1 seconds) an
// event without a template arrives; rendering throws a TypeError, the consumer
// loop ends (its rejection is only logged) and `queue.jobs` grows from then on.
//
// Speed 1: 24 events/s, ~1.7 KB per queued job {id, payload, attempts} → ~150
// MB/h of JS heap after the onset; before it the queue stays near empty.
// Cap: the queue's maxLength, 100 000 jobs (~170 MB, ~70 min after the onset at
// speed 1, ~70 s at SCENARIO_SPEED=60); then enqueue() rejects.
// stats: retained = jobs in the queue.
import { JobQueue } from './job-queue.mjs';
import { buildBallast, onsetMs, onShutdown, paced, ready, reportStats, rng } from './lib/corpus.mjs';

const EVENTS_PER_SECOND = 24;
const ONSET_DEFAULT_SECONDS = 600;

const ballastMB = buildBallast();
const queue = new JobQueue('notifications', { maxLength: 100_000 });
const relay = { sent: 0, bytes: 0 };
let consumerError = null;

function renderNotification(payload) {
  const subject = `${payload.template.toUpperCase()}: order ${payload.order.id}`;
  const lines = payload.order.items.map((item) => `${item.qty} × ${item.name} — ${(item.priceCents / 100).toFixed(2)} ${payload.order.currency}`);
  return { to: payload.customer.email, subject, text: [`Hello ${payload.customer.name},`, ...lines].join('\n') };
}

async function sendNotification(payload) {
  const message = renderNotification(payload);
  await new Promise((resolve) => setImmediate(resolve)); // the relay's socket write
  relay.sent++;
  relay.bytes += message.text.length;
}

queue.start(sendNotification).catch((error) => {
  consumerError = error.message; // logged once; nobody restarts the consumer
  process.stderr.write(`notifications consumer stopped: ${error.message}\n`);
});
onShutdown(() => queue.stop());

const random = rng(6);
const PRODUCTS = ['Desk lamp', 'Monitor arm', 'USB-C dock', 'Office chair', 'Standing desk mat', 'Webcam', 'Headset'];
let eventSeq = 0;
function nextEvent(poisoned) {
  eventSeq++;
  const items = [];
  for (let i = 0, n = 10 + Math.floor(random() * 10); i < n; i++) {
    items.push({ sku: `SKU-${Math.floor(random() * 90_000)}`, name: PRODUCTS[(eventSeq + i) % PRODUCTS.length], qty: 1 + (i % 3), priceCents: 999 + Math.floor(random() * 40_000) });
  }
  return JSON.stringify({
    eventId: `evt-${eventSeq}`,
    type: 'order.shipped',
    template: poisoned ? null : 'order-shipped',
    locale: 'de-DE',
    customer: { id: `c-${eventSeq % 40_000}`, name: `Customer ${eventSeq % 40_000}`, email: `customer${eventSeq % 40_000}@example.test` },
    order: { id: `o-${eventSeq}`, currency: 'EUR', items, shipping: { carrier: 'DHL', tracking: `JJD${(eventSeq * 7919).toString().padStart(12, '0')}` } },
  });
}

const onset = onsetMs(ONSET_DEFAULT_SECONDS);
const startedAt = performance.now();
let poisonSent = false;
paced(EVENTS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const poisoned = !poisonSent && performance.now() - startedAt >= onset;
    if (poisoned) poisonSent = true;
    queue.enqueue(nextEvent(poisoned));
  }
});

reportStats(() => ({
  retained: queue.jobs.length,
  capped: queue.jobs.length >= queue.maxLength,
  leaking: consumerError !== null,
  processed: queue.processed,
  ballastMB,
}));
ready(`dead-consumer-queue: the consumer dies at ${onset / 1000} s (wall) and the queue grows`);
