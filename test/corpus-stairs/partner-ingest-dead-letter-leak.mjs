// Partner ingestion API: payment partners upload NDJSON files of transaction
// records (POST /v1/partners/:partner/files). Every line is parsed and
// validated against the partner's mapping; good records go to the ledger
// writer (a stand-in that aggregates and drops them), rejected ones are
// collected per file and, at the end of the file, appended in one go to the
// module-level dead-letter list `deadLetters`, so that support can look at
// them (GET /v1/dead-letters) and replay them once the partner has fixed its
// export. Nothing ever trims the list: there is no replay endpoint yet and no
// retention, so every bad file a partner sends stays in memory for good.
//
// Partners' files are mostly clean (a handful of rejects). Now and then a
// partner's export breaks (a renamed field, amounts as strings, a wrong date
// format): one to three of its files in a row are then mostly or entirely
// rejected, and the dead-letter list takes a step up.
import {
  buildBallast,
  listen,
  MiB,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xdea71e7);

// --- partners and their mappings ---------------------------------------------

const PARTNERS = ['acquirer-nordic', 'paygate-de', 'cardhub-fr', 'walletco', 'bnpl-split', 'openbank-nl', 'sepa-direct', 'marketpay-it'];
const CURRENCIES = new Set(['EUR', 'GBP', 'SEK', 'DKK', 'CHF', 'PLN']);
const TYPES = new Set(['capture', 'refund', 'chargeback', 'payout', 'fee', 'adjustment']);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;

/** Required fields per schema version. */
const SCHEMAS = {
  3: ['externalId', 'accountRef', 'type', 'amount', 'currency', 'bookedAt', 'valueDate', 'counterparty', 'reference'],
};

// --- validation ---------------------------------------------------------------

function validateRecord(record, schemaVersion) {
  const errors = [];
  for (const field of SCHEMAS[schemaVersion]) {
    if (record[field] === undefined || record[field] === null || record[field] === '') errors.push(`${field}: required`);
  }
  if (record.amount !== undefined && !Number.isInteger(record.amount)) errors.push('amount: must be an integer (minor units)');
  if (record.currency !== undefined && !CURRENCIES.has(record.currency)) errors.push(`currency: unsupported ${record.currency}`);
  if (record.type !== undefined && !TYPES.has(record.type)) errors.push(`type: unknown ${record.type}`);
  if (typeof record.bookedAt === 'string' && !ISO_DATE.test(record.bookedAt)) errors.push('bookedAt: not an ISO-8601 UTC timestamp');
  if (record.counterparty !== undefined && typeof record.counterparty?.iban !== 'string') errors.push('counterparty.iban: required');
  return errors;
}

/** A rejected record as kept for support: the parsed record and why it was rejected. */
function toDeadLetter(record, errors, file, line, now) {
  return {
    partner: file.partner,
    fileId: file.id,
    line,
    reason: errors[0],
    errors,
    record,
    rejectedAt: now,
    replayed: false,
  };
}

// --- ledger writer stand-in ----------------------------------------------------

const ledger = {
  records: 0,
  byPartner: new Map(),
  write(partner, record) {
    this.records++;
    const totals = this.byPartner.get(partner) ?? { count: 0, volume: 0 };
    totals.count++;
    totals.volume += record.amount;
    this.byPartner.set(partner, totals);
  },
};

// --- dead letters ----------------------------------------------------------------

/** Every rejected record from every file, oldest first. */
const deadLetters = [];

const files = { received: 0, lines: 0, accepted: 0, rejected: 0, unparseable: 0, badFiles: 0 };
/** Summaries of the last 200 files. */
const recentFiles = [];

function ingestFile(file, text) {
  const now = programSeconds();
  const rejected = [];
  let accepted = 0;
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line.length === 0) continue;
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      files.unparseable++;
      continue;
    }
    const errors = validateRecord(record, file.schemaVersion);
    if (errors.length === 0) {
      ledger.write(file.partner, record);
      accepted++;
    } else {
      rejected.push(toDeadLetter(record, errors, file, lineNo, now));
    }
  }
  if (rejected.length > 0) {
    for (const entry of rejected) deadLetters.push(entry);
  }
  files.received++;
  files.lines += lineNo;
  files.accepted += accepted;
  files.rejected += rejected.length;
  if (rejected.length > accepted) files.badFiles++;
  recentFiles.push({ id: file.id, partner: file.partner, lines: lineNo, accepted, rejected: rejected.length, at: now });
  if (recentFiles.length > 200) recentFiles.shift();
  return { accepted, rejected: rejected.length };
}

// --- HTTP ------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

let fileSeq = 0;

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://ingest.local');
  const parts = url.pathname.split('/');
  try {
    if (req.method === 'POST' && parts[1] === 'v1' && parts[2] === 'partners' && parts[4] === 'files') {
      const partner = parts[3];
      if (!PARTNERS.includes(partner)) return sendJson(res, 404, { error: 'unknown partner' });
      const body = await readBody(req, 16 * MiB);
      const file = { id: `file_${(++fileSeq).toString(36)}`, partner, schemaVersion: Number(req.headers['x-schema-version'] ?? 3), name: req.headers['x-file-name'] };
      if (SCHEMAS[file.schemaVersion] === undefined) return sendJson(res, 400, { error: 'unsupported schema version' });
      const result = ingestFile(file, body.toString('utf8'));
      return sendJson(res, 200, { fileId: file.id, ...result });
    }
    if (req.method === 'GET' && url.pathname === '/v1/dead-letters') {
      const partner = url.searchParams.get('partner');
      const page = [];
      for (let i = deadLetters.length - 1; i >= 0 && page.length < 20; i--) {
        const entry = deadLetters[i];
        if (partner === null || entry.partner === partner) page.push({ partner: entry.partner, fileId: entry.fileId, line: entry.line, reason: entry.reason });
      }
      return sendJson(res, 200, { total: deadLetters.length, page });
    }
    if (req.method === 'GET' && url.pathname === '/v1/files') return sendJson(res, 200, recentFiles.slice(-20));
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, files: files.received });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- the partners' exports (the load) ----------------------------------------------

const FIRST = ['Anna', 'Lukas', 'Maria', 'Jonas', 'Sofia', 'Elias', 'Emma', 'Noah', 'Mila', 'Finn'];
const LAST = ['Schmidt', 'Jansen', 'Rossi', 'Dubois', 'Nilsson', 'Kowalski', 'Meyer', 'Bakker'];
const CITIES = ['Berlin', 'Amsterdam', 'Milan', 'Lyon', 'Malmo', 'Krakow', 'Hamburg', 'Utrecht'];
const BASE_MS = Date.UTC(2024, 4, 1);

/** Per partner: the state of its export job; `broken` is a number of files still to come out wrong. */
const exporters = PARTNERS.map((partner, i) => ({ partner, seq: 0, broken: 0, fault: null, weight: 1 + (i % 3) }));
const totalWeight = exporters.reduce((sum, e) => sum + e.weight, 0);

function pickExporter() {
  let roll = random() * totalWeight;
  for (const exporter of exporters) {
    roll -= exporter.weight;
    if (roll < 0) return exporter;
  }
  return exporters[0];
}

function iban(n) {
  return `DE${String(10 + (n % 89))}${String(37040044 + (n % 1000)).padStart(8, '0')}${String(532013000 + n).padStart(10, '0')}`;
}

function partnerRecord(exporter, n, t) {
  const first = FIRST[n % FIRST.length];
  const last = LAST[(n >> 3) % LAST.length];
  const booked = new Date(BASE_MS + t * 1000 - Math.floor(random() * 86_400_000));
  const record = {
    externalId: `${exporter.partner}-${exporter.seq}-${n}`,
    accountRef: `acc_${(n * 7919) % 100_000}`,
    type: ['capture', 'capture', 'capture', 'refund', 'payout', 'fee', 'chargeback'][n % 7],
    amount: 100 + Math.floor(random() * 250_000),
    currency: ['EUR', 'EUR', 'EUR', 'GBP', 'SEK', 'PLN'][n % 6],
    bookedAt: booked.toISOString(),
    valueDate: booked.toISOString().slice(0, 10),
    counterparty: { name: `${first} ${last}`, iban: iban(n), bic: 'COBADEFFXXX', city: CITIES[n % CITIES.length], country: 'DE' },
    reference: `INV-${2024_000_000 + Math.floor(random() * 999_999)} ${first.toUpperCase()} ${last.toUpperCase()} ORDER ${n}`,
    description: `Card payment ${first} ${last} at merchant ${1000 + (n % 800)} terminal ${n % 37}`,
    mcc: String(5000 + (n % 900)),
    tags: n % 5 === 0 ? ['recurring', 'ecom'] : ['ecom'],
    metadata: { batch: exporter.seq, terminal: `T${n % 37}`, channel: n % 4 === 0 ? 'pos' : 'web', risk: Math.round(random() * 100) / 100 },
  };
  // Occasional bad line even in a good file (0.3 %).
  if (random() < 0.003) record.currency = 'XXX';
  switch (exporter.fault) {
    case 'renamed-amount': // the partner renamed amount -> amount_minor
      record.amount_minor = record.amount;
      delete record.amount;
      break;
    case 'string-amount': // amounts exported as decimal strings
      record.amount = (record.amount / 100).toFixed(2);
      break;
    case 'local-dates': // local date format on part of the lines
      if (n % 3 !== 0) record.bookedAt = booked.toLocaleString('en-GB', { timeZone: 'UTC' });
      break;
    case 'missing-iban': // a new counterparty type without IBAN
      if (n % 2 === 0) record.counterparty = { name: record.counterparty.name, wallet: `w_${n}` };
      break;
    default:
  }
  return record;
}

const FAULTS = ['renamed-amount', 'string-amount', 'local-dates', 'missing-iban'];

/** Log-normal file size in records: median ~700, 50..4000. */
function fileLength() {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.max(50, Math.min(4000, Math.round(Math.exp(6.55 + 0.6 * z))));
}

function nextFile() {
  const exporter = pickExporter();
  exporter.seq++;
  if (exporter.broken === 0 && random() < 0.03) {
    exporter.broken = 1 + Math.floor(random() * 3);
    exporter.fault = FAULTS[Math.floor(random() * FAULTS.length)];
  }
  const t = programSeconds();
  const count = fileLength();
  const lines = new Array(count);
  for (let n = 0; n < count; n++) lines[n] = JSON.stringify(partnerRecord(exporter, n, t));
  if (exporter.broken > 0 && --exporter.broken === 0) exporter.fault = null;
  return {
    method: 'POST',
    path: `/v1/partners/${exporter.partner}/files`,
    headers: { 'content-type': 'application/x-ndjson', 'x-schema-version': '3', 'x-file-name': `${exporter.partner}-${exporter.seq}.ndjson` },
    body: lines.join('\n'),
  };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

// ~36 files an hour from the 8 partners (some export more often than others).
const uploads = selfRequests(port, { perSecond: 36 / 3600, maxInFlight: 4, next: nextFile });
// Support and the ops dashboard: 0.2 reads/s.
const reads = selfRequests(port, {
  perSecond: 0.2,
  maxInFlight: 4,
  next: () => {
    const roll = random();
    if (roll < 0.4) return { method: 'GET', path: '/healthz' };
    if (roll < 0.7) return { method: 'GET', path: '/v1/files' };
    return { method: 'GET', path: `/v1/dead-letters?partner=${PARTNERS[Math.floor(random() * PARTNERS.length)]}` };
  },
});

reportStats(() => ({
  retained: deadLetters.length,
  files: files.received,
  badFiles: files.badFiles,
  accepted: files.accepted,
  rejected: files.rejected,
  requestsFailed: uploads.failed + reads.failed,
}));

ready(
  `partner-ingest-dead-letter-leak: validates ~36 partner NDJSON files/h; rejected records are appended to deadLetters per file and never trimmed, bad files make steps (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
