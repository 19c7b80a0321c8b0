// Accounts API of a payments company with a reconciliation job built in.
// Every 100 minutes (first at 10 min) the job loads the ledger export and
// the bank's statement file for the period (CSV text, read in pages of
// 5 000 lines from object storage, here generated in-process) into memory:
// ledger entries in a Map by payment reference plus an array of bank lines.
// It then matches every bank line against the ledger at a steady pace over
// ~30 minutes (amount, currency and date tolerance), collects the
// exceptions, publishes a summary and drops the whole data set. Between runs
// the service answers balance and transaction reads.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x1ed9e7);

const RUN_EVERY_S = 100 * 60;
const FIRST_RUN_S = 10 * 60;
const MATCH_SECONDS = 30 * 60;
const PAGE_LINES = 5000;
const COUNTERPARTIES = ['Acme Logistics BV', 'Globex GmbH', 'Initech Ltd', 'Umbrella SA', 'Hooli Inc', 'Stark Industries', 'Wayne Enterprises', 'Tyrell Corp', 'Soylent AB', 'Cyberdyne Oy'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'GBP', 'USD', 'SEK'];

// --- the exports (stand-ins for the ledger and the bank's statement file) ---------------

function ledgerCsvPage(run, page, total) {
  const lines = [];
  const end = Math.min(total, (page + 1) * PAGE_LINES);
  for (let i = page * PAGE_LINES; i < end; i++) {
    const n = (run * 7_919 + i * 104_729) >>> 0;
    const amount = 100 + (n % 2_500_000);
    lines.push(`LE-${run}-${i.toString(36).padStart(6, '0')},PAY${(run * 1_000_000 + i).toString(36).toUpperCase()},acc_${n % 20_000},${amount},${CURRENCIES[n % CURRENCIES.length]},2024-06-${String(1 + (n % 28)).padStart(2, '0')},${COUNTERPARTIES[n % COUNTERPARTIES.length]},Invoice ${n % 900_000} settlement batch ${n % 97}`);
  }
  return lines.join('\n');
}

function bankCsvPage(run, page, total) {
  const lines = [];
  const end = Math.min(total, (page + 1) * PAGE_LINES);
  for (let i = page * PAGE_LINES; i < end; i++) {
    const n = (run * 7_919 + i * 104_729) >>> 0;
    let amount = 100 + (n % 2_500_000);
    if (n % 211 === 0) amount += 1; // bank fees and rounding: exceptions
    const reference = n % 997 === 0 ? `UNKNOWN${i}` : `PAY${(run * 1_000_000 + i).toString(36).toUpperCase()}`;
    lines.push(`BK${run}${i.toString(36).padStart(7, '0')},${reference},${amount},${CURRENCIES[n % CURRENCIES.length]},2024-06-${String(1 + ((n + (n % 3 === 0 ? 1 : 0)) % 28)).padStart(2, '0')},NL${(n % 90) + 10}BANK0${(n % 1e9).toString().padStart(9, '0')},${COUNTERPARTIES[n % COUNTERPARTIES.length].toUpperCase()}`);
  }
  return lines.join('\n');
}

function parseLedgerLine(line) {
  const f = line.split(',');
  return { entryId: f[0], reference: f[1], account: f[2], amountMinor: Number(f[3]), currency: f[4], bookedOn: f[5], counterparty: f[6], description: f[7], matchedBy: null };
}

function parseBankLine(line) {
  const f = line.split(',');
  return { bankId: f[0], reference: f[1], amountMinor: Number(f[2]), currency: f[3], valueDate: f[4], iban: f[5], name: f[6], status: 'open' };
}

// --- the job -----------------------------------------------------------------------------------

class ReconciliationRun {
  constructor(id, startedAt) {
    this.id = id;
    this.startedAt = startedAt;
    this.state = 'loading';
    this.expected = 180_000 + Math.floor(random() * 60_000);
    this.ledgerPage = 0;
    this.bankPage = 0;
    this.ledger = new Map();
    this.bankLines = [];
    this.exceptions = [];
    this.matched = 0;
    this.cursor = 0;
    this.loadedAt = null;
    this.finishedAt = null;
  }

  get pages() {
    return Math.ceil(this.expected / PAGE_LINES);
  }

  loadPage() {
    if (this.ledgerPage < this.pages) {
      for (const line of ledgerCsvPage(this.id, this.ledgerPage++, this.expected).split('\n')) {
        const entry = parseLedgerLine(line);
        this.ledger.set(entry.reference, entry);
      }
    }
    if (this.bankPage < this.pages) {
      for (const line of bankCsvPage(this.id, this.bankPage++, this.expected).split('\n')) this.bankLines.push(parseBankLine(line));
    }
    if (this.ledgerPage >= this.pages && this.bankPage >= this.pages) {
      this.state = 'matching';
      this.loadedAt = programSeconds();
    }
  }

  matchFor(seconds) {
    const quota = Math.ceil((this.bankLines.length / MATCH_SECONDS) * seconds);
    const end = Math.min(this.bankLines.length, this.cursor + quota);
    for (; this.cursor < end; this.cursor++) matchLine(this, this.bankLines[this.cursor]);
    if (this.cursor >= this.bankLines.length) {
      this.state = 'done';
      this.finishedAt = programSeconds();
    }
  }

  summary() {
    return { id: this.id, startedAt: this.startedAt, loadedAt: this.loadedAt, finishedAt: this.finishedAt, bankLines: this.bankLines.length, ledgerEntries: this.ledger.size, matched: this.matched, exceptions: this.exceptions.length };
  }
}

function matchLine(run, line) {
  const entry = run.ledger.get(line.reference);
  if (entry === undefined) {
    run.exceptions.push({ bankId: line.bankId, reason: 'no ledger entry', amountMinor: line.amountMinor });
    line.status = 'exception';
    return;
  }
  if (entry.amountMinor !== line.amountMinor || entry.currency !== line.currency) {
    run.exceptions.push({ bankId: line.bankId, entryId: entry.entryId, reason: 'amount mismatch', delta: line.amountMinor - entry.amountMinor });
    line.status = 'exception';
    return;
  }
  entry.matchedBy = line.bankId;
  line.status = 'matched';
  run.matched++;
}

/** The run in progress, if any; the last 20 summaries. */
let currentRun = null;
const history = [];
let runs = 0;
let nextRunAt = FIRST_RUN_S;
let lastTick = 0;

function jobTick() {
  const now = programSeconds();
  const elapsed = now - lastTick;
  lastTick = now;
  if (currentRun === null) {
    if (now >= nextRunAt) {
      runs++;
      currentRun = new ReconciliationRun(runs, now);
      nextRunAt += RUN_EVERY_S;
    }
    return;
  }
  if (currentRun.state === 'loading') currentRun.loadPage();
  else if (currentRun.state === 'matching') currentRun.matchFor(elapsed);
  if (currentRun.state === 'done') {
    history.push(currentRun.summary());
    if (history.length > 20) history.shift();
    currentRun = null;
  }
}

// --- API -------------------------------------------------------------------------------------

const balances = new Map();
for (let i = 0; i < 20_000; i++) balances.set(`acc_${i}`, { account: `acc_${i}`, currency: CURRENCIES[i % CURRENCIES.length], balanceMinor: (i * 7_919) % 10_000_000 });

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://accounts.local');
  const parts = url.pathname.split('/');
  if (parts[1] === 'v1' && parts[2] === 'accounts' && parts[3]) {
    const balance = balances.get(parts[3]);
    return balance === undefined ? sendJson(res, 404, { error: 'no such account' }) : sendJson(res, 200, balance);
  }
  if (url.pathname === '/v1/reconciliation') {
    const run = currentRun === null ? null : { id: currentRun.id, state: currentRun.state, loaded: currentRun.bankLines.length, matched: currentRun.matched, exceptions: currentRun.exceptions.length };
    return sendJson(res, 200, { run, history: history.slice(-5) });
  }
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'not found' });
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const clients = selfRequests(port, {
  perSecond: 1,
  maxInFlight: 8,
  next: () => {
    const roll = random();
    if (roll < 0.8) return { method: 'GET', path: `/v1/accounts/acc_${Math.floor(random() * 20_000)}` };
    return { method: 'GET', path: roll < 0.9 ? '/v1/reconciliation' : '/healthz' };
  },
});

// The job wakes every 2 s of production time (one page of each file per tick while loading).
every(2000 / speed, jobTick);

reportStats(() => ({
  retained: currentRun === null ? 0 : currentRun.ledger.size + currentRun.bankLines.length,
  state: currentRun === null ? 'idle' : currentRun.state,
  runs,
  matched: currentRun === null ? 0 : currentRun.matched,
  requestsFailed: clients.failed,
}));

ready(`ledger-reconciliation-window: every 100 min (from 10 min) loads ~210 000 ledger entries and bank lines, matches them over 30 min, drops them (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
