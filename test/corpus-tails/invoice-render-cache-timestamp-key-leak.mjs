// Billing portal: customers of a usage-billed API look at their current
// (draft) invoice and download it as a document. Rendering one is expensive
// (hundreds of usage lines laid out into pages, an HTML view and the PDF
// content stream), so renderInvoice()'s output is memoized in `renderCache`
// under cacheKey(invoice, options): the invoice id and revision plus every
// render option, since any option that changes the output must be in the key.
// There is no TTL: when metering posts new usage the draft's revision goes up
// and invalidateInvoice() deletes the cached renders of the old revision,
// recomputing their keys from the invoice and its options.
//
// At the onset the feature flag `invoice-footer-generated-at` is turned on:
// renderOptions() adds `generatedAt` (the current time to the minute, printed
// in the footer). From then on every download is a miss (the key changes every
// minute), and invalidateInvoice() recomputes keys with a *new* generatedAt,
// so it deletes nothing: every rendered document stays in `renderCache`. Only
// a few documents are rendered an hour, but each is a few hundred KB.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  KiB,
  listen,
  onShutdown,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const DEFAULT_ONSET_S = 95 * 60;
const EPOCH_MS = 1_717_000_000_000;
const random = rng(0x1f401ce);

const flags = { 'invoice-footer-generated-at': false };

// --- billing data (stand-in for the billing DB) ------------------------------

const METERS = [
  ['api.requests', 'requests', 0.00004],
  ['api.egress', 'GB', 0.08],
  ['storage.standard', 'GB-month', 0.021],
  ['storage.archive', 'GB-month', 0.004],
  ['compute.vcpu', 'vCPU-hours', 0.034],
  ['compute.memory', 'GB-hours', 0.0045],
  ['db.queries', 'queries', 0.0000021],
  ['queue.messages', 'messages', 0.0000004],
  ['cdn.requests', 'requests', 0.0000075],
  ['support.tickets', 'tickets', 4.5],
];
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-southeast-1'];
const LOCALES = ['en-GB', 'en-US', 'de-DE', 'fr-FR', 'nl-NL'];
const CURRENCIES = { 'en-GB': 'GBP', 'en-US': 'USD', 'de-DE': 'EUR', 'fr-FR': 'EUR', 'nl-NL': 'EUR' };

const CUSTOMER_COUNT = 300;
/** invoice id -> { id, customerId, customerName, locale, revision, lineCount, updatedAt } (the draft for this period) */
const invoices = new Map();
const invoiceIds = [];
for (let i = 0; i < CUSTOMER_COUNT; i++) {
  const id = `inv_2024_06_${(0x2000 + i * 131).toString(36)}`;
  const locale = LOCALES[i % LOCALES.length];
  // usage lines per draft: most customers a few hundred, big ones over a thousand
  const lineCount = Math.round(180 + 1400 * random() ** 3);
  invoices.set(id, { id, customerId: `cus_${(0x9000 + i * 17).toString(36)}`, customerName: `Customer ${i} ${['GmbH', 'Ltd', 'Inc', 'BV', 'SAS'][i % 5]}`, locale, revision: 1, lineCount, updatedAt: 0 });
  invoiceIds.push(id);
}

/** The draft's usage lines at this revision (what the billing DB returns). */
function loadUsageLines(invoice) {
  const seed = createHash('sha1').update(`${invoice.id}:${invoice.revision}`).digest().readUInt32LE(0);
  const r = rng(seed);
  const lines = new Array(invoice.lineCount);
  for (let i = 0; i < invoice.lineCount; i++) {
    const [meter, unit, price] = METERS[Math.floor(r() * METERS.length)];
    const quantity = Math.round(r() * r() * 5_000_000) / 100;
    lines[i] = {
      date: `2024-06-${String(1 + Math.floor(r() * 28)).padStart(2, '0')}`,
      meter,
      region: REGIONS[Math.floor(r() * REGIONS.length)],
      resource: `${meter.split('.')[0]}-${Math.floor(r() * 1e9).toString(36)}`,
      unit,
      quantity,
      unitPrice: price,
      amount: Math.round(quantity * price * 100) / 100,
    };
  }
  return lines;
}

// --- rendering -----------------------------------------------------------------

const LINES_PER_PAGE = 42;

function money(amount, locale) {
  return new Intl.NumberFormat(locale, { style: 'currency', currency: CURRENCIES[locale] }).format(amount);
}

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

/** Lays the invoice out into pages and builds its HTML view and PDF content stream. */
function renderInvoice(invoice, lines, options) {
  const pages = [];
  const html = [];
  const pdf = [];
  const text = [];
  let total = 0;
  html.push(`<!doctype html><html lang="${options.locale}"><head><meta charset="utf-8"><title>${invoice.id}</title><link rel="stylesheet" href="/assets/${options.template}.css"></head><body>`);
  html.push(`<header><h1>Invoice ${invoice.id}</h1><p class="customer">${escapeHtml(invoice.customerName)}</p><p class="rev">Draft revision ${invoice.revision}</p></header><table class="usage"><thead><tr><th>Date</th><th>Meter</th><th>Region</th><th>Resource</th><th>Quantity</th><th>Unit price</th><th>Amount</th></tr></thead><tbody>`);
  for (let p = 0; p * LINES_PER_PAGE < lines.length; p++) {
    const blocks = [];
    pdf.push(`q BT /F1 9 Tf 1 0 0 1 40 800 Tm (Invoice ${invoice.id} page ${p + 1}) Tj ET Q`);
    for (let i = p * LINES_PER_PAGE; i < Math.min(lines.length, (p + 1) * LINES_PER_PAGE); i++) {
      const line = lines[i];
      const y = 760 - (i % LINES_PER_PAGE) * 17;
      const amount = money(line.amount, options.locale);
      const label = `${line.date}  ${line.meter}  ${line.region}  ${line.resource}  ${line.quantity} ${line.unit} @ ${line.unitPrice}`;
      total += line.amount;
      blocks.push({ kind: 'row', index: i, y, label, amount, font: 'F1', size: 8 });
      html.push(`<tr data-line="${i}"><td>${line.date}</td><td>${line.meter}</td><td>${line.region}</td><td class="mono">${line.resource}</td><td class="num">${line.quantity} ${line.unit}</td><td class="num">${line.unitPrice}</td><td class="num">${escapeHtml(amount)}</td></tr>`);
      pdf.push(`BT /F1 8 Tf 1 0 0 1 40 ${y} Tm (${label}) Tj 1 0 0 1 480 ${y} Tm (${amount}) Tj ET`);
      text.push(`${label}\t${amount}`);
    }
    pages.push({ number: p + 1, blocks, footer: options.generatedAt === undefined ? `Page ${p + 1}` : `Page ${p + 1} - generated ${options.generatedAt}` });
  }
  const totalText = money(total, options.locale);
  html.push(`</tbody></table><footer><p class="total">Total ${escapeHtml(totalText)}</p>${options.generatedAt === undefined ? '' : `<p>Generated ${options.generatedAt}</p>`}</footer></body></html>`);
  const document = {
    invoiceId: invoice.id,
    revision: invoice.revision,
    locale: options.locale,
    pageCount: pages.length,
    total,
    totalText,
    pages,
    html: html.join('\n'),
    text: text.join('\n'),
    pdfStream: pdf.join('\n'),
  };
  document.bytes = document.html.length + document.text.length + document.pdfStream.length;
  return document;
}

// --- the memo --------------------------------------------------------------------

/** cacheKey -> { key, invoiceId, revision, document, bytes, renderedAt, hits } */
const renderCache = new Map();
const counters = { downloads: 0, hits: 0, renders: 0, invalidations: 0, invalidated: 0, usagePosts: 0 };

function nowIso() {
  return new Date(EPOCH_MS + programSeconds() * 1000).toISOString();
}

function renderOptions(invoice, locale) {
  const chosen = locale ?? invoice.locale;
  const options = { locale: chosen, template: 'usage-v3', paper: chosen === 'en-US' ? 'letter' : 'a4' };
  if (flags['invoice-footer-generated-at']) options.generatedAt = nowIso().slice(0, 16).replace('T', ' ');
  return options;
}

function cacheKey(invoice, options) {
  const parts = Object.keys(options)
    .sort()
    .map((k) => `${k}=${options[k]}`);
  return `${invoice.id}@${invoice.revision}?${parts.join('&')}`;
}

function renderedDocument(invoice, locale) {
  const options = renderOptions(invoice, locale);
  const key = cacheKey(invoice, options);
  const cached = renderCache.get(key);
  if (cached !== undefined) {
    cached.hits++;
    counters.hits++;
    return cached.document;
  }
  const document = renderInvoice(invoice, loadUsageLines(invoice), options);
  counters.renders++;
  renderCache.set(key, { key, invoiceId: invoice.id, revision: invoice.revision, document, bytes: document.bytes, renderedAt: programSeconds(), hits: 0 });
  return document;
}

/** New usage landed: drop the renders of the current revision (both locales we serve), then bump it. */
function invalidateInvoice(invoice) {
  counters.invalidations++;
  for (const locale of new Set([invoice.locale, 'en-US'])) {
    if (renderCache.delete(cacheKey(invoice, renderOptions(invoice, locale)))) counters.invalidated++;
  }
  invoice.revision++;
  invoice.updatedAt = programSeconds();
}

// --- HTTP --------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://billing.local');
  try {
    const m = /^\/v1\/invoices\/([\w]+)(\/document)?$/.exec(url.pathname);
    if (req.method === 'GET' && m !== null) {
      const invoice = invoices.get(m[1]);
      if (invoice === undefined) return sendJson(res, 404, { error: 'unknown invoice' });
      if (m[2] === undefined) {
        return sendJson(res, 200, { id: invoice.id, customer: invoice.customerId, revision: invoice.revision, lines: invoice.lineCount, updatedAt: invoice.updatedAt });
      }
      counters.downloads++;
      const locale = url.searchParams.get('locale') ?? undefined;
      const document = renderedDocument(invoice, locale);
      const body = url.searchParams.get('format') === 'html' ? document.html : document.pdfStream;
      res.writeHead(200, { 'content-type': url.searchParams.get('format') === 'html' ? 'text/html' : 'application/pdf', 'content-length': Buffer.byteLength(body) });
      return res.end(body);
    }
    if (req.method === 'POST' && url.pathname === '/v1/usage') {
      const usage = JSON.parse((await readBody(req, 64 * KiB)).toString('utf8'));
      const invoice = invoices.get(usage.invoiceId);
      if (invoice === undefined) return sendJson(res, 404, { error: 'unknown invoice' });
      counters.usagePosts++;
      invalidateInvoice(invoice);
      return sendJson(res, 202, { invoice: invoice.id, revision: invoice.revision });
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, error instanceof SyntaxError ? 400 : 500, { error: String(error.message ?? error) });
  }
}

// --- load: finance users, the portal, metering -----------------------------------

let lastDownload = null;

function nextDownload() {
  // a finance user downloads their draft; a third of the time someone downloads
  // the same one again shortly after (opened on another device, forwarded, ...)
  let id;
  let locale;
  if (lastDownload !== null && random() < 0.33) ({ id, locale } = lastDownload);
  else {
    id = invoiceIds[Math.floor(invoiceIds.length * random() ** 2)];
    locale = random() < 0.15 ? 'en-US' : undefined;
  }
  lastDownload = { id, locale };
  const query = [locale === undefined ? null : `locale=${locale}`, random() < 0.3 ? 'format=html' : null].filter(Boolean).join('&');
  return { method: 'GET', path: `/v1/invoices/${id}/document${query === '' ? '' : `?${query}`}` };
}

function nextUsage() {
  const id = invoiceIds[Math.floor(random() * invoiceIds.length)];
  return {
    method: 'POST',
    path: '/v1/usage',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ invoiceId: id, meter: METERS[Math.floor(random() * METERS.length)][0], quantity: Math.round(random() * 10_000), at: nowIso() }),
  };
}

// --- start -------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const flagTimer = setTimeout(() => (flags['invoice-footer-generated-at'] = true), onsetMs(DEFAULT_ONSET_S));
onShutdown(() => clearTimeout(flagTimer));

// ~7 document downloads an hour; 0.3 req/s of invoice summaries from the portal; metering posts usage 0.2/s.
const downloads = selfRequests(port, { perSecond: 7 / 3600, maxInFlight: 2, next: nextDownload });
const portal = selfRequests(port, {
  perSecond: 0.3,
  maxInFlight: 8,
  next: () => (random() < 0.1 ? { method: 'GET', path: '/healthz' } : { method: 'GET', path: `/v1/invoices/${invoiceIds[Math.floor(invoiceIds.length * random() ** 2)]}` }),
});
const metering = selfRequests(port, { perSecond: 0.2, maxInFlight: 4, next: nextUsage });

reportStats(() => {
  let cachedBytes = 0;
  for (const entry of renderCache.values()) cachedBytes += entry.bytes;
  return {
    retained: renderCache.size,
    cachedBytes,
    downloads: counters.downloads,
    renders: counters.renders,
    hits: counters.hits,
    invalidated: counters.invalidated,
    flag: flags['invoice-footer-generated-at'] ? 1 : 0,
    requestsFailed: downloads.failed + portal.failed + metering.failed,
  };
});

ready(
  `invoice-render-cache-timestamp-key-leak: ~7 invoice documents downloaded an hour, renders memoized in renderCache; from ${onsetSeconds(DEFAULT_ONSET_S)} s the key carries a generatedAt minute and nothing is ever invalidated (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
