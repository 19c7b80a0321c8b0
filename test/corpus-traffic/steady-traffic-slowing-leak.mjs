// steady-traffic-slowing-leak (leak, heap, onset ~30 min): B2B quote API.
//
// POST /v1/quotes prices a cart (~1 KB JSON) in the customer's currency; a
// steady 4 quotes/s at speed 1. Components talk over a small in-process
// message bus (`bus`, class MessageBus: topic -> array of handlers, publish()
// calls every handler). An FX feed publishes 'fx.rates' every 5 s.
// The service polls its config every 30 s; the config published at the onset
// (SCENARIO_ONSET, default 1800 s) turns on `liveRepricing`, and from then on
// every quote goes through openLiveQuote(), which subscribes a handler that
// reprices the quote when rates move so an open quote page stays current.
// The unsubscribe function it gets back is dropped, so every quote's handler
// (a closure over its ~1 KB live-quote record) stays on the bus for good:
// ~14 000 handlers per hour, and every FX tick calls all of them, so each
// tick takes longer and the event loop gets busier while the request rate
// stays the same.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  buildBallast,
  every,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const QUOTES_PER_S = 4;
const FX_TICK_S = 5;
const CONFIG_POLL_S = 30;
const CONFIG_CHANGE_AT_S = onsetSeconds(1800);
const QUOTE_TTL_S = 900;

// --- message bus ----------------------------------------------------------------------------

class MessageBus {
  constructor(name, { maxHandlersPerTopic = Infinity } = {}) {
    this.name = name;
    this.handlers = new Map(); // topic -> Function[]
    this.maxHandlersPerTopic = maxHandlersPerTopic;
    this.refused = 0;
    this.errors = 0;
    this.published = 0;
  }

  subscribe(topic, handler) {
    let list = this.handlers.get(topic);
    if (list === undefined) {
      list = [];
      this.handlers.set(topic, list);
    }
    if (list.length >= this.maxHandlersPerTopic) {
      this.refused++;
      return () => {};
    }
    list.push(handler);
    return () => this.unsubscribe(topic, handler);
  }

  unsubscribe(topic, handler) {
    const list = this.handlers.get(topic);
    if (list === undefined) return;
    const i = list.lastIndexOf(handler);
    if (i !== -1) list.splice(i, 1);
  }

  publish(topic, payload) {
    const list = this.handlers.get(topic);
    this.published++;
    if (list === undefined) return 0;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i](payload);
      } catch {
        this.errors++;
      }
    }
    return list.length;
  }

  count(topic) {
    return this.handlers.get(topic)?.length ?? 0;
  }
}

/** The process-wide bus. A guard refuses new handlers past 80 000 per topic. */
export const bus = new MessageBus('quote-service', { maxHandlersPerTopic: 80_000 });

// --- FX rates -------------------------------------------------------------------------------

const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK', 'PLN'];
let currentRates = { at: 0, rates: { EUR: 1, USD: 1.08, GBP: 0.85, CHF: 0.97, SEK: 11.4, PLN: 4.31 } };
bus.subscribe('fx.rates', (update) => {
  currentRates = update;
});

const fxRandom = rng(8080);
const dispatch = { ticks: 0, totalMs: 0, lastMs: 0 };
every((FX_TICK_S * 1000) / speed, () => {
  const rates = {};
  for (const [code, rate] of Object.entries(currentRates.rates)) {
    rates[code] = code === 'EUR' ? 1 : Math.round(rate * (1 + (fxRandom() - 0.5) * 0.0008) * 1e6) / 1e6;
  }
  const started = performance.now();
  bus.publish('fx.rates', { at: Date.now(), source: 'ecb-stream', rates });
  const took = performance.now() - started;
  dispatch.ticks++;
  dispatch.totalMs += took;
  dispatch.lastMs = took;
});

// --- config -----------------------------------------------------------------------------------

let config = { version: 41, liveRepricing: false, quoteTtlS: QUOTE_TTL_S, roundingMode: 'half-even' };

/** Simulated config service: version 42 (liveRepricing on) is published at the onset. */
async function fetchConfig() {
  const published = programSeconds() >= CONFIG_CHANGE_AT_S;
  return { version: published ? 42 : 41, liveRepricing: published, quoteTtlS: QUOTE_TTL_S, roundingMode: 'half-even' };
}

every((CONFIG_POLL_S * 1000) / speed, async () => {
  const latest = await fetchConfig();
  if (latest.version !== config.version) {
    config = latest;
    bus.publish('config.changed', latest);
  }
});

// --- pricing ----------------------------------------------------------------------------------

const TIER_DISCOUNT = { standard: 0, silver: 0.03, gold: 0.07, platinum: 0.12 };

function lineTotalCents(line, tier) {
  const volume = line.qty >= 100 ? 0.05 : line.qty >= 20 ? 0.02 : 0;
  return Math.round(line.unitCents * line.qty * (1 - volume - TIER_DISCOUNT[tier]));
}

function priceCart(cart) {
  const rate = currentRates.rates[cart.currency] ?? 1;
  const lines = cart.lines.map((line) => ({ ...line, totalCents: lineTotalCents(line, cart.customer.tier) }));
  const baseTotalCents = lines.reduce((sum, line) => sum + line.totalCents, 0);
  return { id: randomUUID(), customerId: cart.customer.id, currency: cart.currency, rate, lines, baseTotalCents, totalCents: Math.round(baseTotalCents * rate), createdAt: Date.now() };
}

function reprice(live, update) {
  const rate = update.rates[live.currency];
  if (rate === undefined || rate === live.rate) return;
  live.rate = rate;
  live.totalCents = Math.round(live.baseTotalCents * rate);
  live.repricedAt = update.at;
  live.repriceCount++;
}

/** Live quote: repriced on every FX tick while the customer looks at it. */
function openLiveQuote(quote, cart) {
  const live = {
    quoteId: quote.id,
    customerId: quote.customerId,
    account: cart.customer.account,
    currency: quote.currency,
    rate: quote.rate,
    lines: quote.lines.map((line) => ({ sku: line.sku, description: line.description, qty: line.qty, totalCents: line.totalCents })),
    baseTotalCents: quote.baseTotalCents,
    totalCents: quote.totalCents,
    openedAt: quote.createdAt,
    expiresAt: quote.createdAt + config.quoteTtlS * 1000,
    repricedAt: null,
    repriceCount: 0,
  };
  bus.subscribe('fx.rates', (update) => reprice(live, update));
  return live;
}

// --- HTTP ---------------------------------------------------------------------------------------

const counts = { quotes: 0, live: 0, latencyMs: 0 };

async function handleQuote(req, res) {
  const started = performance.now();
  const cart = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
  const quote = priceCart(cart);
  const live = config.liveRepricing ? openLiveQuote(quote, cart) : null;
  if (live !== null) counts.live++;
  counts.quotes++;
  res.writeHead(201, { 'content-type': 'application/json', location: `/v1/quotes/${quote.id}` });
  res.end(JSON.stringify({ ...quote, live: live !== null, expiresInS: config.quoteTtlS }));
  counts.latencyMs += performance.now() - started;
}

function handleRequest(req, res) {
  if (req.method === 'POST' && req.url === '/v1/quotes') {
    handleQuote(req, res).catch(() => res.writeHead(400).end());
  } else {
    res.writeHead(404).end();
  }
}

// --- customers -----------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handleRequest);

const next = rng(2718);
const TIERS = Object.keys(TIER_DISCOUNT);
const PRODUCTS = ['M8 hex bolt, zinc plated', 'Cable tray 300 mm', 'Safety gloves size 9', 'LED panel 60x60 4000K', 'PVC conduit 20 mm', 'Circuit breaker B16', 'Anchor plug 10 mm', 'Copper pipe 15 mm'];

function cartPayload() {
  const customer = Math.floor(next() * 4000);
  const lines = [];
  const count = 3 + Math.floor(next() * 6);
  for (let i = 0; i < count; i++) {
    const p = Math.floor(next() * PRODUCTS.length);
    lines.push({ sku: `P-${p}-${Math.floor(next() * 900) + 100}`, description: PRODUCTS[p], qty: 1 + Math.floor(next() * 150), unitCents: 50 + Math.floor(next() * 20000) });
  }
  return JSON.stringify({
    customer: { id: `cus_${customer}`, account: `ACC-${100000 + customer}`, tier: TIERS[customer % TIERS.length] },
    currency: CURRENCIES[customer % CURRENCIES.length],
    lines,
    shipTo: { country: 'DE', postcode: String(10000 + (customer * 37) % 89999) },
    notes: customer % 7 === 0 ? 'Please deliver to loading dock B before 10:00.' : '',
  });
}

const client = selfRequests(port, {
  perSecond: QUOTES_PER_S,
  maxInFlight: 32,
  next: () => ({ method: 'POST', path: '/v1/quotes', headers: { 'content-type': 'application/json', 'x-request-id': randomUUID() }, body: cartPayload() }),
});

let elu = performance.eventLoopUtilization();
let last = { quotes: 0, latencyMs: 0, ticks: 0, dispatchMs: 0, t: 0 };
reportStats(() => {
  const t = programSeconds();
  const nowElu = performance.eventLoopUtilization();
  const interval = performance.eventLoopUtilization(nowElu, elu);
  elu = nowElu;
  const quotes = counts.quotes - last.quotes;
  const ticks = dispatch.ticks - last.ticks;
  const line = {
    retained: bus.count('fx.rates') - 1,
    rps: Math.round((quotes / Math.max(1e-9, t - last.t)) * 10) / 10,
    quotes: counts.quotes,
    liveQuotes: counts.live,
    refused: bus.refused,
    configVersion: config.version,
    meanLatencyMs: quotes > 0 ? Math.round(((counts.latencyMs - last.latencyMs) / quotes) * 100) / 100 : 0,
    fxDispatchMs: ticks > 0 ? Math.round(((dispatch.totalMs - last.dispatchMs) / ticks) * 1000) / 1000 : 0,
    elu: Math.round(interval.utilization * 1000) / 1000,
    failed: client.failed,
    ballastMb,
  };
  last = { quotes: counts.quotes, latencyMs: counts.latencyMs, ticks: dispatch.ticks, dispatchMs: dispatch.totalMs, t };
  return line;
});

ready(`steady-traffic-slowing-leak: quote API on 127.0.0.1:${port}, ${QUOTES_PER_S} quotes/s (speed 1); config with liveRepricing at ${CONFIG_CHANGE_AT_S} s subscribes a never-removed fx.rates handler per quote`);
