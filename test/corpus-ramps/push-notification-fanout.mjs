// Push-notification fan-out service. Product services POST notifications
// (/v1/notifications: a user, a group or a topic); fanOut() resolves the
// recipients' devices and appends one rendered push job per device to the
// module-level array `pushQueue`, which three PushWorkers drain in batches to
// the push provider (APNs/FCM stand-in, production-time latency). Traffic
// climbs through the morning from 06:00 to noon (~5x) and falls in the
// afternoon; the backlog follows it. Healthy: every job is sent and dropped.
import crypto from 'node:crypto';
import {
  buildBallast, envNumber, listen, onShutdown, programSeconds, readBody, ready, reportStats, rng, selfRequests, speed,
} from '../corpus/lib/corpus.mjs';

const CLOCK_H = envNumber('SCENARIO_CLOCK_H', 6, (v) => v >= 0 && v < 24);
const rand = rng(0x9a5f7);

function hourOfDay() {
  return (CLOCK_H + programSeconds() / 3600) % 24;
}

/** Notification requests per second at speed 1 for an hour of the day. */
function notificationsPerSecond(h) {
  if (h < 6) return 0.35;
  if (h < 12) return 0.5 + (2.5 - 0.5) * (h - 6) / 6; // the morning climb, 5x
  if (h < 18) return 2.5 - (2.5 - 0.9) * (h - 12) / 6; // the afternoon fall
  if (h < 23) return 0.9 - (0.9 - 0.35) * (h - 18) / 5;
  return 0.35;
}

const sleepProduction = (seconds) => new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / speed));

// --- Device directory stand-in: 1-3 devices per user, tokens derived from the id.
function devicesFor(userId) {
  const h = crypto.createHash('sha256').update(userId).digest('hex');
  const count = 1 + (parseInt(h.slice(0, 2), 16) % 3 === 0 ? 1 : 0) + (parseInt(h.slice(2, 4), 16) % 7 === 0 ? 1 : 0);
  const devices = [];
  for (let i = 0; i < count; i++) {
    const ios = parseInt(h[4 + i], 16) < 7;
    devices.push({ platform: ios ? 'apns' : 'fcm', token: ios ? h.slice(i, i + 64).padEnd(64, h[i]) : `${h.slice(8 * i, 8 * i + 22)}:APA91b${h.slice(10, 60)}${h.slice(0, 40 + i)}`, locale: ios ? 'en-GB' : 'nl-NL' });
  }
  return devices;
}

// --- Queue and fan-out ------------------------------------------------------
const pushQueue = []; // jobs waiting for a worker
const totals = { notifications: 0, jobs: 0, sent: 0, invalidTokens: 0, batches: 0 };
let jobSeq = 0;

function renderPayload(notification, device) {
  const alert = { title: notification.title, body: notification.body };
  if (device.platform === 'apns') {
    return JSON.stringify({ aps: { alert, badge: notification.badge, sound: 'default', 'thread-id': notification.threadId }, data: notification.data });
  }
  return JSON.stringify({ message: { token: device.token, notification: alert, data: notification.data, android: { priority: 'high', collapse_key: notification.threadId } } });
}

function buildPushJob(notification, userId, device) {
  return {
    id: ++jobSeq,
    notificationId: notification.id,
    userId,
    platform: device.platform,
    token: device.token,
    payload: renderPayload(notification, device),
    enqueuedAt: programSeconds(),
    attempts: 0,
  };
}

function fanOut(notification) {
  let jobs = 0;
  for (const userId of notification.recipients) {
    for (const device of devicesFor(userId)) {
      pushQueue.push(buildPushJob(notification, userId, device));
      jobs++;
    }
  }
  totals.jobs += jobs;
  return jobs;
}

// --- Provider stand-in and workers -----------------------------------------
/** One provider round for a batch: a connection setup plus ~35 ms per message sent one after another (production time). */
async function sendToProvider(batch) {
  await sleepProduction(0.1 + 0.035 * batch.length * (0.8 + 0.4 * rand()));
  let invalid = 0;
  for (const job of batch) if (job.token.charCodeAt(5) % 97 === 0) invalid++;
  return { accepted: batch.length - invalid, invalid };
}

class PushWorker {
  constructor(name, batchSize) {
    this.name = name;
    this.batchSize = batchSize;
    this.sending = 0;
    this.running = true;
  }
  async run() {
    while (this.running) {
      if (pushQueue.length === 0) {
        await sleepProduction(0.5); // poll interval
        continue;
      }
      const batch = pushQueue.splice(0, this.batchSize);
      this.sending = batch.length;
      const result = await sendToProvider(batch);
      this.sending = 0;
      totals.sent += result.accepted;
      totals.invalidTokens += result.invalid;
      totals.batches++;
    }
  }
}
// Backlog gauge for the metrics endpoint: mean of queued + sending, sampled every production second.
const gauge = { sum: 0, samples: 0, max: 0 };
setInterval(() => {
  const held = pushQueue.length + workers.reduce((sum, w) => sum + w.sending, 0);
  gauge.sum += held;
  gauge.samples++;
  if (held > gauge.max) gauge.max = held;
}, 1000 / speed).unref();
function readGauge() {
  const mean = gauge.samples === 0 ? 0 : gauge.sum / gauge.samples;
  const max = gauge.max;
  gauge.sum = gauge.samples = gauge.max = 0;
  return { backlogMean: Math.round(mean * 10) / 10, backlogMax: max };
}

const workers = [new PushWorker('push-1', 100), new PushWorker('push-2', 100), new PushWorker('push-3', 100)];
for (const worker of workers) worker.run();
onShutdown(() => workers.forEach((w) => (w.running = false)));

// --- HTTP ---------------------------------------------------------------
function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  if (req.method === 'POST' && req.url === '/v1/notifications') {
    const input = JSON.parse((await readBody(req)).toString('utf8'));
    if (!Array.isArray(input.recipients) || typeof input.title !== 'string') return send(res, 400, { error: 'recipients and title required' });
    const notification = { ...input, id: `ntf_${(++totals.notifications).toString(36)}` };
    const jobs = fanOut(notification);
    return send(res, 202, { id: notification.id, jobs, backlog: pushQueue.length });
  }
  if (req.method === 'GET' && req.url === '/v1/queue') {
    return send(res, 200, { backlog: pushQueue.length, sending: workers.map((w) => w.sending), sent: totals.sent });
  }
  if (req.url === '/healthz') return send(res, 200, { ok: true });
  send(res, 404, { error: 'not found' });
}

// --- Producers: chat, social and marketing services (in-process client) ----
const KINDS = ['message', 'mention', 'like', 'follow', 'reminder', 'order_update'];

function notificationRequest() {
  const r = rand();
  const kind = KINDS[Math.floor(rand() * KINDS.length)];
  let recipients;
  if (r < 0.75) recipients = [`u${Math.floor(rand() * 400_000)}`]; // direct
  else if (r < 0.995) { // a group conversation or a followers' list
    const n = 5 + Math.floor(rand() ** 2 * 45);
    recipients = Array.from({ length: n }, () => `u${Math.floor(rand() * 400_000)}`);
  } else { // a topic broadcast
    const n = 200 + Math.floor(rand() * 1300);
    const start = Math.floor(rand() * 390_000);
    recipients = Array.from({ length: n }, (_, i) => `u${start + i * 7}`);
  }
  const thread = Math.floor(rand() * 90_000);
  return {
    kind,
    recipients,
    title: kind === 'message' ? `New message from user ${thread % 977}` : `You have a new ${kind.replace('_', ' ')}`,
    body: `${kind} in thread ${thread}: ${'lorem ipsum dolor sit amet '.repeat(1 + (thread % 4))}`.slice(0, 160),
    badge: 1 + (thread % 9),
    threadId: `t${thread}`,
    data: { kind, threadId: `t${thread}`, deepLink: `app://threads/${thread}`, sentBy: `svc-${kind}` },
  };
}

const { port } = await listen(handler);
const producers = selfRequests(port, {
  perSecond: () => notificationsPerSecond(hourOfDay()),
  maxInFlight: 16,
  next: () => ({ method: 'POST', path: '/v1/notifications', headers: { 'content-type': 'application/json' }, body: JSON.stringify(notificationRequest()) }),
});
const monitors = selfRequests(port, {
  perSecond: 0.2,
  maxInFlight: 4,
  next: () => ({ path: rand() < 0.5 ? '/healthz' : '/v1/queue' }),
});

const ballastMb = buildBallast();
reportStats(() => ({
  retained: pushQueue.length + workers.reduce((sum, w) => sum + w.sending, 0), // jobs held: queued or being sent
  sending: workers.reduce((sum, w) => sum + w.sending, 0),
  ...readGauge(),
  clock: Math.round(hourOfDay() * 100) / 100,
  notificationsPerHour: Math.round(notificationsPerSecond(hourOfDay()) * 3600),
  notifications: totals.notifications,
  jobs: totals.jobs,
  sent: totals.sent,
  failed: producers.failed + monitors.failed,
}));
ready(`push-notification-fanout: backlog in array pushQueue, 3 workers, day starts ${CLOCK_H}:00, speed ${speed}, ballast ${ballastMb} MB`);
