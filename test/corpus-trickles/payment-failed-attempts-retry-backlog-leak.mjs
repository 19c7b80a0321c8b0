// Payment service (leak from the onset, 2 h by default).
//
// The checkout posts each payment (POST /v1/payments) with the order's items,
// billing address and card token; the service authorises it with the card
// processor (an in-process stand-in: ~280 ms median, ~4.1 % declined or
// failed) and answers 201 or 402. Outcomes go into `recentOutcomes`, a
// fixed ring of the last 512 that the ops dashboard reads every 30 s.
//
// Release 2024.31 (deployed at the onset) added "smart retries": every failed
// attempt is parked, with the original request body so that the retry can
// replay it, in the module-level array `failedAttempts` for a retry job.
// The job (`runRetryJob`) only starts when PAYMENTS_RETRY_JOB=enabled, and
// the deployment never got that variable: nothing ever takes anything out of
// `failedAttempts`. ~3 payments/s, ~430 failures an hour, ~2.4 KB each.
//
// SCENARIO_ONSET (speed-1 seconds, default 7200) moves the release. All
// times come from the production clock (programSeconds()); processor
// latencies are production latencies scaled by the speed.
import { randomUUID } from 'node:crypto';
import { buildBallast, every, listen, onsetMs, onsetSeconds, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const ONSET_SECONDS = onsetSeconds(7200);
const PAYMENTS_PER_SECOND = 3;
const MAX_PARKED_ATTEMPTS = 50_000; // the retry queue's documented limit

function now() {
  return programSeconds();
}

function logNormal(median, sigma, random) {
  const u = 1 - random();
  const v = random();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

function pick(list, random) {
  return list[Math.floor(random() * list.length)];
}

// --- recent outcomes: a fixed ring --------------------------------------------

class OutcomeRing {
  constructor(capacity) {
    this.slots = new Array(capacity).fill(null);
    this.next = 0;
    this.count = 0;
  }

  push(outcome) {
    this.slots[this.next] = outcome;
    this.next = (this.next + 1) % this.slots.length;
    if (this.count < this.slots.length) this.count++;
  }

  summary() {
    let approved = 0;
    let amountCents = 0;
    const declines = {};
    const latencies = [];
    for (const o of this.slots) {
      if (o === null) continue;
      if (o.status === 'approved') {
        approved++;
        amountCents += o.amountCents;
      } else declines[o.declineCode] = (declines[o.declineCode] ?? 0) + 1;
      latencies.push(o.latencyMs);
    }
    latencies.sort((a, b) => a - b);
    return {
      window: this.count,
      approvalRate: this.count === 0 ? 1 : approved / this.count,
      approvedAmountCents: amountCents,
      declines,
      p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    };
  }
}

const recentOutcomes = new OutcomeRing(512);

// --- the retry backlog ----------------------------------------------------------

/** Failed attempts waiting for the retry job (release 2024.31): oldest first. */
const failedAttempts = [];
let retryReleaseLive = false;
let parkRefused = 0;
const RETRYABLE = new Set(['insufficient_funds', 'processor_unavailable', 'issuer_timeout', 'do_not_honor']);

function parkForRetry(attempt, declineCode, requestBody, at) {
  if (failedAttempts.length >= MAX_PARKED_ATTEMPTS) {
    parkRefused++;
    return;
  }
  failedAttempts.push({
    attemptId: attempt.attemptId,
    paymentId: attempt.paymentId,
    orderId: attempt.orderId,
    customerId: attempt.customerId,
    amountCents: attempt.amountCents,
    currency: attempt.currency,
    declineCode,
    retryable: RETRYABLE.has(declineCode),
    attempts: 1,
    failedAt: at,
    nextRetryAt: at + 900,
    requestBody,
  });
}

/** The retry job. Never started in this deployment (PAYMENTS_RETRY_JOB unset). */
function runRetryJob() {
  const at = now();
  let kept = 0;
  for (const parked of failedAttempts) {
    if (!parked.retryable || parked.attempts >= 3) continue; // given up: dropped
    if (parked.nextRetryAt <= at) {
      replayParkedAttempt(parked);
      continue;
    }
    failedAttempts[kept++] = parked;
  }
  failedAttempts.length = kept;
}

function replayParkedAttempt(parked) {
  const payment = JSON.parse(parked.requestBody);
  authorizeWithProcessor(toPaymentAttempt(payment)).then((result) => {
    if (result.approved || failedAttempts.length >= MAX_PARKED_ATTEMPTS) return;
    parked.attempts++;
    parked.declineCode = result.declineCode;
    parked.nextRetryAt = now() + 900 * parked.attempts;
    failedAttempts.push(parked);
  });
}

// --- the card processor (in-process stand-in) -----------------------------------

const processorRandom = rng(0xcafe);
const DECLINES = [
  ['insufficient_funds', 0.014],
  ['do_not_honor', 0.01],
  ['processor_unavailable', 0.005],
  ['incorrect_cvc', 0.005],
  ['expired_card', 0.004],
  ['fraud_suspected', 0.003],
];

function authorizeWithProcessor(attempt) {
  const latencyMs = logNormal(280, 0.45, processorRandom);
  let r = processorRandom();
  let declineCode = null;
  for (const [code, p] of DECLINES) {
    if (r < p) {
      declineCode = code;
      break;
    }
    r -= p;
  }
  return new Promise((resolve) => {
    setTimeout(() => resolve({ approved: declineCode === null, declineCode, latencyMs, authCode: declineCode === null ? attempt.attemptId.slice(0, 6).toUpperCase() : null }), scaledMs(latencyMs / 1000));
  });
}

// --- HTTP -----------------------------------------------------------------------

const counters = { payments: 0, approved: 0, declined: 0, invalid: 0, parked: 0, dashboards: 0 };

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function toPaymentAttempt(payment) {
  return {
    attemptId: randomUUID(),
    paymentId: `pay_${payment.idempotencyKey}`,
    orderId: payment.orderId,
    customerId: payment.customer.id,
    amountCents: payment.amount.value,
    currency: payment.amount.currency,
    method: payment.paymentMethod.type,
  };
}

async function createPayment(req, res) {
  const raw = (await readBody(req, 256 * 1024)).toString('utf8');
  let payment;
  try {
    payment = JSON.parse(raw);
  } catch {
    counters.invalid++;
    return json(res, 400, { error: 'invalid_json' });
  }
  if (typeof payment?.amount?.value !== 'number' || typeof payment.orderId !== 'string' || payment.paymentMethod?.token === undefined) {
    counters.invalid++;
    return json(res, 422, { error: 'invalid_payment' });
  }
  counters.payments++;
  const attempt = toPaymentAttempt(payment);
  const result = await authorizeWithProcessor(attempt);
  const at = now();
  recentOutcomes.push({
    paymentId: attempt.paymentId,
    status: result.approved ? 'approved' : 'declined',
    declineCode: result.declineCode,
    amountCents: attempt.amountCents,
    at,
    latencyMs: Math.round(result.latencyMs),
  });
  if (result.approved) {
    counters.approved++;
    return json(res, 201, { id: attempt.paymentId, status: 'approved', authCode: result.authCode });
  }
  counters.declined++;
  if (retryReleaseLive) {
    parkForRetry(attempt, result.declineCode, raw, at);
    counters.parked++;
  }
  json(res, 402, { id: attempt.paymentId, status: 'declined', declineCode: result.declineCode });
}

async function handle(req, res) {
  if (req.url === '/healthz') {
    res.end('ok');
    return;
  }
  if (req.method === 'POST' && req.url === '/v1/payments') return createPayment(req, res);
  if (req.method === 'GET' && req.url === '/internal/outcomes') {
    counters.dashboards++;
    return json(res, 200, { ...recentOutcomes.summary(), retryBacklog: failedAttempts.length });
  }
  json(res, 404, { error: 'not_found' });
}

// --- the checkout (load) ---------------------------------------------------------

const checkoutRandom = rng(0xc0ffee);
const FIRST = ['Anna', 'Ben', 'Chloé', 'David', 'Elif', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jan', 'Kasia', 'Luca', 'Mia', 'Noah', 'Olga', 'Pavel'];
const LAST = ['Schmidt', 'Dubois', 'de Vries', 'Rossi', 'Nowak', 'García', 'Larsen', 'Müller', 'Janssens', 'Novák', 'Silva', 'Horvat'];
const CITIES = [['Berlin', 'DE', '10115'], ['Paris', 'FR', '75002'], ['Amsterdam', 'NL', '1012'], ['Milano', 'IT', '20121'], ['Kraków', 'PL', '30-001'], ['Madrid', 'ES', '28013'], ['Wien', 'AT', '1010']];
const STREETS = ['Hauptstraße', 'Rue de Rivoli', 'Keizersgracht', 'Via Dante', 'ul. Floriańska', 'Calle Mayor', 'Mariahilfer Straße'];
const PRODUCTS = ['Linen shirt', 'Walnut desk lamp', 'Trail running shoes', 'Ceramic mug set', 'Wool throw', 'Bamboo cutting board', 'Wireless earbuds', 'Canvas backpack', 'Cast iron pan', 'Yoga mat'];
const BRANDS = ['visa', 'mastercard', 'amex', 'maestro'];
const CAMPAIGNS = ['spring-sale', 'newsletter-w18', 'retargeting', 'organic', 'affiliate-dealradar', 'app-push'];
let orderSeq = 4_800_000;

function checkoutBody() {
  const random = checkoutRandom;
  const [city, country, postcode] = pick(CITIES, random);
  const first = pick(FIRST, random);
  const last = pick(LAST, random);
  const items = [];
  let total = 0;
  for (let i = 0, n = 1 + Math.floor(random() * 5); i < n; i++) {
    const quantity = 1 + Math.floor(random() * 3);
    const unitPrice = 499 + Math.floor(random() * 12000);
    total += quantity * unitPrice;
    items.push({ sku: `SKU-${(100000 + Math.floor(random() * 900000)).toString(36).toUpperCase()}`, name: pick(PRODUCTS, random), quantity, unitPrice, taxRate: 0.19, category: 'home' });
  }
  const address = { name: `${first} ${last}`, line1: `${pick(STREETS, random)} ${1 + Math.floor(random() * 180)}`, line2: random() < 0.3 ? `Apt ${1 + Math.floor(random() * 40)}` : '', city, postcode, country };
  orderSeq++;
  return JSON.stringify({
    idempotencyKey: `${orderSeq.toString(36)}-${Math.floor(random() * 1e9).toString(36)}`,
    orderId: `ord_${orderSeq}`,
    amount: { value: total + 495, currency: 'EUR', shippingCents: 495 },
    customer: { id: `cus_${Math.floor(random() * 400000)}`, email: `${first.toLowerCase()}.${last.toLowerCase().replace(/\W/g, '')}@example.org`, phone: `+49 30 ${1000000 + Math.floor(random() * 8999999)}`, locale: `${country.toLowerCase()}-${country}` },
    paymentMethod: {
      type: 'card',
      token: `tok_${Math.floor(random() * 2 ** 52).toString(36)}${Math.floor(random() * 2 ** 52).toString(36)}`,
      brand: pick(BRANDS, random),
      last4: String(1000 + Math.floor(random() * 9000)),
      expMonth: 1 + Math.floor(random() * 12),
      expYear: 2025 + Math.floor(random() * 5),
      threeDSecure: { version: '2.2.0', eci: '05', transStatus: 'Y' },
    },
    billingAddress: address,
    shippingAddress: random() < 0.8 ? address : { ...address, line1: `${pick(STREETS, random)} ${1 + Math.floor(random() * 180)}` },
    items,
    device: { ip: `10.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`, userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148', sessionId: randomUUID() },
    metadata: { cartId: randomUUID(), campaign: pick(CAMPAIGNS, random), channel: random() < 0.55 ? 'app' : 'web', checkoutVersion: '2024.18.2' },
  });
}

// --- main ---------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) json(res, 500, { error: String(err?.message ?? err) });
  });
});

const checkout = selfRequests(port, {
  perSecond: PAYMENTS_PER_SECOND,
  next: () => ({ method: 'POST', path: '/v1/payments', headers: { 'content-type': 'application/json' }, body: checkoutBody() }),
  maxInFlight: 64,
});
const dashboard = selfRequests(port, { perSecond: 1 / 30, next: () => ({ method: 'GET', path: '/internal/outcomes' }), maxInFlight: 1 });
const probes = selfRequests(port, { perSecond: 0.1, next: () => ({ method: 'GET', path: '/healthz' }), maxInFlight: 2 });

// Release 2024.31 goes live at the onset.
setTimeout(() => {
  retryReleaseLive = true;
}, onsetMs(7200));
if (process.env.PAYMENTS_RETRY_JOB === 'enabled') every(scaledMs(60), runRetryJob);

reportStats(() => ({
  retained: failedAttempts.length,
  release: retryReleaseLive ? '2024.31' : '2024.30',
  ring: recentOutcomes.count,
  payments: counters.payments,
  approved: counters.approved,
  declined: counters.declined,
  parked: counters.parked,
  parkRefused,
  invalid: counters.invalid,
  dashboards: counters.dashboards,
  sent: checkout.sent + dashboard.sent + probes.sent,
  failed: checkout.failed + dashboard.failed + probes.failed,
}));

ready(`payment-failed-attempts-retry-backlog-leak on 127.0.0.1:${port}: release 2024.31 (retry backlog) at ${ONSET_SECONDS} s (ballast ${ballastMb} MB)`);
