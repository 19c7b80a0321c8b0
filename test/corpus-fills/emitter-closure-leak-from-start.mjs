// Quote API of an online shop's checkout (POST /v1/quotes): the client sends
// its cart (lines, shipping address, promo codes), the service prices it and
// answers with a quote that the checkout page shows until the customer pays.
//
// Prices can change while a quote is open (the pricing service broadcasts a
// `prices-updated` event on the module-level EventEmitter `pricingEvents`
// whenever a price list or promotion is republished, a few times an hour),
// so every quote registers a listener that re-prices its cart when that
// happens. The listener is a closure over the parsed request body (the cart)
// and the quote, and it is never removed: not when the quote is paid, not
// when it expires. Someone silenced the MaxListenersExceededWarning with
// setMaxListeners(0). From the first request on, every quote stays in memory.
//
// Traffic: 0.8 quotes/s (carts are re-quoted at every checkout step), plus
// 0.5 req/s of quote reads and health checks.
import { EventEmitter } from 'node:events';
import { buildBallast, every, listen, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0xe3177e4);

/** Pricing service broadcasts (price lists, promotions republished). */
const pricingEvents = new EventEmitter();
pricingEvents.setMaxListeners(0);

// --- pricing ---------------------------------------------------------------------

const priceList = { version: 1, multiplier: 1 };
const PROMOS = { SPRING10: 0.1, WELCOME5: 0.05, VIP15: 0.15 };
const VAT = { DE: 0.19, FR: 0.2, NL: 0.21, AT: 0.2, BE: 0.21, IT: 0.22, ES: 0.21 };

function unitPrice(sku, list) {
  let h = 0;
  for (let i = 0; i < sku.length; i++) h = (Math.imul(h, 31) + sku.charCodeAt(i)) | 0;
  return Math.round((499 + (Math.abs(h) % 20000)) * list.multiplier);
}

function priceCart(cart, list) {
  let subtotal = 0;
  const lines = cart.lines.map((line) => {
    const unit = unitPrice(line.sku, list);
    subtotal += unit * line.quantity;
    return { sku: line.sku, quantity: line.quantity, unitCents: unit, totalCents: unit * line.quantity };
  });
  const discount = Math.round(subtotal * (cart.promoCodes.reduce((max, code) => Math.max(max, PROMOS[code] ?? 0), 0)));
  const shipping = subtotal - discount >= 5000 ? 0 : 495;
  const vat = Math.round((subtotal - discount + shipping) * (VAT[cart.shippingAddress.country] ?? 0.19));
  return { lines, subtotalCents: subtotal, discountCents: discount, shippingCents: shipping, vatCents: vat, totalCents: subtotal - discount + shipping + vat, priceListVersion: list.version };
}

// --- quotes --------------------------------------------------------------------------

const quotes = new Map(); // open quotes by id, expire after 30 min
const counters = { quotes: 0, repriced: 0, expired: 0 };
const QUOTE_TTL_S = 30 * 60;

/** Re-price this cart whenever prices are republished while the quote is open. */
function watchPriceChanges(quote, cart) {
  pricingEvents.on('prices-updated', (list) => {
    if (quote.status !== 'open') return;
    quote.pricing = priceCart(cart, list);
    quote.repricedAt = programSeconds();
    counters.repriced++;
  });
}

function createQuote(cart) {
  const now = programSeconds();
  const quote = { id: `q-${++counters.quotes}`, cartId: cart.cartId, customerId: cart.customerId, status: 'open', pricing: priceCart(cart, priceList), createdAt: now, expiresAt: now + QUOTE_TTL_S, repricedAt: null };
  quotes.set(quote.id, quote);
  watchPriceChanges(quote, cart);
  return quote;
}

// expire open quotes (the quote leaves the map; its listener stays on pricingEvents)
every(scaledMs(60), () => {
  const now = programSeconds();
  for (const [id, quote] of quotes) {
    if (quote.expiresAt <= now) {
      quote.status = 'expired';
      quotes.delete(id);
      counters.expired++;
    }
  }
});

// the pricing service republishes a price list or a promotion ~4 times an hour
let nextPublishAt = 600 + random() * 900;
every(scaledMs(5), () => {
  if (programSeconds() < nextPublishAt) return;
  nextPublishAt += 600 + random() * 900;
  priceList.version++;
  priceList.multiplier = 0.97 + random() * 0.06;
  pricingEvents.emit('prices-updated', { ...priceList });
});

// --- HTTP ----------------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function validCart(cart) {
  return cart !== null && typeof cart === 'object' && Array.isArray(cart.lines) && cart.lines.length > 0 && cart.lines.length <= 100 && typeof cart.shippingAddress?.country === 'string' && Array.isArray(cart.promoCodes);
}

async function handler(req, res) {
  if (req.url === '/healthz') return sendJson(res, 200, { ok: true, openQuotes: quotes.size });
  if (req.method === 'GET' && req.url.startsWith('/v1/quotes/')) {
    const quote = quotes.get(req.url.slice('/v1/quotes/'.length));
    return quote === undefined ? sendJson(res, 404, { error: 'no such quote' }) : sendJson(res, 200, quote);
  }
  if (req.method !== 'POST' || req.url !== '/v1/quotes') return sendJson(res, 404, { error: 'not found' });
  let cart;
  try {
    cart = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
  } catch {
    return sendJson(res, 400, { error: 'bad JSON' });
  }
  if (!validCart(cart)) return sendJson(res, 422, { error: 'invalid cart' });
  sendJson(res, 201, createQuote(cart));
}

// --- clients: checkout pages --------------------------------------------------------------

const COUNTRIES = Object.keys(VAT);
const STREETS = ['Hauptstrasse', 'Rue de la Paix', 'Kerkstraat', 'Via Roma', 'Calle Mayor', 'Ringstrasse', 'Avenue Foch'];
const CITIES = ['Berlin', 'Lyon', 'Utrecht', 'Graz', 'Gent', 'Milano', 'Sevilla', 'Hamburg', 'Lille'];
let cartSeq = 0;

function nextCart() {
  const n = ++cartSeq;
  const lines = [];
  const count = 1 + Math.floor(random() ** 2 * 12);
  for (let i = 0; i < count; i++) {
    lines.push({ sku: `SKU-${Math.floor(random() * 40000)}`, quantity: 1 + Math.floor(random() ** 3 * 4), title: `Article ${Math.floor(random() * 90000)}`, variant: random() < 0.5 ? 'M / blue' : 'one size', giftWrap: random() < 0.05 });
  }
  const country = COUNTRIES[Math.floor(random() * COUNTRIES.length)];
  const cart = {
    cartId: `c-${n}`,
    customerId: random() < 0.7 ? `cust-${Math.floor(random() * 200000)}` : null,
    sessionId: `sess-${(n * 2654435761) >>> 0}`,
    currency: 'EUR',
    lines,
    promoCodes: random() < 0.2 ? [Object.keys(PROMOS)[Math.floor(random() * 3)]] : [],
    shippingAddress: { name: `Customer ${n}`, street: `${STREETS[n % STREETS.length]} ${1 + (n % 150)}`, postalCode: String(10000 + (n * 7) % 89999), city: CITIES[n % CITIES.length], country },
    shippingMethod: random() < 0.8 ? 'standard' : 'express',
    locale: `${country.toLowerCase()}-${country}`,
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  };
  return { method: 'POST', path: '/v1/quotes', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cart) };
}

function nextRead() {
  if (random() < 0.3 || counters.quotes === 0) return { method: 'GET', path: '/healthz' };
  return { method: 'GET', path: `/v1/quotes/q-${counters.quotes - Math.floor(random() * Math.min(counters.quotes, 50))}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const checkout = selfRequests(port, { perSecond: 0.8, maxInFlight: 8, next: nextCart });
const reads = selfRequests(port, { perSecond: 0.5, maxInFlight: 8, next: nextRead });

reportStats(() => ({
  retained: pricingEvents.listenerCount('prices-updated'),
  openQuotes: quotes.size,
  ...counters,
  priceListVersion: priceList.version,
  requestsFailed: checkout.failed + reads.failed,
}));

ready(`emitter-closure-leak-from-start: checkout quote API adding a never-removed 'prices-updated' listener (closure over the parsed cart) per quote, 0.8 quotes/s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
