// Shopping-cart service of a web shop. Carts are kept in memory per user in
// the module-level Map `carts` (class Cart with its `items` array: a product
// snapshot, quantity and options per line). The storefront adds, updates and
// removes items and shows the cart; checkout turns the cart into an order
// (the order service is a stand-in) and deletes it. Most carts are abandoned:
// a sweeper runs every minute and expires carts idle for 30 minutes (their
// contents go to the "abandoned cart" mailer stand-in as a summary).
//
// Nothing is kept beyond live and recently idle carts: the memory follows
// the shoppers. Traffic follows the day: ~3 shopping sessions a minute at
// night, rising through the morning (07:00-11:00) to ~24, flat through the
// day, falling in the evening (18:00-23:00). The simulated day starts at
// SCENARIO_CLOCK_H (default 8.0, i.e. 08:00).
import {
  buildBallast,
  envNumber,
  every,
  listen,
  paced,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xca27);
const clockStartH = envNumber('SCENARIO_CLOCK_H', 8.0, (v) => v >= 0 && v < 24);

const wallMs = (seconds) => (seconds * 1000) / speed;
const hourOfDay = () => (clockStartH + programSeconds() / 3600) % 24;

// --- carts ------------------------------------------------------------------------------------

const IDLE_EXPIRY_S = 30 * 60;
const MAX_LINES = 50;

/** Live carts by user id. */
const carts = new Map();
const counters = { created: 0, checkedOut: 0, expired: 0, itemsAdded: 0, orders: 0, abandonedMails: 0 };

class Cart {
  constructor(userId, currency, now) {
    this.userId = userId;
    this.currency = currency;
    this.items = [];
    this.coupon = null;
    this.createdAt = now;
    this.updatedAt = now;
  }

  add(line) {
    const existing = this.items.find((i) => i.sku === line.sku && i.optionsKey === line.optionsKey);
    if (existing !== undefined) existing.quantity += line.quantity;
    else if (this.items.length < MAX_LINES) this.items.push(line);
  }

  setQuantity(sku, quantity) {
    const index = this.items.findIndex((i) => i.sku === sku);
    if (index === -1) return false;
    if (quantity <= 0) this.items.splice(index, 1);
    else this.items[index].quantity = quantity;
    return true;
  }

  totals() {
    let subtotal = 0;
    let count = 0;
    for (const item of this.items) {
      subtotal += item.unitPriceMinor * item.quantity;
      count += item.quantity;
    }
    const discount = this.coupon === 'WELCOME10' ? Math.round(subtotal * 0.1) : 0;
    return { count, subtotal, discount, total: subtotal - discount, currency: this.currency };
  }
}

/** A cart line: the product as shown when it was added, the chosen options and the quantity. */
function cartLine(product, options, quantity, now) {
  return {
    sku: product.sku,
    title: product.title,
    imageUrl: product.imageUrl,
    unitPriceMinor: product.priceMinor,
    options,
    optionsKey: `${options.size ?? ''}/${options.color ?? ''}`,
    quantity,
    addedAt: now,
  };
}

function cartFor(userId, currency, now) {
  let cart = carts.get(userId);
  if (cart === undefined) {
    cart = new Cart(userId, currency, now);
    carts.set(userId, cart);
    counters.created++;
  }
  cart.updatedAt = now;
  return cart;
}

function expireIdleCarts() {
  const now = programSeconds();
  for (const [userId, cart] of carts) {
    if (now - cart.updatedAt < IDLE_EXPIRY_S) continue;
    carts.delete(userId);
    counters.expired++;
    if (cart.items.length > 0) counters.abandonedMails++;
  }
}

// --- product catalogue (read model) ---------------------------------------------------------------

const CATEGORIES = ['shirts', 'jeans', 'sneakers', 'jackets', 'dresses', 'bags', 'hats', 'socks'];
const ADJECTIVES = ['Classic', 'Slim', 'Relaxed', 'Organic', 'Vintage', 'Sport', 'Urban', 'Premium'];

/** The product service (stand-in): deterministic product details for a SKU number. */
function productById(n) {
  const category = CATEGORIES[n % CATEGORIES.length];
  return {
    sku: `SKU-${String(n).padStart(6, '0')}`,
    title: `${ADJECTIVES[(n >> 3) % ADJECTIVES.length]} ${category.slice(0, -1)} ${n % 97}`,
    imageUrl: `https://cdn.shop.example/img/${category}/${n}/main-800x1000.webp`,
    priceMinor: 990 + ((n * 7919) % 15000),
  };
}

// --- HTTP --------------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function cartView(cart) {
  return { userId: cart.userId, items: cart.items.map((i) => ({ sku: i.sku, title: i.title, quantity: i.quantity, unitPriceMinor: i.unitPriceMinor, options: i.options })), ...cart.totals() };
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://cart.local');
  const parts = url.pathname.split('/');
  const now = programSeconds();
  try {
    if (parts[1] === 'v1' && parts[2] === 'carts' && parts[3]) {
      const userId = parts[3];
      if (req.method === 'GET' && parts.length === 4) {
        const cart = carts.get(userId);
        if (cart === undefined) return sendJson(res, 200, { userId, items: [], count: 0, total: 0 });
        cart.updatedAt = now;
        return sendJson(res, 200, cartView(cart));
      }
      if (req.method === 'POST' && parts[4] === 'items') {
        const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
        const cart = cartFor(userId, body.currency ?? 'EUR', now);
        cart.add(cartLine(productById(body.productId), body.options ?? {}, body.quantity ?? 1, now));
        counters.itemsAdded++;
        return sendJson(res, 201, cartView(cart));
      }
      if (req.method === 'PATCH' && parts[4] === 'items' && parts[5]) {
        const cart = carts.get(userId);
        if (cart === undefined) return sendJson(res, 404, { error: 'no cart' });
        const body = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
        cart.updatedAt = now;
        if (!cart.setQuantity(parts[5], body.quantity)) return sendJson(res, 404, { error: 'no such line' });
        return sendJson(res, 200, cartView(cart));
      }
      if (req.method === 'POST' && parts[4] === 'coupon') {
        const cart = carts.get(userId);
        if (cart === undefined) return sendJson(res, 404, { error: 'no cart' });
        cart.coupon = JSON.parse((await readBody(req, 4096)).toString('utf8')).code;
        cart.updatedAt = now;
        return sendJson(res, 200, cartView(cart));
      }
      if (req.method === 'POST' && parts[4] === 'checkout') {
        const cart = carts.get(userId);
        if (cart === undefined || cart.items.length === 0) return sendJson(res, 409, { error: 'empty cart' });
        const totals = cart.totals();
        carts.delete(userId);
        counters.checkedOut++;
        counters.orders++;
        return sendJson(res, 201, { orderId: `ord_${counters.orders.toString(36)}`, ...totals });
      }
    }
    if (req.method === 'GET' && url.pathname === '/v1/stats') return sendJson(res, 200, { carts: carts.size, ...counters });
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- shoppers (the load) ---------------------------------------------------------------------------

/** Shopping sessions started per minute over the day. */
const CURVE = [
  [0, 4],
  [3, 2.5],
  [6, 3],
  [7, 5],
  [9, 14],
  [11, 23],
  [13, 24],
  [15, 22],
  [18, 23],
  [20, 15],
  [22, 7],
  [24, 4],
];

function sessionsPerMinute(h) {
  for (let i = 1; i < CURVE.length; i++) {
    const [h1, v1] = CURVE[i];
    const [h0, v0] = CURVE[i - 1];
    if (h <= h1) return v0 + ((v1 - v0) * (h - h0)) / (h1 - h0);
  }
  return CURVE[0][1];
}

const SIZES = ['XS', 'S', 'M', 'L', 'XL'];
const COLORS = ['black', 'white', 'navy', 'olive', 'sand', 'red'];

/** Shoppers currently browsing. */
const shoppers = [];
const outbox = [];
let userSeq = 0;

function startSession() {
  const n = ++userSeq;
  shoppers.push({
    userId: `u_${((n * 2654435761) % 4_000_000_000).toString(36)}`,
    actionsLeft: 2 + Math.floor(random() * 14),
    checksOut: random() < 0.3,
    lines: [],
    nextAt: programSeconds() + 5 + random() * 30,
  });
}

function productNumber() {
  const r = random();
  return Math.floor(40_000 * r * r);
}

function nextAction(shopper, now) {
  const base = `/v1/carts/${shopper.userId}`;
  if (shopper.actionsLeft <= 0) {
    if (shopper.checksOut && shopper.lines.length > 0) outbox.push({ method: 'POST', path: `${base}/checkout`, headers: { 'content-type': 'application/json' }, body: '{}' });
    return false;
  }
  shopper.actionsLeft--;
  const roll = random();
  if (roll < 0.55 || shopper.lines.length === 0) {
    const productId = productNumber();
    shopper.lines.push(productById(productId).sku);
    const options = productId % 8 < 5 ? { size: SIZES[Math.floor(random() * SIZES.length)], color: COLORS[Math.floor(random() * COLORS.length)] } : {};
    outbox.push({ method: 'POST', path: `${base}/items`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ productId, quantity: random() < 0.85 ? 1 : 2, options, currency: 'EUR' }) });
  } else if (roll < 0.85) {
    outbox.push({ method: 'GET', path: base });
  } else if (roll < 0.97) {
    const sku = shopper.lines[Math.floor(random() * shopper.lines.length)];
    const quantity = random() < 0.5 ? 0 : 2;
    if (quantity === 0) shopper.lines.splice(shopper.lines.indexOf(sku), 1);
    outbox.push({ method: 'PATCH', path: `${base}/items/${sku}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quantity }) });
  } else {
    outbox.push({ method: 'POST', path: `${base}/coupon`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'WELCOME10' }) });
  }
  shopper.nextAt = now + 20 + random() * 100;
  return true;
}

function simulate() {
  const now = programSeconds();
  let keep = 0;
  for (let i = 0; i < shoppers.length; i++) {
    const shopper = shoppers[i];
    if (shopper.nextAt <= now && !nextAction(shopper, now)) continue;
    shoppers[keep++] = shopper;
  }
  shoppers.length = keep;
}

// --- wiring --------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

paced(() => sessionsPerMinute(hourOfDay()) / 60, (due) => {
  for (let i = 0; i < due; i++) startSession();
});
every(wallMs(2), simulate);
every(wallMs(60), expireIdleCarts);
const storefront = selfRequests(port, { perSecond: 20, maxInFlight: 16, next: () => outbox.shift() ?? null });
const monitoring = selfRequests(port, { perSecond: 0.1, maxInFlight: 2, next: () => ({ method: 'GET', path: random() < 0.5 ? '/healthz' : '/v1/stats' }) });

reportStats(() => {
  let items = 0;
  for (const cart of carts.values()) items += cart.items.length;
  return {
    retained: items,
    carts: carts.size,
    shoppers: shoppers.length,
    hour: Math.round(hourOfDay() * 100) / 100,
    sessionsPerMinute: Math.round(sessionsPerMinute(hourOfDay()) * 10) / 10,
    created: counters.created,
    checkedOut: counters.checkedOut,
    expired: counters.expired,
    requestsFailed: storefront.failed + monitoring.failed,
  };
});

ready(
  `shopping-cart-idle-expiry-daytime: carts per user with their items in carts, idle carts expired after 30 min; sessions follow the day, rising in the morning and falling in the evening (clock ${clockStartH} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
