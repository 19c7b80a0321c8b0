// Checkout service: every order event from the cart service needs a tax quote
// from the tax engine, which speaks a small JSON-over-UDP RPC protocol on
// 127.0.0.1 (both ends run in this process here).
//
// The RPC client keeps outstanding calls in a plain object, `pending`, keyed by
// request id; a reply looks its entry up, deletes it and resolves the caller.
// The tax engine sheds load by not answering (~20 % of datagrams at the rates
// below), so those calls end by timeout (3 s at speed 1): the timeout handler
// rejects the caller but never deletes the entry, and the whole order
// (params, ~8 KB) stays in `pending`.
//
// Speed 1: 15 quotes/s, ~3 timeouts/s, ~7.5 KB each → ~90 MB/h of JS heap.
// Cap: the client refuses new calls at 20 000 outstanding (it counts entries
// the same way it forgets them), ~150 MB, ~1.6 h at speed 1.
// stats: retained = outstanding entries in `pending`.
import dgram from 'node:dgram';
import { buildBallast, onShutdown, paced, ready, reportStats, rng, scaledMs } from '../corpus/lib/corpus.mjs';

const QUOTES_PER_SECOND = 15;
const TIMEOUT_SECONDS = 3;
const SHED_RATIO = 0.2;
const MAX_OUTSTANDING = 20_000;

// --- tax engine (the remote side) -------------------------------------------
const RATES = { DE: 0.19, AT: 0.2, FR: 0.2, NL: 0.21, IT: 0.22, ES: 0.21, PL: 0.23, SE: 0.25 };
const engine = dgram.createSocket('udp4');
const shed = rng(5);
engine.on('message', (msg, rinfo) => {
  if (shed() < SHED_RATIO) return; // over its admission limit: dropped silently
  const { id, params } = JSON.parse(msg);
  const rate = RATES[params.shipTo.country] ?? 0.19;
  let net = 0;
  for (const line of params.lines) net += line.unitCents * line.qty;
  const reply = JSON.stringify({ id, result: { net, tax: Math.round(net * rate), rate, jurisdiction: params.shipTo.country } });
  engine.send(reply, rinfo.port, '127.0.0.1');
});

// --- RPC client ---------------------------------------------------------------
const pending = {};
let pendingCount = 0;
let seq = 0;
const counters = { calls: 0, replies: 0, timeouts: 0, refused: 0, late: 0 };
const client = dgram.createSocket('udp4');

class RpcTimeoutError extends Error {}

function call(method, params) {
  if (pendingCount >= MAX_OUTSTANDING) {
    counters.refused++;
    return Promise.reject(new Error('tax-engine: too many outstanding calls'));
  }
  const id = `tq-${(++seq).toString(36)}`;
  return new Promise((resolve, reject) => {
    const entry = { id, method, params, sentAt: Date.now(), attempts: 1, resolve, reject, timer: null };
    entry.timer = setTimeout(onTimeout, scaledMs(TIMEOUT_SECONDS), id);
    pending[id] = entry;
    pendingCount++;
    counters.calls++;
    client.send(JSON.stringify({ id, method, params }), enginePort, '127.0.0.1');
  });
}

function onTimeout(id) {
  const entry = pending[id];
  counters.timeouts++;
  entry.reject(new RpcTimeoutError(`${entry.method} ${id} timed out after ${TIMEOUT_SECONDS} s`));
}

client.on('message', (msg) => {
  const { id, result, error } = JSON.parse(msg);
  const entry = pending[id];
  if (entry === undefined) {
    counters.late++;
    return;
  }
  delete pending[id];
  pendingCount--;
  clearTimeout(entry.timer);
  counters.replies++;
  if (error) entry.reject(new Error(error));
  else entry.resolve(result);
});

const ballastMB = buildBallast();
await new Promise((resolve) => engine.bind(0, '127.0.0.1', resolve));
await new Promise((resolve) => client.bind(0, '127.0.0.1', resolve));
const enginePort = engine.address().port;
onShutdown(() => {
  client.close();
  engine.close();
});

// --- order events from the cart service ----------------------------------------
const random = rng(9);
const COUNTRIES = Object.keys(RATES);
const CATALOG = ['Ergonomic office chair', 'Sit-stand desk frame', 'Monitor arm dual', 'LED desk lamp', 'Cable tray', 'Footrest adjustable', 'Document shelf A4', 'Whiteboard 120x90', 'Acoustic panel', 'Drawer unit'];
let orderSeq = 0;

function orderLine(i) {
  const sku = `SKU-${100000 + Math.floor(random() * 800000)}`;
  return { lineNo: i + 1, sku, description: `${CATALOG[Math.floor(random() * CATALOG.length)]} (${sku}), colour ${['graphite', 'white', 'oak', 'black'][i % 4]}`, qty: 1 + Math.floor(random() * 6), unitCents: 990 + Math.floor(random() * 60000), taxCode: i % 7 === 0 ? 'reduced' : 'standard', warehouse: `WH-${1 + (i % 5)}` };
}

function orderFromCart() {
  orderSeq++;
  const lines = [];
  for (let i = 0, n = 24 + Math.floor(random() * 10); i < n; i++) lines.push(orderLine(i));
  const country = COUNTRIES[orderSeq % COUNTRIES.length];
  return {
    orderId: `ord-${orderSeq}`,
    customerId: `cus-${Math.floor(random() * 400000)}`,
    currency: 'EUR',
    shipTo: { name: `Customer ${orderSeq % 9999}`, street: `Industriestraße ${orderSeq % 300}`, zip: String(10000 + (orderSeq % 89999)), city: 'Example City', country },
    lines,
  };
}

async function quoteOrder() {
  try {
    await call('tax.quote', orderFromCart());
  } catch {
    // checkout shows "tax unavailable, retry" to the user
  }
}

paced(QUOTES_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) quoteOrder();
});

reportStats(() => ({ retained: pendingCount, capped: pendingCount >= MAX_OUTSTANDING, ...counters, ballastMB }));
ready(`checkout-tax-client: ${QUOTES_PER_SECOND} tax quotes/s (speed 1) over UDP, ~${SHED_RATIO * 100} % unanswered`);
