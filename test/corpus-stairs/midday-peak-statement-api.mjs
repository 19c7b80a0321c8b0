// Account-statement API of a small business bank: mostly idle (two load
// balancers' health checks and a trickle of statement requests), with a
// one-hour peak at lunchtime (12:00-13:00, ~3x) when the customers' staff
// check their accounts.
//
// A statement request assembles its response while it waits for the core
// banking system (a slow downstream, ~12 s median) to return the balances:
// class StatementResponse collects the account header and the rendered
// transaction rows (a few hundred KB) first, then awaits the downstream, then
// serialises and sends everything and is dropped. The heap follows the number
// of requests in flight and comes back down after the peak; nothing stays.
//
// The simulated day starts at SCENARIO_CLOCK_H (default 9.5, i.e. 09:30), so
// the peak is at 2.5-3.5 h of program time (ramps of 10 minutes either side).
import {
  buildBallast,
  envNumber,
  listen,
  onShutdown,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x51a7e);
const clockStartH = envNumber('SCENARIO_CLOCK_H', 9.5, (v) => v >= 0 && v < 24);

/** Hour of the simulated day (0-24). */
function clockHour() {
  return (clockStartH + programSeconds() / 3600) % 24;
}

/** Traffic multiplier: 1 outside the lunch peak, 3 from 12:00 to 13:00, 10-minute ramps. */
function trafficFactor() {
  const h = clockHour();
  const ramp = 10 / 60;
  if (h < 12 - ramp || h > 13 + ramp) return 1;
  if (h < 12) return 1 + 2 * ((h - (12 - ramp)) / ramp);
  if (h > 13) return 1 + 2 * ((13 + ramp - h) / ramp);
  return 3;
}

// --- accounts and the ledger stand-in ---------------------------------------------------

const ACCOUNTS = Array.from({ length: 600 }, (_, i) => `DE${String(10 + (i % 89))}5001${String(7_000_000_000 + i * 7919).padStart(10, '0')}`);
const MERCHANTS = ['Office Depot', 'Deutsche Bahn', 'Lufthansa', 'Telekom', 'Amazon Business', 'Shell', 'Hotel Adlon', 'Metro Cash', 'Stadtwerke', 'Google Ads'];

/** The transactions of the statement period (already in the API's own read replica). */
function* ledgerRows(account, count) {
  const seed = account.length * 131 + account.charCodeAt(account.length - 1);
  for (let i = 0; i < count; i++) {
    const merchant = MERCHANTS[(seed + i * 7) % MERCHANTS.length];
    yield {
      id: `tx-${seed}-${i}`,
      bookingDate: new Date(Date.UTC(2024, 5, 1) + i * 3_600_000).toISOString().slice(0, 10),
      amountCents: ((seed * (i + 3)) % 400_000) - 150_000,
      merchant,
      reference: `${merchant.toUpperCase()} ${i} ${account.slice(-6)} SEPA-${(seed * i).toString(36)}`,
      category: ['travel', 'office', 'utilities', 'marketing', 'fees'][i % 5],
    };
  }
}

function formatAmount(cents) {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const units = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `${sign}${units},${String(abs % 100).padStart(2, '0')} EUR`;
}

/** One rendered statement line: what the statement page and the PDF export show. */
function renderRow(row, runningBalance) {
  return {
    id: row.id,
    date: row.bookingDate,
    text: `${row.merchant} - ${row.reference}`,
    amount: formatAmount(row.amountCents),
    balance: formatAmount(runningBalance),
    category: row.category,
    html: `<tr class="tx ${row.amountCents < 0 ? 'debit' : 'credit'}" data-id="${row.id}"><td>${row.bookingDate}</td><td>${row.merchant}</td><td class="ref">${row.reference}</td><td class="amt">${formatAmount(row.amountCents)}</td></tr>`,
  };
}

class StatementResponse {
  constructor(account, period) {
    this.account = account;
    this.period = period;
    this.header = null;
    this.rows = [];
    this.balances = null;
    this.startedAt = programSeconds();
  }

  addRows(rows) {
    let balance = 0;
    for (const row of rows) {
      balance += row.amountCents;
      this.rows.push(renderRow(row, balance));
    }
    this.header = { account: this.account, period: this.period, count: this.rows.length, net: formatAmount(balance) };
  }

  toJson() {
    return JSON.stringify({ header: this.header, balances: this.balances, rows: this.rows });
  }
}

// --- the core banking system: slow ----------------------------------------------------------

const core = { calls: 0 };

/** Log-normal latency, median 12 s of production time (scaled to wall time). */
function coreLatencyMs() {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(90_000, 12_000 * Math.exp(0.5 * z));
}

const pendingTimers = new Set();
onShutdown(() => {
  for (const timer of pendingTimers) clearTimeout(timer);
});

function fetchBalances(account) {
  core.calls++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      resolve({ account, booked: 1_234_567 + (account.length * 977) % 100_000, available: 1_200_000, currency: 'EUR', asOf: clockHour() });
    }, coreLatencyMs() / speed);
    pendingTimers.add(timer);
  });
}

// --- HTTP ---------------------------------------------------------------------------------------

const inFlight = new Set();
const served = { statements: 0, health: 0 };

function sendJson(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function statement(res, account, period) {
  const response = new StatementResponse(account, period);
  inFlight.add(response);
  try {
    response.addRows(ledgerRows(account, 300 + Math.floor(random() * 300)));
    response.balances = await fetchBalances(account);
    sendJson(res, 200, response.toJson());
    served.statements++;
  } finally {
    inFlight.delete(response);
  }
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://statements.local');
  if (url.pathname === '/healthz') {
    served.health++;
    return sendJson(res, 200, '{"ok":true}');
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/accounts/') && url.pathname.endsWith('/statement')) {
    const account = url.pathname.split('/')[3];
    return statement(res, account, url.searchParams.get('period') ?? '2024-06').catch((error) => {
      if (!res.headersSent) sendJson(res, 500, JSON.stringify({ error: String(error) }));
    });
  }
  sendJson(res, 404, '{"error":"not found"}');
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// Two load balancers, a health check every 5 s each.
const balancers = selfRequests(port, { perSecond: 0.4, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });
// Customers: 0.3 statements/s, x3 over lunch.
const customers = selfRequests(port, {
  perSecond: () => 0.3 * trafficFactor(),
  maxInFlight: 256,
  next: () => ({ method: 'GET', path: `/v1/accounts/${ACCOUNTS[Math.floor(random() * ACCOUNTS.length)]}/statement?period=2024-0${1 + Math.floor(random() * 6)}` }),
});

reportStats(() => ({
  retained: inFlight.size,
  clockH: Math.round(clockHour() * 100) / 100,
  trafficFactor: Math.round(trafficFactor() * 100) / 100,
  statements: served.statements,
  requestsFailed: balancers.failed + customers.failed,
}));

ready(
  `midday-peak-statement-api: mostly idle statement API, 0.3 req/s (x3 from 12:00 to 13:00) each holding a few hundred KB while a ~12 s downstream answers (clock ${clockStartH} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
